package verify

import (
	"errors"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/image"
)

// TestReportFromStages: the report holds exactly what the stages reached,
// whatever stage stopped the verification.
func TestReportFromStages(t *testing.T) {
	req := Request{Source: "/src", Commit: "0123456789abcdef0123456789abcdef01234567", Image: "r.example/app@sha256:" + hex64}
	pub := &image.Resolved{Digest: v1.Hash{Algorithm: "sha256", Hex: hex64}}
	src := &source{checkout: &Checkout{Commit: req.Commit}}
	pl := &plan{spec: builder.Spec{SourceDateEpoch: 1700000000}, build: Build{BuildKit: "v0.34.2"}, hints: []string{"1 platform image(s) … not verified"}}
	cmp := &compare.Report{Verdict: compare.Different, Hints: []string{"only mtimes"},
		Platforms: []compare.Platform{{Platform: "linux/amd64", Verdict: compare.Identical}, {Platform: "linux/arm64", Verdict: compare.Different}}}
	stopped := errors.New("stopped")
	tests := []struct {
		name    string
		st      stages
		err     error
		verdict Verdict
		has     []string // the report's parts that are set
		hints   []string
	}{
		{name: "refused before anything", err: stopped, verdict: Error, has: []string{"request"}},
		{name: "commit not found", st: stages{published: pub}, err: stopped, verdict: Error, has: []string{"request", "published"}},
		{name: "rules refused", st: stages{published: pub, source: src}, err: stopped, verdict: Error, has: []string{"request", "published", "source"}},
		{name: "build failed", st: stages{published: pub, source: src, plan: pl}, err: stopped, verdict: Error,
			has: []string{"request", "published", "source", "sourceDateEpoch", "build"}, hints: pl.hints},
		{name: "compared", st: stages{published: pub, source: src, plan: pl, rebuilt: &builder.Result{Digest: "sha256:" + hex64}, comparison: cmp}, verdict: Mismatch,
			has: []string{"request", "published", "source", "sourceDateEpoch", "build", "rebuilt", "platforms"}, hints: []string{pl.hints[0], "only mtimes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.st.report(req, tc.err)
			if r.Verdict != tc.verdict || (tc.err != nil) != (r.Error != "") {
				t.Errorf("verdict %s error %q, want %s", r.Verdict, r.Error, tc.verdict)
			}
			got := map[string]bool{"request": r.Request != nil, "published": r.Published != nil, "source": r.Source != nil, "sourceDateEpoch": r.SourceDateEpoch != nil,
				"build": r.Build != nil, "rebuilt": r.Rebuilt != nil, "platforms": len(r.Platforms) > 0}
			for part, set := range got {
				if set != slices.Contains(tc.has, part) {
					t.Errorf("%s set: %v, want %v", part, set, !set)
				}
			}
			if !slices.Equal(r.Hints, append([]string{}, tc.hints...)) {
				t.Errorf("hints %q, want %q", r.Hints, tc.hints)
			}
		})
	}
}

// TestPlatformVerdicts: a platform's verdict and its comparison's map one
// to one, so a report read back restores the comparison's.
func TestPlatformVerdicts(t *testing.T) {
	for cmp, want := range map[string]Verdict{compare.Identical: Reproducible, compare.Equivalent: Equivalent, compare.Different: Mismatch} {
		if got := verdictOf(cmp); got != want || got.comparisonVerdict() != cmp {
			t.Errorf("%s → %s → %s, want %s and back", cmp, got, got.comparisonVerdict(), want)
		}
	}
}

// TestVerdict: reproducible only when every platform manifest is
// bit-identical, whatever the index says.
func TestVerdict(t *testing.T) {
	p := func(vs ...string) []compare.Platform {
		var out []compare.Platform
		for _, v := range vs {
			out = append(out, compare.Platform{Verdict: v})
		}
		return out
	}
	for _, c := range []struct {
		name string
		cmp  compare.Report
		want Verdict
	}{
		{"all identical", compare.Report{Verdict: compare.Identical, Platforms: p(compare.Identical)}, Reproducible},
		{"index differs by attestations only", compare.Report{Verdict: compare.Equivalent, Platforms: p(compare.Identical, compare.Identical)}, Reproducible},
		{"one platform recompressed", compare.Report{Verdict: compare.Equivalent, Platforms: p(compare.Identical, compare.Equivalent)}, Equivalent},
		{"one platform differs", compare.Report{Verdict: compare.Different, Platforms: p(compare.Identical, compare.Different)}, Mismatch},
		{"no platform", compare.Report{Verdict: compare.Different}, Mismatch},
	} {
		if got := verdict(&c.cmp); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
