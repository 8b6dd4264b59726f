package hosts

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// fakeResolver answers from a table: names as the red team's /etc/hosts
// had them (vm, runsc → 127.0.0.1), and names whose DNS an attacker
// controls. Tests use it so that they do not depend on this machine's
// /etc/hosts; TestJudgeSourceSystemResolver uses the real one.
type fakeResolver map[string][]string

func (r fakeResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	if network != "ip" {
		return nil, fmt.Errorf("network %s", network)
	}
	addrs, ok := r[strings.ToLower(host)]
	if !ok {
		return nil, errors.New("no such host")
	}
	var out []netip.Addr
	for _, a := range addrs {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

var resolver = fakeResolver{
	"vm":                       {"127.0.0.1"},
	"runsc":                    {"127.0.0.1"},
	"git.example":              {"140.82.112.3", "2606:4700::1111"},
	"mixed.example":            {"140.82.112.3", "10.0.0.5"}, // one public, one private address
	"rebind.example":           {"169.254.169.254"},
	"v6local.example":          {"::1"},
	"mapped.example":           {"::ffff:127.0.0.1"},
	"nat64.example":            {"64:ff9b::a9fe:a9fe"},
	"cgnat.example":            {"100.100.100.200"},
	"zone.example":             {"fe80::1%eth0"},
	"gitserver.corp":           {"10.0.0.7"},
	"github.example":           {"140.82.112.4"},
	"ipv6only.example":         {"64:ff9b::8c52:7003"}, // NAT64 of a public address
	"localhost":                {"127.0.0.1", "::1"},
	"metadata.google.internal": {"169.254.169.254"},
}

// TestParseSource: the sources reprover clones, and every spelling that
// git, ssh or curl would read otherwise than reprover, refused before git
// sees it.
func TestParseSource(t *testing.T) {
	for _, c := range []struct {
		raw                string
		scheme, host, port string
		path               string
		err                string // "" for a source that parses
	}{
		{raw: "https://github.com/org/app.git", scheme: "https", host: "github.com"},
		{raw: "http://git.example:8088/a.git", scheme: "http", host: "git.example", port: "8088"},
		{raw: "https://user:p%40ss@git.example/a.git", scheme: "https", host: "git.example"},
		{raw: "ssh://git@git.example:2222/org/app.git", scheme: "ssh", host: "git.example", port: "2222"},
		{raw: "git://git.example/app.git", scheme: "git", host: "git.example"},
		{raw: "git@github.com:org/app.git", scheme: "scp", host: "github.com"},
		{raw: "git@[2001:db8::1]:org/app.git", scheme: "scp", host: "2001:db8::1"},
		{raw: "https://[2001:db8::1]:8443/a.git", scheme: "https", host: "2001:db8::1", port: "8443"},
		{raw: "http://127.0.0.1:8088/a.git", scheme: "http", host: "127.0.0.1", port: "8088"},
		{raw: "file:///srv/git/app", scheme: "file", path: "/srv/git/app"},
		{raw: "file:///srv/git/../../etc", scheme: "file", path: "/etc"},
		{raw: "/srv/git/app", path: "/srv/git/app"},
		{raw: "./a/b@c:d", path: "a/b@c:d"},
		{raw: "host:path", path: "host:path"}, // no user: a local path to reprover, never cloned
		// Other transports, and options in disguise.
		{raw: "ext::sh -c touch% /tmp/pwned", err: "transport"},
		{raw: "fd::3", err: "transport"},
		{raw: "foo::bar", err: "transport"},
		{raw: "--upload-pack=touch /tmp/pwned", err: "'-'"},
		{raw: "-oProxyCommand=touch /tmp/pwned", err: "'-'"},
		{raw: "ssh://-oProxyCommand=touch%20/tmp/pwned/x", err: "host"},
		{raw: "ssh://-oProxyCommand=x@git.example/x", err: "user"},
		{raw: "-u@git.example:x", err: "'-'"},
		{raw: "git@git.example:-x", err: "path"},
		{raw: "git+ssh://git.example/x", err: "transport"},
		{raw: "ssh+git://git.example/x", err: "transport"},
		{raw: "HTTPS://git.example/x", err: "transport"},
		{raw: "ftp://git.example/x", err: "transport"},
		{raw: "rsync://git.example/x", err: "transport"},
		{raw: "persistent-https://git.example/x", err: "transport"},
		{raw: "file://evil.example/etc", err: "file://"},
		{raw: "file://relative", err: "file://"},
		{raw: "https://git.example/a\nb", err: "control"},
		{raw: "https://git.example/a\x00", err: "control"},
		{raw: "", err: "empty"},
		// Hosts that are not DNS names or IP literals.
		{raw: "http://%31%32%37.0.0.1:8088/a.git", err: "'%'"},
		{raw: "http://[::1%25lo]:8088/a.git", err: "'%'"},
		{raw: "http://[fe80::1%25eth0]/a.git", err: "'%'"},
		{raw: "http://user@%31%32%37.0.0.1/a.git", err: "'%'"},
		{raw: "http://127.0.0.1:8088/git/%zz/../repo.git", err: "does not parse"},
		{raw: "http://git.example\\@127.0.0.1/a.git", err: "'\\'"},
		{raw: "https://localhost./a.git", err: "host"},
		{raw: "https://git.example:0/a.git", err: "port"},
		{raw: "https://git.example:99999/a.git", err: "port"},
		{raw: "https:///a.git", err: "no host"},
		{raw: "https://-x.example/a.git", err: "host"},
		{raw: "https://a_b.example:x/a.git", err: "parse"},
		{raw: "git@[::1%lo]:x", err: "zone"},
		{raw: "git@[127.0.0.1]:x", err: "IPv6"},
		{raw: "git@:x", err: "no host"},
	} {
		s, err := ParseSource(c.raw)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseSource(%q) = %+v, %v; want an error saying %q", c.raw, s, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseSource(%q): %v", c.raw, err)
			continue
		}
		if s.Scheme != c.scheme || s.Host != c.host || s.Port != c.port || s.Path != c.path {
			t.Errorf("ParseSource(%q) = %+v, want scheme %q host %q port %q path %q", c.raw, s, c.scheme, c.host, c.port, c.path)
		}
	}
}

// TestJudgeSource: a source's host is judged as written and by every
// address it resolves to; a local one is refused unless allowed by name,
// and the target is pinned to an address judged.
func TestJudgeSource(t *testing.T) {
	for _, c := range []struct {
		name     string
		raw      string
		allow    []string // hosts and paths allowed by name
		addr     string   // the address pinned; "" for a local path or unpinned
		err      string   // what the refusal says; "" for allowed
		unpinned bool     // SourcePolicy.Unpinned
	}{
		{name: "public name", raw: "https://git.example/a.git", addr: "140.82.112.3"},
		{name: "public scp", raw: "git@github.example:org/a.git", addr: "140.82.112.4"},
		{name: "NAT64 of a public address", raw: "https://ipv6only.example/a.git", addr: "64:ff9b::8c52:7003"},
		{name: "public literal", raw: "https://140.82.112.3/a.git", addr: "140.82.112.3"},
		{name: "name in /etc/hosts for 127.0.0.1 (vm)", raw: "http://vm:8088/a.git", err: "the host vm resolves to 127.0.0.1 (loopback)"},
		{name: "name in /etc/hosts for 127.0.0.1 (runsc)", raw: "http://runsc:8088/a.git", err: "resolves to 127.0.0.1"},
		{name: "vm allowed by name", raw: "http://vm:8088/a.git", allow: []string{"vm"}, addr: "127.0.0.1"},
		{name: "vm not allowed by its address", raw: "http://vm:8088/a.git", allow: []string{"127.0.0.1"}, err: "resolves to 127.0.0.1"},
		{name: "one private address among public ones", raw: "https://mixed.example/a.git", err: "resolves to 10.0.0.5"},
		{name: "name for the metadata address", raw: "https://rebind.example/a.git", err: "169.254.169.254 (link-local"},
		{name: "name for ::1", raw: "https://v6local.example/a.git", err: "::1"},
		{name: "name for IPv4-mapped 127.0.0.1", raw: "https://mapped.example/a.git", err: "::ffff:127.0.0.1"},
		{name: "name for NAT64 of the metadata address", raw: "https://nat64.example/a.git", err: "embeds 169.254.169.254"},
		{name: "name for CGNAT (a metadata service)", raw: "https://cgnat.example/a.git", err: "100.100.100.200"},
		{name: "name for a zoned address", raw: "https://zone.example/a.git", err: "zone"},
		{name: "internal name", raw: "ssh://git@gitserver.corp/a.git", err: "10.0.0.7"},
		{name: "internal name allowed", raw: "ssh://git@gitserver.corp/a.git", allow: []string{"gitserver.corp"}, addr: "10.0.0.7"},
		{name: "localhost", raw: "http://localhost:8088/a.git", err: "the host localhost is local"},
		{name: "metadata name", raw: "http://metadata.google.internal/a.git", err: "local"},
		{name: "loopback literal", raw: "http://127.0.0.1:8088/a.git", err: "127.0.0.1 is local (loopback)"},
		{name: "loopback literal allowed", raw: "http://127.0.0.1:8088/a.git", allow: []string{"127.0.0.1"}, addr: "127.0.0.1"},
		{name: "IPv6 loopback literal", raw: "http://[::1]:8088/a.git", err: "::1 is local"},
		{name: "IPv4-mapped literal", raw: "http://[::ffff:127.0.0.1]:8088/a.git", err: "local"},
		{name: "NAT64 literal", raw: "http://[64:ff9b::7f00:1]/a.git", err: "embeds 127.0.0.1"},
		{name: "6to4 literal", raw: "http://[2002:a9fe:a9fe::1]/a.git", err: "embeds 169.254.169.254"},
		{name: "CGNAT literal", raw: "http://100.100.100.200/a.git", err: "shared address space"},
		{name: "this-network literal", raw: "http://0.0.0.0:8088/a.git", err: "local"},
		{name: "scp on loopback", raw: "git@127.0.0.1:x", err: "local"},
		{name: "scp on vm", raw: "git@vm:x", err: "resolves to 127.0.0.1"},
		{name: "short numeric form", raw: "http://127.1:8088/a.git", err: "numeric"},
		{name: "decimal form", raw: "http://2130706433:8088/a.git", err: "numeric"},
		{name: "hex form", raw: "http://0x7f000001:8088/a.git", err: "numeric"},
		{name: "percent-encoded host", raw: "http://%31%32%37.0.0.1:8088/a.git", err: "'%'"},
		{name: "IPv6 zone", raw: "http://[::1%25lo]:8088/a.git", err: "'%'"},
		{name: "unparseable escape", raw: "http://127.0.0.1:8088/git/%zz/../repo.git", allow: []string{"127.0.0.1"}, err: "does not parse"},
		{name: "ext transport", raw: "ext::sh -c id", allow: []string{"/"}, err: "transport"},
		{name: "unresolvable name", raw: "https://nowhere.example/a.git", err: "does not resolve"},
		{name: "unresolvable name, the caller's own (an ssh alias)", raw: "git@myalias:a.git", unpinned: true},
		{name: "unpinned still judges what resolves", raw: "http://vm:8088/a.git", unpinned: true, err: "resolves to 127.0.0.1"},
		{name: "local path refused", raw: "/srv/git/app", err: "local path /srv/git/app"},
		{name: "local path allowed", raw: "/srv/git/app", allow: []string{"/srv/git"}},
		{name: "file URL allowed", raw: "file:///srv/git/app", allow: []string{"/srv/git"}},
		{name: "file URL climbing out", raw: "file:///srv/git/../../etc", allow: []string{"/srv/git"}, err: "local path /etc"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := SourcePolicy{Resolver: resolver, Unpinned: c.unpinned,
				AllowHost: func(h string) bool { return slices.Contains(c.allow, h) },
				AllowPath: func(p string) bool {
					return slices.ContainsFunc(c.allow, func(a string) bool { return strings.HasPrefix(a, "/") && strings.HasPrefix(p+"/", a+"/") })
				}}
			tg, err := JudgeSource(t.Context(), c.raw, p)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("JudgeSource(%q) = %+v, %v; want an error saying %q", c.raw, tg, err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("JudgeSource(%q): %v", c.raw, err)
			}
			if got := tg.Addr; (c.addr == "" && got.IsValid()) || (c.addr != "" && got.String() != c.addr) {
				t.Errorf("JudgeSource(%q) pinned %v, want %q", c.raw, got, c.addr)
			}
			if host := tg.Host; tg.Addr.IsValid() && !tg.Local() {
				if _, err := netip.ParseAddr(host); err != nil && len(tg.Addrs) != len(resolver[host]) {
					t.Errorf("JudgeSource(%q) pinned %v, want every address of %s: %q", c.raw, tg.Addrs, host, resolver[host])
				}
			}
		})
	}
}

// TestJudgeSourceSystemResolver: with the system's resolver, localhost
// and every name /etc/hosts maps to a loopback address are refused (this
// machine has vm and runsc; others have at least localhost).
func TestJudgeSourceSystemResolver(t *testing.T) {
	names := append([]string{"localhost"}, loopbackNames(t)...)
	for _, n := range names {
		_, err := JudgeSource(t.Context(), "http://"+n+":8088/a.git", SourcePolicy{})
		var le *LocalError
		if !errors.As(err, &le) {
			t.Errorf("http://%s:8088/a.git: err = %v, want it refused as local", n, err)
		}
	}
}

// TestTargetPins: how a clone is pinned to the address judged, for each
// transport.
func TestTargetPins(t *testing.T) {
	for _, c := range []struct {
		raw, addr string
		addrs     []string // all addresses judged, when more than addr
		args      []string // the -c settings after protocol.allow
		env       string   // GIT_SSH_COMMAND's HostName
		url       string
	}{
		{raw: "https://git.example/a.git", addr: "140.82.112.3", args: []string{"http.curloptResolve=git.example:443:140.82.112.3"}, url: "https://git.example/a.git"},
		{raw: "http://vm:8088/a.git", addr: "127.0.0.1", args: []string{"http.curloptResolve=vm:8088:127.0.0.1"}, url: "http://vm:8088/a.git"},
		{raw: "http://git.example/a.git", addr: "2606:4700::1111", args: []string{"http.curloptResolve=git.example:80:[2606:4700::1111]"}, url: "http://git.example/a.git"},
		{raw: "http://127.0.0.1:8088/a.git", addr: "127.0.0.1", url: "http://127.0.0.1:8088/a.git"},
		{raw: "https://[2001:DB8::1]/a.git", addr: "2001:db8::1", url: "https://[2001:DB8::1]/a.git"},
		{raw: "git://[::ffff:140.82.112.3]/a.git", addr: "::ffff:140.82.112.3", url: "git://[::ffff:140.82.112.3]/a.git"},
		{raw: "git@140.82.112.3:a.git", addr: "140.82.112.3", env: "BatchMode", url: "git@140.82.112.3:a.git"},
		{raw: "https://git.example/a.git", addr: "2606:4700::1111", addrs: []string{"2606:4700::1111", "140.82.112.3"},
			args: []string{"http.curloptResolve=git.example:443:[2606:4700::1111],140.82.112.3"}, url: "https://git.example/a.git"},
		{raw: "ssh://git@git.example:2222/a.git", addr: "140.82.112.3", env: "-o HostName=140.82.112.3", url: "ssh://git@git.example:2222/a.git"},
		{raw: "git@git.example:a.git", addr: "2606:4700::1111", env: "-o HostName=2606:4700::1111", url: "git@git.example:a.git"},
		{raw: "git://git.example/a.git", addr: "140.82.112.3", url: "git://140.82.112.3/a.git"},
		{raw: "git://git.example:9418/a.git", addr: "2606:4700::1111", url: "git://[2606:4700::1111]:9418/a.git"},
	} {
		s, err := ParseSource(c.raw)
		if err != nil {
			t.Fatal(err)
		}
		tg := Target{Source: s, Addr: netip.MustParseAddr(c.addr)}
		if c.addrs != nil {
			for _, a := range c.addrs {
				tg.Addrs = append(tg.Addrs, netip.MustParseAddr(a))
			}
		}
		args := tg.GitArgs()
		proto := map[string]string{"scp": "ssh"}[s.Scheme]
		if proto == "" {
			proto = s.Scheme
		}
		want := []string{"-c", "protocol.allow=never", "-c", "protocol." + proto + ".allow=always"}
		for _, a := range c.args {
			want = append(want, "-c", a)
		}
		if !slices.Equal(args, want) {
			t.Errorf("%s: GitArgs() = %q, want %q", c.raw, args, want)
		}
		env := strings.Join(tg.GitEnv(), " ")
		if (c.env == "") != (env == "") || !strings.Contains(env, c.env) {
			t.Errorf("%s: GitEnv() = %q, want it to say %q", c.raw, env, c.env)
		}
		if got := tg.URL(); got != c.url {
			t.Errorf("%s: URL() = %q, want %q", c.raw, got, c.url)
		}
	}
}

// loopbackNames are the names /etc/hosts maps to a loopback address
// (read, never written).
func loopbackNames(t *testing.T) []string {
	b, err := os.ReadFile("/etc/hosts")
	if err != nil {
		return nil
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if a, err := netip.ParseAddr(f[0]); err == nil && a.IsLoopback() {
			names = append(names, f[1:]...)
		}
	}
	t.Logf("names for loopback in /etc/hosts: %q", names)
	return names
}

// FuzzParseSource: whatever it is given, ParseSource does not panic, and a
// source it accepts has nothing git, ssh or curl would read otherwise: no
// leading '-', no control character, a host that is a name or an address,
// a URL Go parses too.
func FuzzParseSource(f *testing.F) {
	for _, seed := range []string{
		"https://github.com/org/app.git", "git@github.com:org/app.git", "git@[2001:db8::1]:x", "ssh://git@h:22/x",
		"git://h/x", "file:///srv/x", "/srv/x", "ext::sh -c id", "fd::3", "--upload-pack=x", "ssh://-oProxyCommand=x/y",
		"http://%31%32%37.0.0.1/", "http://[::1%25lo]/", "http://127.0.0.1/%zz/../r.git", "http://a\\@b/", "git@[::1%lo]:x",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		s, err := ParseSource(raw)
		if err != nil {
			return
		}
		if strings.HasPrefix(raw, "-") || strings.IndexFunc(raw, unicode.IsControl) >= 0 {
			t.Fatalf("%q accepted: %+v", raw, s)
		}
		if s.Local() {
			return
		}
		if s.Host == "" || strings.HasPrefix(s.Host, "-") || strings.ContainsAny(s.Host, "%/@ ") {
			t.Fatalf("%q: host %q", raw, s.Host)
		}
		if s.Scheme != "scp" {
			if _, err := url.Parse(raw); err != nil {
				t.Fatalf("%q accepted, but Go does not parse it: %v", raw, err)
			}
		}
		tg := Target{Source: s, Addr: netip.MustParseAddr("192.0.2.1")}
		if _, err := ParseSource(tg.URL()); err != nil {
			t.Fatalf("%q pinned as %q, which does not parse: %v", raw, tg.URL(), err)
		}
	})
}
