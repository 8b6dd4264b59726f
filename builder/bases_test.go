package builder_test

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/fixtures"
)

// memBases is a builder.Bases over blobs held in memory: the test's
// stand-in for a kit (package kit is the caller's). Its blobs are served
// as they are, right or wrong: the builder is what must check them.
type memBases struct {
	images []string
	blobs  map[string][]byte
	sizes  map[string]int64 // overrides len(blobs[d])
}

func (m *memBases) BaseImages() []string { return m.images }

func (m *memBases) BaseBlobs() map[string]int64 {
	out := map[string]int64{}
	for d, b := range m.blobs {
		out[d] = int64(len(b))
	}
	maps.Copy(out, m.sizes)
	return out
}

func (m *memBases) OpenBase(d string) (io.ReadCloser, error) {
	b, ok := m.blobs[d]
	if !ok {
		return nil, fmt.Errorf("no blob %s", d)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// clone is a copy whose blob d is changed by f.
func (m *memBases) clone(d string, f func([]byte) []byte) *memBases {
	c := &memBases{images: m.images, blobs: maps.Clone(m.blobs), sizes: map[string]int64{}}
	c.blobs[d] = f(slices.Clone(c.blobs[d]))
	c.sizes[d] = int64(len(m.blobs[d]))
	return c
}

// basesOf holds an index and, of its images, only the one for linux/amd64
// (as a kit holds the release's platforms): manifests, config, layers.
func basesOf(t *testing.T, idx v1.ImageIndex, img v1.Image) *memBases {
	t.Helper()
	m := &memBases{blobs: map[string][]byte{}}
	put := func(d v1.Hash, b []byte, err error) {
		if err != nil {
			t.Fatal(err)
		}
		m.blobs[d.String()] = b
	}
	d, _ := idx.Digest()
	raw, err := idx.RawManifest()
	put(d, raw, err)
	m.images = []string{d.String()}
	d, _ = img.Digest()
	raw, err = img.RawManifest()
	put(d, raw, err)
	d, _ = img.ConfigName()
	raw, err = img.RawConfigFile()
	put(d, raw, err)
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		d, _ := l.Digest()
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		put(d, b, err)
	}
	return m
}

// TestBases: an image built FROM a base by digest (an index of two
// platforms) in an in-process registry; the registry then stopped, a new
// daemon that never saw it rebuilds the same Dockerfile with the base
// served from this process (Spec.Bases): the image is bit-identical to
// the first. Without Bases the rebuild fails (the registry is gone); a
// base the build may not use stays refused although Bases holds it; a
// blob whose bytes are not its digest's is refused before the build,
// naming it.
func TestBases(t *testing.T) {
	ctx := t.Context()
	reg := fixtures.StartRegistry(nil)
	defer reg.Close()
	amd64, err := fixtures.Busybox(fixtures.BusyboxPath, v1.Platform{OS: "linux", Architecture: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd64, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: other, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	baseRef := reg.MustPush(t, "base/multi", "1", idx)
	baseDigest := baseRef[strings.LastIndex(baseRef, "@")+1:]
	src := t.TempDir()
	writeFile(t, src, "Dockerfile", "FROM "+baseRef+"\nRUN echo built > /out && cat /bin/busybox > /dev/null\n")
	spec := func(b builder.Bases, only *builder.Allowed) builder.Spec {
		return builder.Spec{ContextDir: src, DockerfilePath: filepath.Join(src, "Dockerfile"), DockerfileName: "Dockerfile",
			SourceDateEpoch: 1740830400, OCIMediaTypes: true, OutputDir: filepath.Join(t.TempDir(), "out"),
			Platforms: []string{"linux/amd64"}, Bases: b, Only: only}
	}
	allowed := &builder.Allowed{Images: []string{baseDigest}}

	published := func() string {
		d, err := builder.StartDaemon(ctx, builder.DaemonOptions{Binary: fixtures.BuildkitdBinary()})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Stop()
		c, err := d.Connect(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		res, err := c.Build(ctx, spec(nil, allowed), io.Discard, "quiet")
		if err != nil {
			t.Fatalf("the build from the registry: %v", err)
		}
		return res.Digest
	}()
	reg.Close()

	d, err := builder.StartDaemon(ctx, builder.DaemonOptions{Binary: fixtures.BuildkitdBinary()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	c, err := d.Connect(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	held := basesOf(t, idx, amd64)
	layer, _ := func() (v1.Hash, error) { ls, _ := amd64.Layers(); return ls[0].Digest() }()
	flip := func(b []byte) []byte { b[len(b)/2] ^= 1; return b }

	// The proof, on the daemon that never saw the registry.
	res, err := c.Build(ctx, spec(held, allowed), os.Stderr, "quiet")
	if err != nil {
		t.Fatalf("the build with the base from this process: %v", err)
	}
	if res.Digest != published || !slices.Equal(res.BasesServed, []string{baseDigest}) {
		t.Fatalf("rebuilt %s with bases %q served, the build from the registry made %s (base %s)", res.Digest, res.BasesServed, published, baseDigest)
	}

	// Each case on that daemon, which now holds the base's blobs.
	for _, tc := range []struct {
		name  string
		bases builder.Bases
		only  *builder.Allowed
		say   []string // in the error; none: the build succeeds
	}{
		{name: "a build that names no allowed images (a publisher's)", bases: held},
		{name: "no bases: the registry is gone", say: []string{baseRef[:strings.LastIndex(baseRef, "@")]}},
		{name: "a base the build may not use", bases: held, only: &builder.Allowed{Images: []string{"sha256:" + strings.Repeat("0", 64)}},
			say: []string{"denied", baseDigest}},
		{name: "a layer whose bytes are not its digest's", bases: held.clone(layer.String(), flip), only: allowed,
			say: []string{"base blob " + layer.String(), "its bytes are sha256:"}},
		{name: "a layer longer than its size", bases: held.clone(layer.String(), func(b []byte) []byte { return append(b, 0) }), only: allowed,
			say: []string{"base blob " + layer.String(), "or more, its size is"}},
		{name: "a manifest shorter than its size", bases: held.clone(baseDigest, func(b []byte) []byte { return b[:len(b)-1] }), only: allowed,
			say: []string{"base blob " + baseDigest, "its size is"}},
		{name: "an image whose index is not held", bases: &memBases{images: []string{baseDigest}, blobs: map[string][]byte{}}, only: allowed,
			say: []string{baseDigest, "not among the blobs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := c.Build(ctx, spec(tc.bases, tc.only), os.Stderr, "quiet")
			if len(tc.say) > 0 {
				if err == nil {
					t.Fatalf("built %s, want an error saying %q", res.Digest, tc.say)
				}
				for _, s := range tc.say {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not say %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("the build with the base from this process: %v", err)
			}
			if res.Digest != published {
				t.Errorf("rebuilt %s, the build from the registry made %s", res.Digest, published)
			}
			if !slices.Equal(res.BasesServed, []string{baseDigest}) {
				t.Errorf("bases served %q, want %s", res.BasesServed, baseDigest)
			}
		})
	}
}
