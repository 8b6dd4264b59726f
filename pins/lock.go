package pins

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/reprover/reprover/internal/files"
	"github.com/reprover/reprover/internal/limits"
	"github.com/reprover/reprover/internal/strictjson"
	"github.com/reprover/reprover/internal/text"
)

// LockFile is the lock file's name at the source root.
const LockFile = "reprover.lock.json"

// LockVersion is the version of the lock file format this reprover writes
// and reads (docs/lock.schema.json).
const LockVersion = 1

// Lock is reprover.lock.json: every download a build made, sorted by URL.
type Lock struct {
	LockVersion int   `json:"lockVersion"`
	Downloads   []Pin `json:"downloads"`
}

// Limits bound what a lock file, untrusted like any file of a source, may
// make reprover read.
type Limits struct {
	MaxLockBytes int64 `limit:"largest lock file read, in bytes"`           // the file
	MaxPins      int   `limit:"most downloads a lock file may list"`        // downloads listed
	MaxURLBytes  int   `limit:"longest URL a lock file may list, in bytes"` // one URL
}

// DefaultLimits are used for zero fields.
var DefaultLimits = Limits{MaxLockBytes: 16 << 20, MaxPins: 100_000, MaxURLBytes: 8 << 10}

func (l Limits) withDefaults() Limits {
	return limits.WithDefaults(l, DefaultLimits)
}

// ReadLockFile reads and checks a lock file (a regular file only); name
// is how errors call it ("" for path).
func ReadLockFile(path, name string, lim Limits) (*Lock, error) {
	if name == "" {
		name = path
	}
	lim = lim.withDefaults()
	b, err := files.ReadRegular(path, name, lim.MaxLockBytes, "MaxLockBytes")
	if err != nil {
		return nil, err
	}
	return ParseLock(b, name, lim)
}

// ParseLock checks and decodes a lock file's bytes; name is used in errors.
func ParseLock(b []byte, name string, lim Limits) (*Lock, error) {
	lim = lim.withDefaults()
	if int64(len(b)) > lim.MaxLockBytes {
		return nil, fmt.Errorf("%s: %w", name, &limits.Error{What: "lock file bytes", Limit: "MaxLockBytes", Max: lim.MaxLockBytes, Got: int64(len(b))})
	}
	var l Lock
	if err := strictjson.UnmarshalKnown(b, &l, 8); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if l.LockVersion != LockVersion {
		return nil, fmt.Errorf("%s: lockVersion %d, this reprover reads %d", name, l.LockVersion, LockVersion)
	}
	if len(l.Downloads) > lim.MaxPins {
		return nil, fmt.Errorf("%s: %w", name, &limits.Error{What: "downloads listed", Limit: "MaxPins", Max: int64(lim.MaxPins), Got: int64(len(l.Downloads))})
	}
	seen := make(map[string]bool, len(l.Downloads))
	for i, p := range l.Downloads {
		if err := checkPin(p, lim); err != nil {
			return nil, fmt.Errorf("%s: downloads[%d]: %w", name, i, err)
		}
		if p.Redirect != "" {
			return nil, fmt.Errorf("%s: downloads[%d]: %s: a redirect: only a kit records where a download redirected", name, i, text.Truncate(p.URL, 256))
		}
		if seen[p.URL] {
			return nil, fmt.Errorf("%s: downloads[%d]: %s is listed twice", name, i, text.Truncate(p.URL, 256))
		}
		seen[p.URL] = true
	}
	return &l, nil
}

// Validate refuses a pin no download can be (see checkPin), under the
// default limits: for pins that come from elsewhere than a lock file.
func Validate(p Pin) error { return checkPin(p, DefaultLimits) }

// checkPin refuses what no download can be: a URL that is not absolute
// http(s), or not spelled as BuildKit's proxy records it (CanonicalURL), a
// digest that is not 64 lower-case hex, a negative size, a redirect to
// such a URL or to itself.
func checkPin(p Pin, lim Limits) error {
	if len(p.URL) > lim.MaxURLBytes {
		return &limits.Error{What: "URL bytes", Limit: "MaxURLBytes", Max: int64(lim.MaxURLBytes), Got: int64(len(p.URL))}
	}
	u, err := url.Parse(p.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url %q: want an absolute http or https URL", text.Truncate(p.URL, 256))
	}
	if err := CheckCanonical(p.URL); err != nil {
		return err
	}
	if !isHex64(p.SHA256) {
		return fmt.Errorf("%s: sha256 %q: want 64 lower-case hex digits", text.Truncate(p.URL, 256), text.Truncate(p.SHA256, 80))
	}
	if p.Size < 0 {
		return fmt.Errorf("%s: size %d is negative", text.Truncate(p.URL, 256), p.Size)
	}
	if p.Redirect != "" {
		if len(p.Redirect) > lim.MaxURLBytes {
			return fmt.Errorf("%s: redirect: %w", text.Truncate(p.URL, 256), &limits.Error{What: "URL bytes", Limit: "MaxURLBytes", Max: int64(lim.MaxURLBytes), Got: int64(len(p.Redirect))})
		}
		r, err := url.Parse(p.Redirect)
		if err != nil || (r.Scheme != "http" && r.Scheme != "https") || r.Host == "" {
			return fmt.Errorf("%s: redirect %q: want an absolute http or https URL", text.Truncate(p.URL, 256), text.Truncate(p.Redirect, 256))
		}
		if err := CheckCanonical(p.Redirect); err != nil {
			return fmt.Errorf("%s: redirect: %w", text.Truncate(p.URL, 256), err)
		}
		if p.Redirect == p.URL {
			return fmt.Errorf("%s: redirects to itself", text.Truncate(p.URL, 256))
		}
	}
	return nil
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	return strings.Trim(s, "0123456789abcdef") == ""
}

// LockOf makes the lock file of a build from its captures: every GET that
// answered with content, once per URL, sorted. A download that was not
// captured whole, a URL that served two contents, or a non-GET request
// that answered with content cannot be locked.
func LockOf(captures []Capture) (*Lock, error) {
	byURL := map[string]Pin{}
	var problems []Problem
	for _, c := range captures {
		kind, needsPin := c.judge()
		if kind != "" {
			problems = append(problems, Problem{Kind: kind, Capture: c})
			continue
		}
		if !needsPin {
			continue
		}
		if prev, ok := byURL[c.URL]; ok && prev.SHA256 != c.SHA256 {
			problems = append(problems, Problem{Kind: Changed, Capture: c, Pinned: prev.SHA256})
			continue
		}
		byURL[c.URL] = Pin{URL: c.URL, SHA256: c.SHA256, Size: c.Size}
	}
	if len(problems) > 0 {
		return nil, &Error{Source: "this build", Problems: problems}
	}
	l := &Lock{LockVersion: LockVersion, Downloads: make([]Pin, 0, len(byURL))}
	for _, p := range byURL {
		l.Downloads = append(l.Downloads, p)
	}
	slices.SortFunc(l.Downloads, func(a, b Pin) int { return strings.Compare(a.URL, b.URL) })
	return l, nil
}

// Marshal is the lock file's bytes: indented, sorted, one trailing newline,
// the same for the same downloads.
func (l *Lock) Marshal() ([]byte, error) {
	c := *l
	c.Downloads = slices.Clone(l.Downloads)
	slices.SortFunc(c.Downloads, func(a, b Pin) int { return strings.Compare(a.URL, b.URL) })
	if c.Downloads == nil {
		c.Downloads = []Pin{}
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Set is the lock's pins, named by the file they came from.
func (l *Lock) Set(source string) (*Set, error) { return NewSet(FromLock, source, l.Downloads) }
