package service

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

var digestSuffix = "@sha256:" + strings.Repeat("b", 64)

// TestAllowList: what an images.allow entry lets a submission name and
// the guarded transport dial. The two must agree: an entry that admits a
// reference admits the addresses that reference is dialled at.
func TestAllowList(t *testing.T) {
	for _, c := range []struct {
		allow          []string
		images, denied []string // references
		addrs, refused []string // dialled addresses
	}{
		// localhost:PORT/ is dialled as 127.0.0.1:PORT or [::1]:PORT, and
		// nothing else (it used to be refused at dial time).
		{allow: []string{"localhost:5000/"},
			images: []string{"localhost:5000/app" + digestSuffix}, denied: []string{"localhost:50001/app", "127.0.0.1:5000/app"},
			addrs: []string{"127.0.0.1:5000", "[::1]:5000"}, refused: []string{"127.0.0.1:5001", "127.0.0.1:50001", "[::1]:500", "127.0.0.2:5000", "10.0.0.1:5000", "127.0.0.1:443"}},
		{allow: []string{"localhost/"},
			images: []string{"localhost/app"}, denied: []string{"localhost:5000/app"},
			addrs: []string{"127.0.0.1:443", "[::1]:80"}, refused: []string{"127.0.0.1:5000"}},
		{allow: []string{"localhost:"},
			images: []string{"localhost:1/app", "localhost:5000/app"}, denied: []string{"localhost/app"},
			addrs: []string{"127.0.0.1:1", "[::1]:5000"}, refused: []string{"10.0.0.1:5000"}},
		{allow: []string{"localhost.evil.example/", "localhostx:5000/"},
			images: []string{"localhost.evil.example/app"}, denied: []string{"localhost/app"},
			refused: []string{"127.0.0.1:443", "127.0.0.1:5000", "[::1]:5000"}},
		// An entry without "/" is a prefix of HOST[:PORT].
		{allow: []string{"127.0.0.1:"},
			images: []string{"127.0.0.1:5000/app" + digestSuffix}, denied: []string{"localhost:5000/app", "127.0.0.10/app"},
			addrs: []string{"127.0.0.1:5000", "127.0.0.1:1"}, refused: []string{"[::1]:5000", "10.0.0.1:5000"}},
		// ... ending at a boundary: a raw prefix let "10.0.0.1" admit
		// 10.0.0.12 (red team).
		{allow: []string{"10.0.0.1"},
			images: []string{"10.0.0.1/app", "10.0.0.1:5000/app" + digestSuffix}, denied: []string{"10.0.0.12/app", "10.0.0.1x/app", "10.0.0.1.nip.io/app"},
			addrs: []string{"10.0.0.1:443", "10.0.0.1:5000"}, refused: []string{"10.0.0.12:443", "10.0.0.100:5000"}},
		{allow: []string{"localhost:5000"},
			images: []string{"localhost:5000/app"}, denied: []string{"localhost:50001/app"},
			addrs: []string{"127.0.0.1:5000", "[::1]:5000"}, refused: []string{"127.0.0.1:50001"}},
		{allow: []string{"registry.example/team"},
			images: []string{"registry.example/team/app", "registry.example/team:v1"}, denied: []string{"registry.example/team-b/app", "registry.example/teams/app"}},
		{allow: []string{"10.0.0."},
			images: []string{"10.0.0.7/app"}, denied: []string{"10.0.1.7/app"},
			addrs: []string{"10.0.0.77:443"}, refused: []string{"10.0.1.7:443"}},
		// An entry with "/" names the whole host: no longer a prefix of
		// the port or of a longer address.
		{allow: []string{"127.0.0.1:5000/"},
			images: []string{"127.0.0.1:5000/app"}, denied: []string{"127.0.0.1:50001/app"},
			addrs: []string{"127.0.0.1:5000"}, refused: []string{"127.0.0.1:50001", "127.0.0.1:500"}},
		{allow: []string{"10.0.0.5/team/"},
			images: []string{"10.0.0.5/team/app"}, denied: []string{"10.0.0.5/other/app", "10.0.0.50/team/app"},
			addrs: []string{"10.0.0.5:443", "10.0.0.5:80"}, refused: []string{"10.0.0.50:443", "10.0.0.5:6379"}},
		{allow: []string{"[::1]:5000/"},
			images: []string{"[::1]:5000/app"}, addrs: []string{"[::1]:5000"}, refused: []string{"127.0.0.1:5000", "[::1]:5001"}},
		{allow: []string{"[fd00::1]/"}, addrs: []string{"[fd00::1]:443"}, refused: []string{"[fd00::1]:5000"}},
		// Names other than localhost are not resolved here: never an IP.
		{allow: []string{"registry.internal/"},
			images: []string{"registry.internal/app"}, refused: []string{"10.0.0.5:443"}},
		// Empty entries allow nothing, at either check.
		{allow: []string{"", "/"},
			denied: []string{"10.0.0.5/app", "localhost:5000/app"}, refused: []string{"127.0.0.1:5000", "10.0.0.5:443"}},
		{allow: nil, denied: []string{"127.0.0.1:5000/app"}, refused: []string{"127.0.0.1:5000"}},
	} {
		l := allowList(c.allow)
		for _, s := range c.images {
			if !l.allowsImage(s) {
				t.Errorf("%q.allowsImage(%q) = false, want true", c.allow, s)
			}
		}
		for _, s := range c.denied {
			if l.allowsImage(s) {
				t.Errorf("%q.allowsImage(%q) = true, want false", c.allow, s)
			}
		}
		for _, s := range c.addrs {
			if !l.allowsAddress(s) {
				t.Errorf("%q.allowsAddress(%q) = false, want true", c.allow, s)
			}
		}
		for _, s := range c.refused {
			if l.allowsAddress(s) {
				t.Errorf("%q.allowsAddress(%q) = true, want false", c.allow, s)
			}
		}
	}
}

// TestAllowLocalhostSubmission: a config allowing localhost:PORT/ is valid
// and admits a submission of an image there; TestDialGuardLocalhost then
// dials it.
func TestAllowLocalhostSubmission(t *testing.T) {
	cfg := &Config{Sources: struct {
		Allow []string `mapstructure:"allow"`
	}{Allow: []string{"/"}}}
	cfg.Images.Allow = []string{"localhost:5000/"}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	r := Request{Source: "/srv/app", Commit: strings.Repeat("a", 40), Image: "localhost:5000/app" + digestSuffix}
	if err := r.Validate(cfg); err != nil {
		t.Errorf("submission: %v", err)
	}
	r.Image = "localhost:5001/app" + digestSuffix
	if err := r.Validate(cfg); err == nil {
		t.Errorf("submission of %s allowed", r.Image)
	}
}

// TestDialGuardLocalhost: an images.allow entry "localhost:PORT/" lets the
// guarded transport reach a registry at localhost:PORT, which is dialled
// as 127.0.0.1:PORT (or [::1]:PORT); an entry for another port does not.
func TestDialGuardLocalhost(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer hs.Close()
	_, port, _ := net.SplitHostPort(hs.Listener.Addr().String())
	get := func(allow []string) error {
		c := &http.Client{Transport: dialGuard(allow)}
		resp, err := c.Get("http://localhost:" + port + "/v2/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get([]string{"localhost:" + port + "/"}); err != nil {
		t.Errorf("images.allow localhost:%s/: %v", port, err)
	}
	for _, other := range []string{"localhost:1/", "localhost:" + port + "0/", "10.0.0.1:" + port + "/"} {
		if err := get([]string{other}); err == nil || !strings.Contains(err.Error(), "refusing to connect") {
			t.Errorf("images.allow %s: err = %v, want the dial refused", other, err)
		}
	}
}
