package kit_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/internal/limits"
	"github.com/reprover/reprover/kit"
)

// bases are two base images in the release's registry: an index of
// linux/amd64 and linux/arm64 images, and a single manifest.
type bases struct {
	multi, one        string // HOST/REPO@sha256:…
	idx               v1.ImageIndex
	amd64, arm64, img v1.Image
}

func pushBases(t *testing.T, reg *fixtures.Registry) *bases {
	t.Helper()
	b := &bases{}
	var err error
	for _, p := range []*v1.Image{&b.amd64, &b.arm64, &b.img} {
		if *p, err = random.Image(2048, 2); err != nil {
			t.Fatal(err)
		}
	}
	b.idx = mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: b.amd64, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: b.arm64, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	b.multi = reg.MustPush(t, "base/multi", "1", b.idx)
	b.one = reg.MustPush(t, "base/one", "1", b.img)
	return b
}

// blobsOf are the digests of an image's manifest, config and layers.
func blobsOf(t *testing.T, img v1.Image) []string {
	t.Helper()
	d, _ := img.Digest()
	c, _ := img.ConfigName()
	out := []string{d.String(), c.String()}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		h, _ := l.Digest()
		out = append(out, h.String())
	}
	return out
}

// TestBasesRoundTrip: a kit made with two bases for a linux/amd64 release
// (its config matching docs/kit.schema.json) keeps the index, the amd64 image's manifest, config and layers (not the
// arm64 image's) and the single manifest's, annotated with their base;
// written to a layout and opened back, it lists the same bases and serves
// each blob with its digest's bytes.
func TestBasesRoundTrip(t *testing.T) {
	reg := fixtures.NewRegistry(t)
	rel := newRelease(t, reg, "one")
	b := pushBases(t, reg)
	made, err := rel.make(t, func(o *kit.MakeOptions) {
		o.Bases = []string{b.one, b.multi, b.one}
		o.Params.Platforms = []string{"linux/amd64"}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer made.Close()
	sch, err := jsonschema.NewCompiler().Compile(filepath.Join("..", "docs", "kit.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(made.RawConfig()))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(doc); err != nil {
		t.Errorf("the config does not match docs/kit.schema.json: %v\n%s", err, made.RawConfig())
	}
	idxDigest, _ := b.idx.Digest()
	wantBlobs := map[string][]string{
		b.multi: append([]string{idxDigest.String()}, blobsOf(t, b.amd64)...),
		b.one:   blobsOf(t, b.img),
	}
	dir := filepath.Join(t.TempDir(), "kit")
	if err := made.WriteTo(t.Context(), "oci:"+dir); err != nil {
		t.Fatal(err)
	}
	k, err := kit.Open(t.Context(), "oci:"+dir, "", rel.subject.Digest, kit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if k.Digest() != made.Digest() {
		t.Errorf("opened kit %s, made %s", k.Digest(), made.Digest())
	}
	var refs []string
	for _, base := range k.Config.Bases {
		refs = append(refs, base.Ref)
		var got []string
		for _, x := range base.Blobs {
			got = append(got, x.Digest)
		}
		if !slices.Equal(got, wantBlobs[base.Ref]) {
			t.Errorf("base %s holds %q, want %q", base.Ref, got, wantBlobs[base.Ref])
		}
	}
	if want := slices.Sorted(slices.Values([]string{b.multi, b.one})); !slices.Equal(refs, want) {
		t.Errorf("bases %q, want %q", refs, want)
	}
	oneDigest, _ := b.img.Digest()
	if got, want := k.BaseImages(), slices.Sorted(slices.Values([]string{idxDigest.String(), oneDigest.String()})); !slices.Equal(got, want) {
		t.Errorf("BaseImages %q, want %q", got, want)
	}
	m := map[string]bool{}
	for _, l := range mustManifest(t, k).Layers {
		if r, ok := l.Annotations[kit.BaseAnnotation]; ok {
			m[l.Digest.String()] = true
			if !slices.Contains(wantBlobs[r], l.Digest.String()) {
				t.Errorf("layer %s annotated %s, which does not hold it", l.Digest, r)
			}
		}
	}
	for d, n := range k.BaseBlobs() {
		if !m[d] {
			t.Errorf("blob %s is not a layer of the kit's manifest", d)
		}
		rc, err := k.OpenBase(d)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		h, size, _ := v1.SHA256(bytes.NewReader(body))
		if err != nil || h.String() != d || size != n {
			t.Errorf("blob %s: read %s (%d bytes, want %d), %v", d, h, size, n, err)
		}
	}
}

func mustManifest(t *testing.T, k *kit.Kit) *v1.Manifest {
	t.Helper()
	m, err := v1.ParseManifest(bytes.NewReader(k.Manifest()))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestMakeBasesRefuses: a registry that serves a base's layer with other
// bytes, a platform the base lacks, and bases over each named limit: an
// error naming the base (and the blob, the limit), and no kit.
func TestMakeBasesRefuses(t *testing.T) {
	var corrupt string // a blob digest the registry serves wrong
	reg := fixtures.StartRegistry(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if corrupt == "" || !strings.HasSuffix(r.URL.Path, "/blobs/"+corrupt) || r.Method != http.MethodGet {
				h.ServeHTTP(w, r)
				return
			}
			rec := &recorder{header: http.Header{}}
			h.ServeHTTP(rec, r)
			body := rec.body.Bytes()
			if len(body) > 0 {
				body[len(body)/2] ^= 1
			}
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.code)
			w.Write(body)
		})
	})
	t.Cleanup(reg.Close)
	rel := newRelease(t, reg, "one")
	b := pushBases(t, reg)
	ls, _ := b.amd64.Layers()
	layer, _ := ls[1].Digest()
	for _, tc := range []struct {
		name    string
		mut     func(*kit.MakeOptions)
		corrupt string
		say     []string
		limit   string
	}{
		{name: "a layer served with other bytes", corrupt: layer.String(),
			mut: func(o *kit.MakeOptions) { o.Bases = []string{b.multi}; o.Params.Platforms = []string{"linux/amd64"} },
			say: []string{"base image " + b.multi, layer.String()}},
		{name: "no image for the release's platform",
			mut: func(o *kit.MakeOptions) { o.Bases = []string{b.multi}; o.Params.Platforms = []string{"linux/s390x"} },
			say: []string{"base image " + b.multi, "linux/s390x"}},
		{name: "a base not pinned by digest",
			mut: func(o *kit.MakeOptions) { o.Bases = []string{reg.Host + "/base/one:1"} },
			say: []string{reg.Host + "/base/one:1", "pinned by digest"}},
		{name: "more bases than MaxBases",
			mut: func(o *kit.MakeOptions) { o.Bases = []string{b.multi, b.one}; o.Limits.MaxBases = 1 }, limit: "MaxBases"},
		{name: "more blobs than MaxBaseBlobs",
			mut: func(o *kit.MakeOptions) { o.Bases = []string{b.one}; o.Limits.MaxBaseBlobs = 3 }, limit: "MaxBaseBlobs"},
		{name: "more bytes than MaxBaseBytes",
			mut: func(o *kit.MakeOptions) { o.Bases = []string{b.one}; o.Limits.MaxBaseBytes = 3000 }, limit: "MaxBaseBytes"},
		{name: "a layer over MaxBlobBytes",
			mut: func(o *kit.MakeOptions) { o.Bases = []string{b.one}; o.Limits.MaxBlobBytes = 1000 }, limit: "MaxBlobBytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			corrupt = tc.corrupt
			defer func() { corrupt = "" }()
			scratch := t.TempDir()
			k, err := rel.make(t, func(o *kit.MakeOptions) { tc.mut(o); o.Scratch = scratch })
			if err == nil {
				k.Close()
				t.Fatalf("made kit %s, want an error", k.Digest())
			}
			for _, s := range tc.say {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			var le *limits.Error
			if tc.limit != "" && (!errors.As(err, &le) || le.Limit != tc.limit) {
				t.Errorf("error %v, want the limit %s", err, tc.limit)
			}
			if ents, _ := os.ReadDir(scratch); len(ents) > 0 {
				t.Errorf("scratch holds %d entries after the error", len(ents))
			}
		})
	}
}

type recorder struct {
	header http.Header
	body   bytes.Buffer
	code   int
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(c int)           { r.code = c }

// TestBasesHostile: a kit whose config lists bases no maker writes, or
// more than the limits allow, is refused naming the field (ParseConfig);
// a layout whose base blob was replaced by other bytes of the same size
// opens, and the blob fails as it is read, naming it.
func TestBasesHostile(t *testing.T) {
	reg := fixtures.NewRegistry(t)
	rel := newRelease(t, reg, "one")
	b := pushBases(t, reg)
	made, err := rel.make(t, func(o *kit.MakeOptions) { o.Bases = []string{b.one} })
	if err != nil {
		t.Fatal(err)
	}
	defer made.Close()
	good := made.Config
	d := strings.Repeat("a", 64)
	for _, tc := range []struct {
		name  string
		mut   func(c *kit.Config)
		lim   kit.Limits
		say   string
		limit string
	}{
		{name: "a reference with a tag", say: "pinned by digest",
			mut: func(c *kit.Config) { c.Bases[0].Ref = strings.Replace(c.Bases[0].Ref, "@", ":1@", 1) }},
		{name: "a reference without a digest", say: "pinned by digest",
			mut: func(c *kit.Config) { c.Bases[0].Ref = reg.Host + "/base/one" }},
		{name: "a path for a reference", say: "pinned by digest",
			mut: func(c *kit.Config) { c.Bases[0].Ref = "oci:/etc@sha256:" + d }},
		{name: "the first blob is not the one the digest names", say: "first blob",
			mut: func(c *kit.Config) { c.Bases[0].Blobs = c.Bases[0].Blobs[1:] }},
		{name: "a blob digest with a path in it", say: "bases[0].blobs[1]",
			mut: func(c *kit.Config) { c.Bases[0].Blobs[1].Digest = "sha256:../../" + d[6:] }},
		{name: "a negative size", say: "bases[0].blobs[1]",
			mut: func(c *kit.Config) { c.Bases[0].Blobs[1].Size = -1 }},
		{name: "a media type with a newline", say: "media type",
			mut: func(c *kit.Config) { c.Bases[0].Blobs[1].MediaType = "a\nb" }},
		{name: "a base listed twice", say: "listed twice",
			mut: func(c *kit.Config) { c.Bases = append(c.Bases, c.Bases[0]) }},
		{name: "a blob two bases describe otherwise", say: "described otherwise",
			mut: func(c *kit.Config) {
				other := c.Bases[0]
				other.Ref = strings.Replace(other.Ref, "/base/one@", "/base/two@", 1)
				other.Blobs = slices.Clone(other.Blobs)
				other.Blobs[1].Size++
				c.Bases = append(c.Bases, other)
			}},
		{name: "over MaxBases", lim: kit.Limits{MaxBases: 1}, limit: "MaxBases",
			mut: func(c *kit.Config) {
				other := c.Bases[0]
				other.Ref = strings.Replace(other.Ref, "/base/one@", "/base/two@", 1)
				c.Bases = append(c.Bases, other)
			}},
		{name: "over MaxBaseBlobs", lim: kit.Limits{MaxBaseBlobs: 2}, limit: "MaxBaseBlobs", mut: func(*kit.Config) {}},
		{name: "over MaxBaseBytes", lim: kit.Limits{MaxBaseBytes: 10}, limit: "MaxBaseBytes", mut: func(*kit.Config) {}},
		{name: "a blob over MaxBlobBytes", limit: "MaxBlobBytes",
			mut: func(c *kit.Config) { c.Bases[0].Blobs[2].Size = 1 << 62 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			c.Bases = slices.Clone(good.Bases)
			c.Bases[0].Blobs = slices.Clone(good.Bases[0].Blobs)
			tc.mut(&c)
			raw, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			_, err = kit.ParseConfig(raw, "config", tc.lim)
			if err == nil {
				t.Fatal("parsed, want an error")
			}
			if tc.say != "" && !strings.Contains(err.Error(), tc.say) {
				t.Errorf("error %q does not say %q", err, tc.say)
			}
			var le *limits.Error
			if tc.limit != "" && (!errors.As(err, &le) || le.Limit != tc.limit) {
				t.Errorf("error %v, want the limit %s", err, tc.limit)
			}
		})
	}

	t.Run("a layer replaced in the layout", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "kit")
		if err := made.WriteTo(t.Context(), "oci:"+dir); err != nil {
			t.Fatal(err)
		}
		x := good.Bases[0].Blobs[2]
		path := filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(x.Digest, "sha256:"))
		body, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		body[len(body)/2] ^= 1
		if err := os.WriteFile(path, body, 0o644); err != nil {
			t.Fatal(err)
		}
		k, err := kit.Open(t.Context(), "oci:"+dir, "", rel.subject.Digest, kit.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close()
		rc, err := k.OpenBase(x.Digest)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if _, err := io.ReadAll(rc); err == nil || !strings.Contains(err.Error(), x.Digest) {
			t.Errorf("reading the replaced blob: %v, want an error naming %s", err, x.Digest)
		}
		if _, err := k.OpenBase("sha256:" + d); err == nil {
			t.Error("a blob the kit does not hold opened")
		}
	})
}

// TestBaseFromPURL: the base a provenance material names, as BuildKit
// writes its purl.
func TestBaseFromPURL(t *testing.T) {
	d := "sha256:" + strings.Repeat("b", 64)
	for _, tc := range []struct {
		purl, sha, want, err string
	}{
		{purl: "pkg:docker/127.0.0.1:5000/base/busybox@1?digest=" + d + "&platform=linux%2Famd64", want: "127.0.0.1:5000/base/busybox@" + d},
		{purl: "pkg:docker/debian@bookworm?digest=" + d + "&platform=linux%2Famd64", want: "docker.io/library/debian@" + d},
		{purl: "pkg:docker/library/debian@" + strings.Replace(d, ":", "%3A", 1), want: "docker.io/library/debian@" + d},
		{purl: "pkg:docker/ghcr.io/org/app@1.0", sha: strings.Repeat("b", 64), want: "ghcr.io/org/app@" + d},
		{purl: "pkg:docker/localhost/x@1?digest=" + d, want: "localhost/x@" + d},
		{purl: "pkg:docker/debian@bookworm", err: "pinned by digest"},
		{purl: "pkg:npm/left-pad@1", err: "not a pkg:docker purl"},
		{purl: "pkg:docker/a@1?digest=sha256:../../etc", err: "pinned by digest"},
	} {
		t.Run(tc.purl, func(t *testing.T) {
			got, err := kit.BaseFromPURL(tc.purl, tc.sha)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("%q, %v; want an error saying %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("%q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// FuzzConfigBases: whatever bases a kit's config lists, ParseConfig
// returns an error or bases within the limits, each pinned by digest,
// listed once, its first blob the one the digest names.
func FuzzConfigBases(f *testing.F) {
	subject := `"subject":{"digest":"sha256:` + strings.Repeat("5", 64) + `"}`
	d := "sha256:" + strings.Repeat("d", 64)
	blob := func(dg string, n int) string {
		return `{"digest":"` + dg + `","size":` + strings.Repeat("9", n) + `,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`
	}
	base := func(ref string, blobs ...string) string {
		return `{"ref":"` + ref + `","blobs":[` + strings.Join(blobs, ",") + `]}`
	}
	for _, s := range []string{
		base("r.example/a@"+d, blob(d, 2), blob("sha256:"+strings.Repeat("e", 64), 3)),
		base("r.example/a@"+d, blob(d, 2)) + "," + base("r.example/a@"+d, blob(d, 2)),
		base("r.example/a:1@"+d, blob(d, 2)),
		base("r.example/a@"+d, blob("sha256:"+strings.Repeat("e", 64), 2)),
		base("r.example/a@"+d, blob(d, 30)),
		base("oci:/etc@"+d, blob(d, 1)),
		base("r.example/a@"+d) + `,{"Ref":"x"}`,
	} {
		f.Add([]byte(`{"schemaVersion":1,` + subject + `,"downloads":[],"bases":[` + s + `]}`))
	}
	lim := kit.Limits{MaxBases: 2, MaxBaseBlobs: 3, MaxBaseBytes: 1 << 20, MaxConfigBytes: 1 << 16}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := kit.ParseConfig(b, "config", lim)
		if err != nil {
			return
		}
		if len(c.Bases) > 2 {
			t.Fatalf("%d bases past MaxBases=2", len(c.Bases))
		}
		blobs := map[string]bool{}
		refs := map[string]bool{}
		var total int64
		for _, base := range c.Bases {
			if refs[base.Ref] || !strings.Contains(base.Ref, "@sha256:") || len(base.Blobs) == 0 || base.Blobs[0].Digest != base.Digest() {
				t.Fatalf("base %+v accepted", base)
			}
			refs[base.Ref] = true
			for _, x := range base.Blobs {
				if !blobs[x.Digest] {
					total += x.Size
				}
				blobs[x.Digest] = true
			}
		}
		if len(blobs) > 3 || total > 1<<20 {
			t.Fatalf("%d blobs, %d bytes past the limits", len(blobs), total)
		}
	})
}

// FuzzBaseFromPURL: whatever a material's purl says, BaseFromPURL returns
// an error or a registry reference pinned by digest.
func FuzzBaseFromPURL(f *testing.F) {
	d := "sha256:" + strings.Repeat("b", 64)
	for _, s := range []string{
		"pkg:docker/127.0.0.1:5000/base/busybox@1?digest=" + d + "&platform=linux%2Famd64",
		"pkg:docker/debian@bookworm",
		"pkg:docker/a%2F..%2F..@" + d,
		"pkg:docker/@?digest=",
		"pkg:docker/x@1?digest=" + d + "%0A",
	} {
		f.Add(s, "")
	}
	f.Fuzz(func(t *testing.T, purl, sha string) {
		ref, err := kit.BaseFromPURL(purl, sha)
		if err != nil {
			return
		}
		name, dg, ok := strings.Cut(ref, "@")
		if !ok || len(dg) != 71 || strings.ContainsAny(name, "@ \n") || strings.HasPrefix(name, "oci") && strings.Contains(name, ":/") {
			t.Fatalf("BaseFromPURL(%q, %q) = %q", purl, sha, ref)
		}
	})
}
