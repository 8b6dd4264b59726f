package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprover/reprover/fixtures"
)

var (
	amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64 = v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
)

// testImage is a two-layer fixture image for platform p.
func testImage(p v1.Platform, docker bool) v1.Image {
	return fixtures.Image(fixtures.Spec{Platform: p, Docker: docker, Cmd: []string{"/app/run.sh"}, Steps: []fixtures.Step{
		{Instruction: "ADD rootfs.tar /", Entries: []fixtures.Entry{fixtures.Dir("bin"), fixtures.File("bin/sh", "#!busybox sh\n"+p.Architecture)}},
		{Instruction: "COPY app/ /app/", Entries: []fixtures.Entry{fixtures.Dir("app"), fixtures.File("app/run.sh", "#!/bin/sh\necho hi\n")}},
	}})
}

// digestOf is the digest of an image or index.
func digestOf(t testing.TB, x any) v1.Hash {
	t.Helper()
	d, err := x.(interface{ Digest() (v1.Hash, error) }).Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func manifestOf(t testing.TB, img v1.Image) *v1.Manifest {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// childDigest is the digest of the manifest an index lists for p.
func childDigest(t testing.TB, idx v1.ImageIndex, p v1.Platform) v1.Hash {
	t.Helper()
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range m.Manifests {
		if d.Platform != nil && d.Platform.Equals(p) {
			return d.Digest
		}
	}
	t.Fatalf("index has no %s", p)
	return v1.Hash{}
}

// writeLayout writes x into a new OCI layout tagged tag and returns its dir.
func writeLayout(t testing.TB, tag string, x any) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	if err := fixtures.WriteLayout(dir, tag, x); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tarLayout writes the layout dir as an oci-archive, each name prefixed by
// prefix ("" or "./", as `tar -C dir .` writes them).
func tarLayout(t testing.TB, dir, prefix string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "image.tar")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		name := prefix + filepath.ToSlash(rel)
		if d.IsDir() {
			return tw.WriteHeader(&tar.Header{Name: name + "/", Typeflag: tar.TypeDir, Mode: 0o755})
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(b))}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = os.WriteFile(file, buf.Bytes(), 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
	return file
}

func blobPath(dir string, h v1.Hash) string { return filepath.Join(dir, "blobs", h.Algorithm, h.Hex) }

// readLayers reads every layer of every image to EOF, which checks them.
func readLayers(t testing.TB, r *Resolved) error {
	t.Helper()
	for _, img := range r.Images {
		for _, l := range img.Layers {
			rc, err := l.Open(t.Context())
			if err != nil {
				return err
			}
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func platformsOf(r *Resolved) []string {
	var out []string
	for _, img := range r.Images {
		out = append(out, img.Platform.String())
	}
	return out
}

// TestOpen opens the same kinds of images from all three transports and
// checks what Resolved says about them, then reads every layer.
func TestOpen(t *testing.T) {
	reg := fixtures.NewRegistry(t)
	ociImg := testImage(amd64, false)
	dockerImg := testImage(amd64, true)
	ociIdx := fixtures.Index(false, true, fixtures.Platformed{Platform: amd64, Image: ociImg}, fixtures.Platformed{Platform: arm64, Image: testImage(arm64, false)})
	dockerIdx := fixtures.Index(true, true, fixtures.Platformed{Platform: amd64, Image: dockerImg}, fixtures.Platformed{Platform: arm64, Image: testImage(arm64, true)})
	plainIdx := fixtures.Index(false, false, fixtures.Platformed{Platform: amd64, Image: ociImg})

	type want struct {
		digest       v1.Hash
		mediaType    types.MediaType
		index        bool
		platforms    []string
		attestations int
	}
	ociImgWant := want{digest: digestOf(t, ociImg), mediaType: types.OCIManifestSchema1, platforms: []string{"linux/amd64"}}
	dockerImgWant := want{digest: digestOf(t, dockerImg), mediaType: types.DockerManifestSchema2, platforms: []string{"linux/amd64"}}
	ociIdxWant := want{digest: digestOf(t, ociIdx), mediaType: types.OCIImageIndex, index: true, platforms: []string{"linux/amd64", "linux/arm64/v8"}, attestations: 2}
	dockerIdxWant := want{digest: digestOf(t, dockerIdx), mediaType: types.DockerManifestList, index: true, platforms: []string{"linux/amd64", "linux/arm64/v8"}, attestations: 2}

	ociImgLayout := writeLayout(t, "v1", ociImg)
	ociIdxLayout := writeLayout(t, "multi", ociIdx)
	dockerImgLayout := writeLayout(t, "v1", dockerImg)
	twoTags := writeLayout(t, "oci", ociImg)
	if err := fixtures.WriteLayout(twoTags, "docker", dockerImg); err != nil {
		t.Fatal(err)
	}
	arm64Child := childDigest(t, ociIdx, arm64)
	reg.MustPush(t, "oci/img", "v1", ociImg)
	reg.MustPush(t, "docker/img", "v1", dockerImg)
	reg.MustPush(t, "oci/idx", "v1", ociIdx)
	reg.MustPush(t, "docker/idx", "v1", dockerIdx)
	reg.MustPush(t, "oci/plain", "latest", plainIdx)

	for _, c := range []struct {
		name string
		ref  string
		want want
	}{
		{"registry OCI image by tag", reg.Host + "/oci/img:v1", ociImgWant},
		{"registry OCI image by digest", reg.Host + "/oci/img@" + ociImgWant.digest.String(), ociImgWant},
		{"registry OCI image, tag and digest", reg.Host + "/oci/img:v1@" + ociImgWant.digest.String(), ociImgWant},
		{"registry Docker v2 image by tag", reg.Host + "/docker/img:v1", dockerImgWant},
		{"registry Docker v2 image by digest", reg.Host + "/docker/img@" + dockerImgWant.digest.String(), dockerImgWant},
		{"registry OCI index with attestations", reg.Host + "/oci/idx:v1", ociIdxWant},
		{"registry OCI index by digest", reg.Host + "/oci/idx@" + ociIdxWant.digest.String(), ociIdxWant},
		{"registry Docker manifest list with attestations", reg.Host + "/docker/idx:v1", dockerIdxWant},
		{"registry index without attestations", reg.Host + "/oci/plain:latest",
			want{digest: digestOf(t, plainIdx), mediaType: types.OCIImageIndex, index: true, platforms: []string{"linux/amd64"}}},
		{"registry one platform of an index by digest", reg.Host + "/oci/idx@" + arm64Child.String(),
			want{digest: arm64Child, mediaType: types.OCIManifestSchema1, platforms: []string{"linux/arm64/v8"}}},
		{"layout by tag", "oci:" + ociImgLayout + ":v1", ociImgWant},
		{"layout by digest", "oci:" + ociImgLayout + "@" + ociImgWant.digest.String(), ociImgWant},
		{"layout single manifest", "oci:" + ociImgLayout, ociImgWant},
		{"layout Docker v2 image", "oci:" + dockerImgLayout, dockerImgWant},
		{"layout index by tag", "oci:" + ociIdxLayout + ":multi", ociIdxWant},
		{"layout single index", "oci:" + ociIdxLayout, ociIdxWant},
		{"layout one platform of an index by digest", "oci:" + ociIdxLayout + "@" + arm64Child.String(),
			want{digest: arm64Child, platforms: []string{"linux/arm64/v8"}, mediaType: types.OCIManifestSchema1}},
		{"layout with two tags, by tag", "oci:" + twoTags + ":docker", dockerImgWant},
		{"oci-archive single manifest", "oci-archive:" + tarLayout(t, ociImgLayout, ""), ociImgWant},
		{"oci-archive by digest", "oci-archive:" + tarLayout(t, ociImgLayout, "") + "@" + ociImgWant.digest.String(), ociImgWant},
		{"oci-archive with ./ names", "oci-archive:" + tarLayout(t, ociImgLayout, "./"), ociImgWant},
		{"oci-archive index", "oci-archive:" + tarLayout(t, ociIdxLayout, ""), ociIdxWant},
		{"oci-archive Docker v2 image", "oci-archive:" + tarLayout(t, dockerImgLayout, "./"), dockerImgWant},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := Open(t.Context(), c.ref, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.Ref.String() != c.ref {
				t.Errorf("Ref = %s", r.Ref)
			}
			if r.Digest != c.want.digest {
				t.Errorf("Digest = %s, want %s", r.Digest, c.want.digest)
			}
			if got := digestOfBytes(r.Raw); got != r.Digest {
				t.Errorf("Raw hashes to %s, Digest is %s", got, r.Digest)
			}
			if r.MediaType != c.want.mediaType {
				t.Errorf("MediaType = %s, want %s", r.MediaType, c.want.mediaType)
			}
			if r.IsIndex != c.want.index {
				t.Errorf("IsIndex = %v", r.IsIndex)
			}
			if got := platformsOf(r); !slices.Equal(got, c.want.platforms) {
				t.Errorf("platforms = %v, want %v", got, c.want.platforms)
			}
			if len(r.Attestations) != c.want.attestations {
				t.Errorf("%d attestations, want %d", len(r.Attestations), c.want.attestations)
			}
			for _, a := range r.Attestations {
				if !IsAttestation(a) {
					t.Errorf("attestation %s not recognised by IsAttestation", a.Digest)
				}
			}
			for _, img := range r.Images {
				if got := digestOfBytes(img.RawManifest); got != img.Descriptor.Digest {
					t.Errorf("RawManifest hashes to %s, descriptor says %s", got, img.Descriptor.Digest)
				}
				if got := digestOfBytes(img.RawConfig); got != img.Manifest.Config.Digest {
					t.Errorf("RawConfig hashes to %s, manifest says %s", got, img.Manifest.Config.Digest)
				}
				if len(img.Layers) != 2 || len(img.Layers) != len(img.Manifest.Layers) {
					t.Fatalf("%d layers, manifest has %d", len(img.Layers), len(img.Manifest.Layers))
				}
				for i, l := range img.Layers {
					if l.Index != i || l.DiffID != img.Config.RootFS.DiffIDs[i] || l.Descriptor.Digest != img.Manifest.Layers[i].Digest {
						t.Errorf("layer %d = %+v", i, l)
					}
				}
			}
			if err := readLayers(t, r); err != nil {
				t.Errorf("reading layers: %v", err)
			}
		})
	}
}

func digestOfBytes(b []byte) v1.Hash {
	h, _, _ := v1.SHA256(bytes.NewReader(b))
	return h
}

func TestOpenPlatforms(t *testing.T) {
	reg := fixtures.NewRegistry(t)
	idx := fixtures.Index(false, true, fixtures.Platformed{Platform: amd64, Image: testImage(amd64, false)}, fixtures.Platformed{Platform: arm64, Image: testImage(arm64, false)})
	idxRef := reg.MustPush(t, "idx", "v1", idx)
	imgRef := reg.MustPush(t, "img", "v1", testImage(amd64, false))
	layout := "oci:" + writeLayout(t, "v1", idx)

	parse := func(ss ...string) []v1.Platform {
		var ps []v1.Platform
		for _, s := range ss {
			p, err := ParsePlatform(s)
			if err != nil {
				t.Fatal(err)
			}
			ps = append(ps, p)
		}
		return ps
	}
	for _, c := range []struct {
		name      string
		refs      []string
		platforms []v1.Platform
		want      []string
		skipped   int
		wantErr   string // the error must name this platform
	}{
		{name: "all platforms by default", refs: []string{idxRef, layout}, want: []string{"linux/amd64", "linux/arm64/v8"}},
		{name: "one platform", refs: []string{idxRef, layout}, platforms: parse("linux/amd64"), want: []string{"linux/amd64"}, skipped: 1},
		{name: "arm64 matches arm64/v8", refs: []string{idxRef, layout}, platforms: parse("linux/arm64"), want: []string{"linux/arm64/v8"}, skipped: 1},
		{name: "arm64/v8", refs: []string{idxRef, layout}, platforms: parse("linux/arm64/v8"), want: []string{"linux/arm64/v8"}, skipped: 1},
		{name: "both platforms", refs: []string{idxRef, layout}, platforms: parse("linux/arm64", "linux/amd64"), want: []string{"linux/amd64", "linux/arm64/v8"}},
		{name: "platform the index lacks", refs: []string{idxRef, layout}, platforms: parse("linux/s390x"), wantErr: "linux/s390x"},
		{name: "one of two platforms the index lacks", refs: []string{idxRef, layout}, platforms: parse("linux/amd64", "linux/riscv64"), wantErr: "linux/riscv64"},
		{name: "attestations are not a platform", refs: []string{idxRef, layout}, platforms: []v1.Platform{{OS: "unknown", Architecture: "unknown"}}, wantErr: "unknown/unknown"},
		{name: "single manifest of the platform asked", refs: []string{imgRef}, platforms: parse("linux/amd64"), want: []string{"linux/amd64"}},
		{name: "single manifest of another platform", refs: []string{imgRef}, platforms: parse("linux/arm64"), wantErr: "linux/arm64"},
		{name: "single manifest and a platform it lacks", refs: []string{imgRef}, platforms: parse("linux/amd64", "linux/arm64"), wantErr: "linux/arm64"},
	} {
		for _, ref := range c.refs {
			t.Run(c.name+"/"+string(must(ParseReference(ref)).Transport), func(t *testing.T) {
				r, err := Open(t.Context(), ref, Options{Platforms: c.platforms})
				if c.wantErr != "" {
					if err == nil {
						t.Fatalf("Open = %v, want an error naming %s", platformsOf(r), c.wantErr)
					}
					if !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), ref) {
						t.Errorf("error does not name %s and %s: %v", c.wantErr, ref, err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				if got := platformsOf(r); !slices.Equal(got, c.want) {
					t.Errorf("platforms = %v, want %v", got, c.want)
				}
				if r.Skipped != c.skipped {
					t.Errorf("Skipped = %d, want %d", r.Skipped, c.skipped)
				}
			})
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestOpenBlobsChecked alters the blobs of a layout (and of the archive made
// from it): every altered byte is caught, and the error names the blob.
func TestOpenBlobsChecked(t *testing.T) {
	img := testImage(amd64, false)
	idx := fixtures.Index(false, true, fixtures.Platformed{Platform: amd64, Image: img})
	m := manifestOf(t, img)
	cfg, layer := m.Config.Digest, m.Layers[1].Digest
	child := childDigest(t, idx, amd64)

	flip := func(b []byte) []byte { b[len(b)/2] ^= 0x01; return b }
	truncate := func(b []byte) []byte { return b[:len(b)-1] }
	grow := func(b []byte) []byte { return append(b, ' ') }
	for _, c := range []struct {
		name   string
		x      any
		blob   v1.Hash
		alter  func([]byte) []byte
		atOpen bool // Open fails; else reading the layer does
		size   bool // a size mismatch, not a digest one
	}{
		{name: "config byte flipped", x: img, blob: cfg, alter: flip, atOpen: true},
		{name: "config truncated", x: img, blob: cfg, alter: truncate, atOpen: true, size: true},
		{name: "config grown", x: img, blob: cfg, alter: grow, atOpen: true, size: true},
		{name: "manifest byte flipped", x: img, blob: digestOf(t, img), alter: flip, atOpen: true},
		{name: "manifest grown", x: img, blob: digestOf(t, img), alter: grow, atOpen: true, size: true},
		{name: "index byte flipped", x: idx, blob: digestOf(t, idx), alter: flip, atOpen: true},
		{name: "index child manifest byte flipped", x: idx, blob: child, alter: flip, atOpen: true},
		{name: "index child manifest truncated", x: idx, blob: child, alter: truncate, atOpen: true, size: true},
		{name: "layer byte flipped", x: img, blob: layer, alter: flip},
		{name: "layer truncated", x: img, blob: layer, alter: truncate, size: true},
		{name: "layer grown", x: img, blob: layer, alter: grow, size: true},
		{name: "layer replaced by another layer's bytes", x: img, blob: layer, alter: func([]byte) []byte {
			b, err := os.ReadFile(blobPath(writeLayout(t, "x", img), m.Layers[0].Digest))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}, size: true},
	} {
		dir := writeLayout(t, "v1", c.x)
		p := blobPath(dir, c.blob)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, c.alter(b), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, ref := range []string{"oci:" + dir + ":v1", "oci-archive:" + tarLayout(t, dir, "")} {
			t.Run(c.name+"/"+string(must(ParseReference(ref)).Transport), func(t *testing.T) {
				r, err := Open(t.Context(), ref, Options{})
				if !c.atOpen {
					if err != nil {
						t.Fatalf("Open: %v (layers are read only when asked)", err)
					}
					defer r.Close()
					err = readLayers(t, r)
				}
				var de *DigestError
				if !errors.As(err, &de) {
					t.Fatalf("error %v (%T), want a *DigestError", err, err)
				}
				if de.Want != c.blob || !strings.Contains(err.Error(), c.blob.String()) {
					t.Errorf("error does not name %s: %v", c.blob, err)
				}
				if gotSize := de.Got.Hex == ""; gotSize != c.size {
					t.Errorf("size mismatch = %v, want %v: %v", gotSize, c.size, err)
				}
			})
		}
	}
}

// TestOpenNotFound: whatever is missing, the error is ErrNotFound and names
// what was asked for.
func TestOpenNotFound(t *testing.T) {
	img := testImage(amd64, false)
	m := manifestOf(t, img)
	// The wrapper stands in for a registry that lost a blob: the real one
	// cannot be made to drop a blob a manifest names.
	lost := map[string]bool{}
	reg := fixtures.StartRegistry(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if lost[r.URL.Path] {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusNotFound)
				io.WriteString(w, `{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}`)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	t.Cleanup(reg.Close)
	reg.MustPush(t, "app", "v1", img)
	reg.MustPush(t, "noconfig", "v1", img)
	reg.MustPush(t, "nolayer", "v1", img)
	lost["/v2/noconfig/blobs/"+m.Config.Digest.String()] = true
	lost["/v2/nolayer/blobs/"+m.Layers[1].Digest.String()] = true

	good := writeLayout(t, "v1", img)
	remove := func(name string, h v1.Hash) string {
		dir := writeLayout(t, "v1", img)
		if name != "" {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		} else if err := os.Remove(blobPath(dir, h)); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	noIndexJSON := remove("index.json", v1.Hash{})
	noManifest := remove("", digestOf(t, img))
	noConfig := remove("", m.Config.Digest)
	noLayer := remove("", m.Layers[1].Digest)

	for _, c := range []struct {
		name  string
		ref   string
		layer bool   // Open succeeds; opening layer 1 fails
		names string // what the error names; the reference when empty
	}{
		{name: "registry tag", ref: reg.Host + "/app:nope"},
		{name: "registry default tag", ref: reg.Host + "/app"},
		{name: "registry repository", ref: reg.Host + "/nope:v1"},
		{name: "registry digest", ref: reg.Host + "/app@" + digA},
		{name: "registry config blob", ref: reg.Host + "/noconfig:v1"},
		{name: "registry layer blob", ref: reg.Host + "/nolayer:v1", layer: true, names: reg.Host + "/nolayer@" + m.Layers[1].Digest.String()},
		{name: "layout dir", ref: "oci:" + filepath.Join(t.TempDir(), "nope")},
		{name: "layout index.json", ref: "oci:" + noIndexJSON},
		{name: "layout tag", ref: "oci:" + good + ":nope"},
		{name: "layout digest", ref: "oci:" + good + "@" + digA},
		{name: "layout manifest blob", ref: "oci:" + noManifest + ":v1"},
		{name: "layout config blob", ref: "oci:" + noConfig + ":v1"},
		{name: "layout layer blob", ref: "oci:" + noLayer + ":v1", layer: true, names: m.Layers[1].Digest.String()},
		{name: "archive file", ref: "oci-archive:" + filepath.Join(t.TempDir(), "nope.tar")},
		{name: "archive digest", ref: "oci-archive:" + tarLayout(t, good, "") + "@" + digA},
		{name: "archive index.json", ref: "oci-archive:" + tarLayout(t, noIndexJSON, "")},
		{name: "archive config blob", ref: "oci-archive:" + tarLayout(t, noConfig, "")},
		{name: "archive layer blob", ref: "oci-archive:" + tarLayout(t, noLayer, ""), layer: true, names: m.Layers[1].Digest.String()},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := Open(t.Context(), c.ref, Options{})
			if c.layer {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				defer r.Close()
				_, err = r.Images[0].Layers[1].Open(t.Context())
			}
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("error %v, want ErrNotFound", err)
			}
			names := c.names
			if names == "" {
				names = c.ref
			}
			if !strings.Contains(err.Error(), names) {
				t.Errorf("error does not name %s: %v", names, err)
			}
		})
	}
}
