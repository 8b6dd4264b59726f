package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprover/reprover/fixtures"
)

// cli runs reprover with args and returns exit code, stdout, stderr.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	stdout, stderr := tempFile(t), tempFile(t)
	code := run(t.Context(), args, nil, stdout, stderr)
	return code, readBack(t, stdout), readBack(t, stderr)
}

// TestAttestations: keygen, verify --attestation for each outcome, attest
// verify on the file and on the registry (referrers API and without it),
// and cosign accepting what reprover pushed.
func TestAttestations(t *testing.T) {
	for _, withReferrers := range []bool{true, false} {
		name := "referrers API"
		reg := fixtures.NewRegistry(t)
		if !withReferrers {
			name = "referrers tag schema"
			reg = fixtures.StartRegistryWithoutReferrers()
			t.Cleanup(reg.Close)
		}
		t.Run(name, func(t *testing.T) {
			rel := newRelease(t, reg)
			dir := t.TempDir()
			key, other := filepath.Join(dir, "maintainer"), filepath.Join(dir, "other")
			for _, k := range []string{key, other} {
				if code, _, e := cli(t, "keygen", "--out", k); code != 0 {
					t.Fatalf("keygen: %s", e)
				}
			}
			verifyArgs := func(image, att string, extra ...string) []string {
				return append([]string{"verify", "--source", rel.dir, "--commit", rel.commit, "--image", image,
					"--buildkit-addr", rel.addr, "--quiet", "--attestation", att, "--key", key + ".key"}, extra...)
			}
			digestOf := func(ref string) string { return ref[strings.LastIndex(ref, "@")+1:] }

			passAtt := filepath.Join(dir, "pass.jsonl")
			if code, _, e := cli(t, append(verifyArgs(rel.published, passAtt), "--push-attestation")...); code != 0 {
				t.Fatalf("verify: exit %d: %s", code, e)
			}
			failAtt := filepath.Join(dir, "fail.jsonl")
			if code, _, _ := cli(t, verifyArgs(rel.mismatch, failAtt)...); code != 1 {
				t.Fatalf("verify of the tampered image: exit %d, want 1", code)
			}
			errAtt := filepath.Join(dir, "error.jsonl")
			if code, _, _ := cli(t, "verify", "--source", rel.dir, "--commit", strings.Repeat("c", 40), "--image", rel.published,
				"--buildkit-addr", rel.addr, "--attestation", errAtt, "--key", key+".key"); code != 2 {
				t.Fatalf("verify of an unknown commit: exit %d, want 2", code)
			}
			for file, lines := range map[string]int{passAtt: 2, failAtt: 2, errAtt: 1} {
				b, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				if n := strings.Count(string(b), "\n"); n != lines {
					t.Errorf("%s has %d envelopes, want %d", filepath.Base(file), n, lines)
				}
			}

			tests := []struct {
				name     string
				args     []string
				wantCode int
				want     string
			}{
				{"file passes", []string{"attest", "verify", "--key", key + ".pub", "--subject", digestOf(rel.published), passAtt}, 0, "PASSED"},
				{"file for another subject", []string{"attest", "verify", "--key", key + ".pub", "--subject", digestOf(rel.mismatch), passAtt}, 1, "another subject"},
				{"failed verdict", []string{"attest", "verify", "--key", key + ".pub", "--subject", digestOf(rel.mismatch), failAtt}, 1, "FAILED"},
				{"error outcome is signed but not a pass", []string{"attest", "verify", "--key", key + ".pub", "--subject", digestOf(rel.published), errAtt}, 1, "no verification summary"},
				{"wrong key", []string{"attest", "verify", "--key", other + ".pub", "--subject", digestOf(rel.published), passAtt}, 1, "no signature verifies"},
				{"threshold of two with one signer", []string{"attest", "verify", "--key", key + ".pub", "--key", other + ".pub", "--threshold", "2", "--subject", digestOf(rel.published), passAtt}, 1, "threshold is 2"},
				{"from the registry", []string{"attest", "verify", "--key", key + ".pub", "--image", rel.published}, 0, "PASSED"},
				{"nothing attached", []string{"attest", "verify", "--key", key + ".pub", "--image", rel.equivalent}, 1, "no attestation found"},
				{"malformed file", []string{"attest", "verify", "--key", key + ".pub", "--subject", digestOf(rel.published), key + ".pub"}, 2, ""},
				{"bad subject", []string{"attest", "verify", "--key", key + ".pub", "--subject", "sha256:XYZ", passAtt}, 2, ""},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					code, o, e := cli(t, tc.args...)
					if code != tc.wantCode {
						t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, o, e)
					}
					if tc.want != "" && !strings.Contains(o+e, tc.want) {
						t.Errorf("output lacks %q:\n%s\n%s", tc.want, o, e)
					}
				})
			}

			// cosign, a real consumer, accepts what reprover pushed.
			cosign := filepath.Join(filepath.Dir(fixtures.BuildkitdBinary()), "cosign")
			if _, err := os.Stat(cosign); err != nil {
				t.Fatalf("cosign: %v (make tools builds it)", err)
			}
			cmd := exec.CommandContext(t.Context(), cosign, "verify-attestation", "--key", key+".pub", "--insecure-ignore-tlog",
				"--allow-insecure-registry", "--allow-http-registry", "--type", "https://slsa.dev/verification_summary/v1", rel.published)
			cmd.Env = append(os.Environ(), "COSIGN_EXPERIMENTAL=0", "HOME="+t.TempDir())
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("cosign verify-attestation rejects reprover's attestation: %v\n%s", err, out)
			}
		})
	}
}
