package service

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// tableResolver answers from a table: names an attacker's DNS or this
// machine's /etc/hosts (vm and runsc for 127.0.0.1 on the red team's)
// resolve to local addresses; the rest do not resolve.
type tableResolver map[string][]string

func (r tableResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	answer, ok := r[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	var out []netip.Addr
	for _, a := range answer {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

var sourceResolver = tableResolver{
	"vm":            {"127.0.0.1"},
	"runsc":         {"127.0.0.1"},
	"git":           {"10.0.0.9"},
	"git.example":   {"140.82.112.3"},
	"mixed.example": {"140.82.112.3", "10.0.0.5"},
	"cgnat.example": {"100.100.100.200"},
	"nat64.example": {"64:ff9b::a9fe:a9fe"},
}

// TestSourceSubmission: a submitted source is judged as the CLI judges
// one the image names (internal/hosts), under sources.allow: every
// spelling the red team used to reach this machine through an allowed
// prefix ("http://", "git@") is a 400 naming the source field.
func TestSourceSubmission(t *testing.T) {
	for _, c := range []struct {
		name  string
		allow []string
		src   string
		err   string // "" for accepted
	}{
		{name: "public", allow: []string{"http://"}, src: "http://git.example/a.git"},
		{name: "a name that does not resolve now (judged again when cloned)", allow: []string{"https://"}, src: "https://nowhere.invalid/a.git"},
		{name: "loopback", allow: []string{"http://"}, src: "http://127.0.0.1:8088/a.git", err: "127.0.0.1 is local"},
		{name: "percent-encoded loopback", allow: []string{"http://"}, src: "http://%31%32%37.0.0.1:8088/a.git", err: "'%'"},
		{name: "IPv6 zone", allow: []string{"http://"}, src: "http://[::1%25lo]:8088/a.git", err: "'%'"},
		{name: "unparseable escape", allow: []string{"http://"}, src: "http://127.0.0.1:8088/git/%zz/../repo.git", err: "does not parse"},
		{name: "vm, a name for 127.0.0.1", allow: []string{"http://"}, src: "http://vm:8088/a.git", err: "resolves to 127.0.0.1"},
		{name: "runsc, a name for 127.0.0.1", allow: []string{"http://"}, src: "http://runsc:8088/a.git", err: "resolves to 127.0.0.1"},
		{name: "one private address among public ones", allow: []string{"https://"}, src: "https://mixed.example/a.git", err: "10.0.0.5"},
		{name: "CGNAT name", allow: []string{"https://"}, src: "https://cgnat.example/a.git", err: "100.100.100.200"},
		{name: "CGNAT literal", allow: []string{"https://"}, src: "https://100.100.100.200/a.git", err: "shared address space"},
		{name: "NAT64 name for the metadata address", allow: []string{"https://"}, src: "https://nat64.example/a.git", err: "169.254.169.254"},
		{name: "IPv4-mapped loopback", allow: []string{"https://"}, src: "https://[::ffff:127.0.0.1]/a.git", err: "local"},
		{name: "metadata", allow: []string{"https://"}, src: "https://169.254.169.254/latest/meta-data.git", err: "link-local"},
		{name: "decimal address", allow: []string{"https://"}, src: "https://2130706433/a.git", err: "local"},
		{name: "scp on loopback under git@", allow: []string{"git@"}, src: "git@127.0.0.1:x", err: "127.0.0.1 is local"},
		{name: "scp on a host named like the prefix", allow: []string{"git@"}, src: "git@git:x", err: "resolves to 10.0.0.9"},
		{name: "scp public", allow: []string{"git@"}, src: "git@git.example:org/a.git"},
		{name: "a local host its prefix names", allow: []string{"http://127.0.0.1:8088/"}, src: "http://127.0.0.1:8088/a.git"},
		{name: "another port than the prefix's", allow: []string{"http://127.0.0.1:8088/"}, src: "http://127.0.0.1:8089/a.git", err: "sources.allow"},
		{name: "a local name its prefix names", allow: []string{"http://vm:8088/"}, src: "http://vm:8088/a.git"},
		{name: "scp on a local host its prefix names", allow: []string{"git@10.0.0.9:"}, src: "git@10.0.0.9:org/a.git"},
		{name: "user info hiding the host", allow: []string{"https://git.example"}, src: "https://git.example@127.0.0.1/a.git", err: "sources.allow"},
		// sources.allow entries name whole hosts, and paths segment by
		// segment; they were raw prefixes (red team).
		{name: "a host the entry's host begins", allow: []string{"https://git.internal"}, src: "https://git.internal.evil.example/a.git", err: "sources.allow"},
		{name: "the entry's host", allow: []string{"https://git.internal"}, src: "https://git.internal/team/a.git"},
		{name: "a password hiding the host", allow: []string{"https://git.internal"}, src: "https://git.internal:x@evil.example/a.git", err: "sources.allow"},
		{name: "a host in another case", allow: []string{"HTTPS://Git.Example/team/"}, src: "https://git.example/team/a.git"},
		{name: "a path in another case", allow: []string{"https://git.example/Team/"}, src: "https://git.example/team/a.git", err: "sources.allow"},
		{name: "a sibling of the entry's path", allow: []string{"https://github.com/myorg"}, src: "https://github.com/myorg-evil/a.git", err: "sources.allow"},
		{name: "below the entry's path without its slash", allow: []string{"https://github.com/myorg"}, src: "https://github.com/myorg/a.git"},
		{name: "a dot-dot segment climbing out", allow: []string{"https://github.com/myorg/"}, src: "https://github.com/myorg/../evil/a.git", err: "sources.allow"},
		{name: "an escaped dot-dot segment", allow: []string{"https://github.com/myorg/"}, src: "https://github.com/myorg/%2e%2E/evil/a.git", err: "sources.allow"},
		{name: "another port than the default the entry means", allow: []string{"https://git.example/"}, src: "https://git.example:8443/a.git", err: "sources.allow"},
		{name: "the default port written", allow: []string{"https://git.example/"}, src: "https://git.example:443/a.git"},
		{name: "another scheme", allow: []string{"https://"}, src: "http://git.example/a.git", err: "sources.allow"},
		{name: "another user", allow: []string{"ssh://git@git.example/"}, src: "ssh://root@git.example/a.git", err: "sources.allow"},
		{name: "scp under the entry's path", allow: []string{"git@github.com:myorg/"}, src: "git@github.com:myorg/a.git"},
		{name: "scp, a sibling of the entry's path", allow: []string{"git@github.com:myorg/"}, src: "git@github.com:myorg-evil/a.git", err: "sources.allow"},
		{name: "scp, a host the entry's host begins", allow: []string{"git@github.com:"}, src: "git@github.com.evil.example:a.git", err: "sources.allow"},
		{name: "scp, an address the entry's address begins", allow: []string{"git@10.0.0.9:"}, src: "git@10.0.0.90:a.git", err: "sources.allow"},
		{name: "a directory the entry's directory begins", allow: []string{"/srv/src"}, src: "/srv/srcx/app", err: "sources.allow"},
		// Other transports, even under a prefix that lets them through.
		{name: "ext", allow: []string{"ext::"}, src: "ext::sh -c touch% /tmp/pwned", err: "transport"},
		{name: "fd", allow: []string{"fd::"}, src: "fd::3", err: "transport"},
		{name: "an option", allow: []string{"-"}, src: "--upload-pack=touch /tmp/pwned", err: "'-'"},
		{name: "ssh proxy command", allow: []string{"ssh://"}, src: "ssh://-oProxyCommand=touch%20/tmp/pwned/x", err: "host"},
		{name: "git+ssh", allow: []string{"git+ssh://"}, src: "git+ssh://git.example/x", err: "transport"},
		{name: "file on another host", allow: []string{"file://"}, src: "file://evil.example/etc", err: "file://"},
		{name: "a local path under an allowed directory", allow: []string{"/srv/src"}, src: "/srv/src/app"},
		{name: "a local path climbing out", allow: []string{"/srv/src"}, src: "/srv/src/../../etc", err: "sources.allow"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := &Config{}
			cfg.Sources.Allow = c.allow
			r := Request{Source: c.src, Image: "registry.example/app" + digestSuffix}
			err := r.validate(cfg, sourceResolver)
			if c.err == "" {
				if err != nil {
					t.Fatalf("%s under %q refused: %v", c.src, c.allow, err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "source" || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("%s under %q: err = %v, want a source error saying %q", c.src, c.allow, err, c.err)
			}
		})
	}
	// This machine's resolver: localhost is refused under "http://".
	cfg := &Config{}
	cfg.Sources.Allow = []string{"http://"}
	r := Request{Source: "http://localhost:8088/a.git", Image: "registry.example/app" + digestSuffix}
	if err := r.Validate(cfg); err == nil || !strings.Contains(err.Error(), "localhost") {
		t.Errorf("http://localhost:8088/a.git: err = %v, want it refused", err)
	}
}

// TestHostAllowedBy: a local host is allowed when a prefix the source
// starts with names that host itself, when the request is checked and
// when the source is cloned.
func TestHostAllowedBy(t *testing.T) {
	for _, c := range []struct {
		allow     string
		src, host string
		want      bool
	}{
		{"http://127.0.0.1:8088/", "http://127.0.0.1:8088/a.git", "127.0.0.1", true},
		{"http://[::1]:8088/", "http://[::1]:8088/a.git", "::1", true},
		{"git@10.0.0.5:", "git@10.0.0.5:a.git", "10.0.0.5", true},
		{"git@[fd00::5]:", "git@[fd00::5]:a.git", "fd00::5", true},
		{"https://git.corp.internal/team/", "https://git.corp.internal/team/a.git", "git.corp.internal", true},
		{"ssh://git@gitserver.corp/", "ssh://git@gitserver.corp/a.git", "gitserver.corp", true},
		{"http://", "http://http/a.git", "http", false},
		{"git@", "git@git:a.git", "git", false},
		{"https://", "https://127.0.0.1/a.git", "127.0.0.1", false},
		{"http://127.0.0.1", "http://127.0.0.1.evil.example/a.git", "127.0.0.1.evil.example", false},
		{"https://github.com", "https://github.com@127.0.0.1/a.git", "127.0.0.1", false},
		{"http://127.0.0.1:8088/", "http://127.0.0.2:8088/a.git", "127.0.0.2", false},
		{"http://127.0.0.1:8088/", "http://127.0.0.1:8088.evil.example/a.git", "127.0.0.1", false},
		{"https://Git.Corp.Internal/", "https://git.corp.internal/a.git", "git.corp.internal", true},
		{"git@10.0.0.5:", "git@10.0.0.50:a.git", "10.0.0.50", false},
		{"/srv", "/srv/a", "", false},
		{"", "http://127.0.0.1/a.git", "127.0.0.1", false},
	} {
		if got := hostAllowedBy([]string{c.allow})(c.src, c.host); got != c.want {
			t.Errorf("sources.allow %q, %s, host %q: %v, want %v", c.allow, c.src, c.host, got, c.want)
		}
	}
}

// TestValidatePlatformLength: Validate itself bounds a platform string
// before parsing it, so every way in (the API, each hook) gets the bound.
func TestValidatePlatformLength(t *testing.T) {
	cfg := &Config{}
	cfg.Sources.Allow = []string{"/"}
	for _, c := range []struct {
		name     string
		platform string
		ok       bool
	}{
		{"a real platform", "linux/arm64/v8", true},
		{"5,012 bytes", "linux/amd64/" + strings.Repeat("v", 5000), false},
		{"one byte over", "linux/amd64/" + strings.Repeat("v", maxPlatformLen-len("linux/amd64/")+1), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := Request{Image: "registry.example/app" + digestSuffix, Platforms: []string{c.platform}}
			err := r.Validate(cfg)
			var fe *FieldError
			switch {
			case c.ok && err != nil:
				t.Errorf("refused: %v", err)
			case !c.ok && (!errors.As(err, &fe) || fe.Field != "platforms" || !strings.Contains(err.Error(), "longer than 128")):
				t.Errorf("err = %v, want a platforms error saying longer than 128", err)
			}
		})
	}
}

// TestSourcesAllowEntries: an entry sources.allow cannot read as a
// directory, a URL prefix or USER@HOST:PATH is refused at start (it would
// admit nothing), naming it.
func TestSourcesAllowEntries(t *testing.T) {
	for _, c := range []struct {
		entry string
		ok    bool
	}{
		{"/srv/src", true},
		{"https://", true},
		{"https://github.com/myorg/", true},
		{"http://[::1]:8088/", true},
		{"git@", true},
		{"git@10.0.0.5:", true},
		{"git@[fd00::5]:team/", true},
		{"file:///srv/mirrors/", true},
		{"github.com/myorg/", false},
		{"", false},
		{"https:///myorg/", false},
	} {
		cfg := &Config{}
		cfg.Sources.Allow = []string{"/", c.entry}
		cfg.Defaults()
		err := cfg.Validate()
		if c.ok != (err == nil) || err != nil && !strings.Contains(err.Error(), "sources.allow[1]") {
			t.Errorf("sources.allow %q: err = %v, want ok %v", c.entry, err, c.ok)
		}
	}
}
