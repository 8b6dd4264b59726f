package attest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/reprover/reprover/internal/limits"
)

// Attached is an artifact attached to an image in its registry: an OCI
// 1.1 referrer (by its artifact type) or one of cosign's tags.
type Attached struct {
	ArtifactType string // a referrer's; for a cosign tag, "cosign signature", "cosign attestation" or "cosign sbom"
	Digest       string
	Where        string // "referrers" or "tag"
}

// maxAttached bounds the referrers listed for one image.
const maxAttached = 1000

// cosignTags are the tags cosign attaches to an image, by suffix.
var cosignTags = []struct{ suffix, what string }{
	{".sig", "cosign signature"}, {".att", "cosign attestation"}, {".sbom", "cosign sbom"},
}

// Attachments lists what is attached to the image subject (REPO@sha256:…):
// every referrer, whatever its type (none where the registry has no
// referrers API), and cosign's sha256-HEX.sig, .att and .sbom tags.
func Attachments(ctx context.Context, subject string, o RegistryOptions) ([]Attached, error) {
	d, err := name.NewDigest(subject, name.StrictValidation)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", subject, err)
	}
	opts := o.remote(ctx)
	var out []Attached
	idx, err := remote.Referrers(d, opts...)
	if err != nil && !isNotFound(err) {
		return nil, fmt.Errorf("referrers of %s: %w", subject, err)
	}
	if idx != nil {
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("referrers of %s: %w", subject, err)
		}
		if len(im.Manifests) > maxAttached {
			return nil, &limits.Error{What: "referrers of " + subject, Limit: "maxAttached", Max: maxAttached, Got: int64(len(im.Manifests))}
		}
		for _, m := range im.Manifests {
			at := m.ArtifactType
			if at == "" || at == string(emptyJSON) {
				// A registry that lists the config's media type in place of
				// the manifest's artifactType (go-containerregistry's
				// pkg/registry does) hides it: read it from the manifest.
				if at, err = artifactTypeOf(d.Context().Digest(m.Digest.String()), opts); err != nil {
					return nil, err
				}
			}
			out = append(out, Attached{ArtifactType: at, Digest: m.Digest.String(), Where: "referrers"})
		}
	}
	alg, hex, _ := strings.Cut(d.DigestStr(), ":")
	for _, t := range cosignTags {
		tag := d.Context().Tag(alg + "-" + hex + t.suffix)
		desc, err := remote.Head(tag, opts...)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", tag, err)
		}
		out = append(out, Attached{ArtifactType: t.what, Digest: desc.Digest.String(), Where: "tag"})
	}
	return out, nil
}

// artifactTypeOf reads the artifactType of the manifest d (bounded as
// an envelope is), or its config's media type when it has none.
func artifactTypeOf(d name.Digest, opts []remote.Option) (string, error) {
	desc, err := remote.Get(d, opts...)
	if err != nil {
		return "", fmt.Errorf("referrer %s: %w", d, err)
	}
	var m struct {
		ArtifactType string `json:"artifactType"`
		Config       struct {
			MediaType string `json:"mediaType"`
		} `json:"config"`
	}
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		return "", fmt.Errorf("referrer %s: %w", d, err)
	}
	if m.ArtifactType != "" {
		return m.ArtifactType, nil
	}
	return m.Config.MediaType, nil
}
