package kit

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/limits"
	"github.com/reprover/reprover/internal/text"
	"github.com/reprover/reprover/pins"
)

// The kit's media and artifact types and annotations (docs/kit.md).
const (
	// ArtifactType is the kit manifest's artifactType.
	ArtifactType = "application/vnd.reprover.kit.v1+json"
	// ConfigMediaType is the kit's config blob (docs/kit.schema.json).
	ConfigMediaType types.MediaType = "application/vnd.reprover.kit.config.v1+json"
	// DownloadMediaType is one pinned download's bytes, as served.
	DownloadMediaType types.MediaType = "application/octet-stream"
	// SourceMediaType is the source at the commit: a git pack of the
	// commit object, its trees and its blobs (docs/kit.md).
	SourceMediaType types.MediaType = "application/vnd.reprover.kit.source.v1.git-pack"
	// URLAnnotation names a download blob's URL (for people: the config
	// is authoritative, and a disagreement is refused).
	URLAnnotation = "dev.reprover.kit.url"
	// CommitAnnotation names the commit the source pack holds.
	CommitAnnotation = "dev.reprover.kit.commit"
	// SchemaVersion is the config's version this reprover writes and reads.
	SchemaVersion = 1
)

// Config is the kit's config blob: what it holds and for which image.
type Config struct {
	SchemaVersion int     `json:"schemaVersion"`
	Subject       Subject `json:"subject"`
	// Downloads are the release's pinned downloads, sorted by URL, each
	// with the size of its bytes.
	Downloads []pins.Pin `json:"downloads"`
	Source    *Source    `json:"source"`
	Params    Params     `json:"params"`
	// Bases are the base images kept (with-bases), sorted by reference.
	Bases []Base `json:"bases,omitempty"`
}

// Subject is the published image a kit is for.
type Subject struct {
	Digest string `json:"digest"`         // sha256:… of the index or manifest
	Name   string `json:"name,omitempty"` // the repository it was published under
}

// Source is the source at a commit, kept as a git pack of the commit's
// objects (Pack is the blob's digest, Size its size): git computes their
// ids when the kit is read (Kit.ImportSource), so the tree is the
// commit's, whoever made the kit.
type Source struct {
	Commit string `json:"commit"`
	Pack   string `json:"pack"`
	Size   int64  `json:"size"`
}

// Params are the build parameters the release's provenance holds, as the
// kit's maker read them: a record for people and for the verifier, which
// checks them against the provenance and never takes them from the kit.
type Params struct {
	Source          string            `json:"source,omitempty"`
	Commit          string            `json:"commit,omitempty"`
	Dockerfile      string            `json:"dockerfile,omitempty"`
	Context         string            `json:"context,omitempty"`
	Target          string            `json:"target,omitempty"`
	BuildArgs       map[string]string `json:"buildArgs,omitempty"`
	Platforms       []string          `json:"platforms,omitempty"`
	SourceDateEpoch string            `json:"sourceDateEpoch,omitempty"`
	Frontend        string            `json:"frontend,omitempty"`
	Network         string            `json:"network,omitempty"`
}

// Limits bound what a kit, untrusted like any image, may make reprover
// read or hold. Zero fields take DefaultLimits'.
type Limits struct {
	MaxManifestBytes int64 `limit:"largest kit manifest read, in bytes"`
	MaxConfigBytes   int64 `limit:"largest kit config read, in bytes"`
	MaxDownloads     int   `limit:"most downloads a kit may hold"`
	MaxURLBytes      int   `limit:"longest URL a kit may list, in bytes"`
	MaxBlobBytes     int64 `limit:"largest download a kit may hold (or reprover kit fetch), in bytes"`
	MaxKitBytes      int64 `limit:"most bytes of downloads in one kit"`
	MaxSourceBytes   int64 `limit:"largest source a kit may hold: its pack, each object and all of them inflated, in bytes"`
	MaxSourceEntries int   `limit:"most git objects of a kit's source (the commit, its trees and files)"`
	MaxReferrers     int   `limit:"most kits looked at among an image's referrers"`
	MaxJSONDepth     int   `limit:"deepest nesting of a kit's config"`
	MaxBases         int   `limit:"most base images a kit may hold"`
	MaxBaseBlobs     int   `limit:"most blobs (indexes, manifests, configs, layers) of a kit's base images"`
	MaxBaseBytes     int64 `limit:"most bytes of base images in one kit"`
}

// DefaultLimits are used for zero fields of Limits.
var DefaultLimits = Limits{
	MaxManifestBytes: 4 << 20,
	MaxConfigBytes:   16 << 20,
	MaxDownloads:     10_000,
	MaxURLBytes:      8 << 10,
	MaxBlobBytes:     4 << 30,
	MaxKitBytes:      32 << 30,
	MaxSourceBytes:   4 << 30,
	MaxSourceEntries: 1_000_000,
	MaxReferrers:     64,
	MaxJSONDepth:     16,
	MaxBases:         64,
	MaxBaseBlobs:     10_000,
	MaxBaseBytes:     64 << 30,
}

func (l Limits) withDefaults() Limits { return limits.WithDefaults(l, DefaultLimits) }

// Kit is a kit made (Make) or opened (Open). Its blobs are read when asked
// for, never held in memory.
type Kit struct {
	Config Config
	// Location is where Open found it (auto resolved to the referrer's
	// reference); "" for a kit made.
	Location  string
	configRaw []byte
	manifest  []byte
	m         *v1.Manifest
	digest    v1.Hash
	byURL     map[string]pins.Pin
	blobs     blobStore
	// ctx is the context the kit was made or opened with: Open(url) has
	// none (the builder's Replay interface), and reads blobs within it.
	ctx context.Context
}

// blobStore is where a kit's blobs are: scratch files (a kit made) or
// an OCI store (a kit opened).
type blobStore interface {
	open(ctx context.Context, d v1.Descriptor, what string) (io.ReadCloser, error)
	close() error
}

// Digest is the kit manifest's digest.
func (k *Kit) Digest() v1.Hash { return k.digest }

// Manifest is the kit manifest's bytes.
func (k *Kit) Manifest() []byte { return k.manifest }

// RawConfig is the kit's config blob (docs/kit.schema.json).
func (k *Kit) RawConfig() []byte { return k.configRaw }

// Close releases the kit's scratch files or open archive.
func (k *Kit) Close() error { return k.blobs.close() }

// URLs are the downloads the kit holds, sorted.
func (k *Kit) URLs() []string {
	out := make([]string, 0, len(k.Config.Downloads))
	for _, d := range k.Config.Downloads {
		out = append(out, d.URL)
	}
	return out
}

// Pin is the download the kit holds for url.
func (k *Kit) Pin(url string) (pins.Pin, bool) {
	p, ok := k.byURL[url]
	return p, ok
}

// Open streams the bytes the kit holds for url. Reading to the end fails,
// naming the URL and both digests (or sizes), when they are not the
// pinned ones: a kit's blob is never trusted for being in the kit.
func (k *Kit) Open(url string) (io.ReadCloser, error) {
	p, ok := k.byURL[url]
	if !ok {
		return nil, fmt.Errorf("kit %s holds no download of %s", k.digest, text.Truncate(url, 256))
	}
	return k.blobs.open(k.ctx, downloadDescriptor(p), "download "+text.Truncate(url, 256))
}

// Check says that the kit holds every download the release pinned, each
// with the pinned sha256 (and size, when the pin has one): a pin without
// its blob is an error naming the URL. Downloads the kit holds beyond the
// pins are never served (the rebuild may only fetch pinned URLs), so they
// are not refused here.
func (k *Kit) Check(set []pins.Pin) error {
	var missing, differ []string
	for _, p := range set {
		got, ok := k.byURL[p.URL]
		switch {
		case !ok:
			missing = append(missing, text.Truncate(p.URL, 256))
		case got.SHA256 != p.SHA256:
			differ = append(differ, fmt.Sprintf("%s: kit holds sha256:%s, the release pins sha256:%s", text.Truncate(p.URL, 256), got.SHA256, p.SHA256))
		case p.Size > 0 && got.Size != p.Size:
			differ = append(differ, fmt.Sprintf("%s: kit holds %d bytes, the release pins %d", text.Truncate(p.URL, 256), got.Size, p.Size))
		}
	}
	if len(differ) > 0 {
		return fmt.Errorf("kit %s does not hold the release's bytes: %s", k.digest, strings.Join(differ, "; "))
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("kit %s lacks %d pinned download(s): %s", k.digest, len(missing), strings.Join(missing, ", "))
	}
	return nil
}

// downloadDescriptor is the blob a pin is kept as.
func downloadDescriptor(p pins.Pin) v1.Descriptor {
	return v1.Descriptor{MediaType: DownloadMediaType, Digest: v1.Hash{Algorithm: "sha256", Hex: p.SHA256}, Size: p.Size,
		Annotations: map[string]string{URLAnnotation: p.URL}}
}

// verifying wraps a blob's reader in image's verifying reader.
func verifying(rc io.ReadCloser, d v1.Descriptor, what string) io.ReadCloser {
	return image.NewVerifyingReader(rc, what, d.Digest, d.Size)
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
