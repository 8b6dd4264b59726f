package kit_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/kit"
	"github.com/reprover/reprover/pins"
)

// TestPushFoundByAuto: a kit made from a release's pins and pushed as a
// referrer of the image is what Open(Auto) finds, on a registry with the
// referrers API and on one without it (go-containerregistry's referrers
// tag); its downloads read back as served, and an image without a kit has
// none.
func TestPushFoundByAuto(t *testing.T) {
	for _, c := range []struct {
		name string
		reg  func() *fixtures.Registry
	}{
		{"referrers API", func() *fixtures.Registry { return fixtures.StartRegistry(nil) }},
		{"referrers tag", fixtures.StartRegistryWithoutReferrers},
	} {
		t.Run(c.name, func(t *testing.T) {
			reg := c.reg()
			t.Cleanup(reg.Close)
			rel := newRelease(t, reg, "one")
			other := newRelease(t, reg, "two")
			if k, err := kit.Open(t.Context(), kit.Auto, rel.repo, rel.subject.Digest, kit.Options{}); k != nil || err != nil {
				t.Fatalf("before the push: kit %v, err %v; want none", k, err)
			}
			made := rel.mustMake(t)
			ref, err := made.Push(t.Context(), rel.repo, kit.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if want := rel.repo + "@" + made.Digest().String(); ref != want {
				t.Errorf("pushed as %s, want %s", ref, want)
			}
			k, err := kit.Open(t.Context(), kit.Auto, rel.repo, rel.subject.Digest, kit.Options{})
			if err != nil || k == nil {
				t.Fatalf("Open(auto): kit %v, err %v", k, err)
			}
			defer k.Close()
			if k.Digest() != made.Digest() {
				t.Errorf("found kit %s, pushed %s", k.Digest(), made.Digest())
			}
			if err := k.Check(rel.pins); err != nil {
				t.Error(err)
			}
			for path, body := range releaseFiles {
				if got, err := readAll(k, rel.dl.URL+path); err != nil || got != body {
					t.Errorf("%s: %q, %v; want %q", path, got, err, body)
				}
			}
			if k, err := kit.Open(t.Context(), kit.Auto, other.repo, other.subject.Digest, kit.Options{}); k != nil || err != nil {
				t.Errorf("another image of the repository: kit %v, err %v; want none", k, err)
			}
			// The kit named by its reference is checked against the image
			// it is opened for.
			if _, err := kit.Open(t.Context(), ref, other.repo, other.subject.Digest, kit.Options{}); err == nil ||
				!strings.Contains(err.Error(), "the kit is for image "+rel.subject.Digest.String()+", not "+other.subject.Digest.String()) {
				t.Errorf("kit of another image: %v", err)
			}
		})
	}
}

// TestWriteRoundTrip: a kit written to oci:DIR and oci-archive:FILE opens
// back as the same kit (same manifest digest), serves the same bytes, and
// is the same whichever way it was written; a non-empty directory is
// never written into.
func TestWriteRoundTrip(t *testing.T) {
	reg := fixtures.NewRegistry(t)
	rel := newRelease(t, reg, "one")
	made := rel.mustMake(t)
	tmp := t.TempDir()
	for _, dest := range []string{"oci:" + filepath.Join(tmp, "kit"), "oci-archive:" + filepath.Join(tmp, "kit.tar")} {
		t.Run(dest[:strings.Index(dest, ":")], func(t *testing.T) {
			if err := made.WriteTo(t.Context(), dest); err != nil {
				t.Fatal(err)
			}
			k, err := kit.Open(t.Context(), dest, rel.repo, rel.subject.Digest, kit.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer k.Close()
			if k.Digest() != made.Digest() {
				t.Errorf("read back %s, wrote %s", k.Digest(), made.Digest())
			}
			if err := k.Check(rel.pins); err != nil {
				t.Error(err)
			}
			for path, body := range releaseFiles {
				if got, err := readAll(k, rel.dl.URL+path); err != nil || got != body {
					t.Errorf("%s: %q, %v; want %q", path, got, err, body)
				}
			}
			// Written again from the kit read back: the same bytes.
			again := filepath.Join(t.TempDir(), "again.tar")
			if err := k.WriteTo(t.Context(), "oci-archive:"+again); err != nil {
				t.Fatal(err)
			}
			k2, err := kit.Open(t.Context(), "oci-archive:"+again, rel.repo, rel.subject.Digest, kit.Options{})
			if err != nil {
				t.Fatal(err)
			}
			k2.Close()
			if k2.Digest() != made.Digest() {
				t.Errorf("rewritten kit %s, want %s", k2.Digest(), made.Digest())
			}
		})
	}
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "mine"), []byte("x"), 0o644)
	if err := made.WriteTo(t.Context(), "oci:"+full); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("writing into a non-empty directory: %v", err)
	}
}

// TestMakeRefuses: a download that does not serve its pin's bytes, one
// that is gone, a redirect, a local host not allowed by name: each an
// error naming the URL (a mismatch both digests), and no kit, no scratch
// file left.
func TestMakeRefuses(t *testing.T) {
	for _, c := range []struct {
		name  string
		setup func(r *release, o *kit.MakeOptions)
		want  []string
		is    error
	}{
		{"changed", func(r *release, o *kit.MakeOptions) { r.dl.set("/dists/InRelease", "Release of tomorrow\n") },
			[]string{"URL/dists/InRelease serves sha256:" + sum("Release of tomorrow\n") + ", the release pinned sha256:" + sum("Release of today\n")}, kit.ErrMismatch},
		{"longer than pinned", func(r *release, o *kit.MakeOptions) {
			for i := range o.Pins {
				o.Pins[i].Size = 3
			}
		}, []string{"serves more than the 3 bytes the release pinned"}, kit.ErrMismatch},
		{"gone", func(r *release, o *kit.MakeOptions) { r.dl.remove("/pool/jq.deb") },
			[]string{"download URL/pool/jq.deb: answered 404"}, nil},
		// A redirect is followed (TestMakeRedirect), under the same rules.
		{"a redirect to other bytes", func(r *release, o *kit.MakeOptions) {
			o.Pins = append(o.Pins, pins.Pin{URL: r.dl.URL + "/moved", SHA256: sum("jq 1.7 bytes")})
		}, []string{"URL/moved serves sha256:" + sum("jq 1.6 bytes") + ", the release pinned sha256:" + sum("jq 1.7 bytes")}, kit.ErrMismatch},
		{"a redirect loop", func(r *release, o *kit.MakeOptions) {
			o.Pins = append(o.Pins, pins.Pin{URL: r.dl.URL + "/loop", SHA256: sum("jq 1.6 bytes")})
		}, []string{"download URL/loop:", "more than 10 redirects (the last to URL/loop)"}, nil},
		{"a redirect to a local name", func(r *release, o *kit.MakeOptions) {
			o.Pins = append(o.Pins, pins.Pin{URL: r.dl.URL + "/to-localhost", SHA256: sum("jq 1.6 bytes")})
		}, []string{"download URL/to-localhost:", "host localhost is a local name: refused unless allowed by name"}, nil},
		{"local host not allowed", func(r *release, o *kit.MakeOptions) { o.AllowHosts = nil },
			[]string{"host 127.0.0.1 is loopback: refused unless allowed by name"}, nil},
		{"a local name", func(r *release, o *kit.MakeOptions) {
			o.Pins = []pins.Pin{{URL: strings.Replace(r.dl.URL, "127.0.0.1", "localhost", 1) + "/pool/jq.deb", SHA256: sum("jq 1.6 bytes")}}
		}, []string{"host localhost is a local name: refused unless allowed by name"}, nil},
		{"metadata address", func(r *release, o *kit.MakeOptions) {
			o.Pins = []pins.Pin{{URL: "http://169.254.169.254/latest/meta-data/", SHA256: sum("x")}}
		}, []string{"host 169.254.169.254 is link-local (cloud metadata"}, nil},
		{"pinned twice", func(r *release, o *kit.MakeOptions) {
			o.Pins = append(o.Pins, pins.Pin{URL: o.Pins[0].URL, SHA256: strings.Repeat("0", 64)})
		}, []string{"is pinned twice"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			reg := fixtures.NewRegistry(t)
			rel := newRelease(t, reg, "one")
			scratch := t.TempDir()
			k, err := rel.make(t, func(o *kit.MakeOptions) { o.Scratch = scratch; c.setup(rel, o) })
			if err == nil {
				k.Close()
				t.Fatal("made a kit")
			}
			for _, w := range c.want {
				if w = strings.ReplaceAll(w, "URL", rel.dl.URL); !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %v is not %v", err, c.is)
			}
			if ents, _ := os.ReadDir(scratch); len(ents) != 0 {
				t.Errorf("left %d scratch entries", len(ents))
			}
		})
	}
}
