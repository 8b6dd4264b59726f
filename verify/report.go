package verify

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/pins"
)

// Verdict is the outcome of a verification.
type Verdict string

// Verdicts of a verification (docs/report.md, "Verdicts").
const (
	// Reproducible: every rebuilt platform manifest is the published one.
	Reproducible Verdict = "reproducible"
	// Equivalent: the same config and files; only the encoding differs.
	Equivalent Verdict = "equivalent"
	// Mismatch: anything else; every difference is in the report.
	Mismatch Verdict = "mismatch"
	// Error: no verdict could be reached; Report.Error says why.
	Error Verdict = "error"
)

// Verdicts lists the verdicts, in the order pages offer them.
var Verdicts = []Verdict{Reproducible, Equivalent, Mismatch, Error}

// Verified says whether a verdict passes: reproducible, or equivalent
// unless strict.
func (v Verdict) Verified(strict bool) bool {
	return v == Reproducible || (!strict && v == Equivalent)
}

// Verified says whether the verification passed: its verdict, and under
// strict every download of a proxied rebuild as the release got it.
func (r *Report) Verified(strict bool) bool {
	return r.Verdict.Verified(strict) && (!strict || r.InputsAsReleased())
}

// InputsAsReleased says whether the rebuild got every input the release
// got: true with no network, or when every download equalled its pin.
func (r *Report) InputsAsReleased() bool {
	return r.Build == nil || r.Build.Inputs == nil || r.Build.Inputs.AsReleased() && r.Build.Pins != nil && r.Build.Pins.From != pins.FromNone
}

// verdictOf is a platform's verdict from its comparison's.
func verdictOf(comparison string) Verdict {
	switch comparison {
	case compare.Identical:
		return Reproducible
	case compare.Equivalent:
		return Equivalent
	}
	return Mismatch
}

// comparisonVerdict is the inverse of verdictOf, for reports read back.
func (v Verdict) comparisonVerdict() string {
	switch v {
	case Reproducible:
		return compare.Identical
	case Equivalent:
		return compare.Equivalent
	}
	return compare.Different
}

// Report is the outcome of a verification: the request, the source and
// images it resolved to, the build evidence, and the comparison of the
// rebuilt image (A) with the published one (B). Its JSON is the report of
// docs/report.md (docs/report.schema.json); what a verification could not reach
// (after an error) is absent.
type Report struct {
	SchemaVersion int      `json:"schemaVersion"`
	Verdict       Verdict  `json:"verdict"`
	Error         string   `json:"error,omitempty"`
	Request       *Request `json:"request,omitempty"`
	// Parameters are the rebuild's parameters, each with where it came
	// from (flag, provenance, label, default).
	Parameters      map[string]Parameter `json:"parameters,omitempty"`
	Source          *Source              `json:"source,omitempty"`
	Published       *compare.ImageRef    `json:"published,omitempty"`
	Rebuilt         *compare.ImageRef    `json:"rebuilt,omitempty"`
	SourceDateEpoch *int64               `json:"sourceDateEpoch,omitempty"`
	Build           *Build               `json:"build,omitempty"`
	// Timings say where the verification's time went.
	Timings *Timings `json:"timings,omitempty"`
	// Encoding, Hints and Platforms are the comparison's, seen as a
	// verification: hints also say what the verification left out.
	Encoding  []string   `json:"encoding,omitempty"`
	Hints     []string   `json:"hints"`
	Platforms []Platform `json:"platforms"`
}

// Timings are the time the rebuild and the comparison took, in seconds
// (to the millisecond), and how many layers the comparison read: a layer
// that is the same blob at the same place in both images (the shared
// base layers) is not read.
type Timings struct {
	BuildSeconds   float64 `json:"buildSeconds"`
	CompareSeconds float64 `json:"compareSeconds"`
	LayersRead     int     `json:"layersRead"`
	LayersSkipped  int     `json:"layersSkipped"`
}

func seconds(d time.Duration) float64 { return float64(d.Milliseconds()) / 1000 }

// Source is the source a rebuild came from.
type Source struct {
	URI    string `json:"uri"`
	Commit string `json:"commit"`
	// FromKit: the commit's tree came from the release's kit (its git
	// objects, their ids computed by git), not from URI.
	FromKit bool `json:"fromKit,omitempty"`
}

// PlatformComparison is what compare found for one platform.
type PlatformComparison = compare.Platform

// Platform is the verification of one platform image: its comparison, and
// the verdict that gives (the comparison's own verdict, in compare's words,
// is not in the JSON; it follows from Verdict).
type Platform struct {
	Verdict Verdict `json:"verdict"`
	PlatformComparison
}

// UnmarshalJSON restores the comparison's verdict from the platform's.
func (p *Platform) UnmarshalJSON(b []byte) error {
	type plain Platform
	var x plain
	if err := json.Unmarshal(b, &x); err != nil {
		return err
	}
	x.PlatformComparison.Verdict = x.Verdict.comparisonVerdict()
	*p = Platform(x)
	return nil
}

// Build is the hermeticity evidence of the report.
type Build struct {
	BuildKit  string         `json:"buildkit"`
	Frontend  string         `json:"frontend"`
	Network   string         `json:"network"`
	Bases     []builder.Base `json:"bases"`
	Downloads []Download     `json:"downloads"`
	// Pins says where the downloads' pins came from (network proxy), and
	// Inputs how the rebuild's downloads stood against them.
	Pins   *Pins         `json:"pins,omitempty"`
	Inputs *pins.Summary `json:"inputs,omitempty"`
	// Kit is the release's kit every download was served from, when the
	// rebuild replayed one (docs/kit.md).
	Kit *KitUse `json:"kit,omitempty"`
	// RunDownloads are the RUN steps that fetch; Warnings the rules
	// broken that are reported, not refused (a download piped to a shell).
	RunDownloads []builder.RunDownload `json:"runDownloads,omitempty"`
	Warnings     []builder.Note        `json:"warnings,omitempty"`
	Target       string                `json:"target"`
	BuildArgs    map[string]string     `json:"buildArgs"`
	// Attrs are the other frontend attributes of the release's provenance
	// the rebuild passed (hostname, label:*, multi-platform); Ignored the
	// parameters of the release's build it did without (builder.Params).
	Attrs      map[string]string `json:"attrs,omitempty"`
	Ignored    []string          `json:"ignoredParameters,omitempty"`
	Platforms  []string          `json:"platforms"`
	Dockerfile string            `json:"dockerfile"`
	Context    string            `json:"context"`
	NoCache    bool              `json:"noCache"`
	// Provenance lists the publisher's provenance attestations read from
	// the published index (the VSA's inputAttestations).
	Provenance []Provenance `json:"provenance,omitempty"`
	// UnverifiedPlatforms counts the published index's images left out by
	// --platform: the attestations then name the verified manifests, not
	// the index.
	UnverifiedPlatforms int `json:"unverifiedPlatforms,omitempty"`
}

// Download is a download of the rebuild: an ADD with its checksum, or a
// request a RUN made through the proxy, and what pinned it.
type Download struct {
	URL      string `json:"url"`
	Checksum string `json:"checksum,omitempty"` // ADD --checksum
	Method   string `json:"method,omitempty"`
	Status   int    `json:"status,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	PinnedBy string `json:"pinnedBy,omitempty"` // lock, provenance or checksum
	// State is how it stands against the pins (pinned, changed, new,
	// missing; docs/network.md); Pinned the sha256 the release got, for a
	// changed or missing one.
	State  string `json:"state,omitempty"`
	Pinned string `json:"pinned,omitempty"`
	// FromKit: served from the release's kit, not fetched upstream.
	FromKit bool `json:"fromKit,omitempty"`
}

// Pins says where the pins of a proxied rebuild came from.
type Pins struct {
	From   string `json:"from"`   // lock or provenance
	Source string `json:"source"` // the lock file, or the provenance statements
	Count  int    `json:"count"`  // URLs pinned
}

// Provenance is one provenance statement read from the published image.
type Provenance struct {
	URI           string `json:"uri"`    // REPO@sha256:… of its attestation manifest
	Digest        string `json:"digest"` // of the statement itself
	PredicateType string `json:"predicateType"`
	For           string `json:"for,omitempty"` // the image manifest it describes
}

// proxied counts the downloads RUN steps made through the proxy.
func (b *Build) proxied() int {
	n := 0
	for _, d := range b.Downloads {
		if d.Method != "" {
			n++
		}
	}
	return n
}

// ReadReport decodes a report as WriteJSON (or the service) wrote it.
func ReadReport(b []byte) (*Report, error) { return readJSON[Report](b, "a verification report") }

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error { return writeJSON(w, r) }

// readJSON decodes b, a report of the kind what names.
func readJSON[T any](b []byte, what string) (*T, error) {
	var r T
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	return &r, nil
}

// writeJSON writes v as indented JSON, as every report is written.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// WriteText writes the report for people: what was verified and how it
// was rebuilt, then the comparison, platform by platform.
func (r *Report) WriteText(w io.Writer, o compare.TextOptions) error {
	p := compare.NewText(w, o)
	p.Line("%s %s", p.Bold("verdict:"), p.Verdict(string(r.Verdict), r.Verdict.Verified(false)))
	if r.Error != "" {
		p.Line("error: %s", r.Error)
	}
	if r.Source != nil {
		from := ""
		if r.Source.FromKit {
			from = " (from the kit's git objects)"
		}
		p.Line("source:    %s @ %s%s", r.Source.URI, r.Source.Commit, from)
	}
	if r.Published != nil {
		p.Line("published: %s", r.Published.String())
	}
	if r.Rebuilt != nil {
		p.Line("rebuilt:   %s", r.Rebuilt.Digest)
	}
	if r.SourceDateEpoch != nil {
		p.Line("SOURCE_DATE_EPOCH: %d (%s)", *r.SourceDateEpoch, time.Unix(*r.SourceDateEpoch, 0).UTC().Format(time.RFC3339))
	}
	writeBuild(p, r.Build)
	if t := r.Timings; t != nil {
		p.Line("time:      build %.1f s, compare %.1f s (layers read: %d; not read, the same blob in both: %d)", t.BuildSeconds, t.CompareSeconds, t.LayersRead, t.LayersSkipped)
	}
	p.Comparison(r.Encoding, r.Hints)
	for i := range r.Platforms {
		pl := &r.Platforms[i]
		p.Platform(&pl.PlatformComparison, string(pl.Verdict), pl.Verdict.Verified(false))
	}
	return p.Err()
}

// writeBuild writes the build evidence: how the image was (re)built.
func writeBuild(p *compare.Text, b *Build) {
	if b == nil {
		return
	}
	p.Line("build:     BuildKit %s, network %s, no cache, platforms %s", b.BuildKit, b.Network, strings.Join(b.Platforms, ", "))
	if b.Pins != nil {
		p.Line("           %d download(s) through the proxy, each checked against the %d pin(s) of %s", b.proxied(), b.Pins.Count, b.Pins.Source)
	}
	if b.Inputs != nil {
		p.Line("inputs:    %s", b.Inputs.String())
	}
	if b.Kit != nil {
		p.Line("           %s", b.Kit.String())
	}
	if b.Target != "" {
		p.Line("           target %s", b.Target)
	}
	for _, k := range slices.Sorted(maps.Keys(b.BuildArgs)) {
		p.Line("           build arg %s=%s", k, b.BuildArgs[k])
	}
	for _, base := range b.Bases {
		p.Line("           base %s", base.Ref)
	}
	for _, d := range b.Downloads {
		switch {
		case d.Checksum != "":
			p.Line("           download %s (%s)", d.URL, d.Checksum)
		case d.PinnedBy != "":
			p.Line("           download %s %s -> %d sha256:%s (pinned by %s)", d.Method, d.URL, d.Status, d.SHA256, d.PinnedBy)
		case d.State == string(pins.StateChanged):
			p.Line("           download %s %s -> %d sha256:%s, CHANGED: the release got sha256:%s", d.Method, d.URL, d.Status, d.SHA256, d.Pinned)
		case d.State == string(pins.StateNew):
			p.Line("           download %s %s -> %d sha256:%s, NEW: no pin names it", d.Method, d.URL, d.Status, d.SHA256)
		case d.State == string(pins.StateMissing):
			p.Line("           download %s MISSING: the release got sha256:%s, the rebuild did not fetch it", d.URL, d.Pinned)
		default:
			p.Line("           request %s %s -> %d", d.Method, d.URL, d.Status)
		}
	}
	for _, w := range b.Warnings {
		p.Line("           %s %s:%d: %s: %s", p.Verdict("warning", false), w.File, w.Line, w.Rule, w.Message)
	}
}

// htmlPage is compare's page with what a verification adds under the
// verdict.
var htmlPage = template.Must(compare.HTMLPage(`{{with .Error}}<p>error: {{. | visible}}</p>{{end}}
{{with .Source}}<p>source: <code>{{.URI | visible}}</code> at <code>{{.Commit | visible}}</code>{{if .FromKit}} (from the kit's git objects){{end}}</p>{{end}}
{{with .Published}}<p>published: {{.Ref | visible}} <code>{{.Digest | visible}}</code></p>{{end}}{{with .Rebuilt}}<p>rebuilt: <code>{{.Digest | visible}}</code></p>{{end}}
{{with .SourceDateEpoch}}<p>SOURCE_DATE_EPOCH: {{.}}</p>{{end}}
{{with .Build}}{{with .Inputs}}<p>inputs: {{.String | visible}}</p>{{end}}{{end}}
{{with .Build}}<details><summary>build evidence</summary><pre>{{indent . | visibleLines}}</pre></details>{{end}}
`, "rebuilt", "published"))

// WriteHTML writes the report as one self-contained page.
func (r *Report) WriteHTML(w io.Writer) error { return htmlPage.Execute(w, r) }
