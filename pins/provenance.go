package pins

import (
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/reprover/reprover/internal/strictjson"
)

// Provenance predicate types whose materials are read as pins.
const (
	SLSAProvenanceV1  = "https://slsa.dev/provenance/v1"
	SLSAProvenanceV02 = "https://slsa.dev/provenance/v0.2"
)

// maxProvenanceDepth bounds the nesting of a provenance statement.
const maxProvenanceDepth = 64

// FromStatement reads the http(s) downloads an in-toto statement of SLSA
// provenance lists (v1 buildDefinition.resolvedDependencies, v0.2
// materials) as pins: what BuildKit's proxy captured for the publisher's
// build, and its ADD downloads. Other materials (images, git, the local
// context) are not downloads. The statement is the publisher's data: it
// is checked as strictly as any untrusted document.
func FromStatement(raw []byte) ([]Pin, error) {
	if err := strictjson.Check(raw, maxProvenanceDepth); err != nil {
		return nil, err
	}
	var st struct {
		PredicateType string `json:"predicateType"`
		Predicate     struct {
			BuildDefinition struct {
				ResolvedDependencies []material `json:"resolvedDependencies"`
			} `json:"buildDefinition"`
			Materials []material `json:"materials"`
		} `json:"predicate"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, err
	}
	var ms []material
	switch st.PredicateType {
	case SLSAProvenanceV1:
		ms = st.Predicate.BuildDefinition.ResolvedDependencies
	case SLSAProvenanceV02:
		ms = st.Predicate.Materials
	default:
		return nil, fmt.Errorf("predicate type %q is not SLSA provenance", st.PredicateType)
	}
	var out []Pin
	lim := DefaultLimits
	for i, m := range ms {
		u, err := url.Parse(m.URI)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			continue
		}
		p := Pin{URL: m.URI, SHA256: m.Digest["sha256"]}
		if err := checkPin(p, lim); err != nil {
			return nil, fmt.Errorf("material %d: %w", i, err)
		}
		out = append(out, p)
	}
	if len(out) > lim.MaxPins {
		return nil, fmt.Errorf("%d downloads in one provenance, more than MaxPins=%d", len(out), lim.MaxPins)
	}
	return out, nil
}

type material struct {
	URI    string            `json:"uri"`
	Digest map[string]string `json:"digest"`
}
