package inspect

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/reprover/reprover/attest"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/strictjson"
	"github.com/reprover/reprover/internal/text"
	"github.com/reprover/reprover/provenance"
)

// KitArtifactType marks a kit attached to an image (the downloads and
// sources a rebuild replays).
const KitArtifactType = "application/vnd.reprover.kit.v1+json"

// readProvenance reads the image's attestations in its index: the first
// SLSA provenance, and every statement as a referrer by its predicate
// type.
func readProvenance(ctx context.Context, r *image.Resolved, o Options) (*Provenance, map[string]provenance.Location, []Referrer, error) {
	sts, err := r.Statements(ctx, o.ImageLimits)
	if err != nil {
		return nil, nil, nil, err
	}
	digests := []string{r.Digest.String()}
	for _, img := range r.Images {
		digests = append(digests, img.Descriptor.Digest.String())
	}
	var refs []Referrer
	var prov *Provenance
	var locs map[string]provenance.Location
	for _, st := range sts {
		refs = append(refs, Referrer{ArtifactType: st.PredicateType, Digest: st.Digest.String(), Where: "index"})
		if prov != nil || (st.PredicateType != provenance.SLSAv1 && st.PredicateType != provenance.SLSAv02) {
			continue
		}
		b, err := provenance.Read(st.Raw)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("provenance %s: %w", st.Digest, err)
		}
		prov = provenanceOf(b)
		if err := b.About(digests...); err != nil {
			prov.NotAbout = err.Error()
		} else {
			locs = b.LayerLocations // only a statement about this image says where its layers come from
		}
	}
	return prov, locs, refs, nil
}

func provenanceOf(b *provenance.Build) *Provenance {
	p := &Provenance{PredicateType: b.PredicateType, Builder: Redact(b.BuilderID), Source: Redact(b.ConfigSourceURI), Commit: b.Commit,
		Dockerfile: b.DockerfilePath, Target: b.Args["target"], Mode: "min"}
	if p.Source == "" {
		p.Source, p.Commit = Redact(b.VCS["source"]), cmpOr(p.Commit, b.VCS["revision"])
	}
	if b.Max {
		p.Mode = "max"
	}
	if args := b.BuildArgs(); len(args) > 0 {
		p.Args = map[string]string{}
		for k, v := range args {
			// build arguments may hold secrets: a secret-named one is
			// fingerprinted, any other has its tokens replaced
			if secretName(k) && secretValue(v) != "" {
				v = "[" + Fingerprint([]byte(secretValue(v))) + "]"
			}
			p.Args[k] = Redact(v)
		}
	}
	for _, im := range b.Images {
		p.Bases = append(p.Bases, Base{Name: Redact(im.URI), Digest: prefixed(im.SHA256)})
	}
	for _, d := range b.Downloads {
		p.Downloads = append(p.Downloads, Download{URL: Redact(d.URL), SHA256: d.SHA256, Pinned: d.SHA256 != ""})
	}
	return p
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func prefixed(hex string) string {
	if hex == "" {
		return ""
	}
	return "sha256:" + hex
}

// vouch fills in who vouches for the image: the reprover verdicts
// attached to it (checked with the keys given), what they add up to, and
// the other artifacts attached to it. Only a registry has them.
func vouch(ctx context.Context, r *image.Resolved, o Options, rep *Report) error {
	if r.Ref.Transport != image.Registry {
		rep.Notes = append(rep.Notes, fmt.Sprintf("an %s image has no referrers: attached verdicts and signatures were not looked for", r.Ref.Transport))
		return nil
	}
	subject := r.Ref.Name + "@" + r.Digest.String()
	_, envs, err := attest.Fetch(ctx, subject, o.Registry)
	if err != nil {
		return fmt.Errorf("attestations of %s: %w", subject, err)
	}
	for i, env := range envs {
		if v, ok := verdictOf(ctx, env, r.Digest.String(), o); ok {
			rep.Verdicts = append(rep.Verdicts, v)
		} else if v.Why != "" {
			o.Logger.Debug("attestation not a verdict", "envelope", i+1, "why", v.Why)
		}
	}
	if len(o.Keys) > 0 {
		v, err := attest.CheckAttached(ctx, envs, r.Digest.String(), o.Keys, o.Threshold, o.Registry.Limits)
		if err != nil {
			return err
		}
		rep.Vouched = &Vouched{Passed: v.Passed, Threshold: max(o.Threshold, 1), Keys: v.KeyIDs, Reason: v.Reason}
		if rep.Vouched.Keys == nil {
			rep.Vouched.Keys = []string{}
		}
	}
	att, err := attest.Attachments(ctx, subject, o.Registry)
	if err != nil {
		return err
	}
	for _, a := range att {
		rep.Referrers = append(rep.Referrers, Referrer{ArtifactType: a.ArtifactType, Digest: a.Digest, Where: a.Where})
		if a.ArtifactType == KitArtifactType && rep.Kit == "" {
			rep.Kit = a.Digest
		}
	}
	return nil
}

// unverified is what an envelope says before any signature is checked.
type unverified struct {
	PayloadType string `json:"payloadType"`
	Payload     string `json:"payload"`
	Signatures  []struct {
		KeyID string `json:"keyid"`
	} `json:"signatures"`
}

type vsa struct {
	PredicateType string `json:"predicateType"`
	Subject       []struct {
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	Predicate struct {
		VerificationResult string `json:"verificationResult"`
	} `json:"predicate"`
}

// verdictOf reads one envelope as a reprover verdict about subject:
// checked with the keys when there are some, else as it claims to be
// (Checked false). ok is false for an envelope that is no verdict.
func verdictOf(ctx context.Context, env []byte, subject string, o Options) (v Verdict, ok bool) {
	var u unverified
	if err := strictjson.Unmarshal(env, &u, 4); err != nil {
		return Verdict{Why: "not a DSSE envelope: " + err.Error()}, false
	}
	payload, err := decodeB64(u.Payload)
	if err != nil {
		return Verdict{Why: "payload: " + err.Error()}, false
	}
	var st vsa
	if err := strictjson.Unmarshal(payload, &st, 64); err != nil {
		return Verdict{Why: "statement: " + err.Error()}, false
	}
	if st.PredicateType != attest.PredicateVSA {
		return Verdict{Why: "predicate type " + text.Truncate(st.PredicateType, 80)}, false
	}
	v.Result = text.Truncate(st.Predicate.VerificationResult, 20)
	var claimed []string
	for _, s := range u.Signatures {
		claimed = append(claimed, text.Truncate(s.KeyID, 80))
	}
	v.Key = strings.Join(claimed, ",")
	if !about(st, subject) {
		v.Why = "about another image"
	}
	if len(o.Keys) == 0 {
		if v.Why == "" {
			v.Why = "not checked: no key given"
		}
		return v, true
	}
	c, err := attest.Open(ctx, env, o.Keys, o.Registry.Limits)
	if err != nil {
		v.Why = err.Error()
		return v, true
	}
	v.Checked, v.Key = true, strings.Join(c.KeyIDs, ",")
	if res, _ := c.Predicate["verificationResult"].(string); res != "" {
		v.Result = res
	}
	return v, true
}

func about(st vsa, subject string) bool {
	_, hex, _ := strings.Cut(subject, ":")
	for _, s := range st.Subject {
		if s.Digest["sha256"] == hex {
			return true
		}
	}
	return false
}

// decodeB64 accepts both base64 alphabets, with or without padding, as
// DSSE's producers write them.
func decodeB64(s string) ([]byte, error) {
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		var b []byte
		if b, err = enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, err
}
