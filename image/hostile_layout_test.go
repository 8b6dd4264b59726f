package image

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestHostileLayout covers what only a layout directory can do: an
// index.json written by hand, blobs that are devices.
func TestHostileLayout(t *testing.T) {
	w := newWorld(t)
	good := func(t *testing.T) string { return writeLayout(t, "v1", w.img) }
	indexJSON := func(body string) func(t *testing.T) string {
		return func(t *testing.T) string {
			dir := good(t)
			if err := os.WriteFile(filepath.Join(dir, "index.json"), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			return dir
		}
	}
	devZero := func(h v1.Hash) func(t *testing.T) string {
		return func(t *testing.T) string {
			dir := good(t)
			p := blobPath(dir, h)
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("/dev/zero", p); err != nil {
				t.Fatal(err)
			}
			return dir
		}
	}
	desc := func(d v1.Descriptor) string { return string(must(json.Marshal(d))) }
	tagged := w.desc
	tagged.Annotations = map[string]string{"org.opencontainers.image.ref.name": "v1"}
	index := func(ds ...string) string {
		return `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` + strings.Join(ds, ",") + `]}`
	}
	for _, c := range []struct {
		name      string
		dir       func(t *testing.T) string
		ref       string // appended to oci:DIR
		limits    Limits
		want      string
		limit     string
		digestErr bool
		layersErr bool // Open succeeds, reading the layers fails
	}{
		{name: "index.json over MaxManifestBytes", dir: indexJSON(index(desc(tagged)) + strings.Repeat(" ", 5<<20)), limit: "MaxManifestBytes"},
		{name: "index.json that never ends", dir: func(t *testing.T) string {
			dir := good(t)
			os.Remove(filepath.Join(dir, "index.json"))
			if err := os.Symlink("/dev/zero", filepath.Join(dir, "index.json")); err != nil {
				t.Fatal(err)
			}
			return dir
		}, limit: "MaxManifestBytes"},
		{name: "index.json descriptor size negative", dir: indexJSON(index(strings.Replace(desc(tagged), `"size":`, `"size":-`, 1))), ref: ":v1", want: "negative size"},
		{name: "index.json descriptor size 2^63-1", dir: indexJSON(index(strings.Replace(desc(tagged), fmt.Sprintf(`"size":%d`, w.desc.Size), `"size":`+maxInt64, 1))), ref: ":v1", limit: "MaxManifestBytes"},
		{name: "index.json descriptor digest path traversal", dir: indexJSON(index(strings.Replace(desc(tagged), w.desc.Digest.String(), "sha256:../../../../etc/passwd", 1))), ref: ":v1", want: "index.json"},
		{name: "index.json descriptor digest sha512", dir: indexJSON(index(strings.Replace(desc(tagged), w.desc.Digest.String(), "sha512:"+hexA+hexA, 1))), ref: ":v1", want: "malformed digest"},
		{name: "index.json manifests twice", dir: indexJSON(strings.TrimSuffix(index(desc(tagged)), "}") + `,"manifests":[]}`), want: "duplicate key"},
		{name: "index.json Manifests and manifests", dir: indexJSON(strings.TrimSuffix(index(desc(tagged)), "}") + `,"Manifests":[]}`), want: "differ only in case"},
		{name: "index.json invalid UTF-8", dir: indexJSON(index(desc(tagged)) + "\xff"), want: "invalid UTF-8"},
		{name: "index.json deep nesting", dir: indexJSON(`{"manifests":[],"x":` + deep + `}`), want: "nesting deeper"},
		{name: "manifest blob that never ends, by tag", dir: devZero(w.desc.Digest), ref: ":v1", digestErr: true},
		{name: "manifest blob that never ends, by digest", dir: devZero(w.desc.Digest), ref: "@" + w.desc.Digest.String(), digestErr: true},
		{name: "blob index.json does not list, never ends", dir: devZero(w.m.Config.Digest), ref: "@" + w.m.Config.Digest.String(), limit: "MaxManifestBytes"},
		{name: "config blob that never ends", dir: devZero(w.m.Config.Digest), digestErr: true},
		{name: "layer blob that never ends", dir: devZero(w.m.Layers[1].Digest), layersErr: true},
		{name: "blob is a directory", dir: func(t *testing.T) string {
			dir := good(t)
			p := blobPath(dir, w.m.Config.Digest)
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
			return dir
		}, want: w.m.Config.Digest.String()},
		{name: "layout is a file", dir: func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "file")
			os.WriteFile(p, []byte("{}"), 0o644)
			return p
		}, want: "not a directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := c.dir(t)
			r, err := Open(t.Context(), "oci:"+dir+c.ref, Options{Limits: c.limits})
			if c.layersErr {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				defer r.Close()
				err = readLayers(t, r)
			}
			checkErr(t, err, c.want, c.limit, c.digestErr || c.layersErr)
		})
	}
}
