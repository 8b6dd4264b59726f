package pins

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/reprover/reprover/internal/text"
)

// CanonicalURL is a download's URL as BuildKit's proxy records it, and so
// as every capture names it: captureURL in BuildKit v0.34.2's
// util/network/proxyprovider/provider_linux.go. Parsed by net/url (which
// lower-cases the scheme), the scheme's default port dropped (http :80,
// https :443), written again by URL.String, and credentials masked
// (util/urlutil.RedactCredentials: each of user and password present
// becomes "xxxxx"). The host's case is kept, as the proxy keeps it. A
// string that is not an absolute URL is returned as it is.
func CanonicalURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return raw
	}
	if p := u.Port(); u.Scheme == "http" && p == "80" || u.Scheme == "https" && p == "443" {
		h := u.Hostname()
		if strings.Contains(h, ":") {
			h = "[" + h + "]"
		}
		u.Host = h
	}
	if u.User != nil {
		const mask = "xxxxx"
		user := u.User.Username() != ""
		_, pass := u.User.Password()
		switch {
		case user && pass:
			u.User = url.UserPassword(mask, mask)
		case user:
			u.User = url.User(mask)
		case pass:
			u.User = url.UserPassword(u.User.Username(), mask)
		}
	}
	return u.String()
}

// NotCanonicalError is a pin whose URL is not spelled as BuildKit's proxy
// records a download (CanonicalURL): no capture can ever name it, so it
// would be "missing" from every rebuild, and a replay naming captures by
// it would make them "pinned" where BuildKit names them otherwise. BuildKit
// writes every URL of its provenance, and reprover lock every URL of a
// lock file, canonical: such a pin was written by hand, or forged.
type NotCanonicalError struct {
	URL       string // the pin's URL, its credentials masked
	Canonical string
}

func (e *NotCanonicalError) Error() string {
	return fmt.Sprintf("url %s is not spelled as BuildKit's proxy records a download (%s: lower-case scheme, no default port, no credentials); write it so",
		text.Truncate(e.URL, 256), text.Truncate(e.Canonical, 256))
}

// CheckCanonical refuses a URL that is not its CanonicalURL (a
// *NotCanonicalError); the error never quotes credentials.
func CheckCanonical(raw string) error {
	c := CanonicalURL(raw)
	if c == raw {
		return nil
	}
	shown := raw
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		shown = c // the credentials masked: never print them
	}
	return &NotCanonicalError{URL: shown, Canonical: c}
}
