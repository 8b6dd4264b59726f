package verify

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/kit"
	"github.com/reprover/reprover/pins"
)

// KitInputs are what a kit of a release is made from (kit.Make): the
// published image, the downloads its own provenance pins, and the build
// parameters verify reads from it.
type KitInputs struct {
	Subject v1.Descriptor // the published index or manifest
	// Repository is the image's HOST/REPO ("" for oci: and oci-archive:).
	Repository string
	Pins       []pins.Pin
	Params     kit.Params
}

// ReadKitInputs opens the published image (every platform) and reads what
// its provenance pins and records, as a verification would: the same
// statements (only those about the image's own manifests), the same
// parameter picks with nothing given. A provenance that cannot be read is
// an error; one that pins no download gives no pins.
func ReadKitInputs(ctx context.Context, ref string, o Options) (*KitInputs, error) {
	pub, err := image.Open(ctx, ref, o.Image)
	if err != nil {
		return nil, fmt.Errorf("published image: %w", err)
	}
	defer pub.Close()
	builds, unread, err := releaseProvenance(ctx, pub, o.Image.Limits)
	if err != nil {
		return nil, fmt.Errorf("reading the published image's provenance: %w", err)
	}
	if len(unread) > 0 {
		return nil, fmt.Errorf("provenance %w", unread[0])
	}
	in := &KitInputs{Subject: v1.Descriptor{MediaType: pub.MediaType, Digest: pub.Digest, Size: int64(len(pub.Raw))}}
	if pub.Ref.Transport == image.Registry {
		in.Repository = pub.Ref.Name
	}
	for _, b := range builds {
		for i, d := range b.Downloads {
			p := pins.Pin{URL: d.URL, SHA256: d.SHA256}
			if err := pins.Validate(p); err != nil {
				return nil, fmt.Errorf("provenance of %s: material %d: %w", pub.Ref.Name, i, err)
			}
			in.Pins = append(in.Pins, p)
		}
	}
	p := &params{of: map[string]Parameter{}, words: o.Words}
	labels := p.readPublished(ctx, pub, o.Image.Limits)
	p.pickLocation(labels)
	judged, err := judgeProvenance(p.prov)
	if err != nil {
		return nil, err
	}
	if err := p.pickBuild(judged); err != nil {
		return nil, err
	}
	r := p.req
	in.Params = kit.Params{Source: r.Source, Commit: r.Commit, Dockerfile: r.Dockerfile, Context: r.Context, Target: r.Target,
		BuildArgs: r.BuildArgs, SourceDateEpoch: r.SourceDateEpoch, Platforms: rebuildPlatforms(Request{}, pub), Frontend: p.frontend}
	if len(in.Pins) > 0 {
		in.Params.Network = "proxy"
	}
	return in, nil
}
