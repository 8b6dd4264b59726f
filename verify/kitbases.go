package verify

import (
	"context"
	"fmt"
	"slices"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/kit"
)

// A kit's blobs are the builder's base images.
var _ builder.Bases = (*kit.Kit)(nil)

// basesFromKit makes the rebuild take every base image the kit holds from
// it instead of its registry, whether or not the registry still serves it:
// every blob is checked against its digest as it is copied and again by
// the daemon, so the bytes are the release's either way, and the verdict
// does not depend on a registry's state (nor wait on one that is gone).
// Only the bases the Dockerfile pins are taken (builder.Spec.Only);
// build.kit.bases counts them.
func (p *plan) basesFromKit() {
	if p.kit == nil || len(p.kit.Config.Bases) == 0 || p.spec.Only == nil {
		return
	}
	n := 0
	for _, d := range p.kit.BaseImages() {
		if slices.Contains(p.spec.Only.Images, d) {
			n++
		}
	}
	if n == 0 {
		return
	}
	p.spec.Bases = p.kit
	if p.build.Kit == nil {
		p.build.Kit = &KitUse{Digest: p.kit.Digest().String(), From: p.kit.Location}
	}
	p.build.Kit.Bases = n
}

// KitBases are the base images the published image's provenance names
// (its pkg:docker materials, the frontend image's too), as
// HOST/REPO@sha256:… for kit.MakeOptions.Bases, sorted, each once.
func KitBases(ctx context.Context, ref string, o Options) ([]string, error) {
	pub, builds, err := openRelease(ctx, ref, o)
	if err != nil {
		return nil, err
	}
	defer pub.Close()
	var out []string
	for _, b := range builds {
		for _, im := range b.Images {
			r, err := kit.BaseFromPURL(im.URI, im.SHA256)
			if err != nil {
				return nil, fmt.Errorf("provenance of %s: %w", pub.Ref.Name, err)
			}
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: its provenance names no base image", ref)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
