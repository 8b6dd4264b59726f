package builder

import (
	"errors"
	"strings"
	"testing"

	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/sourcepolicy"
	spb "github.com/moby/buildkit/sourcepolicy/pb"
)

// TestRebuildPolicy: a rebuild's source policy, applied by BuildKit's own
// engine, lets through only the inputs Check found pinned: an image by
// one of their digests, the git remotes and ADD URLs it judged; anything
// else (an image Check never saw, a tag, another remote or URL) is
// denied, with the proxy's host rules or without.
func TestRebuildPolicy(t *testing.T) {
	base := "sha256:" + strings.Repeat("b", 64)
	front := "sha256:" + strings.Repeat("f", 64)
	in := &Inputs{
		Frontend:  "registry.example/frontend@" + front,
		Bases:     []Base{{Ref: "127.0.0.1:5000/base/busybox@" + base, Digest: base}},
		Downloads: []Download{{URL: "https://git.example/app/lib.git", Checksum: strings.Repeat("c", 40)}, {URL: "https://files.example/a.tar.gz", Checksum: "sha256:" + strings.Repeat("a", 64)}},
	}
	a := AllowedOf(in)
	for _, c := range []struct {
		id      string
		proxied bool
		denied  bool
	}{
		{id: "docker-image://127.0.0.1:5000/base/busybox@" + base},
		{id: "docker-image://127.0.0.1:5000/base/busybox:1@" + base},
		{id: "docker-image://registry.example/frontend@" + front},
		{id: "docker-image://127.0.0.1:5000/evil:latestlinux", denied: true},
		{id: "docker-image://docker.io/library/0:latest", denied: true},
		{id: "docker-image://127.0.0.1:5000/evil@sha256:" + strings.Repeat("e", 64), denied: true},
		{id: "docker-image://127.0.0.1:5000/evil@" + base + "x", denied: true},
		{id: "oci-layout://store/x@" + base, denied: true},
		{id: "git://git.example/app/lib.git#" + strings.Repeat("c", 40)},
		{id: "git://git.example/app/lib.git#main"},
		{id: "git://127.0.0.1/internal.git#" + strings.Repeat("c", 40), denied: true},
		{id: "git://git.example/app/lib.git.evil#x", denied: true},
		{id: "https://files.example/a.tar.gz"},
		{id: "https://files.example/a.tar.gz?x", denied: true},
		{id: "http://127.0.0.1:8080/secret", denied: true},
		{id: "http://169.254.169.254/latest/meta-data/", denied: true},
		{id: "local://context"},
		{id: "local://dockerfile"},
		// With the proxy, the http(s) rules are the proxy's hosts'.
		{id: "http://deb.example/debian/pool/a.deb", proxied: true},
		{id: "http://127.0.0.1:8080/secret", proxied: true, denied: true},
		{id: "docker-image://127.0.0.1:5000/evil:latest", proxied: true, denied: true},
	} {
		t.Run(c.id, func(t *testing.T) {
			var p = policy(a, nil)
			if c.proxied {
				p = policy(a, proxyPolicy([]string{"deb.example"}))
			}
			_, err := sourcepolicy.NewEngine(nil).Evaluate(t.Context(), &pb.SourceOp{Identifier: c.id})
			if err != nil {
				t.Fatal(err) // an engine without policies allows
			}
			_, err = sourcepolicy.NewEngine([]*spb.Policy{p}).Evaluate(t.Context(), &pb.SourceOp{Identifier: c.id})
			if denied := errors.Is(err, sourcepolicy.ErrSourceDenied); denied != c.denied || err != nil && !denied {
				t.Errorf("%s: %v, want denied %v", c.id, err, c.denied)
			}
		})
	}
	if policy(nil, nil) != nil {
		t.Error("a build with nothing to restrict gets a policy")
	}
}
