package kit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/gitid"
	"github.com/reprover/reprover/internal/limits"
	"github.com/reprover/reprover/internal/strictjson"
	"github.com/reprover/reprover/internal/text"
	"github.com/reprover/reprover/pins"
)

// marshalConfig is the config's bytes: the same for the same kit.
func marshalConfig(c Config) ([]byte, error) {
	if c.Downloads == nil {
		c.Downloads = []pins.Pin{}
	}
	return json.Marshal(c)
}

// ParseConfig checks and decodes a kit's config blob; what names it in
// errors. Every count and size is under lim, every URL an absolute
// http(s) URL listed once, every digest 64 lower-case hex digits.
func ParseConfig(b []byte, what string, lim Limits) (*Config, error) {
	lim = lim.withDefaults()
	if int64(len(b)) > lim.MaxConfigBytes {
		return nil, fmt.Errorf("%s: %w", what, &limits.Error{What: "kit config bytes", Limit: "MaxConfigBytes", Max: lim.MaxConfigBytes, Got: int64(len(b))})
	}
	var c Config
	if err := strictjson.UnmarshalKnown(b, &c, lim.MaxJSONDepth); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if c.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("%s: schemaVersion %d, this reprover reads %d", what, c.SchemaVersion, SchemaVersion)
	}
	if _, err := image.ParseDigest(c.Subject.Digest); err != nil {
		return nil, fmt.Errorf("%s: subject.digest: %w", what, err)
	}
	if err := checkDownloads(c.Downloads, lim); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if s := c.Source; s != nil {
		if !gitid.Valid(s.Commit) {
			return nil, fmt.Errorf("%s: source.commit %q: not a full commit id", what, text.Truncate(s.Commit, 80))
		}
		if _, err := image.ParseDigest(s.Pack); err != nil {
			return nil, fmt.Errorf("%s: source.pack: %w", what, err)
		}
		if s.Size < 0 || s.Size > lim.MaxSourceBytes {
			return nil, fmt.Errorf("%s: source.size: %w", what, &limits.Error{What: "source pack bytes", Limit: "MaxSourceBytes", Max: lim.MaxSourceBytes, Got: s.Size})
		}
	}
	if err := checkBases(c.Bases, lim); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return &c, nil
}

// checkDownloads refuses a list of downloads no release can have made, or
// more than lim lets a kit hold.
func checkDownloads(ds []pins.Pin, lim Limits) error {
	if len(ds) > lim.MaxDownloads {
		return &limits.Error{What: "kit downloads", Limit: "MaxDownloads", Max: int64(lim.MaxDownloads), Got: int64(len(ds))}
	}
	seen := make(map[string]bool, len(ds))
	var total int64
	for i, p := range ds {
		if len(p.URL) > lim.MaxURLBytes {
			return fmt.Errorf("downloads[%d]: %w", i, &limits.Error{What: "URL bytes", Limit: "MaxURLBytes", Max: int64(lim.MaxURLBytes), Got: int64(len(p.URL))})
		}
		if err := pins.Validate(p); err != nil {
			return fmt.Errorf("downloads[%d]: %w", i, err)
		}
		if p.Size > lim.MaxBlobBytes {
			return fmt.Errorf("downloads[%d] %s: %w", i, text.Truncate(p.URL, 256), &limits.Error{What: "download bytes", Limit: "MaxBlobBytes", Max: lim.MaxBlobBytes, Got: p.Size})
		}
		if seen[p.URL] {
			return fmt.Errorf("downloads[%d]: %s is listed twice", i, text.Truncate(p.URL, 256))
		}
		seen[p.URL] = true
		if total += p.Size; total > lim.MaxKitBytes {
			return &limits.Error{What: "kit bytes (downloads[0.." + fmt.Sprint(i) + "])", Limit: "MaxKitBytes", Max: lim.MaxKitBytes, Got: total}
		}
	}
	return nil
}

// manifestOf is the kit manifest for a config: the config blob, one blob
// per download in the config's order, then the source pack.
func manifestOf(c Config, cfgRaw []byte, subject v1.Descriptor) v1.Manifest {
	h, n, _ := v1.SHA256(bytes.NewReader(cfgRaw))
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: ArtifactType,
		Config:  v1.Descriptor{MediaType: ConfigMediaType, Digest: h, Size: n},
		Subject: &v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size},
		Layers:  layersOf(c)}
	return m
}

func layersOf(c Config) []v1.Descriptor {
	out := make([]v1.Descriptor, 0, len(c.Downloads)+1)
	for _, p := range c.Downloads {
		out = append(out, downloadDescriptor(p))
	}
	if c.Source != nil {
		out = append(out, sourceDescriptor(*c.Source))
	}
	return append(out, baseDescriptors(c.Bases)...)
}

func sourceDescriptor(s Source) v1.Descriptor {
	h, _ := v1.NewHash(s.Pack)
	return v1.Descriptor{MediaType: SourceMediaType, Digest: h, Size: s.Size,
		Annotations: map[string]string{CommitAnnotation: s.Commit}}
}

// checkManifest refuses a kit manifest that says other than its config:
// another artifact or config type, a layer the config does not list, or
// one whose digest, size, media type or annotations differ from it.
func checkManifest(m *v1.Manifest, c *Config) error {
	if m.ArtifactType != ArtifactType {
		return fmt.Errorf("artifactType %q, a kit is %s", text.Truncate(m.ArtifactType, 128), ArtifactType)
	}
	if m.Config.MediaType != ConfigMediaType {
		return fmt.Errorf("config media type %q, a kit's is %s", text.Truncate(string(m.Config.MediaType), 128), ConfigMediaType)
	}
	if m.Subject == nil {
		return fmt.Errorf("no subject: a kit names the image it is for")
	}
	if m.Subject.Digest.String() != c.Subject.Digest {
		return fmt.Errorf("the manifest's subject %s and the config's %s disagree", m.Subject.Digest, text.Truncate(c.Subject.Digest, 80))
	}
	want := layersOf(*c)
	if len(m.Layers) != len(want) {
		return fmt.Errorf("%d layers, and the config lists %d blobs", len(m.Layers), len(want))
	}
	for i, l := range m.Layers {
		w := want[i]
		switch {
		case l.Annotations[URLAnnotation] != w.Annotations[URLAnnotation]:
			return fmt.Errorf("layers[%d]: annotation %s %q, the config lists %q there", i, URLAnnotation,
				text.Truncate(l.Annotations[URLAnnotation], 256), text.Truncate(w.Annotations[URLAnnotation], 256))
		case l.Digest != w.Digest:
			return fmt.Errorf("layers[%d] %s: digest %s, the config pins %s", i, what(w), l.Digest, w.Digest)
		case l.Size != w.Size:
			return fmt.Errorf("layers[%d] %s: size %d, the config says %d", i, what(w), l.Size, w.Size)
		case l.MediaType != w.MediaType:
			return fmt.Errorf("layers[%d] %s: media type %q, want %s", i, what(w), text.Truncate(string(l.MediaType), 128), w.MediaType)
		case !maps.Equal(l.Annotations, w.Annotations):
			return fmt.Errorf("layers[%d] %s: annotations other than the config's", i, what(w))
		case len(l.URLs) > 0:
			return fmt.Errorf("layers[%d] %s: foreign urls: a kit holds its blobs", i, what(w))
		}
	}
	return nil
}

// what names a kit blob in errors: its URL, or the source tree.
func what(d v1.Descriptor) string {
	if u, ok := d.Annotations[URLAnnotation]; ok {
		return text.Truncate(u, 256)
	}
	if b, ok := d.Annotations[BaseAnnotation]; ok {
		return "base " + text.Truncate(b, 256) + " blob " + d.Digest.String()
	}
	return "source pack at " + d.Annotations[CommitAnnotation]
}
