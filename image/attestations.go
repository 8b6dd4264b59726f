package image

import (
	"context"
	"fmt"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reprover/reprover/internal/strictjson"
)

// Statement is one in-toto statement found in a BuildKit attestation
// manifest of an index (a provenance, an SBOM).
type Statement struct {
	// For is the image manifest the attestation is about.
	For           v1.Hash
	Manifest      v1.Hash // the attestation manifest
	Digest        v1.Hash // the layer holding the statement
	PredicateType string
	Raw           []byte
}

// maxStatementBytes bounds one attestation layer read.
const maxStatementBytes = 16 << 20

// Statements reads the in-toto statements of the index's attestation
// manifests whose predicate type is wanted (all when wanted is empty),
// each checked against its digest and size.
func (r *Resolved) Statements(ctx context.Context, lim Limits, wanted ...string) ([]Statement, error) {
	lim = lim.withDefaults()
	var out []Statement
	for _, d := range r.Attestations {
		raw, err := fetchManifest(ctx, r.st, d, lim)
		if err != nil {
			return nil, fmt.Errorf("attestation manifest %s: %w", d.Digest, err)
		}
		var m v1.Manifest
		if err := strictjson.Unmarshal(raw, &m, lim.MaxJSONDepth); err != nil {
			return nil, fmt.Errorf("attestation manifest %s: %w", d.Digest, err)
		}
		if len(m.Layers) > lim.MaxLayers {
			return nil, &LimitError{What: "attestation manifest " + d.Digest.String() + " layers", Limit: "MaxLayers", Max: int64(lim.MaxLayers), Got: int64(len(m.Layers))}
		}
		forDigest, _ := ParseDigest(d.Annotations["vnd.docker.reference.digest"])
		for _, l := range m.Layers {
			pt := l.Annotations["in-toto.io/predicate-type"]
			if len(wanted) > 0 && !slices.Contains(wanted, pt) {
				continue
			}
			if err := checkDescriptor(l); err != nil {
				return nil, fmt.Errorf("attestation manifest %s: %w", d.Digest, err)
			}
			b, err := readBlobVerified(ctx, r.st, l, maxStatementBytes, "attestation", "maxStatementBytes")
			if err != nil {
				return nil, err
			}
			out = append(out, Statement{For: forDigest, Manifest: d.Digest, Digest: l.Digest, PredicateType: pt, Raw: b})
		}
	}
	return out, nil
}
