package attest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	vsa1 "github.com/in-toto/attestation/go/predicates/vsa/v1"
	ita1 "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Predicate types and the DSSE payload type.
const (
	PayloadType       = "application/vnd.in-toto+json"
	PredicateVSA      = "https://slsa.dev/verification_summary/v1"
	PredicateReport   = "https://reprover.dev/rebuild-report/v1"
	VerifierID        = "https://reprover.dev/verifier"
	PolicyURI         = "https://reprover.dev/policy/hermetic-rebuild/v1"
	ResultPassed      = "PASSED"
	ResultFailed      = "FAILED"
	StatementType     = ita1.StatementTypeUri
	maxStatementBytes = 32 << 20
)

// Subject is the published image a statement is about.
type Subject struct {
	Name   string // e.g. registry.example/app
	Digest string // sha256:HEX of the published image (index or manifest)
}

// Policy is what the verification applied: the rules, the profile, and
// their digest (sha256 of this JSON).
type Policy struct {
	URI     string   `json:"uri"`
	Rules   []string `json:"rules"`
	Profile string   `json:"profile"` // "reproducible-or-equivalent" or "strict"
}

// Digest is the sha256 of the policy's JSON.
func (p Policy) Digest() string {
	b, _ := json.Marshal(p)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// VSA describes a SLSA Verification Summary to sign.
type VSA struct {
	// Subjects are what the summary is about: the published image, or
	// its platform manifests when only some platforms were verified.
	Subjects          []Subject
	VerifierVersion   string
	TimeVerified      time.Time
	ResourceURI       string // the published image reference
	Policy            Policy
	Passed            bool
	InputAttestations []InputAttestation
	// VerifiedLevels are what a PASSED summary vouches for: reprover's
	// levels (Levels), at most one per track, the verdict's among them. A
	// FAILED summary's are ["FAILED"] alone: give nothing, or that.
	VerifiedLevels []string
}

// The values of a summary's verifiedLevels (docs/attestation.md, "Verified
// levels"). The VSA spec reserves SLSA_… for SLSA's tracks: reprover
// claims no SLSA build level, so its levels are its own.
const (
	LevelFailed          = "FAILED"
	LevelReproducible    = "REPROVER_REPRODUCIBLE"
	LevelEquivalent      = "REPROVER_EQUIVALENT"
	LevelNetworkNone     = "REPROVER_NETWORK_NONE"
	LevelDownloadsPinned = "REPROVER_DOWNLOADS_PINNED"
	LevelDownloadsMoved  = "REPROVER_DOWNLOADS_MOVED"
	LevelDownloadsNone   = "REPROVER_DOWNLOADS_UNPINNED"
	LevelFrontendBuiltin = "REPROVER_FRONTEND_BUILTIN"
	LevelFrontendPinned  = "REPROVER_FRONTEND_PINNED"
	LevelInputsArchived  = "REPROVER_INPUTS_ARCHIVED"
)

// Level is a value of verifiedLevels and what it means.
type Level struct {
	Name string
	// Track groups levels of which a summary names at most one, the
	// highest, as the spec does for SLSA's tracks: REPROVER_REPRODUCIBLE
	// implies what REPROVER_EQUIVALENT says but is listed alone.
	Track   string
	Meaning string // one line, as docs/attestation.md shows it
}

// Levels are the values of verifiedLevels, in the order a summary lists
// them (each track's highest level first).
var Levels = []Level{
	{LevelReproducible, "verdict", "every rebuilt platform manifest has the published one's digest (verdict `reproducible`)"},
	{LevelEquivalent, "verdict", "the rebuild has the published config and files; only their encoding (compression, media types) differs (verdict `equivalent`)"},
	{LevelNetworkNone, "network", "hermetic: no RUN step had network access (`--network none`)"},
	{LevelDownloadsPinned, "network", "RUN reached the network only through BuildKit's capturing proxy, and every download matched a pin of the lock file or the provenance (`--network proxy`)"},
	{LevelDownloadsMoved, "network", "RUN reached the network only through BuildKit's capturing proxy, and some downloads were not as the release's pins say (changed, new or missing; the rebuild report's `build.inputs` names them): the verdict is the comparison's (`--network proxy`)"},
	{LevelDownloadsNone, "network", "RUN reached the network only through BuildKit's capturing proxy, and nothing pinned its downloads (`--allow-unpinned-downloads`): the verdict is the comparison's alone"},
	{LevelFrontendBuiltin, "frontend", "the Dockerfile was built by BuildKit's built-in Dockerfile frontend: no `# syntax=` and no `BUILDKIT_SYNTAX`"},
	{LevelFrontendPinned, "frontend", "the Dockerfile was built by a frontend image pinned by digest (`# syntax=` in the commit, or `BUILDKIT_SYNTAX` given by the verifier or the commit's bake file), named in the rebuild report's `build.frontend`"},
	{LevelInputsArchived, "inputs", "every download of the rebuild was served from the release's kit (docs/kit.md), each checked against the release's pin as it streamed, and no request reached any upstream host: the verdict holds however the upstreams moved"},
	{LevelFailed, "", "the verification failed (`verificationResult` `FAILED`); then the only value, as the VSA spec says"},
}

// verifiedLevels checks a summary's levels and puts them in Levels' order.
func verifiedLevels(v VSA) ([]string, error) {
	if !v.Passed {
		if len(v.VerifiedLevels) > 1 || len(v.VerifiedLevels) == 1 && v.VerifiedLevels[0] != LevelFailed {
			return nil, fmt.Errorf("verified levels %q on a FAILED summary: it has only %s", v.VerifiedLevels, LevelFailed)
		}
		return []string{LevelFailed}, nil
	}
	tracks := map[string]string{}
	for _, name := range v.VerifiedLevels {
		i := slices.IndexFunc(Levels, func(l Level) bool { return l.Name == name })
		switch {
		case i < 0:
			return nil, fmt.Errorf("verified level %q: not one of reprover's", name)
		case Levels[i].Track == "":
			return nil, fmt.Errorf("verified level %s on a PASSED summary", name)
		case tracks[Levels[i].Track] != "":
			return nil, fmt.Errorf("verified levels %s and %s: one level per track", tracks[Levels[i].Track], name)
		}
		tracks[Levels[i].Track] = name
	}
	if tracks["verdict"] == "" {
		return nil, fmt.Errorf("verified levels %q: a PASSED summary names its verdict (%s or %s)", v.VerifiedLevels, LevelReproducible, LevelEquivalent)
	}
	var out []string
	for _, l := range Levels {
		if tracks[l.Track] == l.Name {
			out = append(out, l.Name)
		}
	}
	return out, nil
}

// InputAttestation is a provenance read during verification.
type InputAttestation struct {
	URI    string
	Digest string // sha256:HEX
}

// VSAStatement builds the in-toto Statement v1 of a verification summary,
// validated, marshalled once: the returned bytes are what gets signed.
func VSAStatement(v VSA) ([]byte, error) {
	levels, err := verifiedLevels(v)
	if err != nil {
		return nil, err
	}
	pred := &vsa1.VerificationSummary{
		Verifier:           &vsa1.VerificationSummary_Verifier{Id: VerifierID},
		TimeVerified:       timestamppb.New(v.TimeVerified.UTC()),
		ResourceUri:        v.ResourceURI,
		Policy:             &vsa1.VerificationSummary_Policy{Uri: v.Policy.URI, Digest: map[string]string{"sha256": v.Policy.Digest()}},
		VerificationResult: ResultFailed,
		VerifiedLevels:     levels,
		SlsaVersion:        "1.0",
	}
	if v.Passed {
		pred.VerificationResult = ResultPassed
	}
	for _, ia := range v.InputAttestations {
		alg, hexd, err := splitDigest(ia.Digest)
		if err != nil {
			return nil, fmt.Errorf("input attestation %s: %w", ia.URI, err)
		}
		pred.InputAttestations = append(pred.InputAttestations, &vsa1.VerificationSummary_InputAttestation{Uri: ia.URI, Digest: map[string]string{alg: hexd}})
	}
	pb, err := protojson.Marshal(pred)
	if err != nil {
		return nil, err
	}
	// The VSA proto has no version field for the verifier; SLSA's schema
	// puts it in verifier.version, which the predicate carries as JSON.
	var m map[string]any
	if err := json.Unmarshal(pb, &m); err != nil {
		return nil, err
	}
	m["verifier"] = map[string]any{"id": VerifierID, "version": map[string]any{"reprover": v.VerifierVersion}}
	return statement(v.Subjects, PredicateVSA, m)
}

// Report is the predicate of https://reprover.dev/rebuild-report/v1: the
// verdict (error included), the hermeticity evidence and the difference
// summary.
type Report struct {
	Verdict         string          `json:"verdict"`
	Error           string          `json:"error,omitempty"`
	Source          any             `json:"source,omitempty"`
	Published       any             `json:"published,omitempty"`
	Rebuilt         any             `json:"rebuilt,omitempty"`
	SourceDateEpoch *int64          `json:"sourceDateEpoch,omitempty"`
	Build           any             `json:"build,omitempty"`
	Policy          Policy          `json:"policy"`
	Hints           []string        `json:"hints"`
	Platforms       []PlatformTally `json:"platforms"`
	TimeVerified    time.Time       `json:"timeVerified"`
	Verifier        map[string]any  `json:"verifier"`
}

// PlatformTally summarises the differences of one platform.
type PlatformTally struct {
	Platform        string   `json:"platform"`
	Verdict         string   `json:"verdict"`
	Published       string   `json:"published,omitempty"`
	Rebuilt         string   `json:"rebuilt,omitempty"`
	Encoding        []string `json:"encoding,omitempty"`
	ConfigChanges   []string `json:"configChanges"`
	LayersDifferent []int    `json:"layersDifferent"`
	FilesChanged    int      `json:"filesChanged"`
	Files           []string `json:"files"` // the first 100 changed paths
}

// ReportStatement builds the rebuild-report statement.
func ReportStatement(s []Subject, r Report) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return statement(s, PredicateReport, m)
}

func statement(subjects []Subject, predicateType string, pred map[string]any) ([]byte, error) {
	var rds []*ita1.ResourceDescriptor
	for _, s := range subjects {
		alg, hexd, err := splitDigest(s.Digest)
		if err != nil {
			return nil, fmt.Errorf("subject %s: %w", s.Name, err)
		}
		rds = append(rds, &ita1.ResourceDescriptor{Name: s.Name, Digest: map[string]string{alg: hexd}})
	}
	ps, err := structpb.NewStruct(pred)
	if err != nil {
		return nil, fmt.Errorf("predicate: %w", err)
	}
	st := &ita1.Statement{
		Type:          ita1.StatementTypeUri,
		Subject:       rds,
		PredicateType: predicateType,
		Predicate:     ps,
	}
	if err := st.Validate(); err != nil {
		return nil, err
	}
	b, err := protojson.Marshal(st)
	if err != nil {
		return nil, err
	}
	// protojson randomises its whitespace on purpose; compacting once gives
	// stable bytes, and those bytes are what is signed.
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func splitDigest(d string) (string, string, error) {
	alg, hexd, ok := bytes.Cut([]byte(d), []byte(":"))
	if !ok || string(alg) != "sha256" || len(hexd) != 64 {
		return "", "", fmt.Errorf("digest %q: want sha256:<64 hex>", d)
	}
	for _, c := range hexd {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", "", fmt.Errorf("digest %q: want lower-case hex", d)
		}
	}
	return string(alg), string(hexd), nil
}
