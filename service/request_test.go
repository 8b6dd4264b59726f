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
		{name: "user info hiding the host", allow: []string{"https://git.example"}, src: "https://git.example@127.0.0.1/a.git", err: "127.0.0.1 is local"},
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
		{"/srv", "/srv/a", "", false},
		{"", "http://127.0.0.1/a.git", "127.0.0.1", false},
	} {
		if got := hostAllowedBy([]string{c.allow})(c.src, c.host); got != c.want {
			t.Errorf("sources.allow %q, %s, host %q: %v, want %v", c.allow, c.src, c.host, got, c.want)
		}
	}
}
