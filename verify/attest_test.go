package verify_test

import (
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reprover/reprover/attest"
	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/pins"
	"github.com/reprover/reprover/verify"
)

// TestAttestationLevels: the summary's verifiedLevels follow the verdict,
// the profile and the rebuild's network: FAILED alone when it failed; a
// proxied rebuild counts as downloads pinned only when it passed.
func TestAttestationLevels(t *testing.T) {
	key, err := attest.GenerateKey(filepath.Join(t.TempDir(), "k"), attest.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	digest := "sha256:" + strings.Repeat("4e", 32)
	req := verify.Request{Source: "https://git.example/app", Commit: strings.Repeat("c", 40), Image: "registry.example/app@" + digest}
	for _, c := range []struct {
		name    string
		verdict verify.Verdict
		network string
		strict  bool
		result  string   // "": no summary
		levels  []string // its verifiedLevels
	}{
		{"reproducible, hermetic", verify.Reproducible, "none", false, attest.ResultPassed, []string{attest.LevelReproducible, attest.LevelNetworkNone}},
		{"reproducible, built-in frontend", verify.Reproducible, "none", false, attest.ResultPassed, []string{attest.LevelReproducible, attest.LevelNetworkNone, attest.LevelFrontendBuiltin}},
		{"reproducible, pinned frontend", verify.Reproducible, "none", false, attest.ResultPassed, []string{attest.LevelReproducible, attest.LevelNetworkNone, attest.LevelFrontendPinned}},
		{"reproducible, proxied", verify.Reproducible, "proxy", true, attest.ResultPassed, []string{attest.LevelReproducible, attest.LevelDownloadsPinned}},
		{"equivalent, hermetic", verify.Equivalent, "none", false, attest.ResultPassed, []string{attest.LevelEquivalent, attest.LevelNetworkNone}},
		{"equivalent, proxied", verify.Equivalent, "proxy", false, attest.ResultPassed, []string{attest.LevelEquivalent, attest.LevelDownloadsPinned}},
		{"equivalent under strict", verify.Equivalent, "none", true, attest.ResultFailed, []string{attest.LevelFailed}},
		{"mismatch, proxied", verify.Mismatch, "proxy", false, attest.ResultFailed, []string{attest.LevelFailed}},
		{"reproducible, proxied, inputs moved", verify.Reproducible, "proxy", false, attest.ResultPassed, []string{attest.LevelReproducible, attest.LevelDownloadsMoved}},
		{"reproducible, proxied, inputs moved, strict", verify.Reproducible, "proxy", true, attest.ResultFailed, []string{attest.LevelFailed}},
		{"reproducible, proxied, nothing pinned", verify.Reproducible, "proxy", false, attest.ResultPassed, []string{attest.LevelReproducible, attest.LevelDownloadsNone}},
		{"error", verify.Error, "proxy", false, "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := &verify.Report{Verdict: c.verdict, Request: &req, Published: &compare.ImageRef{Ref: req.Image, Digest: digest},
				Build: &verify.Build{Network: c.network, Frontend: frontendOf(c.levels)}, Hints: []string{}}
			if strings.Contains(c.name, "inputs moved") {
				rep.Build.Pins = &verify.Pins{From: pins.FromProvenance}
				rep.Build.Inputs = &pins.Summary{Pinned: 11, Changed: []string{"http://deb.example/debian/dists/bookworm/InRelease"}}
			}
			if strings.Contains(c.name, "nothing pinned") {
				rep.Build.Pins = &verify.Pins{From: pins.FromNone}
				rep.Build.Inputs = &pins.Summary{New: []string{"http://deb.example/a.deb"}}
			}
			envs, err := verify.Attestations(t.Context(), rep, req, key, verify.AttestOptions{Strict: c.strict})
			if err != nil {
				t.Fatal(err)
			}
			var summaries []map[string]any
			for _, e := range envs {
				var env struct{ Payload string }
				if err := json.Unmarshal(e, &env); err != nil {
					t.Fatal(err)
				}
				payload, err := base64.StdEncoding.DecodeString(env.Payload)
				if err != nil {
					t.Fatal(err)
				}
				var st struct {
					PredicateType string         `json:"predicateType"`
					Predicate     map[string]any `json:"predicate"`
				}
				if err := json.Unmarshal(payload, &st); err != nil {
					t.Fatal(err)
				}
				if st.PredicateType == attest.PredicateVSA {
					summaries = append(summaries, st.Predicate)
				}
			}
			if c.result == "" {
				if len(summaries) != 0 {
					t.Fatalf("an error verdict has a summary: %v", summaries)
				}
				return
			}
			if len(summaries) != 1 {
				t.Fatalf("%d summaries, want 1", len(summaries))
			}
			var got []string
			for _, l := range summaries[0]["verifiedLevels"].([]any) {
				got = append(got, l.(string))
			}
			if r := summaries[0]["verificationResult"]; r != c.result || !slices.Equal(got, c.levels) {
				t.Errorf("verificationResult %v, verifiedLevels %q; want %s, %q", r, got, c.result, c.levels)
			}
		})
	}
}

// frontendOf is the report's frontend that gives a summary these levels.
func frontendOf(levels []string) string {
	switch {
	case slices.Contains(levels, attest.LevelFrontendBuiltin):
		return "dockerfile.v0 (built in)"
	case slices.Contains(levels, attest.LevelFrontendPinned):
		return "registry.example/frontend@sha256:" + strings.Repeat("f", 64)
	}
	return ""
}
