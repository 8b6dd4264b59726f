package service

import (
	"cmp"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/reprover/reprover/internal/hosts"
)

// allowList is images.allow: prefixes of image references whose registry
// may be on a loopback, private or link-local address. It is checked twice,
// on the reference at submission and on the address at dial time (a name
// can resolve elsewhere by then), so both checks live here.
type allowList []string

// allowsImage: ref starts with an entry that ends where a part of a
// reference does (prefixAt): "10.0.0.1" admits 10.0.0.1:5000/app, not
// 10.0.0.12/app; "registry.example/team" admits registry.example/team/app,
// not registry.example/team-b/app.
func (l allowList) allowsImage(ref string) bool {
	for _, a := range l {
		if prefixAt(ref, a, "/:@") {
			return true
		}
	}
	return false
}

// prefixAt: s starts with prefix, and the prefix ends at a boundary: it
// ends in '/', ':' or '.' itself (written to be continued: "10.0.0.",
// "127.0.0.1:"), or s ends there or goes on with one of next. A raw
// prefix would let "10.0.0.1" admit 10.0.0.12 too.
func prefixAt(s, prefix, next string) bool {
	if prefix == "" || !strings.HasPrefix(s, prefix) {
		return false
	}
	rest := s[len(prefix):]
	return rest == "" || strings.ContainsRune("/:.", rune(prefix[len(prefix)-1])) || strings.ContainsRune(next, rune(rest[0]))
}

// allowsAddress: a dialled address (IP:PORT, as net.Dialer's Control sees
// it) is one that a reference allowed by an entry reaches. An entry with a
// "/" names its whole registry host, matched exactly (no port: 443 or 80,
// what a reference without one dials); an entry without is a prefix of
// HOST[:PORT] ending at a boundary (prefixAt: "10.0.0.1" is not a prefix
// of 10.0.0.12:443). "localhost" stands for 127.0.0.1 and [::1], the addresses
// it is dialled as; other names never match an IP.
func (l allowList) allowsAddress(addr string) bool {
	for _, a := range l {
		host, _, whole := strings.Cut(a, "/")
		if host == "" {
			continue
		}
		match := func(addr, h string) bool { return prefixAt(addr, h, ":") }
		if whole {
			match = sameHost
		}
		for _, h := range dialledAs(host) {
			if match(addr, h) {
				return true
			}
		}
	}
	return false
}

// dialledAs: the forms of an entry's host an address can take.
func dialledAs(host string) []string {
	if rest, ok := strings.CutPrefix(host, "localhost"); ok && (rest == "" || rest[0] == ':') {
		return []string{"127.0.0.1" + rest, "[::1]" + rest}
	}
	return []string{host}
}

// sameHost: addr (IP:PORT) is host, HOST:PORT or HOST on a default port.
func sameHost(addr, host string) bool {
	if addr == host {
		return true
	}
	if _, _, err := net.SplitHostPort(host); err == nil {
		return false // a port was given, and differs
	}
	h, port, err := net.SplitHostPort(addr)
	return err == nil && h == strings.Trim(host, "[]") && (port == "443" || port == "80")
}

// sourceEntry is one sources.allow entry, read as the parts of a source it
// names: a local directory, or a transport with as much of the user, host,
// port and path as the entry writes ("https://" names a transport only,
// "git@10.0.0.5:" a user and a host, "https://git.example/team/" a host
// and a path). Sources are matched part by part, not as raw prefixes: a
// host is the whole host (case aside), a path prefix ends at a '/'.
type sourceEntry struct {
	dir                      string // a local directory, cleaned; "" for a remote entry
	scheme                   string // a URL's scheme, or "scp" for user@host:path
	user, host, port, prefix string // "" where the entry does not say
}

// parseSourceEntry reads a sources.allow entry: /DIR, SCHEME://[USER@][HOST[:PORT]][/PATH]
// or USER@[HOST[:PATH]].
func parseSourceEntry(a string) (sourceEntry, error) {
	if strings.HasPrefix(a, "/") {
		return sourceEntry{dir: filepath.Clean(a)}, nil
	}
	var e sourceEntry
	var rest string
	if scheme, r, ok := strings.Cut(a, "://"); ok && scheme != "" && !strings.ContainsAny(scheme, "/@:") {
		e.scheme, rest = strings.ToLower(scheme), r
		authority, path, _ := strings.Cut(rest, "/")
		if at := strings.LastIndex(authority, "@"); at >= 0 {
			e.user, authority = authority[:at], authority[at+1:]
		}
		e.host = authority
		if h, port, err := net.SplitHostPort(authority); err == nil {
			e.host, e.port = h, port
		}
		e.host, e.prefix = strings.Trim(e.host, "[]"), strings.TrimRight(path, "/")
		if e.host == "" && (e.port != "" || e.prefix != "") && e.scheme != "file" {
			return e, fmt.Errorf("%q: a port or path without a host", a)
		}
		return e, nil
	}
	user, r, ok := strings.Cut(a, "@")
	if !ok || user == "" || strings.Contains(user, "/") {
		return e, fmt.Errorf("%q: want a directory (/DIR), a URL prefix (SCHEME://HOST/PATH) or USER@HOST:PATH", a)
	}
	e.scheme, e.user = "scp", user
	if strings.HasPrefix(r, "[") {
		if end := strings.Index(r, "]"); end >= 0 {
			e.host, r = r[1:end], r[end+1:]
			e.prefix = strings.TrimRight(strings.TrimPrefix(r, ":"), "/")
			return e, nil
		}
	}
	e.host, e.prefix, _ = strings.Cut(r, ":")
	e.prefix = strings.TrimRight(e.prefix, "/")
	return e, nil
}

// defaultPorts are the ports a URL without one reaches.
var defaultPorts = map[string]string{"https": "443", "http": "80", "ssh": "22", "git": "9418"}

// admits: src (parsed by hosts.ParseSource, which refused what git could
// read otherwise) is under the entry.
func (e sourceEntry) admits(raw string, src hosts.Source) bool {
	if e.dir != "" {
		if !strings.HasPrefix(raw, "/") {
			return false
		}
		return src.Path == e.dir || strings.HasPrefix(src.Path, e.dir+"/") || e.dir == "/"
	}
	if src.Scheme != e.scheme {
		return false
	}
	user, path, ok := remoteParts(raw, src.Scheme)
	switch {
	case !ok:
		return false
	case e.user != "" && user != e.user:
		return false
	case e.host == "": // any host (file:// has none)
	case !strings.EqualFold(src.Host, e.host):
		return false
	case src.Scheme != "scp" && cmp.Or(src.Port, defaultPorts[src.Scheme]) != cmp.Or(e.port, defaultPorts[e.scheme]):
		return false
	}
	return pathUnder(path, e.prefix)
}

// remoteParts: the user and the path (a URL's as escaped, without its
// leading '/') of a remote source.
func remoteParts(raw, scheme string) (user, path string, ok bool) {
	if scheme == "scp" {
		userHost, path, _ := strings.Cut(raw, ":")
		if strings.Contains(userHost, "[") { // user@[IPv6]:path
			userHost, path, _ = strings.Cut(raw, "]:")
		}
		user, _, _ = strings.Cut(userHost, "@")
		return user, path, true
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", false
	}
	if u.User != nil {
		user = u.User.Username()
	}
	return user, strings.TrimPrefix(u.EscapedPath(), "/"), true
}

// pathUnder: path is prefix or below it, segment by segment; under a
// prefix, a "." or ".." segment (escaped or not) is refused, since the
// server or curl would resolve it above the prefix.
func pathUnder(path, prefix string) bool {
	if prefix == "" {
		return true
	}
	if path != prefix && !strings.HasPrefix(path, prefix+"/") {
		return false
	}
	for seg := range strings.SplitSeq(path, "/") {
		if s, err := url.PathUnescape(seg); err != nil || s == "." || s == ".." {
			return false
		}
	}
	return true
}
