package attest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reprover/reprover/internal/limits"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fixedKey is an Ed25519 key from a fixed seed: Ed25519 signatures are
// deterministic, so envelopes made with it are golden files.
func fixedKey(t *testing.T, seed byte) *PrivateKey {
	t.Helper()
	k := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePrivateKey(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), "fixed")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const subjectDigest = "sha256:4e2530155f70b22efe15d932a81e40f09c8f50aa4c8e1fbed684bc2568d33f02"

var (
	when    = time.Date(2025, 3, 2, 9, 30, 0, 0, time.UTC)
	subject = Subject{Name: "registry.example/app", Digest: subjectDigest}
	policy  = Policy{URI: PolicyURI, Rules: []string{"unpinned-from", "add-url-without-checksum"}, Profile: "reproducible-or-equivalent"}
)

// vsa is a summary of a reproducible, hermetic rebuild, or a FAILED one.
func vsa(t *testing.T, passed bool, s Subject) []byte {
	t.Helper()
	var levels []string
	if passed {
		levels = []string{LevelReproducible, LevelNetworkNone}
	}
	b, err := VSAStatement(VSA{Subjects: []Subject{s}, VerifierVersion: "v0.1.0", TimeVerified: when,
		ResourceURI: "registry.example/app@" + s.Digest, Policy: policy, Passed: passed, VerifiedLevels: levels})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sign(t *testing.T, k *PrivateKey, st []byte) []byte {
	t.Helper()
	e, err := Sign(context.Background(), k, st)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestGoldenEnvelopes pins the statements and envelopes made with a fixed
// key: any change to their bytes is deliberate.
func TestGoldenEnvelopes(t *testing.T) {
	k := fixedKey(t, 7)
	rep, err := ReportStatement([]Subject{subject}, Report{Verdict: "reproducible", Policy: policy, Hints: []string{},
		Platforms:    []PlatformTally{{Platform: "linux/amd64", Verdict: "reproducible", ConfigChanges: []string{}, LayersDifferent: []int{}, Files: []string{}}},
		TimeVerified: when, Verifier: map[string]any{"id": VerifierID, "version": "v0.1.0"}})
	if err != nil {
		t.Fatal(err)
	}
	for name, st := range map[string][]byte{"vsa-passed": vsa(t, true, subject), "vsa-failed": vsa(t, false, subject), "report": rep} {
		env := sign(t, k, st)
		golden(t, name+".statement.json", st)
		golden(t, name+".envelope.json", env)
	}
	pubDER := k.Public().der
	golden(t, "ed25519.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (go test ./attest -update)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s changed:\n%s", p, got)
	}
}

// TestTampering: each way to forge or bend an envelope fails, with exit 1
// (ErrRejected or a failed verdict) or exit 2 (ErrMalformed).
func TestTampering(t *testing.T) {
	ctx := context.Background()
	good, other := fixedKey(t, 7), fixedKey(t, 9)
	keys := []*PublicKey{good.Public()}
	passed := sign(t, good, vsa(t, true, subject))
	var env map[string]any
	if err := json.Unmarshal(passed, &env); err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		json.Unmarshal(passed, &m)
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	payload, _ := base64.StdEncoding.DecodeString(env["payload"].(string))
	sigs := env["signatures"].([]any)
	sig0 := sigs[0].(map[string]any)
	otherSubject := Subject{Name: "registry.example/app", Digest: "sha256:" + strings.Repeat("a", 64)}
	rawSig, _ := good.Sign(ctx, payload) // over the raw payload, not PAE
	tests := []struct {
		name      string
		envs      [][]byte
		keys      []*PublicKey
		threshold int
		wantPass  bool
		wantErr   error  // ErrMalformed for exit 2
		reason    string // substring of the reason
	}{
		{name: "valid", envs: [][]byte{passed}, wantPass: true},
		{name: "payload changed", envs: [][]byte{edit(func(m map[string]any) {
			m["payload"] = base64.StdEncoding.EncodeToString(bytes.Replace(payload, []byte("PASSED"), []byte("PASSED "), 1))
		})}, reason: "no signature verifies"},
		{name: "signature changed", envs: [][]byte{edit(func(m map[string]any) {
			b, _ := base64.StdEncoding.DecodeString(sig0["sig"].(string))
			b[0] ^= 1
			m["signatures"] = []any{map[string]any{"keyid": sig0["keyid"], "sig": base64.StdEncoding.EncodeToString(b)}}
		})}, reason: "no signature verifies"},
		{name: "subject swapped", envs: [][]byte{sign(t, good, vsa(t, true, otherSubject))}, reason: "another subject"},
		{name: "payload type changed", envs: [][]byte{edit(func(m map[string]any) { m["payloadType"] = "application/json" })}, reason: "payload type"},
		{name: "signed by another key", envs: [][]byte{sign(t, other, vsa(t, true, subject))}, reason: "no signature verifies"},
		{name: "keyid of a trusted key on another key's signature", envs: [][]byte{func() []byte {
			var m map[string]any
			json.Unmarshal(sign(t, other, vsa(t, true, subject)), &m)
			m["signatures"].([]any)[0].(map[string]any)["keyid"] = good.keyID
			b, _ := json.Marshal(m)
			return b
		}()}, reason: "no signature verifies"},
		{name: "empty keyid tries every key", envs: [][]byte{edit(func(m map[string]any) {
			m["signatures"] = []any{map[string]any{"keyid": "", "sig": sig0["sig"]}}
		})}, wantPass: true},
		{name: "duplicate signatures count once", envs: [][]byte{edit(func(m map[string]any) {
			m["signatures"] = []any{sig0, sig0}
		})}, keys: []*PublicKey{good.Public(), other.Public()}, threshold: 2, reason: "threshold is 2"},
		{name: "one key given twice counts once", envs: [][]byte{passed}, keys: []*PublicKey{good.Public(), mustDER(t, good)}, threshold: 2, wantErr: errThreshold},
		{name: "two keys meet a threshold of two", envs: [][]byte{passed, sign(t, other, vsa(t, true, subject))},
			keys: []*PublicKey{good.Public(), other.Public()}, threshold: 2, wantPass: true},
		{name: "failed verdict", envs: [][]byte{sign(t, good, vsa(t, false, subject))}, reason: `"FAILED"`},
		{name: "unknown predicate", envs: [][]byte{func() []byte {
			st, err := statement([]Subject{subject}, "https://example.com/other/v1", map[string]any{"verificationResult": "PASSED"})
			if err != nil {
				t.Fatal(err)
			}
			return sign(t, good, st)
		}()}, reason: "unknown predicate type"},
		{name: "report predicate is not a verdict", envs: [][]byte{func() []byte {
			st, _ := ReportStatement([]Subject{subject}, Report{Verdict: "reproducible"})
			return sign(t, good, st)
		}()}, reason: "no verification summary"},
		{name: "no signatures", envs: [][]byte{edit(func(m map[string]any) { m["signatures"] = []any{} })}, reason: "no signatures"},
		{name: "signature over the raw payload", envs: [][]byte{edit(func(m map[string]any) {
			m["signatures"] = []any{map[string]any{"keyid": "", "sig": base64.StdEncoding.EncodeToString(rawSig)}}
		})}, reason: "no signature verifies"},
		{name: "invalid signature before a valid one", envs: [][]byte{edit(func(m map[string]any) {
			m["signatures"] = []any{map[string]any{"keyid": good.keyID, "sig": base64.StdEncoding.EncodeToString(make([]byte, 64))}, sig0}
		})}, wantPass: true},
		{name: "url-safe unpadded base64", envs: [][]byte{edit(func(m map[string]any) {
			m["payload"] = base64.RawURLEncoding.EncodeToString(payload)
		})}, wantPass: true},
		{name: "not base64", envs: [][]byte{edit(func(m map[string]any) { m["payload"] = "%%%not base64%%%" })}, wantErr: ErrMalformed},
		{name: "not JSON", envs: [][]byte{[]byte("{\"payloadType\": ")}, wantErr: ErrMalformed},
		{name: "unknown envelope field", envs: [][]byte{edit(func(m map[string]any) { m["extra"] = 1 })}, wantErr: ErrMalformed},
		// Go's decoder read these as payloadType, keyid and payload.
		{name: "PayloadType in another case", envs: [][]byte{edit(func(m map[string]any) {
			m["PayloadType"] = m["payloadType"]
			delete(m, "payloadType")
		})}, wantErr: ErrMalformed},
		{name: "KeyID in another case", envs: [][]byte{edit(func(m map[string]any) {
			m["signatures"] = []any{map[string]any{"KeyID": sig0["keyid"], "sig": sig0["sig"]}}
		})}, wantErr: ErrMalformed},
		{name: "payload twice", envs: [][]byte{append([]byte(`{"payload":"e30=",`), passed[1:]...)}, wantErr: ErrMalformed},
		{name: "verificationResult in two cases in a signed statement", envs: [][]byte{func() []byte {
			var st map[string]any
			json.Unmarshal(vsa(t, false, subject), &st)
			st["predicate"].(map[string]any)["VerificationResult"] = "PASSED"
			b, _ := json.Marshal(st)
			return sign(t, good, b)
		}()}, reason: "differ only in case"},
		{name: "10000 signatures", envs: [][]byte{edit(func(m map[string]any) {
			many := make([]any, 10000)
			for i := range many {
				many[i] = sig0
			}
			m["signatures"] = many
		})}, wantErr: ErrMalformed},
		{name: "huge payload", envs: [][]byte{edit(func(m map[string]any) {
			m["payload"] = base64.StdEncoding.EncodeToString(make([]byte, 40<<20))
		})}, wantErr: ErrMalformed},
		{name: "no attestation at all", envs: nil, reason: "no attestation found"},
		{name: "replayed attestation for another build", envs: [][]byte{sign(t, good, vsa(t, true, Subject{Name: "registry.example/app", Digest: "sha256:" + strings.Repeat("b", 64)}))}, reason: "another subject"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ks := tc.keys
			if ks == nil {
				ks = keys
			}
			v, err := Check(ctx, tc.envs, subjectDigest, ks, tc.threshold, Limits{})
			switch {
			case tc.wantErr == errThreshold:
				if err == nil || !strings.Contains(err.Error(), "threshold") {
					t.Fatalf("err = %v, want a threshold error", err)
				}
				return
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if v.Passed != tc.wantPass {
				t.Errorf("passed = %v (%s), want %v", v.Passed, v.Reason, tc.wantPass)
			}
			if tc.reason != "" && !strings.Contains(v.Reason, tc.reason) {
				t.Errorf("reason %q lacks %q", v.Reason, tc.reason)
			}
		})
	}
}

var errThreshold = errors.New("threshold")

// TestCheckAttached: junk pushed next to an image does not hide a valid
// attestation (in a file it is malformed input, exit 2).
func TestCheckAttached(t *testing.T) {
	good := fixedKey(t, 7)
	envs := [][]byte{[]byte("{not json"), sign(t, good, vsa(t, true, subject))}
	if _, err := Check(context.Background(), envs, subjectDigest, []*PublicKey{good.Public()}, 1, Limits{}); !errors.Is(err, ErrMalformed) {
		t.Errorf("Check: err = %v, want ErrMalformed", err)
	}
	v, err := CheckAttached(context.Background(), envs, subjectDigest, []*PublicKey{good.Public()}, 1, Limits{})
	if err != nil || !v.Passed {
		t.Errorf("CheckAttached: %v %v (%s), want passed", v.Passed, err, v.Reason)
	}
}

func mustDER(t *testing.T, k *PrivateKey) *PublicKey {
	p, err := ParsePublicKey(k.Public().der, "der")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestKeys: keys made by keygen and by openssl load; wrong, encrypted and
// unsupported keys are clear errors.
func TestKeys(t *testing.T) {
	dir := t.TempDir()
	for _, typ := range []KeyType{Ed25519, ECDSAP256} {
		prefix := filepath.Join(dir, string(typ))
		k, err := GenerateKey(prefix, typ)
		if err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(prefix + ".key")
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s.key mode %v, want 0600", prefix, st.Mode().Perm())
		}
		if _, err := GenerateKey(prefix, typ); err == nil {
			t.Errorf("keygen overwrote %s", prefix)
		}
		priv, err := LoadPrivateKey(prefix + ".key")
		if err != nil {
			t.Fatal(err)
		}
		pub, err := LoadPublicKey(prefix + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		if pub.ID() != k.Public().ID() || priv.keyID != pub.ID() {
			t.Errorf("%s: key ids differ", typ)
		}
		env := sign(t, priv, vsa(t, true, subject))
		if v, err := Check(context.Background(), [][]byte{env}, subjectDigest, []*PublicKey{pub}, 1, Limits{}); err != nil || !v.Passed {
			t.Errorf("%s: a signed PASSED summary does not verify: %v %s", typ, err, v.Reason)
		}
	}
	openssl := []struct{ name, args string }{
		{"ed25519", "genpkey -algorithm ed25519"},
		{"p256", "genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256"},
	}
	for _, o := range openssl {
		key := filepath.Join(dir, "openssl-"+o.name+".key")
		run(t, "openssl", append(strings.Fields(o.args), "-out", key)...)
		run(t, "openssl", "pkey", "-in", key, "-pubout", "-out", key+".pub")
		priv, err := LoadPrivateKey(key)
		if err != nil {
			t.Fatalf("openssl %s key: %v", o.name, err)
		}
		pub, err := LoadPublicKey(key + ".pub")
		if err != nil {
			t.Fatalf("openssl %s public key: %v", o.name, err)
		}
		if priv.keyID != pub.ID() {
			t.Errorf("openssl %s: key ids differ", o.name)
		}
	}
	bad := []struct{ name, args, want string }{
		{"encrypted", "genpkey -algorithm ed25519 -aes-256-cbc -pass pass:x", "encrypted"},
		{"rsa", "genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048", "not supported"},
		{"p384", "genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384", "P-384"},
	}
	for _, b := range bad {
		key := filepath.Join(dir, b.name+".key")
		run(t, "openssl", append(strings.Fields(b.args), "-out", key)...)
		if _, err := LoadPrivateKey(key); err == nil || !strings.Contains(err.Error(), b.want) || !strings.Contains(err.Error(), key) {
			t.Errorf("%s key: err = %v, want one naming the file and saying %q", b.name, err, b.want)
		}
	}
	pubAsPriv := filepath.Join(dir, "ed25519.pub")
	if _, err := LoadPrivateKey(pubAsPriv); err == nil || !strings.Contains(err.Error(), "public key") {
		t.Errorf("a public key given as the private key: err = %v", err)
	}
	if _, err := LoadPublicKey(filepath.Join(dir, "nope.pub")); err == nil {
		t.Error("a missing key file loads")
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
}

// TestDocExample: docs/attestation.md shows the golden envelope and its
// payload as they are.
func TestDocExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "attestation.md"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := os.ReadFile(filepath.Join("testdata", "vsa-passed.envelope.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, bytes.TrimSpace(env)) {
		t.Error("docs/attestation.md does not show testdata/vsa-passed.envelope.json as it is")
	}
	st, err := os.ReadFile(filepath.Join("testdata", "vsa-passed.statement.json"))
	if err != nil {
		t.Fatal(err)
	}
	var decoded bytes.Buffer
	if err := json.Indent(&decoded, st, "", "    "); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, decoded.Bytes()) {
		t.Errorf("docs/attestation.md does not show testdata/vsa-passed.statement.json, its payload decoded, as it is:\n%s", decoded.Bytes())
	}
}

// TestLimitErrors: an envelope over a limit is malformed input (exit 2) and
// a *limits.Error naming the limit, like image's and compare's.
func TestLimitErrors(t *testing.T) {
	good := fixedKey(t, 7)
	passed := sign(t, good, vsa(t, true, subject))
	var m map[string]any
	if err := json.Unmarshal(passed, &m); err != nil {
		t.Fatal(err)
	}
	sig0 := m["signatures"].([]any)[0]
	m["signatures"] = []any{sig0, sig0}
	twoSigs, _ := json.Marshal(m)
	for _, c := range []struct {
		name  string
		envs  [][]byte
		lim   Limits
		limit string
	}{
		{"envelope bytes", [][]byte{passed}, Limits{MaxEnvelopeBytes: 100}, "MaxEnvelopeBytes"},
		{"signatures", [][]byte{twoSigs}, Limits{MaxSignatures: 1}, "MaxSignatures"},
		{"envelopes", [][]byte{passed, passed}, Limits{MaxEnvelopes: 1}, "MaxEnvelopes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Check(context.Background(), c.envs, subjectDigest, []*PublicKey{good.Public()}, 1, c.lim)
			var le *limits.Error
			if !errors.Is(err, ErrMalformed) || !errors.As(err, &le) || le.Limit != c.limit || le.Got <= le.Max {
				t.Fatalf("err = %v (%+v), want ErrMalformed and a *limits.Error for %s", err, le, c.limit)
			}
			if !strings.Contains(err.Error(), c.limit) {
				t.Errorf("%q does not name %s", err, c.limit)
			}
		})
	}
}

// TestVerifiedLevels: a summary's verifiedLevels are reprover's own, one
// per track, the verdict's among them when it passed, and FAILED alone
// when it failed.
func TestVerifiedLevels(t *testing.T) {
	for _, c := range []struct {
		name   string
		passed bool
		levels []string
		want   []string // nil: an error
		err    string
	}{
		{"reproducible, hermetic", true, []string{LevelReproducible, LevelNetworkNone}, []string{LevelReproducible, LevelNetworkNone}, ""},
		{"equivalent, downloads pinned, in Levels' order", true, []string{LevelDownloadsPinned, LevelEquivalent}, []string{LevelEquivalent, LevelDownloadsPinned}, ""},
		{"verdict alone", true, []string{LevelReproducible}, []string{LevelReproducible}, ""},
		{"failed", false, nil, []string{LevelFailed}, ""},
		{"failed, said so", false, []string{LevelFailed}, []string{LevelFailed}, ""},
		{"failed with a level", false, []string{LevelReproducible}, nil, "FAILED summary"},
		{"passed with none", true, nil, nil, "names its verdict"},
		{"passed without a verdict", true, []string{LevelNetworkNone}, nil, "names its verdict"},
		{"passed and FAILED", true, []string{LevelReproducible, LevelFailed}, nil, "on a PASSED summary"},
		{"two verdicts", true, []string{LevelReproducible, LevelEquivalent}, nil, "one level per track"},
		{"two networks", true, []string{LevelReproducible, LevelNetworkNone, LevelDownloadsPinned}, nil, "one level per track"},
		{"a SLSA build level", true, []string{LevelReproducible, "SLSA_BUILD_LEVEL_3"}, nil, "not one of reprover's"},
		{"unknown", true, []string{"REPROVER_SIGNED"}, nil, "not one of reprover's"},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, err := VSAStatement(VSA{Subjects: []Subject{subject}, TimeVerified: when, ResourceURI: "registry.example/app",
				Policy: policy, Passed: c.passed, VerifiedLevels: c.levels})
			if c.want == nil {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one saying %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Predicate struct {
					VerificationResult string   `json:"verificationResult"`
					VerifiedLevels     []string `json:"verifiedLevels"`
				} `json:"predicate"`
			}
			if err := json.Unmarshal(st, &got); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Predicate.VerifiedLevels, c.want) {
				t.Errorf("verifiedLevels %q, want %q", got.Predicate.VerifiedLevels, c.want)
			}
			if c.passed != (got.Predicate.VerificationResult == ResultPassed) {
				t.Errorf("verificationResult %s with passed %v", got.Predicate.VerificationResult, c.passed)
			}
		})
	}
	for _, l := range Levels {
		if strings.HasPrefix(l.Name, "SLSA_") || l.Meaning == "" || strings.Contains(l.Meaning, "\n") {
			t.Errorf("level %+v: not SLSA_…, and a one-line meaning", l)
		}
	}
}

// TestLevelsDoc: docs/attestation.md lists every level with its meaning as
// Levels has it.
func TestLevelsDoc(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "attestation.md"))
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	want.WriteString("| level | meaning |\n| --- | --- |\n")
	for _, l := range Levels {
		fmt.Fprintf(&want, "| `%s` | %s |\n", l.Name, l.Meaning)
	}
	if !strings.Contains(string(doc), want.String()) {
		t.Errorf("docs/attestation.md lacks the table of verified levels as attest.Levels has it:\n%s", want.String())
	}
}

// TestSLSAVerifier: slsa-verifier, a real consumer of verification
// summaries, accepts reprover's for the level it names and refuses one it
// does not name, a SLSA build level, and a FAILED summary. make tools
// builds it (scripts/tools-slsa.sh).
func TestSLSAVerifier(t *testing.T) {
	bin := filepath.Join("..", ".cache", "bin", "slsa-verifier")
	if _, err := os.Stat(bin); err != nil {
		p, lerr := exec.LookPath("slsa-verifier")
		if lerr != nil {
			t.Fatalf("slsa-verifier: %v (make tools builds it)", err)
		}
		bin = p
	}
	dir := t.TempDir()
	key, err := GenerateKey(filepath.Join(dir, "maintainer"), Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	resource := "registry.example/app@" + subjectDigest
	write := func(name string, passed bool, levels ...string) string {
		st, err := VSAStatement(VSA{Subjects: []Subject{subject}, VerifierVersion: "v0.1.0", TimeVerified: when,
			ResourceURI: resource, Policy: policy, Passed: passed, VerifiedLevels: levels})
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, sign(t, key, st), 0o644); err != nil { // one envelope, not JSON Lines
			t.Fatal(err)
		}
		return p
	}
	reproducible := write("reproducible.json", true, LevelReproducible, LevelNetworkNone)
	failed := write("failed.json", false)
	for _, c := range []struct {
		name   string
		file   string
		levels []string
		refuse string // what slsa-verifier says; "" when it accepts
	}{
		{"reproducible", reproducible, []string{LevelReproducible}, ""},
		{"reproducible and hermetic", reproducible, []string{LevelReproducible, LevelNetworkNone}, ""},
		{"no level asked", reproducible, nil, ""},
		{"equivalent is not named", reproducible, []string{LevelEquivalent}, "expected verified level not found: " + LevelEquivalent},
		{"downloads pinned is not named", reproducible, []string{LevelDownloadsPinned}, "expected verified level not found: " + LevelDownloadsPinned},
		{"no SLSA build level", reproducible, []string{"SLSA_BUILD_LEVEL_1"}, "expected SLSA level not found: BUILD"},
		{"failed", failed, []string{LevelReproducible}, "verification result is not Passed: FAILED"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"verify-vsa", "--attestation-path", c.file, "--subject-digest", subjectDigest,
				"--verifier-id", VerifierID, "--resource-uri", resource,
				"--public-key-path", filepath.Join(dir, "maintainer.pub"), "--public-key-id", key.Public().ID()}
			for _, l := range c.levels {
				args = append(args, "--verified-level", l)
			}
			out, err := exec.CommandContext(t.Context(), bin, args...).CombinedOutput()
			cmd := "slsa-verifier " + strings.Join(args, " ")
			switch {
			case c.refuse == "" && err != nil:
				t.Errorf("%s: %v\n%s", cmd, err, out)
			case c.refuse != "" && err == nil:
				t.Errorf("%s accepts it:\n%s", cmd, out)
			case c.refuse != "":
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), c.refuse) {
					t.Errorf("%s: %v, want exit 1 saying %q:\n%s", cmd, err, c.refuse, out)
				}
			}
		})
	}
}
