package attest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	ita1 "github.com/in-toto/attestation/go/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/reprover/reprover/internal/limits"
	"github.com/reprover/reprover/internal/param"
	"github.com/reprover/reprover/internal/strictjson"
	"github.com/reprover/reprover/internal/text"
)

// Limits bound what an untrusted envelope may make reprover read.
type Limits struct {
	MaxEnvelopeBytes int64 `limit:"largest DSSE envelope (one JSON line) read, in bytes"` // one envelope (one JSON line)
	MaxSignatures    int   `limit:"most signatures in one envelope"`                      // signatures in one envelope
	MaxEnvelopes     int   `limit:"most envelopes in one file or set of referrers"`       // envelopes in one file or referrer set
}

// DefaultLimits are used for zero fields.
var DefaultLimits = Limits{MaxEnvelopeBytes: 32 << 20, MaxSignatures: 64, MaxEnvelopes: 256}

func (l Limits) withDefaults() Limits {
	return limits.WithDefaults(l, DefaultLimits)
}

// Sign signs a statement's exact bytes as a DSSE envelope and returns the
// envelope's JSON (one line).
func Sign(ctx context.Context, k *PrivateKey, statement []byte) ([]byte, error) {
	s, err := dsse.NewEnvelopeSigner(k)
	if err != nil {
		return nil, err
	}
	env, err := s.SignPayload(ctx, PayloadType, statement)
	if err != nil {
		return nil, err
	}
	return json.Marshal(env)
}

// Nesting allowed in an envelope ({"signatures":[{…}]}) and in a signed
// statement (reprover's predicates nest a few levels).
const (
	envelopeDepth  = 3
	statementDepth = 64
)

// Checked is an envelope whose signatures verified.
type Checked struct {
	Statement *ita1.Statement
	KeyIDs    []string // distinct keys whose signature verified
	Predicate map[string]any
}

// Open parses an envelope and verifies its signatures against keys over
// DSSE's PAE. Every signature is tried against every key whatever its keyid
// says; each key counts once. It returns ErrMalformed (wrapped) for bytes
// that are not a DSSE envelope of an in-toto statement, ErrRejected when no
// given key signed it.
func Open(ctx context.Context, envelope []byte, keys []*PublicKey, lim Limits) (*Checked, error) {
	lim = lim.withDefaults()
	if int64(len(envelope)) > lim.MaxEnvelopeBytes {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, &limits.Error{What: "envelope bytes", Limit: "MaxEnvelopeBytes", Max: lim.MaxEnvelopeBytes, Got: int64(len(envelope))})
	}
	var env dsse.Envelope
	if err := strictjson.UnmarshalKnown(envelope, &env, envelopeDepth); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(env.Signatures) > lim.MaxSignatures {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, &limits.Error{What: "signatures", Limit: "MaxSignatures", Max: int64(lim.MaxSignatures), Got: int64(len(env.Signatures))})
	}
	payload, err := decodeB64(env.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	if env.PayloadType != PayloadType {
		return nil, fmt.Errorf("%w: payload type %q, want %s", ErrRejected, text.Truncate(env.PayloadType, 80), PayloadType)
	}
	if len(env.Signatures) == 0 {
		return nil, fmt.Errorf("%w: no signatures", ErrRejected)
	}
	pae := dsse.PAE(env.PayloadType, payload)
	seen := map[string]bool{}
	var ids []string
	for _, s := range env.Signatures {
		sig, err := decodeB64(s.Sig)
		if err != nil {
			continue // an undecodable signature verifies nothing
		}
		for _, k := range keys {
			if seen[k.keyID] {
				continue
			}
			if k.Verify(ctx, pae, sig) == nil {
				seen[k.keyID] = true
				ids = append(ids, k.keyID)
				break
			}
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%w: no signature verifies with the given key(s)", ErrRejected)
	}
	// protojson matches names exactly and refuses a field twice; the
	// check also refuses keys Go's decoder would fold together in the
	// predicate, which protojson keeps apart, and bounds the nesting.
	if err := strictjson.Check(payload, statementDepth); err != nil {
		return nil, fmt.Errorf("%w: statement: %v", ErrRejected, err)
	}
	var st ita1.Statement
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("%w: statement: %v", ErrRejected, err)
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("%w: statement: %v", ErrRejected, err)
	}
	if st.Type != ita1.StatementTypeUri {
		return nil, fmt.Errorf("%w: statement type %q", ErrRejected, st.Type)
	}
	return &Checked{Statement: &st, KeyIDs: ids, Predicate: st.Predicate.AsMap()}, nil
}

// decodeB64 accepts both base64 alphabets, with or without padding.
func decodeB64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// Verdict is the outcome of checking attestations for a subject.
type Verdict struct {
	Passed bool
	Reason string
	KeyIDs []string
}

// Check verifies a set of envelopes (JSON Lines) for subject: it passes
// when a PASSED verification summary for subject verifies with at least
// threshold distinct given keys. Envelopes about another subject, of
// another predicate type, or unsigned by the keys do not count; the reason
// says what was found instead.
func Check(ctx context.Context, envelopes [][]byte, subject string, keys []*PublicKey, threshold int, lim Limits) (Verdict, error) {
	return check(ctx, envelopes, subject, keys, threshold, lim, false)
}

// CheckAttached is Check for envelopes found attached to an image in a
// registry, where anyone who can push may add one: a malformed envelope is
// a reason it did not count, not an error that hides the others.
func CheckAttached(ctx context.Context, envelopes [][]byte, subject string, keys []*PublicKey, threshold int, lim Limits) (Verdict, error) {
	return check(ctx, envelopes, subject, keys, threshold, lim, true)
}

func check(ctx context.Context, envelopes [][]byte, subject string, keys []*PublicKey, threshold int, lim Limits, lenient bool) (Verdict, error) {
	lim = lim.withDefaults()
	keys = distinctKeys(keys)
	if threshold < 1 {
		threshold = 1
	}
	if threshold > len(keys) {
		return Verdict{}, param.Errorf("threshold", "{threshold} %d exceeds the %d distinct key(s) given", threshold, len(keys))
	}
	if len(envelopes) > lim.MaxEnvelopes {
		return Verdict{}, fmt.Errorf("%w: %w", ErrMalformed, &limits.Error{What: "envelopes", Limit: "MaxEnvelopes", Max: int64(lim.MaxEnvelopes), Got: int64(len(envelopes))})
	}
	if _, _, err := splitDigest(subject); err != nil {
		return Verdict{}, err
	}
	var reasons []string
	passedBy := map[string]bool{}
	for i, e := range envelopes {
		c, err := Open(ctx, e, keys, lim)
		if errors.Is(err, ErrMalformed) && !lenient {
			return Verdict{}, fmt.Errorf("envelope %d: %w", i+1, err)
		}
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("envelope %d: %v", i+1, err))
			continue
		}
		if !hasSubject(c.Statement, subject) {
			reasons = append(reasons, fmt.Sprintf("envelope %d: signed, but about another subject", i+1))
			continue
		}
		switch c.Statement.PredicateType {
		case PredicateVSA:
		case PredicateReport:
			continue // evidence, not a verdict
		default:
			reasons = append(reasons, fmt.Sprintf("envelope %d: unknown predicate type %q", i+1, text.Truncate(c.Statement.PredicateType, 80)))
			continue
		}
		res, _ := c.Predicate["verificationResult"].(string)
		if res != ResultPassed {
			reasons = append(reasons, fmt.Sprintf("envelope %d: the verification summary says %q", i+1, text.Truncate(res, 20)))
			continue
		}
		for _, id := range c.KeyIDs {
			passedBy[id] = true
		}
	}
	v := Verdict{}
	for id := range passedBy {
		v.KeyIDs = append(v.KeyIDs, id)
	}
	if len(passedBy) >= threshold {
		v.Passed = true
		v.Reason = fmt.Sprintf("a PASSED verification summary for %s is signed by %d of the given key(s) (threshold %d)", subject, len(passedBy), threshold)
		return v, nil
	}
	switch {
	case len(envelopes) == 0:
		v.Reason = "no attestation found"
	case len(passedBy) > 0:
		v.Reason = fmt.Sprintf("a PASSED verification summary is signed by %d distinct key(s), the threshold is %d", len(passedBy), threshold)
	case len(reasons) > 0:
		v.Reason = strings.Join(reasons, "; ")
	default:
		v.Reason = "no verification summary for " + subject
	}
	return v, nil
}

func hasSubject(st *ita1.Statement, subject string) bool {
	_, hexd, _ := splitDigest(subject)
	for _, s := range st.Subject {
		if s.Digest["sha256"] == hexd {
			return true
		}
	}
	return false
}

// distinctKeys drops keys given twice (PEM and DER of one key count once).
func distinctKeys(keys []*PublicKey) []*PublicKey {
	seen := map[string]bool{}
	var out []*PublicKey
	for _, k := range keys {
		if !seen[k.keyID] {
			seen[k.keyID] = true
			out = append(out, k)
		}
	}
	return out
}

func errAs(err error, target any) bool { return errors.As(err, target) }
