package image

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"slices"
	"strings"

	"github.com/containerd/platforms"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/reprover/reprover/internal/hosts"
	"github.com/reprover/reprover/internal/param"
	"github.com/reprover/reprover/internal/strictjson"
	"github.com/reprover/reprover/internal/text"
)

// Options configure Open.
type Options struct {
	// Platforms selects the platform images of an index; empty means all.
	// Each platform named must have an image, or Open fails naming it.
	Platforms []v1.Platform
	// InsecureRegistries are hosts (HOST or HOST:PORT) reached over plain
	// HTTP. Loopback hosts always are; every other host needs HTTPS.
	InsecureRegistries []string
	// Keychain gives registry credentials; nil means the Docker config and
	// its credential helpers.
	Keychain authn.Keychain
	// Transport overrides the HTTP transport (tests, proxies).
	Transport http.RoundTripper
	Limits    Limits
}

func (o Options) insecure(host string) bool {
	if hosts.Loopback(host) {
		return true
	}
	hostOnly, _, _ := strings.Cut(host, ":")
	for _, h := range o.InsecureRegistries {
		if h == host || h == hostOnly {
			return true
		}
	}
	return false
}

// Resolved is what a reference names: one image, or an index of platform
// images.
type Resolved struct {
	Ref       Reference
	Digest    v1.Hash // of the top-level document
	MediaType types.MediaType
	Raw       []byte // the top-level document as received
	IsIndex   bool
	// Images are the platform images, in index order, attestation
	// manifests excluded; for a single manifest, that one image.
	Images []*Image
	// Attestations are the index entries recognised as BuildKit
	// attestation manifests (unknown/unknown, vnd.docker.reference.type).
	Attestations []v1.Descriptor
	// Skipped counts index entries left out by Options.Platforms.
	Skipped int

	st store
}

// Close releases the files an oci-archive holds open.
func (r *Resolved) Close() error { return r.st.close() }

// Image is one platform image: its manifest, config and layers.
type Image struct {
	Platform    v1.Platform
	Descriptor  v1.Descriptor // of the manifest
	RawManifest []byte
	Manifest    *v1.Manifest
	RawConfig   []byte
	Config      *v1.ConfigFile
	Layers      []Layer
}

// Layer is one layer of an image, as its manifest describes it.
type Layer struct {
	Index      int
	Descriptor v1.Descriptor
	DiffID     v1.Hash // from the config's rootfs.diff_ids
	st         store
}

// Open returns the layer's compressed bytes; reading them to the end
// checks their digest and size, and a mismatch is an error naming the blob.
func (l Layer) Open(ctx context.Context) (io.ReadCloser, error) {
	// Foreign layers are fetched from the store like any other blob:
	// their urls are never followed.
	rc, err := l.st.blob(ctx, l.Descriptor.Digest)
	if err != nil {
		return nil, fmt.Errorf("layer %d %s: %w", l.Index, l.Descriptor.Digest, err)
	}
	return newVerifyingReader(rc, fmt.Sprintf("layer %d", l.Index), l.Descriptor.Digest, l.Descriptor.Size), nil
}

// Open resolves ref, fetches and checks its manifests and configs, and
// returns its platform images. It reads no layer.
func Open(ctx context.Context, ref string, o Options) (*Resolved, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return nil, err
	}
	lim := o.Limits.withDefaults()
	st, err := openStore(r, o, lim)
	if err != nil {
		return nil, err
	}
	res, err := open(ctx, r, st, o, lim)
	if err != nil {
		st.close()
		return nil, err
	}
	return res, nil
}

func open(ctx context.Context, r Reference, st store, o Options, lim Limits) (*Resolved, error) {
	raw, declared, err := st.top(ctx)
	if err != nil {
		return nil, err
	}
	what := "image " + r.String()
	if int64(len(raw)) > lim.MaxManifestBytes {
		return nil, &LimitError{What: what, Limit: "MaxManifestBytes", Max: lim.MaxManifestBytes, Got: int64(len(raw))}
	}
	res := &Resolved{Ref: r, Raw: raw, st: st,
		Digest: v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(raw))}}
	if r.Pinned() && res.Digest != r.Digest {
		return nil, &DigestError{What: what, Want: r.Digest, Got: res.Digest}
	}
	kind, mt, err := classify(raw, declared, lim)
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w", what, res.Digest, err)
	}
	res.MediaType = mt
	top := v1.Descriptor{MediaType: mt, Digest: res.Digest, Size: int64(len(raw))}
	if kind == kindManifest {
		img, err := openImage(ctx, st, top, raw, nil, lim)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if len(o.Platforms) > 0 && !matchAny(o.Platforms, img.Platform) {
			return nil, fmt.Errorf("%s is %s, not %s", what, img.Platform.String(), platformList(o.Platforms))
		}
		res.Images = []*Image{img}
		return res, checkPlatforms(what, o.Platforms, res.Images)
	}
	res.IsIndex = true
	var idx v1.IndexManifest
	if err := strictjson.Unmarshal(raw, &idx, lim.MaxJSONDepth); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if len(idx.Manifests) > lim.MaxManifests {
		return nil, &LimitError{What: what + " manifests", Limit: "MaxManifests", Max: int64(lim.MaxManifests), Got: int64(len(idx.Manifests))}
	}
	for i, d := range idx.Manifests {
		if err := checkDescriptor(d); err != nil {
			return nil, fmt.Errorf("%s: manifests[%d]: %w", what, i, err)
		}
		if IsAttestation(d) {
			res.Attestations = append(res.Attestations, d)
			continue
		}
		if d.MediaType.IsIndex() {
			return nil, fmt.Errorf("%s: manifests[%d] %s is a nested index, which reprover does not follow", what, i, d.Digest)
		}
		if d.Platform != nil && len(o.Platforms) > 0 && !matchAny(o.Platforms, *d.Platform) {
			res.Skipped++
			continue
		}
		b, err := fetchManifest(ctx, st, d, lim)
		if err != nil {
			return nil, fmt.Errorf("%s: manifests[%d]: %w", what, i, err)
		}
		if k, _, err := classify(b, d.MediaType, lim); err != nil {
			return nil, fmt.Errorf("%s: manifest %s: %w", what, d.Digest, err)
		} else if k != kindManifest {
			return nil, fmt.Errorf("%s: manifests[%d] %s is not an image manifest", what, i, d.Digest)
		}
		img, err := openImage(ctx, st, d, b, d.Platform, lim)
		if err != nil {
			return nil, fmt.Errorf("%s: manifest %s: %w", what, d.Digest, err)
		}
		if d.Platform == nil && len(o.Platforms) > 0 && !matchAny(o.Platforms, img.Platform) {
			res.Skipped++
			continue
		}
		res.Images = append(res.Images, img)
	}
	if len(res.Images) == 0 && len(o.Platforms) == 0 {
		return nil, fmt.Errorf("%s: index has no image manifests", what)
	}
	if err := checkPlatforms(what, o.Platforms, res.Images); err != nil {
		return nil, err
	}
	return res, nil
}

// checkPlatforms fails unless every platform asked for has an image: with
// two asked and one found, the missing one must not be dropped silently
// (a verification would then cover fewer platforms than it was asked to).
func checkPlatforms(what string, want []v1.Platform, imgs []*Image) error {
	var missing []v1.Platform
	for _, p := range want {
		if !slices.ContainsFunc(imgs, func(img *Image) bool { return matchAny([]v1.Platform{p}, img.Platform) }) {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s has no image for %s", what, platformList(missing))
	}
	return nil
}

// fetchManifest reads a child manifest and checks it against its descriptor.
func fetchManifest(ctx context.Context, st store, d v1.Descriptor, lim Limits) ([]byte, error) {
	if d.Size > lim.MaxManifestBytes {
		return nil, &LimitError{What: "manifest " + d.Digest.String(), Limit: "MaxManifestBytes", Max: lim.MaxManifestBytes, Got: d.Size}
	}
	if rs, ok := st.(*registryStore); ok {
		b, err := rs.manifest(ctx, d.Digest)
		if err != nil {
			return nil, err
		}
		if int64(len(b)) > lim.MaxManifestBytes {
			return nil, &LimitError{What: "manifest " + d.Digest.String(), Limit: "MaxManifestBytes", Max: lim.MaxManifestBytes, Got: int64(len(b))}
		}
		return b, verifyBytes(b, "manifest", d.Digest, d.Size)
	}
	return readBlobVerified(ctx, st, d, lim.MaxManifestBytes, "manifest", "MaxManifestBytes")
}

func openImage(ctx context.Context, st store, desc v1.Descriptor, raw []byte, p *v1.Platform, lim Limits) (*Image, error) {
	m := new(v1.Manifest)
	if err := strictjson.Unmarshal(raw, m, lim.MaxJSONDepth); err != nil {
		return nil, err
	}
	if len(m.Layers) > lim.MaxLayers {
		return nil, &LimitError{What: "manifest " + desc.Digest.String() + " layers", Limit: "MaxLayers", Max: int64(lim.MaxLayers), Got: int64(len(m.Layers))}
	}
	if err := checkDescriptor(m.Config); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if m.Config.MediaType.IsLayer() || m.Config.MediaType.IsIndex() || m.Config.MediaType.IsImage() {
		return nil, fmt.Errorf("config %s has media type %s", m.Config.Digest, m.Config.MediaType)
	}
	cfgRaw, err := readBlobVerified(ctx, st, m.Config, lim.MaxConfigBytes, "config", "MaxConfigBytes")
	if err != nil {
		return nil, err
	}
	cfg := new(v1.ConfigFile)
	if err := strictjson.Unmarshal(cfgRaw, cfg, lim.MaxJSONDepth); err != nil {
		return nil, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	if n := len(cfg.RootFS.DiffIDs); n != len(m.Layers) {
		return nil, fmt.Errorf("config %s lists %d diff_ids for the manifest's %d layers", m.Config.Digest, n, len(m.Layers))
	}
	img := &Image{Descriptor: desc, RawManifest: raw, Manifest: m, RawConfig: cfgRaw, Config: cfg}
	if p != nil {
		img.Platform = *p
	} else {
		img.Platform = v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant, OSVersion: cfg.OSVersion}
	}
	for i, l := range m.Layers {
		if err := checkDescriptor(l); err != nil {
			return nil, fmt.Errorf("layers[%d]: %w", i, err)
		}
		if strings.Contains(string(l.MediaType), "encrypted") {
			return nil, fmt.Errorf("layers[%d] %s: encrypted layers (%s) are not supported", i, l.Digest, l.MediaType)
		}
		img.Layers = append(img.Layers, Layer{Index: i, Descriptor: l, DiffID: cfg.RootFS.DiffIDs[i], st: st})
	}
	return img, nil
}

// checkDescriptor refuses digests and sizes that must not reach a URL,
// a file name or an allocation.
func checkDescriptor(d v1.Descriptor) error {
	if _, err := ParseDigest(d.Digest.String()); err != nil {
		return err
	}
	if d.Size < 0 {
		return fmt.Errorf("%s: negative size %d", d.Digest, d.Size)
	}
	return nil
}

type docKind int

const (
	kindManifest docKind = iota
	kindIndex
)

// classify decides what a document is from its own content, refusing
// ambiguous documents and ones whose mediaType contradicts the descriptor
// or the registry's Content-Type.
func classify(raw []byte, declared types.MediaType, lim Limits) (docKind, types.MediaType, error) {
	// Decoded strictly, the probe refuses "Layers" beside or instead of
	// "layers"; the document's full parse then refuses the descriptors'
	// and platforms' keys in another case.
	var probe struct {
		SchemaVersion json.Number      `json:"schemaVersion"`
		MediaType     types.MediaType  `json:"mediaType"`
		Manifests     *json.RawMessage `json:"manifests"`
		Layers        *json.RawMessage `json:"layers"`
		Config        *json.RawMessage `json:"config"`
		FSLayers      *json.RawMessage `json:"fsLayers"`
	}
	if err := strictjson.Unmarshal(raw, &probe, lim.MaxJSONDepth); err != nil {
		if te := (*json.UnmarshalTypeError)(nil); errors.As(err, &te) {
			return 0, "", fmt.Errorf("not a manifest: %w", err)
		}
		return 0, "", err
	}
	if probe.FSLayers != nil || probe.SchemaVersion == "1" {
		return 0, "", fmt.Errorf("docker schema 1 manifests are not supported")
	}
	if probe.SchemaVersion != "2" {
		return 0, "", fmt.Errorf("schemaVersion %q, want 2", text.Truncate(string(probe.SchemaVersion), 20))
	}
	isIndex := probe.Manifests != nil
	isManifest := probe.Layers != nil || probe.Config != nil
	switch {
	case isIndex && isManifest:
		return 0, "", fmt.Errorf("ambiguous document: has both manifests and layers/config")
	case !isIndex && !isManifest:
		return 0, "", fmt.Errorf("neither an index nor a manifest")
	}
	mt := probe.MediaType
	if mt == "" {
		mt = declared
	}
	if declared != "" && probe.MediaType != "" && declared != probe.MediaType && !isGenericType(declared) {
		return 0, "", fmt.Errorf("mediaType %s contradicts the descriptor's %s", probe.MediaType, declared)
	}
	if mt != "" && !isGenericType(mt) {
		if isIndex && !mt.IsIndex() || isManifest && !mt.IsImage() {
			return 0, "", fmt.Errorf("content does not match its media type %s", mt)
		}
	}
	if isIndex {
		if mt == "" || isGenericType(mt) {
			mt = types.OCIImageIndex
		}
		return kindIndex, mt, nil
	}
	if mt == "" || isGenericType(mt) {
		mt = types.OCIManifestSchema1
	}
	return kindManifest, mt, nil
}

// isGenericType: Content-Types some registries and layouts answer with that
// say nothing about the document.
func isGenericType(mt types.MediaType) bool {
	s := string(mt)
	return s == "application/json" || s == "application/octet-stream" || strings.HasPrefix(s, "text/plain")
}

// IsAttestation recognises BuildKit's attestation manifests in an index.
//
// Only the unknown/unknown platform counts: an entry with a real platform
// is an image a runtime may pull, whatever its annotations say, and it is
// compared like one.
func IsAttestation(d v1.Descriptor) bool {
	return d.Platform != nil && d.Platform.OS == "unknown" && d.Platform.Architecture == "unknown"
}

func matchAny(want []v1.Platform, p v1.Platform) bool {
	got := ocispec.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
	return slices.ContainsFunc(want, func(w v1.Platform) bool {
		return platforms.OnlyStrict(ocispec.Platform{OS: w.OS, Architecture: w.Architecture, Variant: w.Variant}).Match(got)
	})
}

func platformList(ps []v1.Platform) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

// PlatformString is OS/ARCH[/VARIANT], the form ParsePlatform reads.
func PlatformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// ParsePlatform parses OS/ARCH[/VARIANT] as containerd does.
func ParsePlatform(s string) (v1.Platform, error) {
	p, err := platforms.Parse(s)
	if err != nil {
		return v1.Platform{}, fmt.Errorf("platform %q: %w", s, err)
	}
	p = platforms.Normalize(p)
	return v1.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}, nil
}

// plainHTTPGuard refuses plain-HTTP requests to hosts not allowed to use
// it: go-containerregistry falls back to HTTP for private addresses.
type plainHTTPGuard struct {
	next    http.RoundTripper
	allowed func(host string) bool
}

func (g plainHTTPGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.allowed(req.URL.Host) {
		return nil, param.Errorf("InsecureRegistries", "refusing plain HTTP to %s (HTTPS is required unless the host is loopback or named by {InsecureRegistries})", req.URL.Host)
	}
	return g.next.RoundTrip(req)
}

// manifestLimit bounds manifest responses at MaxManifestBytes as they
// arrive: go-containerregistry reads up to 100 MiB of a manifest before it
// gives up, so a body that never ends cost 100 MiB and an error naming no
// limit of ours.
type manifestLimit struct {
	next http.RoundTripper
	max  int64
}

func (m manifestLimit) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := m.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	orig := req // a redirect's request: judge by the one first asked
	for orig.Response != nil && orig.Response.Request != nil {
		orig = orig.Response.Request
	}
	if dir, _ := path.Split(orig.URL.Path); strings.HasSuffix(dir, "/manifests/") {
		resp.Body = &limitedBody{ReadCloser: resp.Body, max: m.max, what: "manifest " + orig.URL.Host + orig.URL.Path}
	}
	return resp, nil
}

type limitedBody struct {
	io.ReadCloser
	max, n int64
	what   string
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.max-b.n < int64(len(p))-1 {
		p = p[:b.max-b.n+1]
	}
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if b.n > b.max {
		return 0, &LimitError{What: b.what, Limit: "MaxManifestBytes", Max: b.max, Got: b.n}
	}
	return n, err
}

// GuardedTransport wraps next (nil: http.DefaultTransport) so that plain
// HTTP goes only to loopback hosts and the insecure ones named, and every
// manifest response is cut off at DefaultLimits.MaxManifestBytes: for
// registry reads outside Open (attestations, referrers).
func GuardedTransport(next http.RoundTripper, insecure []string) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	o := Options{InsecureRegistries: insecure}
	return manifestLimit{next: plainHTTPGuard{next: next, allowed: o.insecure}, max: DefaultLimits.MaxManifestBytes}
}

// openStore is where r's blobs are read from: a registry (plain HTTP only
// where allowed, manifests bounded), an OCI layout or an archive.
func openStore(r Reference, o Options, lim Limits) (store, error) {
	switch r.Transport {
	case Registry:
		if o.Transport == nil {
			o.Transport = http.DefaultTransport
		}
		o.Transport = plainHTTPGuard{next: o.Transport, allowed: o.insecure}
		o.Transport = manifestLimit{next: o.Transport, max: lim.MaxManifestBytes}
		return newRegistryStore(r, o)
	case Layout:
		return newLayoutStore(r, lim.MaxManifestBytes)
	case Archive:
		return newArchiveStore(r, lim.MaxManifestBytes, 4*lim.MaxManifests*(lim.MaxLayers+2))
	}
	return nil, fmt.Errorf("%s: unknown transport %q", r, r.Transport)
}
