package hosts

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Source is a git source as reprover reads it: a URL of a transport it
// clones over, an scp-style address, or a local path.
type Source struct {
	Raw string
	// Scheme is "https", "http", "ssh", "git", "scp" (user@host:path),
	// "file" (a file:// URL) or "" (a local path).
	Scheme string
	Host   string // as written, without brackets or port; "" for a local source
	Port   string // "" for the transport's default
	Path   string // a local source's path, cleaned
}

// Local: a path on this machine (a local path or a file:// URL).
func (s Source) Local() bool { return s.Scheme == "" || s.Scheme == "file" }

// schemes are the URL schemes reprover clones over. Every other git
// transport (ext::, fd::, a remote helper's <name>::, git+ssh://, …) is
// refused before git sees it.
var schemes = map[string]bool{"https": true, "http": true, "ssh": true, "git": true, "file": true}

var (
	// hostName: DNS labels (underscores allowed, as resolvers do), no
	// label starting or ending with '-'; no trailing dot (curl and the
	// pin below would see two names).
	hostName = regexp.MustCompile(`^(?i)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$`)
	userName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._+-]{0,63}$`)
	// transportName is what git reads as a remote helper before "::".
	transportName = regexp.MustCompile(`^[A-Za-z0-9+.-]+$`)
)

// ParseSource reads a git source, refusing what git could read otherwise
// than reprover does: a control character, a leading '-' (an option to
// git or ssh), another transport, a URL that does not parse, a host with
// '%' (a zone, or an escape git and curl decode but Go refuses), a
// host that is not a DNS name or IP literal, a user or port git would
// pass on as something else. A source with neither "://" nor the scp
// form user@host:path is a local path.
func ParseSource(raw string) (Source, error) {
	s := Source{Raw: raw}
	switch {
	case raw == "":
		return s, errors.New("empty")
	case strings.IndexFunc(raw, unicode.IsControl) >= 0:
		return s, errors.New("contains a control character")
	case strings.HasPrefix(raw, "-"):
		return s, errors.New("starts with '-': git would read it as an option")
	}
	if scheme, _, ok := strings.Cut(raw, "://"); ok && !strings.ContainsAny(scheme, "/@:") {
		if !schemes[scheme] {
			return s, fmt.Errorf("the transport %s:// is not cloned: want https://, http://, ssh://, git://, user@host:path or a local path", scheme)
		}
		return parseURL(s, scheme)
	}
	if t, _, ok := strings.Cut(raw, "::"); ok && transportName.MatchString(t) {
		return s, fmt.Errorf("names the git transport %q (%s::): want https://, http://, ssh://, git://, user@host:path or a local path", t, t)
	}
	if userHost, path, ok := cutSCP(raw); ok {
		return parseSCP(s, userHost, path)
	}
	s.Path = filepath.Clean(raw)
	return s, nil
}

// cutSCP splits user@host:path (host may be [IPv6]) as git does: a ':'
// with no '/' before it, and reprover wants an '@' too (a bare
// host:path is a local path to it, never given to git clone).
func cutSCP(raw string) (userHost, path string, ok bool) {
	i := strings.Index(raw, ":")
	if b := strings.Index(raw, "["); b >= 0 && b < i {
		if e := strings.Index(raw[b:], "]:"); e >= 0 {
			i = b + e + 1
		}
	}
	if i < 0 || strings.Contains(raw[:i], "/") || !strings.Contains(raw[:i], "@") {
		return "", "", false
	}
	return raw[:i], raw[i+1:], true
}

func parseSCP(s Source, userHost, path string) (Source, error) {
	s.Scheme = "scp"
	user, host, _ := strings.Cut(userHost, "@")
	if !userName.MatchString(user) {
		return s, fmt.Errorf("the user %q is not a user name", user)
	}
	if path == "" || strings.HasPrefix(path, "-") {
		return s, fmt.Errorf("the path %q after %s: is empty or starts with '-'", path, userHost)
	}
	h, err := checkHost(host, strings.HasPrefix(host, "["))
	if err != nil {
		return s, err
	}
	s.Host = h
	return s, nil
}

func parseURL(s Source, scheme string) (Source, error) {
	s.Scheme = scheme
	rest := strings.TrimPrefix(s.Raw, scheme+"://")
	authority := rest[:strings.IndexAny(rest+"/", "/?#")]
	hostPort := authority[strings.LastIndex(authority, "@")+1:]
	if strings.Contains(hostPort, "%") {
		return s, fmt.Errorf("the host %q has a '%%' (an IPv6 zone or an escape git and curl would decode): not a host name", hostPort)
	}
	if strings.Contains(authority, `\`) {
		return s, fmt.Errorf("the authority %q has a '\\', which URL parsers read differently", authority)
	}
	u, err := url.Parse(s.Raw)
	if err != nil {
		return s, fmt.Errorf("does not parse as a URL: %w", err)
	}
	if u.Opaque != "" {
		return s, errors.New("does not parse as a URL with a host")
	}
	if u.User != nil && strings.HasPrefix(u.User.Username(), "-") {
		return s, fmt.Errorf("the user %q starts with '-'", u.User.Username())
	}
	if scheme == "file" {
		if h := u.Hostname(); h != "" && h != "localhost" {
			return s, fmt.Errorf("a file:// URL on the host %q", h)
		}
		if !strings.HasPrefix(u.Path, "/") {
			return s, errors.New("a file:// URL without an absolute path")
		}
		s.Path = filepath.Clean(u.Path)
		return s, nil
	}
	if s.Port = u.Port(); s.Port != "" {
		if n, err := strconv.Atoi(s.Port); err != nil || n < 1 || n > 65535 {
			return s, fmt.Errorf("the port %q is not 1-65535", s.Port)
		}
	}
	h, err := checkHost(u.Hostname(), strings.HasPrefix(u.Host, "["))
	if err != nil {
		return s, err
	}
	s.Host = h
	return s, nil
}

// checkHost: a DNS name or an IP literal (IPv6 in brackets, no zone).
func checkHost(h string, bracketed bool) (string, error) {
	if bracketed {
		h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
		if a, err := netip.ParseAddr(h); err != nil || !a.Is6() || a.Zone() != "" {
			return "", fmt.Errorf("the host [%s] is not an IPv6 address without a zone", h)
		}
		return h, nil
	}
	if h == "" {
		return "", errors.New("no host")
	}
	if len(h) > 253 || !hostName.MatchString(h) {
		return "", fmt.Errorf("the host %q is not a DNS name or an IP address", h)
	}
	return h, nil
}

// Resolver looks up a host name's addresses; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// ErrUnresolved is returned (wrapped, naming the host) when a source's host
// name does not resolve: a check made ahead of the clone may let it pass,
// since the clone judges it again, and cannot reach it either.
var ErrUnresolved = errors.New("the host name does not resolve")

// SourcePolicy is what a caller allows by name: a source on a local host
// (LocalHost as written, or resolving to a LocalAddr) or a local path is
// refused unless allowed here.
type SourcePolicy struct {
	// Resolver looks names up; nil: net.DefaultResolver.
	Resolver Resolver
	// AllowHost reports whether the source may be cloned from host (as
	// written in it) though host is local. nil: never.
	AllowHost func(host string) bool
	// AllowPath reports whether a local path (cleaned; a file:// URL's
	// path) may be cloned. nil: never.
	AllowPath func(path string) bool
	// Unpinned lets a name that does not resolve here through, not
	// pinned: only for a source the caller named itself (an ssh config
	// alias, a name only an HTTP proxy resolves).
	Unpinned bool
}

// Target is a judged source and the address its host was judged by: a
// clone connects to that address and no other (GitArgs, GitEnv, URL).
type Target struct {
	Source
	Addr netip.Addr // the first address judged; invalid for a local source
	// Addrs are all the addresses judged, for a name (curl tries each,
	// as it would have after its own lookup: an IPv6 address this machine
	// cannot reach does not fail the clone).
	Addrs []netip.Addr
}

// JudgeSource parses raw (ParseSource) and judges where it is: a local path
// by p.AllowPath; a host by what it is as written (a local name, a numeric
// form, an IP literal) and by every address it resolves to. Any local one
// refuses it unless p.AllowHost allows the host by name. The target is
// pinned to the addresses judged.
func JudgeSource(ctx context.Context, raw string, p SourcePolicy) (Target, error) {
	s, err := ParseSource(raw)
	if err != nil {
		return Target{Source: s}, err
	}
	t := Target{Source: s}
	if s.Local() {
		if p.AllowPath == nil || !p.AllowPath(s.Path) {
			return t, fmt.Errorf("the local path %s is cloned only when allowed by name", s.Path)
		}
		return t, nil
	}
	allowed := p.AllowHost != nil && p.AllowHost(s.Host)
	if a, err := netip.ParseAddr(s.Host); err == nil {
		t.Addr = a // what git connects to already: nothing to pin
		if why := Special(a); why != "" && !allowed {
			return t, &LocalError{Host: s.Host, Why: why}
		}
		return t, nil
	}
	if LocalHost(s.Host) && !allowed {
		return t, &LocalError{Host: s.Host, Why: "a local name or a numeric address"}
	}
	r := p.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", s.Host)
	if (err != nil || len(addrs) == 0) && p.Unpinned {
		return t, nil
	}
	if err != nil || len(addrs) == 0 {
		return t, fmt.Errorf("%s: %w (%v)", s.Host, ErrUnresolved, err)
	}
	for _, a := range addrs {
		why := Special(a)
		if a.Zone() != "" {
			why = "an address with a zone, on this machine's link"
		}
		if why != "" && !allowed {
			return t, &LocalError{Host: s.Host, Addr: a, Why: why}
		}
	}
	for _, a := range addrs {
		t.Addrs = append(t.Addrs, a.Unmap())
	}
	t.Addr = t.Addrs[0]
	return t, nil
}

// LocalError is a source's host that is, or resolves to, a loopback,
// private, link-local or special address, and was not allowed by name.
type LocalError struct {
	Host string
	Addr netip.Addr // the address it resolved to; invalid for a literal or a local name
	Why  string
}

func (e *LocalError) Error() string {
	if e.Addr.IsValid() {
		return fmt.Sprintf("the host %s resolves to %s (%s)", e.Host, e.Addr, e.Why)
	}
	return fmt.Sprintf("the host %s is local (%s)", e.Host, e.Why)
}

// pinned: t's host is a name, resolved and judged here (an IP literal
// needs no pin).
func (t Target) pinned() bool {
	_, err := netip.ParseAddr(t.Host)
	return t.Addr.IsValid() && err != nil
}

// URL is what git clones: the source as written, except git://, whose
// host is replaced by the address judged (git's own transport has no
// option to pin it; the host= it sends then names the address).
func (t Target) URL() string {
	if t.Scheme != "git" || !t.pinned() {
		return t.Raw
	}
	u, _ := url.Parse(t.Raw) // parsed by ParseSource
	u.Host = t.Addr.String()
	if t.Port != "" {
		u.Host = net.JoinHostPort(u.Host, t.Port)
	} else if t.Addr.Is6() {
		u.Host = "[" + u.Host + "]"
	}
	return u.String()
}

// GitArgs are the `git -c` settings a clone of t runs with: only t's
// transport is allowed (protocol.allow), and http(s) connects to the
// address judged (http.curloptResolve, git ≥ 2.37), so neither git nor
// curl looks the name up again.
func (t Target) GitArgs() []string {
	proto := t.Scheme
	if proto == "scp" {
		proto = "ssh"
	}
	args := []string{"-c", "protocol.allow=never", "-c", "protocol." + proto + ".allow=always"}
	if (t.Scheme == "http" || t.Scheme == "https") && t.pinned() {
		port := t.Port
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[t.Scheme]
		}
		addrs := t.Addrs
		if len(addrs) == 0 {
			addrs = []netip.Addr{t.Addr}
		}
		var list []string
		for _, a := range addrs {
			if a.Is6() {
				list = append(list, "["+a.String()+"]")
			} else {
				list = append(list, a.String())
			}
		}
		args = append(args, "-c", "http.curloptResolve="+t.Host+":"+port+":"+strings.Join(list, ","))
	}
	return args
}

// GitEnv is the environment a clone of t adds: ssh (ssh:// and
// user@host:path) connects to the address judged (HostName; the name
// stays what ssh checks the host key against), in batch mode, and gives
// up on a dead connection.
func (t Target) GitEnv() []string {
	if t.Scheme != "ssh" && t.Scheme != "scp" {
		return nil
	}
	cmd := "ssh -o BatchMode=yes -o ConnectTimeout=30 -o ServerAliveInterval=15 -o ServerAliveCountMax=4"
	if t.pinned() {
		cmd += " -o HostName=" + t.Addr.String()
	}
	return []string{"GIT_SSH_COMMAND=" + cmd, "GIT_SSH_VARIANT=ssh"}
}
