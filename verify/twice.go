package verify

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/causes"
	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/pins"
)

// FromFirstBuild is where the pins of Twice's second build come from when
// the commit has no lock file: the downloads of its first build.
const FromFirstBuild = "firstBuild"

// TwiceReport is the outcome of Twice: the commit built twice, and the
// comparison of the first build (A, "rebuilt" in the platforms' JSON) with
// the second (B, "published" there). Verdict is reproducible only when the
// two are bit-identical and every download got the same bytes; equivalent
// and mismatch both say the Dockerfile is not reproducible. What Twice
// could not reach (after an error) is absent.
type TwiceReport struct {
	SchemaVersion int      `json:"schemaVersion"`
	Verdict       Verdict  `json:"verdict"`
	Error         string   `json:"error,omitempty"`
	Request       *Request `json:"request,omitempty"` // as given; no image
	// Parameters are the builds' parameters, each with where it came
	// from (flag, bake, default).
	Parameters      map[string]Parameter `json:"parameters,omitempty"`
	Source          *Source              `json:"source,omitempty"`
	First           *TwiceBuild          `json:"first,omitempty"`
	Second          *TwiceBuild          `json:"second,omitempty"`
	SourceDateEpoch *int64               `json:"sourceDateEpoch,omitempty"`
	// Build is the evidence both builds share; with --network proxy its
	// downloads are the second build's, each checked against the pins.
	Build *Build `json:"build,omitempty"`
	// DownloadChanges are the downloads whose bytes differ between the
	// builds: each makes the verdict a mismatch.
	DownloadChanges []DownloadChange `json:"downloadChanges,omitempty"`
	Encoding        []string         `json:"encoding,omitempty"`
	Hints           []string         `json:"hints"`
	Platforms       []Platform       `json:"platforms"`
}

// TwiceBuild is one of Twice's builds: its image, and when it started and
// finished (wall clock, UTC).
type TwiceBuild struct {
	Digest   string    `json:"digest"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
}

// DownloadChange is a URL that served the two builds different bytes; a
// URL only one build fetched has no digest on the other side.
type DownloadChange struct {
	URL    string `json:"url"`
	First  string `json:"first,omitempty"`  // sha256 (hex) of what the first build got
	Second string `json:"second,omitempty"` // and the second
}

// Twice builds the request's commit twice on one daemon, no cache, the
// second build starting in a later wall-clock second than the first
// finished, with the same SOURCE_DATE_EPOCH (default: the commit time),
// so that every step of the second runs at another time than every step
// of the first (a `date +%s` differs), and compares the two
// images as Run compares a rebuild with a release: the stages are Run's
// (export, rules, plan, build, compare) without a published image. With
// --network proxy the downloads are pinned by the commit's lock file, as
// for Run, else by the first build's downloads (any public host, as
// reprover lock), and a download that changed between the builds is a
// mismatch naming it. It always returns a report; the error is non-nil
// exactly when the verdict is "error" (bad or unpinned input, a failed
// build, a download that breaks the lock file's pins).
func Twice(ctx context.Context, req Request, b Builder, o Options) (*TwiceReport, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	var st twiceStages
	err := st.run(ctx, req, b, o)
	return st.report(req, err), err
}

// twiceStages holds what each stage of Twice returned: Run's stages (no
// published image; rebuilt is the first build), and the second build.
type twiceStages struct {
	stages
	first, second [2]time.Time // when each build started and finished
	secondBuild   *builder.Result
	firstPins     *pins.Lock // network proxy without a lock file
	changes       []DownloadChange
}

func (st *twiceStages) run(ctx context.Context, req Request, b Builder, o Options) error {
	if err := req.CheckTwice(); err != nil {
		return err
	}
	scratch, cleanup, err := scratchDir(o, "reprover-twice-")
	if err != nil {
		return err
	}
	defer cleanup()
	inputs, err := st.prepare(ctx, req, b, o, nil, scratch)
	if err != nil {
		return err
	}
	req = st.params.req
	spec := st.plan.spec
	spec.OutputDir = filepath.Join(scratch, "first")
	st.first[0] = now()
	if st.rebuilt, err = b.Build(ctx, spec, progressOr(o.Progress), o.ProgressMode); err != nil {
		return offlineHint(err, req.network())
	}
	st.first[1] = now()
	first, err := openBuilt(ctx, "the first build", spec.OutputDir, st.rebuilt.Digest, o)
	if err != nil {
		return err
	}
	defer first.Close()
	if len(st.plan.build.Platforms) == 0 { // the daemon's
		for _, img := range first.Images {
			st.plan.build.Platforms = append(st.plan.build.Platforms, image.PlatformString(img.Platform))
		}
	}
	if err := st.pinFirst(inputs); err != nil {
		return err
	}
	// A later second than the first build's last step ran in, so that
	// anything a step writes of its own time differs, to the second: the
	// first build's start is not enough (a fast build's steps can run in
	// the next second, where the second build's would run too).
	if err := untilNextSecond(ctx, st.first[1]); err != nil {
		return err
	}
	o.Logger.Info("building a second time", "first", st.rebuilt.Digest)
	spec.OutputDir = filepath.Join(scratch, "second")
	st.second[0] = now()
	if st.secondBuild, err = b.Build(ctx, spec, progressOr(o.Progress), o.ProgressMode); err != nil {
		return fmt.Errorf("the second build: %w", err)
	}
	st.second[1] = now()
	if err := st.checkSecond(inputs); err != nil {
		return err
	}
	second, err := openBuilt(ctx, "the second build", spec.OutputDir, st.secondBuild.Digest, o)
	if err != nil {
		return err
	}
	defer second.Close()
	copts := o.Compare
	copts.NameA, copts.NameB = "first", "second"
	if copts.Scratch == "" {
		copts.Scratch = scratch // the walks' entries, with the job's other files
	}
	// Times inside differing files from the first build's start to the
	// second's end are the builds' own.
	copts.Window = causes.Window{From: st.first[0].Add(-time.Minute), To: st.second[1].Add(time.Minute)}
	st.comparison, err = compare.Images(ctx, first, second, copts)
	return err
}

// pinFirst checks the first build's downloads against the lock file, or,
// without one, makes them the pins of the second build.
func (st *twiceStages) pinFirst(inputs *builder.Inputs) error {
	if st.plan.pins != nil {
		_, err := checkDownloads(st.rebuilt.Captures, st.plan.pins, inputs.Downloads)
		return err
	}
	if st.plan.build.Network != builder.NetworkProxy {
		return nil
	}
	l, err := pins.LockOf(runCaptures(st.rebuilt.Captures, inputs.Downloads))
	if err != nil {
		return fmt.Errorf("the first build's downloads cannot pin the second's: %w", err)
	}
	set, err := pins.NewSet(FromFirstBuild, "the first build's downloads", l.Downloads)
	if err != nil {
		return err
	}
	st.firstPins, st.plan.pins = l, set
	st.plan.build.Pins = &Pins{From: set.Origin, Source: set.Source, Count: set.Len()}
	return nil
}

// checkSecond checks the second build's downloads against the pins. A
// download that breaks a lock file's pin is an error, as for Run; against
// the first build's, a changed, new or missing download is a difference
// between the builds.
func (st *twiceStages) checkSecond(inputs *builder.Inputs) error {
	if st.plan.pins == nil {
		return nil
	}
	downloads, err := checkDownloads(st.secondBuild.Captures, st.plan.pins, inputs.Downloads)
	st.downloads = downloads
	var pe *pins.Error
	if st.firstPins == nil || err != nil && !errors.As(err, &pe) {
		return err // the lock file's pins, as for Run
	}
	var problems []pins.Problem
	if pe != nil {
		for _, p := range pe.Problems {
			switch p.Kind {
			case pins.Changed:
				st.changes = append(st.changes, DownloadChange{URL: p.Capture.URL, First: p.Pinned, Second: p.Capture.SHA256})
			case pins.Unpinned:
				st.changes = append(st.changes, DownloadChange{URL: p.Capture.URL, Second: p.Capture.SHA256})
			default:
				problems = append(problems, p)
			}
		}
	}
	fetched := map[string]bool{}
	for _, d := range downloads {
		fetched[d.URL] = d.SHA256 != "" && d.Status >= 200 && d.Status < 300
	}
	for _, p := range st.firstPins.Downloads {
		if !fetched[p.URL] {
			st.changes = append(st.changes, DownloadChange{URL: p.URL, First: p.SHA256})
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("the second build: %w", &pins.Error{Source: pe.Source, Problems: problems})
	}
	return nil
}

// report assembles the report from the stages' results.
func (st *twiceStages) report(req Request, err error) *TwiceReport {
	r := &TwiceReport{SchemaVersion: 1, Request: &req, Hints: []string{}, Platforms: []Platform{}}
	if st.params != nil {
		r.Parameters = st.params.of
		r.Hints = append(r.Hints, st.params.hints...)
	}
	if st.source != nil {
		r.Source = &Source{URI: st.params.req.Source, Commit: st.source.checkout.Commit}
	}
	if st.plan != nil {
		sde := st.plan.spec.SourceDateEpoch
		r.SourceDateEpoch = &sde
		r.Build = &st.plan.build
		if st.downloads != nil {
			r.Build.Downloads = st.downloads
		}
		r.Hints = append(r.Hints, st.plan.hints...)
	}
	if st.rebuilt != nil {
		r.First = &TwiceBuild{Digest: st.rebuilt.Digest, Started: st.first[0], Finished: st.first[1]}
	}
	if st.secondBuild != nil {
		r.Second = &TwiceBuild{Digest: st.secondBuild.Digest, Started: st.second[0], Finished: st.second[1]}
	}
	r.DownloadChanges = st.changes
	if err != nil {
		r.Verdict, r.Error = Error, err.Error()
		return r
	}
	c := st.comparison
	r.Verdict = verdict(c)
	r.Encoding = c.Encoding
	r.Hints = append(r.Hints, c.Hints...)
	r.Platforms = platformsOf(c)
	for _, d := range st.changes {
		r.Hints = append(r.Hints, d.hint())
	}
	if len(st.changes) > 0 {
		r.Verdict = Mismatch
	}
	if r.Verdict == Equivalent {
		r.Hints = append(r.Hints, fmt.Sprintf("The two builds hold the same config and files but are not bit-identical (the encoding differs: %s): the build's output is not stable, so a rebuild would not match a release bit for bit.", strings.Join(r.Encoding, ", ")))
	}
	return r
}

func (d DownloadChange) hint() string {
	const fix = "a download that changes between builds makes the image unreproducible: pin it (a versioned URL, ADD --checksum) and commit a lock file (reprover lock)."
	switch {
	case d.First == "":
		return fmt.Sprintf("%s was fetched by the second build only (sha256:%s): %s", d.URL, d.Second, fix)
	case d.Second == "":
		return fmt.Sprintf("%s was fetched by the first build only (sha256:%s): %s", d.URL, d.First, fix)
	}
	return fmt.Sprintf("%s served the first build sha256:%s and the second sha256:%s: %s", d.URL, d.First, d.Second, fix)
}

// now is the wall-clock time a build starts, in UTC without the monotonic
// reading, so that a report reads back equal.
func now() time.Time { return time.Now().UTC().Round(0) }

// untilNextSecond waits until the wall clock is past the second t fell in:
// product code, where a settable clock would not move BuildKit's.
func untilNextSecond(ctx context.Context, t time.Time) error {
	d := time.Until(t.Truncate(time.Second).Add(time.Second))
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// ReadTwiceReport decodes a report as TwiceReport.WriteJSON wrote it.
func ReadTwiceReport(b []byte) (*TwiceReport, error) {
	return readJSON[TwiceReport](b, "a build-twice report")
}

// WriteJSON writes the report as indented JSON.
func (r *TwiceReport) WriteJSON(w io.Writer) error { return writeJSON(w, r) }

// WriteText writes the report for people: what was built, how, and the
// comparison of the two builds, platform by platform (first → second).
func (r *TwiceReport) WriteText(w io.Writer, o compare.TextOptions) error {
	p := compare.NewText(w, o)
	p.Line("%s %s", p.Bold("verdict:"), p.Verdict(string(r.Verdict), r.Verdict == Reproducible))
	if r.Error != "" {
		p.Line("error: %s", r.Error)
	}
	if r.Source != nil {
		p.Line("source:    %s @ %s", r.Source.URI, r.Source.Commit)
	}
	for _, b := range []struct {
		name string
		b    *TwiceBuild
	}{{"first: ", r.First}, {"second:", r.Second}} {
		if b.b != nil {
			p.Line("%s    %s (built %s – %s)", b.name, b.b.Digest, b.b.Started.Format(time.RFC3339Nano), b.b.Finished.Format(time.RFC3339Nano))
		}
	}
	if r.SourceDateEpoch != nil {
		p.Line("SOURCE_DATE_EPOCH: %d (%s)", *r.SourceDateEpoch, time.Unix(*r.SourceDateEpoch, 0).UTC().Format(time.RFC3339))
	}
	writeBuild(p, r.Build)
	p.Comparison(r.Encoding, r.Hints)
	for i := range r.Platforms {
		pl := &r.Platforms[i]
		p.Platform(&pl.PlatformComparison, string(pl.Verdict), pl.Verdict == Reproducible)
	}
	return p.Err()
}

// twicePage is compare's page with what Twice adds under the verdict.
var twicePage = template.Must(compare.HTMLPage(`{{with .Error}}<p>error: {{. | visible}}</p>{{end}}
{{with .Source}}<p>source: <code>{{.URI | visible}}</code> at <code>{{.Commit | visible}}</code></p>{{end}}
{{with .First}}<p>first build: <code>{{.Digest | visible}}</code>, {{.Started}} – {{.Finished}}</p>{{end}}{{with .Second}}<p>second build: <code>{{.Digest | visible}}</code>, {{.Started}} – {{.Finished}}</p>{{end}}
{{with .SourceDateEpoch}}<p>SOURCE_DATE_EPOCH: {{.}}</p>{{end}}
{{with .DownloadChanges}}<h3>downloads that changed between the builds</h3><ul>{{range .}}<li><code>{{.URL | visible}}</code>: first {{or .First "-" | visible}}, second {{or .Second "-" | visible}}</li>{{end}}</ul>{{end}}
{{with .Build}}<details><summary>build evidence</summary><pre>{{indent . | visibleLines}}</pre></details>{{end}}
`, "first", "second"))

// WriteHTML writes the report as one self-contained page.
func (r *TwiceReport) WriteHTML(w io.Writer) error { return twicePage.Execute(w, r) }
