package kit_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/kit"
	"github.com/reprover/reprover/pins"
)

// downloads is a download server on 127.0.0.1 serving files by path, with
// its own log of the requests it answered.
type downloads struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string]string
	log   []string
}

func newDownloads(t *testing.T, files map[string]string) *downloads {
	d := &downloads{files: files}
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		d.log = append(d.log, r.URL.Path)
		body, ok := d.files[r.URL.Path]
		d.mu.Unlock()
		if to, ok := redirects[r.URL.Path]; ok {
			http.Redirect(w, r, strings.ReplaceAll(to, "PORT", r.Host[strings.LastIndex(r.Host, ":")+1:]), http.StatusFound)
			return
		}
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(body))
	}))
	t.Cleanup(d.Close)
	return d
}

// redirects are the paths every download server redirects, and where to
// (PORT: the server's own port).
var redirects = map[string]string{
	"/moved":        "/pool/jq.deb",
	"/moved-twice":  "/moved",
	"/loop":         "/loop",
	"/to-localhost": "http://localhost:PORT/pool/jq.deb",
}

func (d *downloads) set(path, body string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.files[path] = body
}

func (d *downloads) remove(path string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.files, path)
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// release is a published image in an in-process registry and the
// downloads its pins name, served on 127.0.0.1.
type release struct {
	reg     *fixtures.Registry
	ref     string // HOST/REPO@sha256:…
	repo    string
	subject v1.Descriptor
	dl      *downloads
	pins    []pins.Pin
}

var releaseFiles = map[string]string{"/dists/InRelease": "Release of today\n", "/pool/jq.deb": "jq 1.6 bytes"}

func newRelease(t *testing.T, reg *fixtures.Registry, seed string) *release {
	img := fixtures.Image(fixtures.Spec{Steps: []fixtures.Step{{Instruction: "COPY a /", Entries: []fixtures.Entry{fixtures.File("a", seed)}}}})
	ref := reg.MustPush(t, "app", "v1", img)
	pub, err := image.Open(t.Context(), ref, image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pub.Close()
	files := map[string]string{}
	for k, v := range releaseFiles {
		files[k] = v
	}
	r := &release{reg: reg, ref: ref, repo: reg.Host + "/app", dl: newDownloads(t, files),
		subject: v1.Descriptor{MediaType: pub.MediaType, Digest: pub.Digest, Size: int64(len(pub.Raw))}}
	for p, body := range releaseFiles {
		r.pins = append(r.pins, pins.Pin{URL: r.dl.URL + p, SHA256: sum(body)})
	}
	return r
}

func (r *release) make(t *testing.T, mut func(*kit.MakeOptions)) (*kit.Kit, error) {
	o := kit.MakeOptions{Subject: r.subject, Name: r.repo, Pins: r.pins, AllowHosts: []string{"127.0.0.1"}, Scratch: t.TempDir(),
		Params: kit.Params{Dockerfile: "Dockerfile", Network: "proxy"}}
	if mut != nil {
		mut(&o)
	}
	return kit.Make(t.Context(), o)
}

func (r *release) mustMake(t *testing.T) *kit.Kit {
	k, err := r.make(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

// readAll reads what the kit holds for url.
func readAll(k *kit.Kit, url string) (string, error) {
	rc, err := k.Open(url)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(rc)
	return b.String(), err
}

// layout is an OCI layout written by hand, for kits no reprover writes.
type layout struct {
	dir   string
	blobs map[v1.Hash][]byte
}

func (l *layout) blob(b []byte, mt types.MediaType) v1.Descriptor {
	h, n, _ := v1.SHA256(bytes.NewReader(b))
	if l.blobs == nil {
		l.blobs = map[v1.Hash][]byte{}
	}
	l.blobs[h] = b
	return v1.Descriptor{MediaType: mt, Digest: h, Size: n}
}

// write writes the layout with m as its only manifest and returns oci:DIR.
func (l *layout) write(t *testing.T, m any) string {
	mb, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	md := l.blob(mb, types.OCIManifestSchema1)
	if err := os.MkdirAll(filepath.Join(l.dir, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	for h, b := range l.blobs {
		if err := os.WriteFile(filepath.Join(l.dir, "blobs", "sha256", h.Hex), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	idx, _ := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{md}})
	os.WriteFile(filepath.Join(l.dir, "index.json"), idx, 0o644)
	os.WriteFile(filepath.Join(l.dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
	return "oci:" + l.dir
}
