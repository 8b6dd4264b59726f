package kit_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/limits"
	"github.com/reprover/reprover/kit"
	"github.com/reprover/reprover/pins"
)

// hostileSubject is the image every crafted kit claims to be for.
var hostileSubject = v1.Descriptor{MediaType: types.OCIImageIndex, Size: 100,
	Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("5", 64)}}

// crafted is a kit as someone else may write it: a config, its blobs,
// and a manifest built from them that cases then alter.
type crafted struct {
	cfg       kit.Config
	cfgRaw    []byte // instead of cfg, when set
	bodies    map[string]string
	manifest  func(m *v1.Manifest)
	blobBytes func(url string, b []byte) []byte
	source    []byte // a source pack, when set
	commit    string // the commit the config says the pack is (c… when "")
}

func newCrafted() *crafted {
	c := &crafted{bodies: map[string]string{"https://deb.example/InRelease": "Release\n", "https://deb.example/jq.deb": "jq bytes"}}
	c.cfg = kit.Config{SchemaVersion: kit.SchemaVersion, Subject: kit.Subject{Digest: hostileSubject.Digest.String()}}
	for _, u := range []string{"https://deb.example/InRelease", "https://deb.example/jq.deb"} {
		c.cfg.Downloads = append(c.cfg.Downloads, pins.Pin{URL: u, SHA256: sum(c.bodies[u]), Size: int64(len(c.bodies[u]))})
	}
	return c
}

// write writes the crafted kit as an OCI layout and returns oci:DIR.
func (c *crafted) write(t *testing.T) string {
	l := &layout{dir: t.TempDir()}
	raw := c.cfgRaw
	var src v1.Descriptor
	if c.source != nil {
		src = l.blob(c.source, kit.SourceMediaType)
		commit := c.commit
		if commit == "" {
			commit = strings.Repeat("c", 40)
		}
		src.Annotations = map[string]string{kit.CommitAnnotation: commit}
		c.cfg.Source = &kit.Source{Commit: commit, Pack: src.Digest.String(), Size: src.Size}
	}
	if raw == nil {
		var err error
		if raw, err = json.Marshal(c.cfg); err != nil {
			t.Fatal(err)
		}
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: kit.ArtifactType,
		Config:  l.blob(raw, kit.ConfigMediaType),
		Subject: &hostileSubject}
	for _, d := range c.cfg.Downloads {
		b := []byte(c.bodies[d.URL])
		if c.blobBytes != nil {
			b = c.blobBytes(d.URL, b)
		}
		desc := l.blob(b, kit.DownloadMediaType)
		desc.Digest.Hex, desc.Size = d.SHA256, d.Size // as the config says, whatever the bytes
		l.blobs[desc.Digest] = b
		desc.Annotations = map[string]string{kit.URLAnnotation: d.URL}
		m.Layers = append(m.Layers, desc)
	}
	if c.source != nil {
		m.Layers = append(m.Layers, src)
	}
	if c.manifest != nil {
		c.manifest(&m)
	}
	return l.write(t, m)
}

// TestOpenHostile: kits that lie or overreach are refused when opened,
// each with an error naming what; none is opened.
func TestOpenHostile(t *testing.T) {
	other := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("6", 64)}
	for _, c := range []struct {
		name    string
		alter   func(c *crafted)
		subject v1.Hash // the image opened for (hostileSubject's when zero)
		lim     kit.Limits
		want    string
		limit   string // the limits.Error's limit, when one
	}{
		{name: "kit of another image", subject: other,
			want: "the kit is for image sha256:5555555555555555555555555555555555555555555555555555555555555555, not sha256:6666"},
		{name: "config of another image", alter: func(c *crafted) { c.cfg.Subject.Digest = other.String() },
			want: "the kit's config is for image sha256:6666"},
		{name: "no subject", alter: func(c *crafted) { c.manifest = func(m *v1.Manifest) { m.Subject = nil } },
			want: "no subject"},
		{name: "not a kit", alter: func(c *crafted) {
			c.manifest = func(m *v1.Manifest) { m.ArtifactType = "application/vnd.example+json" }
		},
			want: `not a kit: artifactType "application/vnd.example+json"`},
		{name: "config media type", alter: func(c *crafted) {
			c.manifest = func(m *v1.Manifest) { m.Config.MediaType = types.OCIConfigJSON }
		}, want: "config media type"},
		{name: "annotation lies", alter: func(c *crafted) {
			c.manifest = func(m *v1.Manifest) { m.Layers[1].Annotations[kit.URLAnnotation] = "https://deb.example/other.deb" }
		}, want: `layers[1]: annotation dev.reprover.kit.url "https://deb.example/other.deb", the config lists "https://deb.example/jq.deb" there`},
		{name: "annotation missing", alter: func(c *crafted) {
			c.manifest = func(m *v1.Manifest) { m.Layers[0].Annotations = nil }
		}, want: `layers[0]: annotation dev.reprover.kit.url "", the config lists "https://deb.example/InRelease"`},
		{name: "extra annotation", alter: func(c *crafted) {
			c.manifest = func(m *v1.Manifest) { m.Layers[0].Annotations["x"] = "y" }
		}, want: "layers[0] https://deb.example/InRelease: annotations other than the config's"},
		{name: "layer digest not the pin", alter: func(c *crafted) {
			c.manifest = func(m *v1.Manifest) { m.Layers[1].Digest.Hex = strings.Repeat("7", 64) }
		}, want: "layers[1] https://deb.example/jq.deb: digest sha256:7777777777777777777777777777777777777777777777777777777777777777, the config pins sha256:" + sum("jq bytes")},
		{name: "layer size not the config's", alter: func(c *crafted) {
			c.manifest = func(m *v1.Manifest) { m.Layers[1].Size = 1 << 40 }
		}, want: "layers[1] https://deb.example/jq.deb: size 1099511627776, the config says 8"},
		{name: "negative layer size", alter: func(c *crafted) {
			c.manifest = func(m *v1.Manifest) { m.Layers[1].Size = -1 }
		}, want: "negative size -1"},
		{name: "layer the config does not list", alter: func(c *crafted) {
			c.manifest = func(m *v1.Manifest) { m.Layers = append(m.Layers, m.Layers[0]) }
		}, want: "3 layers, and the config lists 2 blobs"},
		{name: "foreign urls", alter: func(c *crafted) {
			c.manifest = func(m *v1.Manifest) { m.Layers[0].URLs = []string{"http://169.254.169.254/"} }
		}, want: "foreign urls"},
		{name: "duplicate URL", alter: func(c *crafted) {
			c.cfg.Downloads[1].URL = c.cfg.Downloads[0].URL
		}, want: "downloads[1]: https://deb.example/InRelease is listed twice"},
		{name: "file URL", alter: func(c *crafted) { c.cfg.Downloads[0].URL = "file:///etc/passwd" },
			want: `downloads[0]: url "file:///etc/passwd": want an absolute http or https URL`},
		{name: "URL without a host", alter: func(c *crafted) { c.cfg.Downloads[0].URL = "https:///x" },
			want: `downloads[0]: url "https:///x"`},
		{name: "URL with a newline", alter: func(c *crafted) { c.cfg.Downloads[0].URL = "https://deb.example/a\nb" },
			want: `downloads[0]: url "https://deb.example/a\nb"`},
		{name: "upper-case digest", alter: func(c *crafted) { c.cfg.Downloads[0].SHA256 = strings.ToUpper(c.cfg.Downloads[0].SHA256) },
			want: "non-hex character in hash: D"},
		{name: "negative download size", alter: func(c *crafted) { c.cfg.Downloads[0].Size = -5 },
			want: "negative size -5"},
		{name: "schema version", alter: func(c *crafted) { c.cfg.SchemaVersion = 2 },
			want: "schemaVersion 2, this reprover reads 1"},
		{name: "unknown config key", alter: func(c *crafted) {
			c.cfgRaw = []byte(`{"schemaVersion":1,"subject":{"digest":"` + hostileSubject.Digest.String() + `"},"downloads":[],"source":null,"params":{},"mirror":"x"}`)
			c.manifest = func(m *v1.Manifest) { m.Layers = nil }
		}, want: `unknown field "mirror"`},
		{name: "case-variant config key", alter: func(c *crafted) {
			c.cfgRaw = []byte(`{"schemaVersion":1,"subject":{"digest":"` + hostileSubject.Digest.String() + `"},"Downloads":[],"source":null,"params":{}}`)
			c.manifest = func(m *v1.Manifest) { m.Layers = nil }
		}, want: `key "Downloads" matches field "downloads" only in case`},
		{name: "source commit not an id", alter: func(c *crafted) {
			c.cfg.Source = &kit.Source{Commit: "--upload-pack=x", Pack: "sha256:" + strings.Repeat("8", 64)}
		}, want: `source.commit "--upload-pack=x": not a full commit id`},
		{name: "many layers", lim: kit.Limits{MaxDownloads: 1}, alter: func(c *crafted) {
			c.manifest = func(m *v1.Manifest) { m.Layers = append(m.Layers, m.Layers[0]) }
		}, want: "kit layers: 3 exceeds limit MaxDownloads=2", limit: "MaxDownloads"},
		{name: "many downloads in the config", lim: kit.Limits{MaxDownloads: 1}, alter: func(c *crafted) {
			c.manifest = func(m *v1.Manifest) { m.Layers = m.Layers[:1] }
		}, want: "kit downloads: 2 exceeds limit MaxDownloads=1", limit: "MaxDownloads"},
		{name: "huge download", alter: func(c *crafted) { c.cfg.Downloads[1].Size = 10 << 30 },
			want: "download bytes: 10737418240 exceeds limit MaxBlobBytes=4294967296", limit: "MaxBlobBytes"},
		{name: "huge kit", lim: kit.Limits{MaxKitBytes: 10},
			want: "exceeds limit MaxKitBytes=10", limit: "MaxKitBytes"},
		{name: "long URL", lim: kit.Limits{MaxURLBytes: 20},
			want: "URL bytes: 29 exceeds limit MaxURLBytes=20", limit: "MaxURLBytes"},
		{name: "huge config", lim: kit.Limits{MaxConfigBytes: 100},
			want: "exceeds limit MaxConfigBytes=100", limit: "MaxConfigBytes"},
		{name: "huge manifest", lim: kit.Limits{MaxManifestBytes: 100},
			want: "exceeds limit MaxManifestBytes=100", limit: "MaxManifestBytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cr := newCrafted()
			if c.alter != nil {
				c.alter(cr)
			}
			where := cr.write(t)
			subject := c.subject
			if subject.Hex == "" {
				subject = hostileSubject.Digest
			}
			k, err := kit.Open(t.Context(), where, "", subject, kit.Options{Limits: c.lim})
			if err == nil {
				k.Close()
				t.Fatal("opened")
			}
			if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "") {
				t.Errorf("error:\n%v\nwant it to say %q", err, c.want)
			}
			var le *limits.Error
			if errors.As(err, &le) != (c.limit != "") || c.limit != "" && le.Limit != c.limit {
				t.Errorf("limit error %v, want limit %q", le, c.limit)
			}
		})
	}
}

// TestBlobsHostile: a kit whose blobs are not what its config pins opens,
// and reading such a blob fails at its end naming the URL and both
// digests (or sizes); the other downloads still read. Check refuses a kit
// that lacks a pinned download or holds other bytes, naming the URL.
func TestBlobsHostile(t *testing.T) {
	const jq = "https://deb.example/jq.deb"
	for _, c := range []struct {
		name string
		b    func([]byte) []byte
		want string
	}{
		{"tampered", func(b []byte) []byte { return []byte("JQ BYTES") },
			"download " + jq + " sha256:" + sum("jq bytes") + ": digest mismatch: content hashes to sha256:" + sum("JQ BYTES")},
		{"truncated", func(b []byte) []byte { return b[:3] }, "download " + jq + " sha256:" + sum("jq bytes") + ": size mismatch: descriptor says 8 bytes, got 3"},
		{"longer", func(b []byte) []byte { return append(b, "and more"...) }, "size mismatch: descriptor says 8 bytes, got 9"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cr := newCrafted()
			cr.blobBytes = func(url string, b []byte) []byte {
				if url == jq {
					return c.b(b)
				}
				return b
			}
			k, err := kit.Open(t.Context(), cr.write(t), "", hostileSubject.Digest, kit.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer k.Close()
			_, err = readAll(k, jq)
			var de *image.DigestError
			if err == nil || !strings.Contains(err.Error(), c.want) || !errors.As(err, &de) {
				t.Errorf("reading the tampered blob: %v, want a DigestError saying %q", err, c.want)
			}
			if got, err := readAll(k, "https://deb.example/InRelease"); err != nil || got != "Release\n" {
				t.Errorf("the other blob: %q, %v", got, err)
			}
		})
	}
	cr := newCrafted()
	k, err := kit.Open(t.Context(), cr.write(t), "", hostileSubject.Digest, kit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if _, err := k.Open("https://deb.example/not-in-kit"); err == nil || !strings.Contains(err.Error(), "holds no download of https://deb.example/not-in-kit") {
		t.Errorf("a URL the kit does not hold: %v", err)
	}
	release := append([]pins.Pin(nil), cr.cfg.Downloads...)
	for _, c := range []struct {
		name string
		pins []pins.Pin
		want string
	}{
		{"all held", release, ""},
		{"one lacking", append(release, pins.Pin{URL: "https://deb.example/Packages.gz", SHA256: strings.Repeat("1", 64)}),
			"lacks 1 pinned download(s): https://deb.example/Packages.gz"},
		{"other bytes", []pins.Pin{{URL: jq, SHA256: strings.Repeat("2", 64)}},
			fmt.Sprintf("%s: kit holds sha256:%s, the release pins sha256:%s", jq, sum("jq bytes"), strings.Repeat("2", 64))},
		{"other size", []pins.Pin{{URL: jq, SHA256: sum("jq bytes"), Size: 9}}, jq + ": kit holds 8 bytes, the release pins 9"},
	} {
		err := k.Check(c.pins)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: Check: %v, want %q", c.name, err, c.want)
		}
	}
}
