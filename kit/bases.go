package kit

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/limits"
	"github.com/reprover/reprover/internal/text"
)

// BaseAnnotation names the base image (REF@DIGEST, as the Dockerfile pins
// it) a blob of the kit belongs to; a blob two bases share names the first.
const BaseAnnotation = "dev.reprover.kit.base"

// Base is one base image a kit holds (--with-bases): the blobs a rebuild
// reads of it, the index or manifest its digest names first, then for each
// platform of the release its manifest (under an index), config and layers.
type Base struct {
	Ref   string     `json:"ref"` // HOST/REPO@sha256:…
	Blobs []BaseBlob `json:"blobs"`
}

// BaseBlob is one blob of a base image.
type BaseBlob struct {
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	MediaType string `json:"mediaType"`
}

// Digest is the digest the base's reference pins.
func (b Base) Digest() string {
	_, d, _ := strings.Cut(b.Ref, "@")
	return d
}

// checkBases refuses a list of bases no kit maker writes, or more than
// lim lets a kit hold: each reference pinned by digest and listed once,
// its first blob the one the digest names, a blob shared between bases
// described alike, the counts and bytes under lim.
func checkBases(bs []Base, lim Limits) error {
	if len(bs) > lim.MaxBases {
		return &limits.Error{What: "kit bases", Limit: "MaxBases", Max: int64(lim.MaxBases), Got: int64(len(bs))}
	}
	seen := map[string]bool{}
	blobs := map[string]BaseBlob{}
	var total int64
	for i, b := range bs {
		if err := checkBaseRef(b.Ref); err != nil {
			return fmt.Errorf("bases[%d]: %w", i, err)
		}
		if seen[b.Ref] {
			return fmt.Errorf("bases[%d]: %s is listed twice", i, text.Truncate(b.Ref, 256))
		}
		seen[b.Ref] = true
		if len(b.Blobs) == 0 || b.Blobs[0].Digest != b.Digest() {
			return fmt.Errorf("bases[%d] %s: its first blob is not the one its digest names", i, text.Truncate(b.Ref, 256))
		}
		for j, x := range b.Blobs {
			at := fmt.Sprintf("bases[%d].blobs[%d]", i, j)
			if _, err := image.ParseDigest(x.Digest); err != nil {
				return fmt.Errorf("%s: %w", at, err)
			}
			if x.MediaType == "" || len(x.MediaType) > 255 || strings.ContainsAny(x.MediaType, " \t\r\n") {
				return fmt.Errorf("%s %s: media type %q", at, x.Digest, text.Truncate(x.MediaType, 128))
			}
			if x.Size < 0 || x.Size > lim.MaxBlobBytes {
				return fmt.Errorf("%s %s: %w", at, x.Digest, &limits.Error{What: "base blob bytes", Limit: "MaxBlobBytes", Max: lim.MaxBlobBytes, Got: x.Size})
			}
			if prev, ok := blobs[x.Digest]; ok {
				if prev != x {
					return fmt.Errorf("%s %s: described otherwise by another base", at, x.Digest)
				}
				continue
			}
			blobs[x.Digest] = x
			if len(blobs) > lim.MaxBaseBlobs {
				return &limits.Error{What: "kit base blobs", Limit: "MaxBaseBlobs", Max: int64(lim.MaxBaseBlobs), Got: int64(len(blobs))}
			}
			if total += x.Size; total > lim.MaxBaseBytes {
				return &limits.Error{What: "kit base bytes (to " + at + ")", Limit: "MaxBaseBytes", Max: lim.MaxBaseBytes, Got: total}
			}
		}
	}
	return nil
}

// checkBaseRef accepts HOST/REPO@sha256:HEX (a registry reference pinned
// by digest, without a tag).
func checkBaseRef(ref string) error {
	if len(ref) > 1024 {
		return fmt.Errorf("base %q: longer than 1024 bytes", text.Truncate(ref, 80))
	}
	r, err := image.ParseReference(ref)
	if err != nil || r.Transport != image.Registry || !r.Pinned() || r.Tag != "" || r.String() != ref {
		return fmt.Errorf("base %q: want HOST/REPO@sha256:… (a registry reference pinned by digest)", text.Truncate(ref, 256))
	}
	return nil
}

// baseDescriptors are the kit manifest's blobs of the bases, each once,
// annotated with the first base that holds it.
func baseDescriptors(bs []Base) []v1.Descriptor {
	var out []v1.Descriptor
	seen := map[string]bool{}
	for _, b := range bs {
		for _, x := range b.Blobs {
			if seen[x.Digest] {
				continue
			}
			seen[x.Digest] = true
			h, _ := v1.NewHash(x.Digest)
			out = append(out, v1.Descriptor{MediaType: types.MediaType(x.MediaType), Digest: h, Size: x.Size,
				Annotations: map[string]string{BaseAnnotation: b.Ref}})
		}
	}
	return out
}

// BaseImages are the digests of the base images the kit holds, sorted
// (builder.Bases).
func (k *Kit) BaseImages() []string {
	var out []string
	for _, b := range k.Config.Bases {
		out = append(out, b.Digest())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// BaseBlobs are every blob of the kit's base images with its size
// (builder.Bases).
func (k *Kit) BaseBlobs() map[string]int64 {
	out := map[string]int64{}
	for _, b := range k.Config.Bases {
		for _, x := range b.Blobs {
			out[x.Digest] = x.Size
		}
	}
	return out
}

// OpenBase streams a blob of the kit's base images (builder.Bases);
// reading it to the end fails when its bytes are not its digest's.
func (k *Kit) OpenBase(digest string) (io.ReadCloser, error) {
	// The first base holding it, as baseDescriptors annotates it.
	for _, b := range k.Config.Bases {
		for _, x := range b.Blobs {
			if x.Digest == digest {
				h, _ := v1.NewHash(x.Digest)
				d := v1.Descriptor{MediaType: types.MediaType(x.MediaType), Digest: h, Size: x.Size,
					Annotations: map[string]string{BaseAnnotation: b.Ref}}
				return k.blobs.open(k.ctx, d, what(d))
			}
		}
	}
	return nil, fmt.Errorf("kit %s holds no base blob %s", k.digest, text.Truncate(digest, 80))
}

// keepBases fetches each base image (o.Bases) from its registry into dir:
// its index or manifest, and for each platform of the release (all when
// none is named) the manifest, config and layers, each checked against
// its digest as it is read and kept under it.
func keepBases(ctx context.Context, dir string, o MakeOptions, lim Limits) ([]Base, error) {
	refs := slices.Clone(o.Bases)
	slices.Sort(refs)
	refs = slices.Compact(refs)
	if len(refs) > lim.MaxBases {
		return nil, &limits.Error{What: "base images", Limit: "MaxBases", Max: int64(lim.MaxBases), Got: int64(len(refs))}
	}
	var want []v1.Platform
	for _, s := range o.Params.Platforms {
		p, err := image.ParsePlatform(s)
		if err != nil {
			return nil, fmt.Errorf("the release's platform %q: %w", text.Truncate(s, 80), err)
		}
		want = append(want, p)
	}
	ro := o.Registry
	ro.Limits = o.Limits
	k := &baseKeeper{dir: dir, lim: lim, opts: ro.image(), kept: map[string]bool{}}
	// image's own limits but for the manifest bytes: a base's blobs are
	// counted and bounded here (MaxBaseBlobs, MaxBaseBytes).
	k.opts.Limits = image.Limits{MaxManifestBytes: lim.MaxManifestBytes}
	out := make([]Base, 0, len(refs))
	for _, ref := range refs {
		if err := checkBaseRef(ref); err != nil {
			return nil, err
		}
		b, err := k.keep(ctx, ref, want)
		if err != nil {
			return nil, fmt.Errorf("base image %s: %w", text.Truncate(ref, 256), err)
		}
		out = append(out, b)
	}
	return out, checkBases(out, lim)
}

// baseKeeper keeps the blobs of base images in dir, each once.
type baseKeeper struct {
	dir   string
	lim   Limits
	opts  image.Options
	kept  map[string]bool
	total int64
}

func (k *baseKeeper) keep(ctx context.Context, ref string, want []v1.Platform) (Base, error) {
	r, err := image.Open(ctx, ref, k.opts)
	if err != nil {
		return Base{}, err
	}
	defer r.Close()
	b := Base{Ref: ref}
	if err := k.put(&b, v1.Descriptor{MediaType: r.MediaType, Digest: r.Digest, Size: int64(len(r.Raw))}, bytesOpener(r.Raw)); err != nil {
		return Base{}, err
	}
	var imgs []*image.Image
	for _, img := range r.Images {
		if !r.IsIndex || len(want) == 0 || slices.ContainsFunc(want, func(p v1.Platform) bool { return img.Platform.Satisfies(p) }) {
			imgs = append(imgs, img)
		}
	}
	if len(imgs) == 0 {
		return Base{}, fmt.Errorf("no image for the release's platforms %s", strings.Join(o2s(want), ", "))
	}
	for _, img := range imgs {
		if r.IsIndex {
			if err := k.put(&b, img.Descriptor, bytesOpener(img.RawManifest)); err != nil {
				return Base{}, err
			}
		}
		if err := k.put(&b, img.Manifest.Config, bytesOpener(img.RawConfig)); err != nil {
			return Base{}, err
		}
		for _, l := range img.Layers {
			if err := k.put(&b, l.Descriptor, func() (io.ReadCloser, error) { return l.Open(ctx) }); err != nil {
				return Base{}, err
			}
		}
	}
	return b, nil
}

// put keeps one blob under its digest, unless kept already, reading it
// through open (whose reader fails at its end when the bytes are not d's)
// and checking size and digest again before keeping it.
func (k *baseKeeper) put(b *Base, d v1.Descriptor, open func() (io.ReadCloser, error)) error {
	x := BaseBlob{Digest: d.Digest.String(), Size: d.Size, MediaType: string(d.MediaType)}
	if slices.Contains(b.Blobs, x) {
		return nil
	}
	b.Blobs = append(b.Blobs, x)
	if k.kept[x.Digest] {
		return nil
	}
	if d.Size < 0 || d.Size > k.lim.MaxBlobBytes {
		return fmt.Errorf("blob %s: %w", d.Digest, &limits.Error{What: "base blob bytes", Limit: "MaxBlobBytes", Max: k.lim.MaxBlobBytes, Got: d.Size})
	}
	if k.total += d.Size; k.total > k.lim.MaxBaseBytes {
		return &limits.Error{What: "base bytes", Limit: "MaxBaseBytes", Max: k.lim.MaxBaseBytes, Got: k.total}
	}
	if len(k.kept) >= k.lim.MaxBaseBlobs {
		return &limits.Error{What: "base blobs", Limit: "MaxBaseBlobs", Max: int64(k.lim.MaxBaseBlobs), Got: int64(len(k.kept) + 1)}
	}
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(k.dir, ".base-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	vr := verifying(rc, d, "blob "+d.Digest.String())
	_, err = io.Copy(tmp, vr)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(k.dir, d.Digest.Hex)); err != nil {
		return err
	}
	k.kept[x.Digest] = true
	return nil
}

func bytesOpener(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytesReader(b)), nil }
}

func o2s(ps []v1.Platform) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = image.PlatformString(p)
	}
	return out
}

// BaseFromPURL is the base image a provenance material names (BuildKit's
// pkg:docker purl: pkg:docker/NS/NAME@VERSION?digest=sha256:…&platform=…)
// as HOST/REPO@sha256:…, with the digest the reference pinned (the digest
// qualifier, else the version when a digest, else sha256 the material
// recorded). A name without a host is Docker Hub's, as BuildKit reads it.
func BaseFromPURL(purl, sha256 string) (string, error) {
	rest, ok := strings.CutPrefix(purl, "pkg:docker/")
	if !ok || len(purl) > 2048 {
		return "", fmt.Errorf("material %q: not a pkg:docker purl", text.Truncate(purl, 256))
	}
	path, query, _ := strings.Cut(rest, "?")
	path, version, _ := strings.Cut(path, "@")
	name, err := url.PathUnescape(path)
	if err != nil {
		return "", fmt.Errorf("material %q: %w", text.Truncate(purl, 256), err)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", fmt.Errorf("material %q: %w", text.Truncate(purl, 256), err)
	}
	d := q.Get("digest")
	if v, err := url.PathUnescape(version); d == "" && err == nil && strings.HasPrefix(v, "sha256:") {
		d = v
	}
	if d == "" && sha256 != "" {
		d = "sha256:" + sha256
	}
	if first, _, _ := strings.Cut(name, "/"); !strings.ContainsAny(first, ".:") && first != "localhost" {
		if !strings.Contains(name, "/") {
			name = "library/" + name
		}
		name = "docker.io/" + name
	}
	ref := name + "@" + d
	if err := checkBaseRef(ref); err != nil {
		return "", fmt.Errorf("material %q: %w", text.Truncate(purl, 256), err)
	}
	return ref, nil
}

// countLayers bounds a kit manifest's layers before its config is read:
// the downloads and the source by MaxDownloads (and one), the blobs of
// bases (annotated as such) by MaxBaseBlobs.
func countLayers(ls []v1.Descriptor, lim Limits) error {
	var bases int
	for _, l := range ls {
		if _, ok := l.Annotations[BaseAnnotation]; ok {
			bases++
		}
	}
	if n := len(ls) - bases; n > lim.MaxDownloads+1 {
		return &limits.Error{What: "kit layers", Limit: "MaxDownloads", Max: int64(lim.MaxDownloads) + 1, Got: int64(n)}
	}
	if bases > lim.MaxBaseBlobs {
		return &limits.Error{What: "kit layers of bases", Limit: "MaxBaseBlobs", Max: int64(lim.MaxBaseBlobs), Got: int64(bases)}
	}
	return nil
}
