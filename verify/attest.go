package verify

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/reprover/reprover/attest"
	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/pins"
)

// Version is reprover's version, as the attestations name it (set by the
// binary).
var Version = "dev"

// AttestOptions configure Attestations.
type AttestOptions struct {
	Strict bool      // the profile: only reproducible passes
	Now    time.Time // timeVerified; zero means time.Now()
}

// Attestations signs the outcome of a verification as DSSE envelopes (one
// JSON line each): a SLSA verification summary (PASSED or FAILED) when a
// verdict was reached, and always the rebuild report, so that an error is
// signed too. The subject is the published image; when it could not be
// resolved and its reference names no digest, there is nothing to sign
// about and that is an error.
func Attestations(ctx context.Context, rep *Report, req Request, key *attest.PrivateKey, o AttestOptions) ([][]byte, error) {
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	subj, err := subjectsOf(rep, req)
	if err != nil {
		return nil, err
	}
	pol := policy(o.Strict)
	var out [][]byte
	if rep.Verdict != Error {
		var inputs []attest.InputAttestation
		if rep.Build != nil {
			for _, p := range rep.Build.Provenance {
				inputs = append(inputs, attest.InputAttestation{URI: p.URI, Digest: p.Digest})
			}
		}
		passed := rep.Verified(o.Strict)
		st, err := attest.VSAStatement(attest.VSA{Subjects: subj, VerifierVersion: Version, TimeVerified: now,
			ResourceURI: req.Image, Policy: pol, Passed: passed, InputAttestations: inputs,
			VerifiedLevels: verifiedLevels(rep, passed)})
		if err != nil {
			return nil, err
		}
		env, err := attest.Sign(ctx, key, st)
		if err != nil {
			return nil, err
		}
		out = append(out, env)
	}
	st, err := attest.ReportStatement(subj, reportPredicate(rep, pol, now))
	if err != nil {
		return nil, err
	}
	env, err := attest.Sign(ctx, key, st)
	if err != nil {
		return nil, err
	}
	return append(out, env), nil
}

// VerifiedLevels are the verifiedLevels the signed summary of this report
// holds (attest.Levels), passed under strict or not.
func (r *Report) VerifiedLevels(strict bool) []string { return verifiedLevels(r, r.Verified(strict)) }

// verifiedLevels is what a summary vouches for (attest.Levels): FAILED
// alone when the verification failed; otherwise the verdict, and how RUN
// reached the network: a proxied rebuild's downloads all as pinned, some
// moved since the release (changed, new, missing: the verdict is then the
// comparison's), or nothing pinned them; and the frontend.
func verifiedLevels(rep *Report, passed bool) []string {
	if !passed {
		return []string{attest.LevelFailed}
	}
	var levels []string
	switch rep.Verdict {
	case Reproducible:
		levels = append(levels, attest.LevelReproducible)
	case Equivalent:
		levels = append(levels, attest.LevelEquivalent)
	}
	if rep.Build == nil {
		return levels
	}
	switch rep.Build.Network {
	case builder.NetworkNone:
		levels = append(levels, attest.LevelNetworkNone)
	case builder.NetworkProxy:
		switch {
		case rep.Build.Pins != nil && rep.Build.Pins.From == pins.FromNone:
			levels = append(levels, attest.LevelDownloadsNone)
		case rep.InputsAsReleased():
			levels = append(levels, attest.LevelDownloadsPinned)
		default:
			levels = append(levels, attest.LevelDownloadsMoved)
		}
	}
	if k := rep.Build.Kit; k != nil && k.Replayed && rep.InputsAsReleased() {
		levels = append(levels, attest.LevelInputsArchived)
	}
	switch rep.Build.Frontend {
	case "":
	case frontendBuiltin:
		levels = append(levels, attest.LevelFrontendBuiltin)
	default:
		levels = append(levels, attest.LevelFrontendPinned) // the rules refuse any other
	}
	return levels
}

// subjectsOf is the published image, or — when the published index has
// platforms this verification did not rebuild — the platform manifests
// it did: a PASSED summary must not vouch for images never compared.
func subjectsOf(rep *Report, req Request) ([]attest.Subject, error) {
	s, err := subjectOf(rep, req)
	if err != nil {
		return nil, err
	}
	if rep.Build == nil || rep.Build.UnverifiedPlatforms == 0 {
		return []attest.Subject{s}, nil
	}
	var out []attest.Subject
	for _, p := range rep.Platforms {
		if p.Published != "" {
			out = append(out, attest.Subject{Name: s.Name, Digest: p.Published})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("cannot attest: no platform of %s was verified", req.Image)
	}
	return out, nil
}

func subjectOf(rep *Report, req Request) (attest.Subject, error) {
	ref, err := image.ParseReference(req.Image)
	if err != nil {
		return attest.Subject{}, fmt.Errorf("cannot attest: %w", err)
	}
	digest := ""
	if rep.Published != nil && rep.Published.Digest != "" {
		digest = rep.Published.Digest
	} else if ref.Pinned() {
		digest = ref.Digest.String()
	}
	name := ref.Name
	if digest == "" {
		return attest.Subject{}, fmt.Errorf("cannot attest: the published image %s was not resolved and its reference names no digest", req.Image)
	}
	return attest.Subject{Name: name, Digest: digest}, nil
}

func policy(strict bool) attest.Policy {
	p := attest.Policy{URI: attest.PolicyURI, Profile: "reproducible-or-equivalent"}
	if strict {
		p.Profile = "strict"
	}
	for _, r := range builder.Rules {
		p.Rules = append(p.Rules, r.Name)
	}
	p.Rules = append(p.Rules, "network-none", "no-cache", "no-entitlements", "source-date-epoch")
	return p
}

func reportPredicate(rep *Report, pol attest.Policy, now time.Time) attest.Report {
	r := attest.Report{Verdict: string(rep.Verdict), Error: rep.Error, Source: rep.Source, Published: rep.Published,
		Rebuilt: rep.Rebuilt, SourceDateEpoch: rep.SourceDateEpoch, Policy: pol,
		Hints: rep.Hints, Platforms: []attest.PlatformTally{}, TimeVerified: now.UTC(),
		Verifier: map[string]any{"id": attest.VerifierID, "version": Version}}
	// The statement names the source asked for even when it was never
	// resolved (an error verdict is signed too).
	if r.Source == (*Source)(nil) && rep.Request != nil {
		r.Source = &Source{URI: rep.Request.Source, Commit: rep.Request.Commit}
	}
	if rep.Build != nil { // a nil *Build in the interface would be "build": null
		r.Build = rep.Build
	}
	if r.Hints == nil {
		r.Hints = []string{}
	}
	for _, p := range rep.Platforms {
		t := attest.PlatformTally{Platform: p.Platform, Verdict: string(p.Verdict), Published: p.Published, Rebuilt: p.Rebuilt,
			Encoding: p.Encoding, ConfigChanges: []string{}, LayersDifferent: []int{}, Files: []string{}, FilesChanged: len(p.Files)}
		for _, c := range p.Config {
			t.ConfigChanges = append(t.ConfigChanges, c.Field)
		}
		for _, l := range p.Layers {
			if l.Verdict != compare.Identical && l.Verdict != compare.Equivalent {
				t.LayersDifferent = append(t.LayersDifferent, l.Index)
			}
		}
		for _, f := range p.Files {
			if len(t.Files) == 100 {
				break
			}
			t.Files = append(t.Files, f.Change+" "+f.Path)
		}
		slices.Sort(t.ConfigChanges)
		r.Platforms = append(r.Platforms, t)
	}
	return r
}
