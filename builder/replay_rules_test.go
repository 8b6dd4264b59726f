package builder

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/sourcepolicy"
	spb "github.com/moby/buildkit/sourcepolicy/pb"
	"github.com/moby/buildkit/util/urlutil"

	"github.com/reprover/reprover/pins"
)

// TestReplayRules: a replayed build's source policy, evaluated by
// BuildKit's own engine as its proxy does (the URL as the step asked for
// it, https with the CONNECT's :443): each URL the kit holds, in any of
// the ways the proxy names it, becomes its blob; any other http(s) URL
// becomes the answer that names it as lacking; the replay's own URLs are
// allowed as they are (never converted again); other sources are left
// alone.
func TestReplayRules(t *testing.T) {
	const base = "http://10.213.7.1:41234/0123abcd/"
	rp := &replay{base: base, blobs: []string{"http://10.214.3.1:8080/input.txt", "http://plain.example/x", "https://deb.example/pool/a.deb"}}
	eng := sourcepolicy.NewEngine([]*spb.Policy{{Version: 1, Rules: rp.rules()}})
	for _, tc := range []struct{ name, id, want string }{
		{"https as the proxy names it", "https://deb.example:443/pool/a.deb", base + "b/2"},
		{"https as ADD names it", "https://deb.example/pool/a.deb", base + "b/2"},
		{"http with its port", "http://10.214.3.1:8080/input.txt", base + "b/0"},
		{"http without a port", "http://plain.example/x", base + "b/1"},
		{"http with :80", "http://plain.example:80/x", base + "b/1"},
		{"a URL the kit lacks", "https://deb.example:443/pool/b.deb", base + "lacks/https://deb.example:443/pool/b.deb"},
		{"a query", "http://plain.example/x?y=1", base + "lacks/http://plain.example/x?y=1"},
		{"another port of a kit URL's host", "https://deb.example:8443/pool/a.deb", base + "lacks/https://deb.example:8443/pool/a.deb"},
		{"the replay's host, another path", "http://10.213.7.1:41234/other/b/0", base + "lacks/http://10.213.7.1:41234/other/b/0"},
		{"the replay's token without its slash", "http://10.213.7.1:41234/0123abcd", base + "lacks/http://10.213.7.1:41234/0123abcd"},
		{"a blob of the replay, asked for directly", base + "b/1", base + "b/1"},
		{"an image", "docker-image://docker.io/library/busybox:1", "docker-image://docker.io/library/busybox:1"},
		{"a git remote", "git://github.com/x/y", "git://github.com/x/y"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := &pb.SourceOp{Identifier: tc.id}
			if _, err := eng.Evaluate(t.Context(), op); err != nil {
				t.Fatalf("%s: %v", tc.id, err)
			}
			if op.Identifier != tc.want {
				t.Errorf("%s became %s, want %s", tc.id, op.Identifier, tc.want)
			}
		})
	}
}

// TestReplayRestore: captures of a replayed build, which BuildKit records
// under the replay's URLs, name the URLs the step asked for (as the proxy
// names captures: no default port), FromKit for the kit's blobs; a
// capture of any other URL is an error naming it.
func TestReplayRestore(t *testing.T) {
	const base = "http://10.213.7.1:41234/0123abcd/"
	rp := &replay{base: base, blobs: []string{"http://10.214.3.1:8080/input.txt", "https://deb.example/pool/a.deb"}}
	sum := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	got, err := rp.restore([]pins.Capture{
		{Method: "GET", URL: base + "b/1", Status: 200, SHA256: sum},
		{Method: "GET", URL: base + "b/0", Status: 200, SHA256: sum},
		{Method: "GET", URL: base + "lacks/https://deb.example:443/dists/InRelease", Status: 404, Incomplete: pins.ReasonFailed},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []pins.Capture{
		{Method: "GET", URL: "http://10.214.3.1:8080/input.txt", Status: 200, SHA256: sum, FromKit: true},
		{Method: "GET", URL: "https://deb.example/dists/InRelease", Status: 404, Incomplete: pins.ReasonFailed},
		{Method: "GET", URL: "https://deb.example/pool/a.deb", Status: 200, SHA256: sum, FromKit: true},
	}
	if len(got) != len(want) {
		t.Fatalf("captures %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("capture %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if _, err := rp.restore([]pins.Capture{{Method: "GET", URL: "http://upstream.example/x", Status: 200, SHA256: sum}}); err == nil {
		t.Error("a capture of an upstream URL in a replay: no error")
	}
}

// TestReplayURLs: a Replay whose URL no proxied GET can name is refused
// before anything listens, naming the URL: its rule would convert another
// source (a base image, a git remote, the context) into a kit's blob.
func TestReplayURLs(t *testing.T) {
	for _, tc := range []struct{ name, url string }{
		{"an image", "docker-image://docker.io/library/busybox:latest"},
		{"a git remote", "git://github.com/x/y"},
		{"the context", "local://context"},
		{"no host", "http:///x"},
		{"a fragment", "https://deb.example/a.deb#x"},
		{"not a URL", "https://deb.example/%zz"},
		{"opaque", "https:deb.example/a.deb"},
		// Not as the proxy records a download (pins.CanonicalURL): its
		// captures would be named otherwise than without the kit.
		{"https with :443", "https://deb.example:443/a.deb"},
		{"http with :80", "http://deb.example:80/a.deb"},
		{"an upper-case scheme", "HTTP://deb.example/a.deb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &oneBlob{url: tc.url}
			rp, err := startReplay(t.Context(), r, "127.0.0.1:0", slog.New(slog.DiscardHandler))
			if err == nil {
				rp.close()
				t.Fatalf("%s: a replay started", tc.url)
			}
			if !strings.Contains(err.Error(), tc.url) {
				t.Errorf("error %q does not name %s", err, tc.url)
			}
		})
	}
}

// oneBlob is a Replay holding one URL (its blob never read here).
type oneBlob struct{ url string }

func (o *oneBlob) URLs() []string                  { return []string{o.url} }
func (o *oneBlob) Pin(url string) (pins.Pin, bool) { return pins.Pin{URL: url}, url == o.url }
func (o *oneBlob) Open(string) (io.ReadCloser, error) {
	return nil, errors.New("not read in this test")
}

// proxyID is the identifier BuildKit v0.34.2's proxy evaluates a step's
// request as (provider_linux.go ServeHTTP, handleConnect, check): http in
// its absolute form as net/url parses it (scheme lower-cased), https with
// the CONNECT's authority (a client always names the port), credentials
// redacted. Clients send no fragment.
func proxyID(t *testing.T, step string) string {
	u, err := url.Parse(step)
	if err != nil {
		t.Fatal(err)
	}
	u.Fragment, u.RawFragment = "", ""
	if u.Scheme == "https" && u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), "443")
	}
	return urlutil.RedactCredentials(u.String())
}

// TestReplayNames: whatever spelling a step asks for, a replayed build's
// capture is named as the same request's capture is named without a kit
// (BuildKit's captureURL of the proxy's identifier: pins.CanonicalURL),
// and it is FromKit exactly when that name is the kit URL whose blob was
// served. Otherwise a kit would change how a download stands against the
// pins (a red-team found a pin spelled http://h:80/x "pinned" with the
// kit, "new" and its pin "missing" without: the replay named the capture
// by the pin's spelling; the kit's URLs are now canonical, TestReplayURLs).
func TestReplayNames(t *testing.T) {
	const base = "http://10.213.7.1:41234/0123abcd/"
	rp := &replay{base: base, blobs: []string{
		"http://c.example/p", "http://plain.example/x", "http://port.example/x", "http://q.example/p?a=1&b=2",
		"http://upper.example/x", "https://deb.example/a.deb", "https://tls.example/x",
	}}
	const sum = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	eng := sourcepolicy.NewEngine([]*spb.Policy{{Version: 1, Rules: rp.rules()}})
	for _, tc := range []struct {
		name, step string
		fromKit    bool // the kit's blob is served
	}{
		{"as pinned", "http://plain.example/x", true},
		{"http with :80", "http://plain.example:80/x", true},
		{"an upper-case host", "http://PLAIN.example/x", false},
		{"a trailing dot", "http://plain.example./x", false},
		{"an escaped letter", "http://plain.example/%78", false},
		{"a dot segment", "http://plain.example/y/../x", false},
		{"an empty query", "http://plain.example/x?", false},
		{"a fragment", "http://plain.example/x#frag", true},
		{"https of an http pin", "https://plain.example/x", false},
		{"a pin written with :80, asked without", "http://port.example/x", true},
		{"a pin written with :80, asked with", "http://port.example:80/x", true},
		{"https, asked with :443", "https://tls.example:443/x", true},
		{"https, asked without a port", "https://tls.example/x", true},
		{"an upper-case scheme", "HTTP://upper.example/x", true},
		{"an upper-case scheme and :80", "HTTP://upper.example:80/x", true},
		{"https", "https://deb.example/a.deb", true},
		{"http of an https pin", "http://deb.example/a.deb", false},
		{"another port", "https://deb.example:8443/a.deb", false},
		{"a query", "http://q.example/p?a=1&b=2", true},
		{"a query in another order", "http://q.example/p?b=2&a=1", false},
		{"credentials", "http://u:p@c.example/p", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := proxyID(t, tc.step)
			op := &pb.SourceOp{Identifier: id}
			if _, err := eng.Evaluate(t.Context(), op); err != nil {
				t.Fatalf("%s (the proxy's %s) denied: %v", tc.step, id, err)
			}
			got, err := rp.restore([]pins.Capture{{Method: "GET", URL: pins.CanonicalURL(op.Identifier), Status: 200, SHA256: sum}})
			if err != nil {
				t.Fatalf("%s: %v", tc.step, err)
			}
			if want := pins.CanonicalURL(id); got[0].URL != want {
				t.Errorf("%s (the proxy's %s): with the kit its capture is %s, without it %s", tc.step, id, got[0].URL, want)
			}
			if got[0].FromKit != tc.fromKit {
				t.Errorf("%s: FromKit %v, want %v (served %s)", tc.step, got[0].FromKit, tc.fromKit, op.Identifier)
			}
			if got[0].FromKit {
				i := slices.Index(rp.blobs, got[0].URL)
				if i < 0 || op.Identifier != base+"b/"+strconv.Itoa(i) {
					t.Errorf("%s: FromKit as %s, but served %s", tc.step, got[0].URL, op.Identifier)
				}
			}
		})
	}
}
