package inspect

// SchemaVersion is the version of the report's JSON.
const SchemaVersion = 1

// Report is one image's trust report (DESIGN.md, "Inspect").
type Report struct {
	SchemaVersion int        `json:"schemaVersion"`
	Image         string     `json:"image"`  // the reference inspected
	Digest        string     `json:"digest"` // what it resolved to
	Platforms     []Platform `json:"platforms"`
	// Provenance is the publisher's SLSA provenance; nil when the image
	// has none (a noProvenance finding).
	Provenance *Provenance `json:"provenance"`
	// Verdicts are the reprover verdicts attached to the image.
	Verdicts []Verdict `json:"verdicts"`
	// Vouched is what the verdicts add up to with the keys given
	// (--key, k of n with --threshold); nil when no key was given.
	Vouched *Vouched `json:"vouched,omitempty"`
	// Referrers are the image's other referrers (signatures, SBOMs,
	// attestations, a kit) by artifact type, and its attestation
	// manifests in the index.
	Referrers []Referrer `json:"referrers"`
	// Kit is the digest of a kit attached to the image ("" for none).
	Kit string `json:"kit,omitempty"`
	// Notes say what could not be looked at (a layout has no
	// referrers), in words.
	Notes []string `json:"notes,omitempty"`
}

// Platform is what one platform's image holds.
type Platform struct {
	Platform string `json:"platform"`
	Digest   string `json:"digest"` // the platform's manifest
	// User is the config's User as written ("" when there is none:
	// root).
	User string `json:"user"`
	// Labels are the config's labels, each secret in them replaced by
	// its name and fingerprint.
	Labels   map[string]string `json:"labels,omitempty"`
	Layers   []Layer           `json:"layers"`
	Findings []Finding         `json:"findings"`
	// Scanned is what the secret scan read.
	Scanned Scanned `json:"scanned"`
}

// Layer is one layer and the history instruction that made it.
type Layer struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
	// Instruction is the history's created_by, secrets in it replaced
	// by their name and fingerprint.
	Instruction string `json:"instruction,omitempty"`
	// Dockerfile is where in the Dockerfile the layer was made
	// ("Dockerfile:3"), when the provenance (mode=max) says.
	Dockerfile string `json:"dockerfile,omitempty"`
	Files      int    `json:"files"`
}

// Finding is one finding of a check.
type Finding struct {
	Check    string   `json:"check"`
	Severity Severity `json:"severity"`
	Path     string   `json:"path"`
	Layer    int      `json:"layer"` // counted from 1; 0: none (the config, or no layer)
	Evidence string   `json:"evidence"`
	Fix      string   `json:"fix"`
}

// Scanned counts the files of a platform's layers read for secrets, and
// those that were not.
type Scanned struct {
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
	// TooLarge were larger than MaxScanFileBytes; OverBudget came after
	// MaxScanBytes was spent; Binary were not text.
	TooLarge   int `json:"tooLarge"`
	OverBudget int `json:"overBudget"`
	Binary     int `json:"binary"`
}

// Provenance is what the publisher's provenance says.
type Provenance struct {
	PredicateType string            `json:"predicateType"`
	Builder       string            `json:"builder,omitempty"`
	Source        string            `json:"source,omitempty"`
	Commit        string            `json:"commit,omitempty"`
	Dockerfile    string            `json:"dockerfile,omitempty"`
	Target        string            `json:"target,omitempty"`
	Mode          string            `json:"mode"` // max or min
	Args          map[string]string `json:"args,omitempty"`
	Bases         []Base            `json:"bases,omitempty"`
	Downloads     []Download        `json:"downloads,omitempty"`
	// About says whether the statement names this image as its subject
	// ("" when it does; else why not).
	NotAbout string `json:"notAbout,omitempty"`
}

// Base is an image the build read.
type Base struct {
	Name   string `json:"name"`
	Digest string `json:"digest,omitempty"`
}

// Download is an http(s) material of the build; Pinned when the
// provenance records its sha256.
type Download struct {
	URL    string `json:"url"`
	SHA256 string `json:"sha256,omitempty"`
	Pinned bool   `json:"pinned"`
}

// Verdict is one reprover verdict attached to the image.
type Verdict struct {
	Result string `json:"result"` // PASSED or FAILED, as the statement says
	// Key is the key id that signed it: one of --key when Checked,
	// else what the envelope's signature claims (unverified).
	Key     string `json:"key"`
	Checked bool   `json:"checked"`
	// Why says what keeps it from counting, if anything.
	Why string `json:"why,omitempty"`
}

// Vouched is the verdicts checked with the keys given, k of n.
type Vouched struct {
	Passed    bool     `json:"passed"`
	Threshold int      `json:"threshold"`
	Keys      []string `json:"keys"` // the keys whose PASSED verdict verified
	Reason    string   `json:"reason"`
}

// Referrer is an artifact attached to the image.
type Referrer struct {
	ArtifactType string `json:"artifactType"`
	Digest       string `json:"digest"`
	// Where: "referrers" (OCI 1.1), "tag" (cosign's sha256-HEX.sig,
	// .att or .sbom) or "index" (an attestation manifest of the index).
	Where string `json:"where"`
}

// Highest is the most serious severity among the findings ("" when
// none).
func (r *Report) Highest() Severity {
	var h Severity
	for _, p := range r.Platforms {
		for _, f := range p.Findings {
			if f.Severity.Rank() > h.Rank() {
				h = f.Severity
			}
		}
	}
	return h
}

// Reaches reports whether a finding is at least as serious as s (never,
// for s "": --fail-on none).
func (r *Report) Reaches(s Severity) bool {
	return s.Rank() > 0 && r.Highest().Rank() >= s.Rank()
}
