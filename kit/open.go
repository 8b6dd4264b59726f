package kit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/hosts"
	"github.com/reprover/reprover/internal/limits"
	"github.com/reprover/reprover/internal/text"
	"github.com/reprover/reprover/pins"
)

// Options say how to reach registries and bound what a kit may make
// reprover read.
type Options struct {
	// InsecureRegistries are hosts reached over plain HTTP (loopback
	// hosts always are).
	InsecureRegistries []string
	Keychain           authn.Keychain
	Transport          http.RoundTripper
	Limits             Limits
}

func (o Options) image() image.Options {
	lim := o.Limits.withDefaults()
	return image.Options{InsecureRegistries: o.InsecureRegistries, Keychain: o.Keychain, Transport: o.Transport,
		Limits: image.Limits{MaxManifestBytes: lim.MaxManifestBytes, MaxManifests: 1, MaxLayers: lim.MaxDownloads + 1 + lim.MaxBaseBlobs}}
}

func (o Options) remote(ctx context.Context) []remote.Option {
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	return []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc),
		remote.WithTransport(image.GuardedTransport(o.Transport, o.InsecureRegistries))}
}

func (o Options) repository(repo string) (name.Repository, error) {
	host, _, _ := strings.Cut(repo, "/")
	nopts := []name.Option{name.StrictValidation}
	for _, h := range o.InsecureRegistries {
		if h == host || h == strings.Split(host, ":")[0] {
			nopts = append(nopts, name.Insecure)
		}
	}
	if hosts.Loopback(host) {
		nopts = append(nopts, name.Insecure)
	}
	return name.NewRepository(repo, nopts...)
}

// Where kits are found.
const (
	// Auto finds the kit among the image's referrers (none: no kit).
	Auto = "auto"
	// None uses no kit.
	None = "none"
)

// Open finds and checks the kit for the image subject (a digest; repo is
// the image's repository, HOST/REPO, or "" when it is not in a registry).
// where is Auto (the image's referrer of the kit's artifact type; none
// found, or the image not in a registry, is a nil kit), None (nil), or a
// reference to the kit itself: HOST/REPO[:TAG|@sha256:…], oci:DIR[@…],
// oci-archive:FILE[@…]. A kit for another image, one whose manifest and
// config disagree, or one over a limit is refused, naming it. The blobs
// are checked when read (Kit.Open) and against the release's pins
// (Kit.Check). ctx bounds every later read of the kit's blobs too.
func Open(ctx context.Context, where, repo string, subject v1.Hash, o Options) (*Kit, error) {
	switch where {
	case None, "":
		return nil, nil
	case Auto:
		if repo == "" {
			return nil, nil
		}
		ref, err := find(ctx, repo, subject, o)
		if err != nil || ref == "" {
			return nil, err
		}
		where = ref
	}
	a, err := image.OpenArtifact(ctx, where, o.image())
	if err != nil {
		return nil, fmt.Errorf("opening kit %s: %w", where, err)
	}
	k, err := fromArtifact(ctx, a, subject, o.Limits.withDefaults())
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("kit %s (%s): %w", where, a.Descriptor.Digest, err)
	}
	k.Location = where
	return k, nil
}

// find is the reference of the image's kit among its referrers ("" when
// it has none); more than one kit is an error naming them.
func find(ctx context.Context, repo string, subject v1.Hash, o Options) (string, error) {
	r, err := o.repository(repo)
	if err != nil {
		return "", fmt.Errorf("finding the kit of %s: %w", repo, err)
	}
	lim := o.Limits.withDefaults()
	// No WithFilter: go-containerregistry then filters by artifactType on
	// the client, and its own registry lists a referrer's config media
	// type as its artifactType (pkg/registry/manifest.go, v0.22.1), as a
	// registry may for a manifest without one; both name a kit here, and
	// the manifest opened is checked in full.
	idx, err := remote.Referrers(r.Digest(subject.String()), o.remote(ctx)...)
	if err != nil {
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
			return "", nil
		}
		return "", fmt.Errorf("referrers of %s@%s: %w", repo, subject, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return "", fmt.Errorf("referrers of %s@%s: %w", repo, subject, err)
	}
	var kits []string
	for _, d := range im.Manifests {
		if d.ArtifactType != ArtifactType && d.ArtifactType != string(ConfigMediaType) {
			continue
		}
		if len(kits) == lim.MaxReferrers {
			return "", &limits.Error{What: "kit referrers of " + repo + "@" + subject.String(), Limit: "MaxReferrers", Max: int64(lim.MaxReferrers), Got: int64(len(kits) + 1)}
		}
		if _, err := image.ParseDigest(d.Digest.String()); err != nil {
			return "", fmt.Errorf("referrers of %s@%s: %w", repo, subject, err)
		}
		kits = append(kits, d.Digest.String())
	}
	switch len(kits) {
	case 0:
		return "", nil
	case 1:
		return repo + "@" + kits[0], nil
	}
	return "", fmt.Errorf("%s@%s has %d kits (%s): name the one to use", repo, subject, len(kits), strings.Join(kits, ", "))
}

// fromArtifact checks an artifact is a kit for subject, its manifest and
// config agreeing and within lim, and reads its config.
func fromArtifact(ctx context.Context, a *image.Artifact, subject v1.Hash, lim Limits) (*Kit, error) {
	m := a.Manifest
	if m.ArtifactType != ArtifactType {
		return nil, fmt.Errorf("not a kit: artifactType %q, want %s", text.Truncate(m.ArtifactType, 128), ArtifactType)
	}
	if err := countLayers(m.Layers, lim); err != nil {
		return nil, err
	}
	if m.Subject == nil {
		return nil, fmt.Errorf("no subject: a kit names the image it is for")
	}
	if m.Subject.Digest != subject {
		return nil, fmt.Errorf("the kit is for image %s, not %s", m.Subject.Digest, subject)
	}
	if m.Config.Size > lim.MaxConfigBytes {
		return nil, &limits.Error{What: "kit config " + m.Config.Digest.String(), Limit: "MaxConfigBytes", Max: lim.MaxConfigBytes, Got: m.Config.Size}
	}
	raw, err := a.ReadBlob(ctx, m.Config, lim.MaxConfigBytes, "kit config", "MaxConfigBytes")
	if err != nil {
		return nil, err
	}
	cfg, err := ParseConfig(raw, "config "+m.Config.Digest.String(), lim)
	if err != nil {
		return nil, err
	}
	if cfg.Subject.Digest != subject.String() {
		return nil, fmt.Errorf("the kit's config is for image %s, not %s", text.Truncate(cfg.Subject.Digest, 80), subject)
	}
	if err := checkManifest(m, cfg); err != nil {
		return nil, err
	}
	return newKit(ctx, *cfg, raw, a.Raw, a.Descriptor.Digest, m, artifactStore{a}), nil
}

func newKit(ctx context.Context, cfg Config, cfgRaw, manifest []byte, digest v1.Hash, m *v1.Manifest, st blobStore) *Kit {
	k := &Kit{Config: cfg, configRaw: cfgRaw, manifest: manifest, m: m, digest: digest, blobs: st, ctx: ctx, byURL: make(map[string]pins.Pin, len(cfg.Downloads))}
	for _, p := range cfg.Downloads {
		k.byURL[p.URL] = p
	}
	return k
}

// artifactStore reads a kit's blobs from where it was opened.
type artifactStore struct{ a *image.Artifact }

func (s artifactStore) open(ctx context.Context, d v1.Descriptor, what string) (io.ReadCloser, error) {
	return s.a.Blob(ctx, d, what)
}

func (s artifactStore) close() error { return s.a.Close() }
