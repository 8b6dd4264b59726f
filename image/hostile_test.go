package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprover/reprover/fixtures"
)

// world is a good image and the documents and blobs hostile cases make
// around it. It does no I/O: the fuzz tests seed from it too.
type world struct {
	img      v1.Image
	desc     v1.Descriptor // of img's manifest
	m        *v1.Manifest
	cfg      *v1.ConfigFile
	blobs    map[v1.Hash][]byte // configs and layers the cases add
	children map[v1.Hash][]byte // manifests an index names, served by digest
	// foreignURL is named in layer urls; foreignHits counts requests to it.
	foreignURL  string
	foreignHits *atomic.Int32
}

func newWorld(t testing.TB) *world {
	img := testImage(amd64, false)
	m := manifestOf(t, img)
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := img.RawManifest()
	return &world{img: img, m: m, cfg: cfg, desc: v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: d, Size: int64(len(raw))},
		blobs: map[v1.Hash][]byte{}, children: map[v1.Hash][]byte{},
		foreignURL: "http://127.0.0.1:9/never", foreignHits: new(atomic.Int32)}
}

func (w *world) blob(b []byte, mt types.MediaType) v1.Descriptor {
	d := v1.Descriptor{MediaType: mt, Digest: digestOfBytes(b), Size: int64(len(b))}
	w.blobs[d.Digest] = b
	return d
}

func (w *world) child(b []byte, mt types.MediaType) v1.Descriptor {
	d := v1.Descriptor{MediaType: mt, Digest: digestOfBytes(b), Size: int64(len(b))}
	w.children[d.Digest] = b
	return d
}

// manifestWith is the good manifest changed by f.
func (w *world) manifestWith(f func(m *v1.Manifest)) []byte {
	var m v1.Manifest
	if err := json.Unmarshal(must(json.Marshal(w.m)), &m); err != nil {
		panic(err)
	}
	f(&m)
	return must(json.Marshal(&m))
}

// configWith is a manifest of the good layers and the good config changed
// by f.
func (w *world) configWith(f func(c *v1.ConfigFile)) []byte {
	c := w.cfg.DeepCopy()
	f(c)
	d := w.blob(must(json.Marshal(c)), types.OCIConfigJSON)
	return w.manifestWith(func(m *v1.Manifest) { m.Config = d })
}

// rawConfig is a manifest of the good layers and config bytes b.
func (w *world) rawConfig(b []byte) []byte {
	d := w.blob(b, types.OCIConfigJSON)
	return w.manifestWith(func(m *v1.Manifest) { m.Config = d })
}

// fields are the good manifest's members, to build documents from.
func (w *world) fields() []string {
	return []string{kv("schemaVersion", 2), kv("mediaType", types.OCIManifestSchema1), kv("config", w.m.Config), kv("layers", w.m.Layers)}
}

// index is an index of the good manifest for amd64 and descriptors extra.
func (w *world) index(extra ...string) []byte {
	d := w.desc
	d.Platform = &amd64
	return obj(kv("schemaVersion", 2), kv("mediaType", types.OCIImageIndex),
		`"manifests":[`+strings.Join(append([]string{string(must(json.Marshal(d)))}, extra...), ",")+`]`)
}

func kv(k string, v any) string { return strconv.Quote(k) + ":" + string(must(json.Marshal(v))) }

func obj(fields ...string) []byte { return []byte("{" + strings.Join(fields, ",") + "}") }

// rawDesc is a descriptor written by hand, to carry what v1.Descriptor cannot.
func rawDesc(mt types.MediaType, digest, size string) string {
	return fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%s}`, mt, digest, size)
}

// attestation is an index entry as BuildKit writes it, for a blob nobody
// serves: attestation manifests must never be fetched.
func attestation(i int, size int64) string {
	return string(must(json.Marshal(v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: size,
		Digest:      digestOfBytes([]byte(strconv.Itoa(i))),
		Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
		Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest"}})))
}

// docCase is a hostile document, served as the image a reference names.
type docCase struct {
	name string
	doc  func(w *world) []byte
	// contentType is what the registry declares ("" = the document's own
	// mediaType); only a registry declares one.
	contentType types.MediaType
	limits      Limits
	only        Transport // the case needs this transport ("" = registry and layout)

	want      string // a substring of the error; "" when Open succeeds
	limit     string // the error is a *LimitError for this limit
	digestErr bool   // the error is a *DigestError
	// beforeFetch: the document is refused before anything it names is
	// fetched (no ErrNotFound, no DigestError).
	beforeFetch bool
	// check runs when Open succeeds.
	check func(t *testing.T, w *world, r *Resolved)
	// layersErr: Open succeeds and reading the layers fails like this.
	layersErr string
}

var (
	twoTo63   = "9223372036854775808"
	maxInt64  = strconv.FormatInt(math.MaxInt64, 10)
	deep      = strings.Repeat("[", 1000) + strings.Repeat("]", 1000)
	schema1MT = types.DockerManifestSchema1Signed
)

// docCases are the hostile documents of docs/threat-model.md (indexes,
// manifests, configs).
func docCases() []docCase {
	cases := []docCase{
		// 1. Size.
		{name: "manifest over MaxManifestBytes", doc: func(w *world) []byte {
			return w.manifestWith(func(m *v1.Manifest) { m.Annotations = map[string]string{"pad": strings.Repeat("x", 5<<20)} })
		}, limit: "MaxManifestBytes"},
		{name: "manifest over a configured MaxManifestBytes", doc: func(w *world) []byte { return obj(w.fields()...) },
			limits: Limits{MaxManifestBytes: 256}, limit: "MaxManifestBytes"},
		{name: "index child over MaxManifestBytes by its descriptor", doc: func(w *world) []byte {
			return w.index(rawDesc(types.OCIManifestSchema1, digA, strconv.Itoa(5<<20)))
		}, limit: "MaxManifestBytes"},
		{name: "config over MaxConfigBytes", doc: func(w *world) []byte { return obj(w.fields()...) },
			limits: Limits{MaxConfigBytes: 64}, limit: "MaxConfigBytes"},
		{name: "config over MaxConfigBytes, descriptor says small", doc: func(w *world) []byte {
			b := w.blob(must(json.Marshal(w.cfg)), types.OCIConfigJSON)
			return w.manifestWith(func(m *v1.Manifest) { m.Config = b; m.Config.Size = 32 })
		}, limits: Limits{MaxConfigBytes: 64}, digestErr: true},

		// 2. Bytes that are not what the descriptor names.
		{name: "index child bytes differ from its digest", doc: func(w *world) []byte {
			// Its own document, not the good manifest's bytes: the altered
			// bytes replace it in the shared layout.
			d := w.child(obj(append(w.fields(), kv("annotations", map[string]string{"case": "tampered child"}))...), types.OCIManifestSchema1)
			w.children[d.Digest] = w.manifestWith(func(m *v1.Manifest) { m.Annotations = map[string]string{"evil": "1"} })
			d.Size = int64(len(w.children[d.Digest]))
			d.Platform = &amd64
			return obj(kv("schemaVersion", 2), kv("mediaType", types.OCIImageIndex), kv("manifests", []v1.Descriptor{d}))
		}, want: "", digestErr: true, only: Layout},
		{name: "config bytes differ from its digest", doc: func(w *world) []byte {
			c := w.cfg.DeepCopy()
			c.Author = "tampered config" // not the good config's bytes, which other cases share
			good := must(json.Marshal(c))
			d := w.blob(good, types.OCIConfigJSON)
			w.blobs[d.Digest] = []byte(strings.Replace(string(good), `"amd64"`, `"arm64"`, 1))
			return w.manifestWith(func(m *v1.Manifest) { m.Config = d })
		}, only: Layout, digestErr: true},

		// 3. Ambiguity.
		{name: "ambiguous manifests and layers", doc: func(w *world) []byte {
			return obj(append(w.fields(), kv("manifests", []v1.Descriptor{w.desc}))...)
		}, want: "ambiguous", beforeFetch: true},
		{name: "neither manifests nor layers", doc: func(w *world) []byte {
			return obj(kv("schemaVersion", 2), kv("mediaType", types.OCIManifestSchema1))
		}, want: "neither", beforeFetch: true},
		{name: "index mediaType on a manifest", doc: func(w *world) []byte {
			return obj(kv("schemaVersion", 2), kv("mediaType", types.OCIImageIndex), kv("config", w.m.Config), kv("layers", w.m.Layers))
		}, want: "does not match its media type", beforeFetch: true},
		{name: "manifest mediaType on an index", doc: func(w *world) []byte {
			return obj(kv("schemaVersion", 2), kv("mediaType", types.OCIManifestSchema1), kv("manifests", []v1.Descriptor{w.desc}))
		}, want: "does not match its media type", beforeFetch: true},
		{name: "mediaType contradicts the Content-Type", doc: func(w *world) []byte { return obj(w.fields()...) },
			contentType: types.DockerManifestSchema2, only: Registry, want: "contradicts", beforeFetch: true},
		{name: "index Content-Type on a manifest without mediaType", doc: func(w *world) []byte {
			return obj(kv("schemaVersion", 2), kv("config", w.m.Config), kv("layers", w.m.Layers))
		}, contentType: types.OCIImageIndex, only: Registry, want: "does not match its media type", beforeFetch: true},
		{name: "index child mediaType contradicts its descriptor", doc: func(w *world) []byte {
			d := w.child(obj(w.fields()...), types.DockerManifestSchema2)
			d.Platform = &amd64
			return obj(kv("schemaVersion", 2), kv("mediaType", types.OCIImageIndex), kv("manifests", []v1.Descriptor{d}))
		}, want: "contradicts"},
		{name: "index child is an index in disguise", doc: func(w *world) []byte {
			inner := w.child(w.index(), types.OCIImageIndex)
			inner.MediaType, inner.Platform = types.OCIManifestSchema1, &amd64
			return obj(kv("schemaVersion", 2), kv("mediaType", types.OCIImageIndex), kv("manifests", []v1.Descriptor{inner}))
		}, want: "contradicts"},
		{name: "nested index not followed", doc: func(w *world) []byte {
			inner := w.child(w.index(), types.OCIImageIndex)
			return obj(kv("schemaVersion", 2), kv("mediaType", types.OCIImageIndex), kv("manifests", []v1.Descriptor{inner}))
		}, want: "nested index", beforeFetch: true},
		{name: "config media type is a manifest's", doc: func(w *world) []byte {
			return w.manifestWith(func(m *v1.Manifest) { m.Config.MediaType = types.OCIManifestSchema1 })
		}, want: "media type", beforeFetch: true},
		{name: "encrypted layer", doc: func(w *world) []byte {
			return w.manifestWith(func(m *v1.Manifest) { m.Layers[0].MediaType = "application/vnd.oci.image.layer.v1.tar+gzip+encrypted" })
		}, want: "encrypted"},

		// 4. Keys Go's decoder would silently pick from.
		{name: "layers twice", doc: func(w *world) []byte { return obj(append(w.fields(), kv("layers", []v1.Descriptor{}))...) },
			want: "duplicate key", beforeFetch: true},
		{name: "layers and Layers", doc: func(w *world) []byte { return obj(append(w.fields(), kv("Layers", []v1.Descriptor{}))...) },
			want: "differ only in case", beforeFetch: true},
		{name: "Layers instead of layers", doc: func(w *world) []byte {
			return obj(kv("schemaVersion", 2), kv("mediaType", types.OCIManifestSchema1), kv("config", w.m.Config), kv("Layers", w.m.Layers))
		}, want: `$: key "Layers" matches field "layers" only in case`, beforeFetch: true},
		{name: "Digest instead of digest in a layer", doc: func(w *world) []byte {
			l := w.m.Layers[0]
			return obj(kv("schemaVersion", 2), kv("mediaType", types.OCIManifestSchema1), kv("config", w.m.Config),
				fmt.Sprintf(`"layers":[{"mediaType":%q,"Digest":%q,"size":%d}]`, l.MediaType, l.Digest, l.Size))
		}, want: `key "Digest"`, beforeFetch: true},
		{name: "OS instead of os in an index platform", doc: func(w *world) []byte {
			return []byte(strings.Replace(string(w.index()), `"os":`, `"OS":`, 1))
		}, want: `key "OS"`, beforeFetch: true},
		{name: "layers and layerſ (long s folds to s)", doc: func(w *world) []byte {
			return obj(append(w.fields(), kv("layerſ", []v1.Descriptor{}))...)
		}, want: "differ only in case", beforeFetch: true},
		{name: "mediaType and mediatype", doc: func(w *world) []byte {
			return obj(append(w.fields(), kv("mediatype", types.OCIImageIndex))...)
		}, want: "differ only in case", beforeFetch: true},
		{name: "digest twice in a layer", doc: func(w *world) []byte {
			l := w.m.Layers[0]
			return obj(kv("schemaVersion", 2), kv("mediaType", types.OCIManifestSchema1), kv("config", w.m.Config),
				fmt.Sprintf(`"layers":[{"mediaType":%q,"digest":%q,"size":%d,"digest":%q}]`, l.MediaType, l.Digest, l.Size, w.m.Layers[1].Digest))
		}, want: "duplicate key", beforeFetch: true},
		{name: "manifests twice in an index", doc: func(w *world) []byte {
			return append(w.index()[:len(w.index())-1], []byte(`,"manifests":[]}`)...)
		}, want: "duplicate key", beforeFetch: true},
		{name: "User twice in the config", doc: func(w *world) []byte {
			b := string(must(json.Marshal(w.cfg)))
			return w.rawConfig([]byte(strings.Replace(b, `"config":{`, `"config":{"User":"root","User":"nobody",`, 1)))
		}, want: "duplicate key"},
		{name: "Env and env in the config", doc: func(w *world) []byte {
			b := string(must(json.Marshal(w.cfg)))
			return w.rawConfig([]byte(strings.Replace(b, `"config":{`, `"config":{"env":["LD_PRELOAD=/evil.so"],`, 1)))
		}, want: `$.config: key "env" matches field "Env" only in case`},
		{name: "env instead of Env in the config", doc: func(w *world) []byte {
			b := string(must(json.Marshal(w.cfg)))
			return w.rawConfig([]byte(strings.Replace(b, `"Env":[`, `"env":["LD_PRELOAD=/evil.so",`, 1)))
		}, want: `$.config: key "env" matches field "Env" only in case`},
		{name: "Diff_ids instead of diff_ids in the config", doc: func(w *world) []byte {
			return w.rawConfig([]byte(strings.Replace(string(must(json.Marshal(w.cfg))), `"diff_ids":`, `"Diff_ids":`, 1)))
		}, want: `$.rootfs: key "Diff_ids" matches field "diff_ids"`},
		{name: "mediatype instead of mediaType", doc: func(w *world) []byte {
			return obj(kv("schemaVersion", 2), kv("mediatype", types.OCIManifestSchema1), kv("config", w.m.Config), kv("layers", w.m.Layers))
		}, want: `$: key "mediatype" matches field "mediaType"`, beforeFetch: true},
		{name: "Manifests instead of manifests in an index", doc: func(w *world) []byte {
			return []byte(strings.Replace(string(w.index()), `"manifests":`, `"Manifests":`, 1))
		}, want: `$: key "Manifests" matches field "manifests"`, beforeFetch: true},
		{name: "Annotations in a config descriptor", doc: func(w *world) []byte {
			return obj(kv("schemaVersion", 2), kv("mediaType", types.OCIManifestSchema1),
				fmt.Sprintf(`"config":{"mediaType":%q,"digest":%q,"size":%d,"Annotations":{"a":"b"}}`, w.m.Config.MediaType, w.m.Config.Digest, w.m.Config.Size),
				kv("layers", w.m.Layers))
		}, want: `$.config: key "Annotations" matches field "annotations"`, beforeFetch: true},
		{name: "escaped lone surrogates collide as label keys", doc: func(w *world) []byte {
			b := string(must(json.Marshal(w.cfg)))
			return w.rawConfig([]byte(strings.Replace(b, `"config":{`, `"config":{"Labels":{"\ud800":"a","\udc00":"b"},`, 1)))
		}, want: "duplicate key"},

		// 5. Nesting, numbers, encoding.
		{name: "deep nesting", doc: func(w *world) []byte { return obj(append(w.fields(), `"x":`+deep)...) },
			want: "nesting deeper than 64", beforeFetch: true},
		{name: "nesting deeper than a configured MaxJSONDepth", doc: func(w *world) []byte { return obj(w.fields()...) },
			limits: Limits{MaxJSONDepth: 2}, want: "nesting deeper than 2", beforeFetch: true},
		{name: "deep nesting in the config", doc: func(w *world) []byte {
			b := string(must(json.Marshal(w.cfg)))
			return w.rawConfig([]byte(strings.Replace(b, `{`, `{"x":`+deep+`,`, 1)))
		}, want: "nesting deeper than 64"},
		{name: "schemaVersion 2e400", doc: func(w *world) []byte { return obj(append(w.fields()[1:], `"schemaVersion":2e400`)...) },
			want: "schemaVersion", beforeFetch: true},
		{name: "schemaVersion 2.0", doc: func(w *world) []byte { return obj(append(w.fields()[1:], `"schemaVersion":2.0`)...) },
			want: "schemaVersion", beforeFetch: true},
		{name: "schemaVersion as a string", doc: func(w *world) []byte { return obj(append(w.fields()[1:], `"schemaVersion":"2"`)...) },
			beforeFetch: true},
		{name: "no schemaVersion", doc: func(w *world) []byte { return obj(w.fields()[1:]...) },
			want: "schemaVersion", beforeFetch: true},
		{name: "huge number in an unknown config field is data", doc: func(w *world) []byte {
			b := string(must(json.Marshal(w.cfg)))
			return w.rawConfig([]byte(strings.Replace(b, `{`, `{"x":1e999999999,"y":-`+strings.Repeat("9", 10000)+`,`, 1)))
		}, check: func(t *testing.T, w *world, r *Resolved) {}},
		{name: "invalid UTF-8", doc: func(w *world) []byte {
			return obj(append(w.fields(), `"annotations":{"a":"`+"\xff\xfe"+`"}`)...)
		}, want: "invalid UTF-8", beforeFetch: true},
		{name: "UTF-8 surrogate half", doc: func(w *world) []byte {
			return obj(append(w.fields(), `"annotations":{"a":"`+"\xed\xa0\x80"+`"}`)...)
		}, want: "invalid UTF-8", beforeFetch: true},
		{name: "overlong UTF-8 slash", doc: func(w *world) []byte {
			return obj(append(w.fields(), `"annotations":{"a":"`+"\xc0\xaf"+`"}`)...)
		}, want: "invalid UTF-8", beforeFetch: true},
		{name: "invalid UTF-8 in the config", doc: func(w *world) []byte {
			b := string(must(json.Marshal(w.cfg)))
			return w.rawConfig([]byte(strings.Replace(b, `{`, `{"author":"`+"\xff"+`",`, 1)))
		}, want: "invalid UTF-8"},
		{name: "byte order mark", doc: func(w *world) []byte { return append([]byte("\ufeff"), obj(w.fields()...)...) },
			beforeFetch: true},
		{name: "trailing data", doc: func(w *world) []byte { return append(obj(w.fields()...), []byte(`{"layers":[]}`)...) },
			want: "trailing data", beforeFetch: true},
		{name: "empty document", doc: func(w *world) []byte { return []byte{} }, beforeFetch: true},
		{name: "whitespace only", doc: func(w *world) []byte { return []byte(" \n\t ") }, beforeFetch: true},
		{name: "null", doc: func(w *world) []byte { return []byte("null") }, beforeFetch: true},
		{name: "an array", doc: func(w *world) []byte { return []byte("[" + string(obj(w.fields()...)) + "]") }, beforeFetch: true},

		// 7. Sizes that lie.
		{name: "layer size negative", doc: func(w *world) []byte {
			return w.manifestWith(func(m *v1.Manifest) { m.Layers[1].Size = -1 })
		}, want: "negative size"},
		{name: "config size negative", doc: func(w *world) []byte {
			return w.manifestWith(func(m *v1.Manifest) { m.Config.Size = -1 })
		}, want: "negative size", beforeFetch: true},
		{name: "index child size negative", doc: func(w *world) []byte {
			return w.index(rawDesc(types.OCIManifestSchema1, w.desc.Digest.String(), "-1"))
		}, want: "negative size", beforeFetch: true},
		{name: "config size 2^63-1", doc: func(w *world) []byte {
			return w.manifestWith(func(m *v1.Manifest) { m.Config.Size = math.MaxInt64 })
		}, limit: "MaxConfigBytes"},
		{name: "index child size 2^63-1", doc: func(w *world) []byte {
			return w.index(rawDesc(types.OCIManifestSchema1, w.desc.Digest.String(), maxInt64))
		}, limit: "MaxManifestBytes"},
		{name: "config size 2^63", doc: func(w *world) []byte {
			return obj(kv("schemaVersion", 2), kv("mediaType", types.OCIManifestSchema1), kv("layers", w.m.Layers),
				`"config":`+rawDesc(w.m.Config.MediaType, w.m.Config.Digest.String(), twoTo63))
		}, beforeFetch: true},
		{name: "layer size 1e3", doc: func(w *world) []byte {
			return obj(kv("schemaVersion", 2), kv("mediaType", types.OCIManifestSchema1), kv("config", w.m.Config),
				`"layers":[`+rawDesc(w.m.Layers[0].MediaType, w.m.Layers[0].Digest.String(), "1e3")+`]`)
		}, beforeFetch: true},
		{name: "config size zero", doc: func(w *world) []byte {
			return w.manifestWith(func(m *v1.Manifest) { m.Config.Size = 0 })
		}, digestErr: true},
		{name: "config size one short", doc: func(w *world) []byte {
			return w.manifestWith(func(m *v1.Manifest) { m.Config.Size-- })
		}, digestErr: true},
		{name: "config size one long", doc: func(w *world) []byte {
			return w.manifestWith(func(m *v1.Manifest) { m.Config.Size++ })
		}, digestErr: true},
		{name: "index child size lies small", doc: func(w *world) []byte {
			d := w.child(w.manifestWith(func(m *v1.Manifest) { m.Annotations = map[string]string{"pad": strings.Repeat("x", 100<<10)} }), types.OCIManifestSchema1)
			d.Size, d.Platform = 100, &amd64
			return obj(kv("schemaVersion", 2), kv("mediaType", types.OCIImageIndex), kv("manifests", []v1.Descriptor{d}))
		}, digestErr: true},
		{name: "index child size lies large", doc: func(w *world) []byte {
			d := w.child(obj(w.fields()...), types.OCIManifestSchema1)
			d.Size, d.Platform = d.Size+1000, &amd64
			return obj(kv("schemaVersion", 2), kv("mediaType", types.OCIImageIndex), kv("manifests", []v1.Descriptor{d}))
		}, digestErr: true},
		{name: "layer size 2^63-1", doc: func(w *world) []byte {
			return w.manifestWith(func(m *v1.Manifest) { m.Layers[1].Size = math.MaxInt64 })
		}, layersErr: "size mismatch"},
		{name: "layer size zero", doc: func(w *world) []byte {
			return w.manifestWith(func(m *v1.Manifest) { m.Layers[1].Size = 0 })
		}, layersErr: "size mismatch"},
		{name: "layer size one short", doc: func(w *world) []byte {
			return w.manifestWith(func(m *v1.Manifest) { m.Layers[1].Size-- })
		}, layersErr: "size mismatch"},
		{name: "layer size one long", doc: func(w *world) []byte {
			return w.manifestWith(func(m *v1.Manifest) { m.Layers[1].Size++ })
		}, layersErr: "size mismatch"},

		// 8. Counts.
		{name: "index over MaxManifests", doc: func(w *world) []byte {
			return w.index(strings.Repeat(","+string(must(json.Marshal(w.desc))), 1000)[1:])
		}, limit: "MaxManifests", beforeFetch: true},
		{name: "index over a configured MaxManifests", doc: func(w *world) []byte {
			d := string(must(json.Marshal(w.desc)))
			return w.index(d, d)
		}, limits: Limits{MaxManifests: 2}, limit: "MaxManifests", beforeFetch: true},
		{name: "manifest over MaxLayers", doc: func(w *world) []byte {
			return w.manifestWith(func(m *v1.Manifest) {
				for len(m.Layers) <= DefaultLimits.MaxLayers {
					m.Layers = append(m.Layers, m.Layers[0])
				}
			})
		}, limit: "MaxLayers", beforeFetch: true},
		{name: "manifest over a configured MaxLayers", doc: func(w *world) []byte { return obj(w.fields()...) },
			limits: Limits{MaxLayers: 1}, limit: "MaxLayers", beforeFetch: true},
		{name: "more diff_ids than layers", doc: func(w *world) []byte {
			return w.configWith(func(c *v1.ConfigFile) { c.RootFS.DiffIDs = append(c.RootFS.DiffIDs, c.RootFS.DiffIDs[0]) })
		}, want: "3 diff_ids for the manifest's 2 layers"},
		{name: "fewer diff_ids than layers", doc: func(w *world) []byte {
			return w.configWith(func(c *v1.ConfigFile) { c.RootFS.DiffIDs = c.RootFS.DiffIDs[:1] })
		}, want: "1 diff_ids for the manifest's 2 layers"},
		{name: "no diff_ids", doc: func(w *world) []byte {
			return w.configWith(func(c *v1.ConfigFile) { c.RootFS.DiffIDs = nil })
		}, want: "0 diff_ids"},
		{name: "huge history is data", doc: func(w *world) []byte {
			return w.configWith(func(c *v1.ConfigFile) { c.History = make([]v1.History, 100_000) })
		}, check: func(t *testing.T, w *world, r *Resolved) {
			if n := len(r.Images[0].Config.History); n != 100_000 {
				t.Errorf("%d history entries", n)
			}
		}},

		// 9. Odd config values are data.
		{name: "User 4294967296:0 is data", doc: func(w *world) []byte {
			return w.configWith(func(c *v1.ConfigFile) { c.Config.User = "4294967296:0" })
		}, check: func(t *testing.T, w *world, r *Resolved) {
			if u := r.Images[0].Config.Config.User; u != "4294967296:0" {
				t.Errorf("User = %q", u)
			}
		}},
		{name: "User -1:-1 and odd platform strings are data", doc: func(w *world) []byte {
			return w.configWith(func(c *v1.ConfigFile) { c.Config.User = "-1:-1"; c.OSVersion = "../../../x"; c.Variant = "\u202e" })
		}, check: func(t *testing.T, w *world, r *Resolved) {
			if c := r.Images[0].Config; c.Config.User != "-1:-1" || c.OSVersion != "../../../x" {
				t.Errorf("config = %+v", c.Config)
			}
		}},
		{name: "huge Env and Labels are data", doc: func(w *world) []byte {
			return w.configWith(func(c *v1.ConfigFile) {
				c.Config.Labels = map[string]string{}
				for i := range 10_000 {
					c.Config.Env = append(c.Config.Env, fmt.Sprintf("V%d=%d", i, i))
					c.Config.Labels[fmt.Sprintf("l%d", i)] = strings.Repeat("v", 100)
				}
			})
		}, check: func(t *testing.T, w *world, r *Resolved) {
			if c := r.Images[0].Config.Config; len(c.Env) != 10_001 || len(c.Labels) != 10_000 {
				t.Errorf("%d env, %d labels", len(c.Env), len(c.Labels))
			}
		}},
		{name: "created in year 9999 is data", doc: func(w *world) []byte {
			return w.configWith(func(c *v1.ConfigFile) { c.Created = v1.Time{Time: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)} })
		}, check: func(t *testing.T, w *world, r *Resolved) {
			if y := r.Images[0].Config.Created.Year(); y != 9999 {
				t.Errorf("created year %d", y)
			}
		}},

		// 10. Foreign layers: urls are never followed.
		{name: "foreign layer urls never followed", doc: func(w *world) []byte {
			return w.manifestWith(func(m *v1.Manifest) {
				m.Layers[1].MediaType = types.OCIRestrictedLayer
				m.Layers[1].URLs = []string{w.foreignURL + "/layer", "http://169.254.169.254/latest/meta-data"}
			})
		}, check: func(t *testing.T, w *world, r *Resolved) {
			if err := readLayers(t, r); err != nil {
				t.Errorf("reading layers: %v", err)
			}
			if n := w.foreignHits.Load(); n != 0 {
				t.Errorf("the server named in urls got %d requests", n)
			}
		}},

		// 11. Attestations.
		{name: "thousands of attestations are not fetched", doc: func(w *world) []byte {
			var atts []string
			for i := range 900 {
				atts = append(atts, attestation(i, 1000))
			}
			return w.index(atts...)
		}, check: func(t *testing.T, w *world, r *Resolved) {
			if len(r.Attestations) != 900 || len(r.Images) != 1 {
				t.Errorf("%d attestations, %d images", len(r.Attestations), len(r.Images))
			}
		}},
		{name: "one huge attestation is not fetched", doc: func(w *world) []byte { return w.index(attestation(0, 1<<50)) },
			check: func(t *testing.T, w *world, r *Resolved) {
				if len(r.Attestations) != 1 || r.Attestations[0].Size != 1<<50 {
					t.Errorf("attestations = %v", r.Attestations)
				}
			}},
		{name: "more attestations than MaxManifests", doc: func(w *world) []byte {
			var atts []string
			for i := range DefaultLimits.MaxManifests {
				atts = append(atts, attestation(i, 1000))
			}
			return w.index(atts...)
		}, limit: "MaxManifests", beforeFetch: true},

		// Schema 1.
		{name: "schema 1 signed", doc: func(w *world) []byte {
			return []byte(`{"schemaVersion":1,"name":"x","tag":"v1","architecture":"amd64","fsLayers":[{"blobSum":"` + w.m.Layers[0].Digest.String() + `"}],"history":[{"v1Compatibility":"{}"}],"signatures":[]}`)
		}, contentType: schema1MT, want: "schema 1", beforeFetch: true},
		{name: "schema 1 unsigned", doc: func(w *world) []byte {
			return []byte(`{"schemaVersion":1,"name":"x","tag":"v1","architecture":"amd64","fsLayers":[{"blobSum":"` + w.m.Layers[0].Digest.String() + `"}],"history":[{"v1Compatibility":"{}"}]}`)
		}, contentType: types.DockerManifestSchema1, want: "schema 1", beforeFetch: true},
		{name: "schemaVersion 2 with fsLayers", doc: func(w *world) []byte {
			return obj(append(w.fields(), `"fsLayers":[{"blobSum":"`+w.m.Layers[0].Digest.String()+`"}]`)...)
		}, want: "schema 1", beforeFetch: true},
	}

	// 6. Malformed digests, wherever a descriptor carries one.
	for dname, d := range malformedDigests {
		if !json.Valid([]byte(strconv.Quote(d))) {
			continue // NUL and friends: strconv.Quote is not JSON
		}
		cases = append(cases,
			docCase{name: "layer digest " + dname, doc: func(w *world) []byte {
				return obj(kv("schemaVersion", 2), kv("mediaType", types.OCIManifestSchema1), kv("config", w.m.Config),
					`"layers":[`+rawDesc(types.OCILayer, d, "100")+`]`)
			}, beforeFetch: true},
			docCase{name: "config digest " + dname, doc: func(w *world) []byte {
				return obj(kv("schemaVersion", 2), kv("mediaType", types.OCIManifestSchema1), kv("layers", w.m.Layers),
					`"config":`+rawDesc(types.OCIConfigJSON, d, "100"))
			}, beforeFetch: true},
			docCase{name: "index child digest " + dname, doc: func(w *world) []byte {
				return w.index(rawDesc(types.OCIManifestSchema1, d, "100"))
			}, beforeFetch: true},
		)
	}
	return cases
}

// TestHostileDocuments serves each hostile document as the image a
// reference names, from a registry (a wrapper answers the manifest request
// with the document) and from an OCI layout (the document is a blob named by
// digest).
func TestHostileDocuments(t *testing.T) {
	w := newWorld(t)
	foreign := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.foreignHits.Add(1)
		http.Error(rw, "never ask me", http.StatusTeapot)
	}))
	t.Cleanup(foreign.Close)
	w.foreignURL = foreign.URL

	cases := docCases()
	docs := make([][]byte, len(cases))
	for i, c := range cases {
		docs[i] = c.doc(w)
	}

	// The registry: a real one, with a wrapper in front that answers for
	// the hostile documents, which a real registry would refuse to store.
	served := map[string]func(rw http.ResponseWriter){}
	serve := func(path string, doc []byte, ct types.MediaType) {
		if ct == "" {
			ct = sniffType(doc)
		}
		served[path] = func(rw http.ResponseWriter) {
			rw.Header().Set("Content-Type", string(ct))
			rw.Header().Set("Docker-Content-Digest", digestOfBytes(doc).String())
			rw.Header().Set("Content-Length", strconv.Itoa(len(doc)))
			rw.Write(doc)
		}
	}
	for i, c := range cases {
		serve(fmt.Sprintf("/v2/hostile/manifests/case-%d", i), docs[i], c.contentType)
	}
	for d, doc := range w.children {
		serve("/v2/hostile/manifests/"+d.String(), doc, "")
	}
	reg := fixtures.StartRegistry(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if f, ok := served[r.URL.Path]; ok && r.Method == http.MethodGet {
				f(rw)
				return
			}
			next.ServeHTTP(rw, r)
		})
	})
	t.Cleanup(reg.Close)
	reg.MustPush(t, "hostile", "base", w.img)
	repo, err := name.NewRepository(reg.Host + "/hostile")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range w.blobs {
		if err := remote.WriteLayer(repo, static.NewLayer(b, types.OCIConfigJSON)); err != nil {
			t.Fatal(err)
		}
	}

	// The layout: the good image, then every document and blob as a blob.
	dir := writeLayout(t, "base", w.img)
	for _, m := range []map[v1.Hash][]byte{w.blobs, w.children} {
		for d, b := range m {
			writeBlob(t, dir, b, d)
		}
	}
	for _, doc := range docs {
		writeBlob(t, dir, doc, digestOfBytes(doc))
	}

	for i, c := range cases {
		for _, tr := range []Transport{Registry, Layout} {
			if c.only != "" && c.only != tr {
				continue
			}
			ref := fmt.Sprintf("%s/hostile:case-%d", reg.Host, i)
			if tr == Layout {
				ref = "oci:" + dir + "@" + digestOfBytes(docs[i]).String()
			}
			t.Run(c.name+"/"+string(tr), func(t *testing.T) {
				r, err := Open(t.Context(), ref, Options{Limits: c.limits})
				if c.check != nil || c.layersErr != "" {
					if err != nil {
						t.Fatalf("Open: %v", err)
					}
					defer r.Close()
					if c.check != nil {
						c.check(t, w, r)
						return
					}
					err = readLayers(t, r)
					var de *DigestError
					if !errors.As(err, &de) || !strings.Contains(err.Error(), c.layersErr) {
						t.Fatalf("reading layers: %v, want a *DigestError saying %q", err, c.layersErr)
					}
					return
				}
				checkErr(t, err, c.want, c.limit, c.digestErr)
				if c.beforeFetch && (errors.Is(err, ErrNotFound) || errors.As(err, new(*DigestError))) {
					t.Errorf("refused only after fetching what it names: %v", err)
				}
			})
		}
	}
}

// checkErr checks an error is there, says want, and is of the type asked.
func checkErr(t *testing.T, err error, want, limit string, digestErr bool) {
	t.Helper()
	if err == nil {
		t.Fatal("Open succeeded, want an error")
	}
	if len(err.Error()) > 2000 {
		t.Errorf("error of %d bytes", len(err.Error()))
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if limit != "" {
		var le *LimitError
		if !errors.As(err, &le) {
			t.Fatalf("error %v (%T), want a *LimitError", err, err)
		}
		if le.Limit != limit || le.Got <= le.Max || !strings.Contains(err.Error(), limit) {
			t.Errorf("LimitError %+v, want %s exceeded", le, limit)
		}
	}
	if digestErr && !errors.As(err, new(*DigestError)) {
		t.Errorf("error %v (%T), want a *DigestError", err, err)
	}
}

func writeBlob(t testing.TB, dir string, b []byte, d v1.Hash) {
	t.Helper()
	if err := os.WriteFile(blobPath(dir, d), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// sniffType is the Content-Type a registry would store a document under.
func sniffType(doc []byte) types.MediaType {
	var probe struct {
		MediaType types.MediaType `json:"mediaType"`
	}
	if json.Unmarshal(doc, &probe) != nil || probe.MediaType == "" {
		return "application/octet-stream"
	}
	return probe.MediaType
}
