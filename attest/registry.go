package attest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprover/reprover/internal/limits"
)

// Media and artifact types of attestations in a registry.
const (
	// EnvelopeMediaType is a layer holding one DSSE envelope's JSON.
	EnvelopeMediaType types.MediaType = "application/vnd.dsse.envelope.v1+json"
	// ArtifactType marks reprover's OCI 1.1 referrer manifests.
	ArtifactType = "application/vnd.reprover.attestation.v1+jsonl"
	emptyJSON    = types.MediaType("application/vnd.oci.empty.v1+json")
	// cosign reads attestations only from the sha256-HEX.att tag, layers
	// annotated with an (empty) signature.
	cosignSigAnnotation     = "dev.cosignproject.cosign/signature"
	predicateTypeAnnotation = "predicateType"
	maxReferrers            = 64
)

// RegistryOptions say how to reach a registry.
type RegistryOptions struct {
	Keychain  authn.Keychain
	Transport http.RoundTripper
	Limits    Limits
}

func (o RegistryOptions) remote(ctx context.Context) []remote.Option {
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc)}
	if o.Transport != nil {
		opts = append(opts, remote.WithTransport(o.Transport))
	}
	return opts
}

// Push attaches envelopes to the image subject (REPO@sha256:…) twice: as an
// OCI 1.1 referrer (go-containerregistry keeps the referrers tag schema for
// registries without the API), and in cosign's layout under the tag
// sha256-HEX.att, appended to what is already there.
func Push(ctx context.Context, subject string, envelopes [][]byte, o RegistryOptions) error {
	d, err := name.NewDigest(subject, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("attaching attestations to %s: %w", subject, err)
	}
	opts := o.remote(ctx)
	desc, err := remote.Head(d, opts...)
	if err != nil {
		return fmt.Errorf("attaching attestations to %s: %w", subject, err)
	}
	if err := pushReferrer(d, *desc, envelopes, opts); err != nil {
		return fmt.Errorf("pushing the referrer of %s: %w", subject, err)
	}
	if err := pushCosign(d, envelopes, opts); err != nil {
		return fmt.Errorf("pushing %s's cosign attestations: %w", subject, err)
	}
	return nil
}

type rawManifest struct {
	b  []byte
	mt types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.b, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

func pushReferrer(d name.Digest, subject v1.Descriptor, envelopes [][]byte, opts []remote.Option) error {
	repo := d.Context()
	cfg := static.NewLayer([]byte("{}"), emptyJSON)
	if err := remote.WriteLayer(repo, cfg, opts...); err != nil {
		return err
	}
	cfgDesc := v1.Descriptor{MediaType: emptyJSON, Size: 2, Digest: mustDigest(cfg)}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: ArtifactType, Config: cfgDesc,
		Subject: &v1.Descriptor{MediaType: subject.MediaType, Size: subject.Size, Digest: subject.Digest}}
	for _, e := range envelopes {
		l := static.NewLayer(e, EnvelopeMediaType)
		if err := remote.WriteLayer(repo, l, opts...); err != nil {
			return err
		}
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: EnvelopeMediaType, Size: int64(len(e)), Digest: mustDigest(l),
			Annotations: map[string]string{predicateTypeAnnotation: predicateTypeOf(e)}})
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	h, _, err := v1.SHA256(bytes.NewReader(b))
	if err != nil {
		return err
	}
	return remote.Put(repo.Digest(h.String()), rawManifest{b, types.OCIManifestSchema1}, opts...)
}

func pushCosign(d name.Digest, envelopes [][]byte, opts []remote.Option) error {
	h, err := v1.NewHash(d.DigestStr())
	if err != nil {
		return err
	}
	tag := d.Context().Tag(h.Algorithm + "-" + h.Hex + ".att")
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	if old, err := remote.Image(tag, opts...); err == nil {
		base = old
	} else if !isNotFound(err) {
		return err
	}
	var adds []mutate.Addendum
	for _, e := range envelopes {
		adds = append(adds, mutate.Addendum{Layer: static.NewLayer(e, EnvelopeMediaType),
			Annotations: map[string]string{cosignSigAnnotation: "", predicateTypeAnnotation: predicateTypeOf(e)}})
	}
	img, err := mutate.Append(base, adds...)
	if err != nil {
		return err
	}
	return remote.Write(tag, img, opts...)
}

// Fetch finds the envelopes attached to an image: its referrers of
// reprover's artifact type and its cosign .att tag, each envelope once.
// It returns the digest the image resolved to (the subject to check).
func Fetch(ctx context.Context, ref string, o RegistryOptions) (string, [][]byte, error) {
	r, err := name.ParseReference(ref, name.StrictValidation)
	if err != nil {
		return "", nil, fmt.Errorf("image %q: %w", ref, err)
	}
	f := &fetcher{ref: ref, lim: o.Limits.withDefaults(), opts: o.remote(ctx), seen: map[v1.Hash]bool{}}
	desc, err := remote.Head(r, f.opts...)
	if err != nil {
		return "", nil, fmt.Errorf("image %s: %w", ref, err)
	}
	if dr, ok := r.(name.Digest); ok && dr.DigestStr() != desc.Digest.String() {
		return "", nil, fmt.Errorf("image %s: the registry answered with digest %s", ref, desc.Digest)
	}
	if err := f.referrers(r.Context(), desc.Digest); err != nil {
		return "", nil, err
	}
	if err := f.cosignTag(r.Context().Tag(desc.Digest.Algorithm + "-" + desc.Digest.Hex + ".att")); err != nil {
		return "", nil, err
	}
	return desc.Digest.String(), f.out, nil
}

// fetcher collects the envelopes attached to one image (ref), each once,
// within the limits.
type fetcher struct {
	ref  string
	lim  Limits
	opts []remote.Option
	seen map[v1.Hash]bool
	out  [][]byte
}

// referrers adds the envelopes of the image's referrers of reprover's
// artifact type (none when the registry has no referrers API).
func (f *fetcher) referrers(repo name.Repository, subject v1.Hash) error {
	idx, err := remote.Referrers(repo.Digest(subject.String()), append(f.opts, remote.WithFilter("artifactType", ArtifactType))...)
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("referrers of %s: %w", f.ref, err)
	}
	if idx == nil {
		return nil
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	n := 0
	for _, rd := range im.Manifests {
		if rd.ArtifactType != ArtifactType {
			continue
		}
		if n++; n > maxReferrers {
			return fmt.Errorf("more than %d attestation referrers on %s", maxReferrers, f.ref)
		}
		img, err := remote.Image(repo.Digest(rd.Digest.String()), f.opts...)
		if err != nil {
			return err
		}
		if err := f.addImage(img); err != nil {
			return err
		}
	}
	return nil
}

// cosignTag adds the envelopes of cosign's sha256-HEX.att tag, when the
// image has one.
func (f *fetcher) cosignTag(att name.Tag) error {
	img, err := remote.Image(att, f.opts...)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", att, err)
	}
	return f.addImage(img)
}

// addImage adds the envelopes among an attestation manifest's layers.
func (f *fetcher) addImage(img v1.Image) error {
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	if len(m.Layers) > f.lim.MaxEnvelopes {
		return &limits.Error{What: "layers of an attestation manifest of " + f.ref, Limit: "MaxEnvelopes", Max: int64(f.lim.MaxEnvelopes), Got: int64(len(m.Layers))}
	}
	for _, ld := range m.Layers {
		l, err := img.LayerByDigest(ld.Digest)
		if err != nil {
			return err
		}
		if err := f.add(l, ld); err != nil {
			return err
		}
	}
	return nil
}

// add reads one layer when it is an envelope not seen yet, bounded.
func (f *fetcher) add(l v1.Layer, ld v1.Descriptor) error {
	if ld.MediaType != EnvelopeMediaType || f.seen[ld.Digest] {
		return nil
	}
	if len(f.out) >= f.lim.MaxEnvelopes {
		return &limits.Error{What: "attestations attached to " + f.ref, Limit: "MaxEnvelopes", Max: int64(f.lim.MaxEnvelopes), Got: int64(len(f.out) + 1)}
	}
	if ld.Size > f.lim.MaxEnvelopeBytes {
		return fmt.Errorf("%w: %w", ErrMalformed, &limits.Error{What: "attestation " + ld.Digest.String() + " bytes", Limit: "MaxEnvelopeBytes", Max: f.lim.MaxEnvelopeBytes, Got: ld.Size})
	}
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, f.lim.MaxEnvelopeBytes+1))
	if err != nil {
		return err
	}
	f.seen[ld.Digest] = true
	f.out = append(f.out, b)
	return nil
}

func isNotFound(err error) bool {
	var te *transport.Error
	return errAs(err, &te) && te.StatusCode == http.StatusNotFound
}

func mustDigest(l v1.Layer) v1.Hash {
	h, _ := l.Digest()
	return h
}

// predicateTypeOf reads the predicate type of an envelope reprover made.
func predicateTypeOf(env []byte) string {
	var e struct {
		Payload string `json:"payload"`
	}
	if json.Unmarshal(env, &e) != nil {
		return ""
	}
	p, err := decodeB64(e.Payload)
	if err != nil {
		return ""
	}
	var st struct {
		PredicateType string `json:"predicateType"`
	}
	_ = json.Unmarshal(p, &st)
	return st.PredicateType
}
