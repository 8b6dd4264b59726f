package main

import (
	"os"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/verify"
)

func TestMain(m *testing.M) {
	logrus.SetLevel(logrus.ErrorLevel) // BuildKit client warnings are noise here
	// The default layer index lives under the user's cache: the tests'
	// under a directory of their own.
	cache, err := os.MkdirTemp("", "reprover-cmd-cache-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_CACHE_HOME", cache)
	code := m.Run()
	os.RemoveAll(cache)
	fixtures.StopBuildkit()
	os.Exit(code)
}

// TestVerifyCommand runs reprover verify as a user would, on a release
// published from a git repository: the exit-code contract, the report
// formats, --strict, and the managed buildkitd.
// release is a published release and its variants on a registry, with
// the git repository it was built from and a buildkitd.
type release struct {
	addr, dir, commit               string
	reg                             *fixtures.Registry
	published, equivalent, mismatch string
}

func newRelease(t *testing.T, reg *fixtures.Registry) *release {
	addr := fixtures.Buildkit(t, fixtures.StartDaemon)
	rel := fixtures.PublishRelease(t, reg, addr, "app/release", map[string]string{
		"Dockerfile": "FROM BASE\nCOPY app/ /app/\n", "app/hello.txt": "hello\n"})
	return &release{addr: addr, dir: rel.Dir, commit: rel.Commit, reg: reg,
		published: rel.Published, equivalent: rel.Equivalent, mismatch: rel.Tampered}
}

func TestVerifyCommand(t *testing.T) {
	rel := newRelease(t, fixtures.NewRegistry(t))
	addr, dir, commit, reg := rel.addr, rel.dir, rel.commit, rel.reg
	published, equivalent, mismatch := rel.published, rel.equivalent, rel.mismatch
	_ = reg
	common := func(image string, extra ...string) []string {
		return append([]string{"verify", "--source", dir, "--commit", commit, "--image", image, "--buildkit-addr", addr, "--quiet"}, extra...)
	}
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantCode   int
		wantStdout []string
		wantStderr []string
		wantReport verify.Verdict // the verdict of the --report file the case writes
	}{
		{name: "reproducible", args: common(published), wantStdout: []string{"verdict: reproducible", "published: " + published}},
		{name: "reproducible strict", args: common(published, "--strict"), wantStdout: []string{"verdict: reproducible"}},
		{name: "html", args: common(published, "--format", "html"), wantStdout: []string{"<!doctype html>", "SOURCE_DATE_EPOCH: 1740830400", "build evidence", rel.commit}},
		{name: "equivalent", args: common(equivalent), wantStdout: []string{"verdict: equivalent", "compression"}},
		{name: "equivalent strict", args: common(equivalent, "--strict"), wantCode: 1, wantStderr: []string{"--strict"}},
		{name: "mismatch", args: common(mismatch, "--format", "json"), wantCode: 1, wantReport: verify.Mismatch,
			wantStdout: []string{`"verdict": "mismatch"`, `"/app/evil.sh"`, `"network": "none"`}},
		{name: "report of an error", args: []string{"verify", "--source", dir, "--commit", strings.Repeat("b", 40), "--image", published, "--buildkit-addr", addr},
			wantCode: 2, wantReport: verify.Error},
		{name: "unknown commit", args: []string{"verify", "--source", dir, "--commit", strings.Repeat("a", 40), "--image", published, "--buildkit-addr", addr},
			wantCode: 2, wantStdout: []string{"verdict: error"}, wantStderr: []string{strings.Repeat("a", 40)}},
		{name: "short commit", args: []string{"verify", "--source", dir, "--commit", commit[:7], "--image", published, "--buildkit-addr", addr},
			wantCode: 2, wantStderr: []string{"full commit id"}},
		{name: "missing image", args: []string{"verify", "--source", dir}, wantCode: 2, wantStderr: []string{"--image: required"}},
		{name: "a release that names no source", args: []string{"verify", "--image", published, "--buildkit-addr", addr}, wantCode: 2,
			wantStdout: []string{"verdict: error"}, wantStderr: []string{"give --source"}},
		{name: "every bad argument named before anything starts", args: []string{"verify", "--source", "/nonexistent", "--commit", "abc", "--image", "foo@sha256:ZZ", "--network", "host"},
			env: map[string]string{"BUILDKIT_HOST": "", "REPROVER_BUILDKITD": "/bin/false"}, wantCode: 2,
			wantStderr: []string{"--source /nonexistent: not a directory", `--commit "abc": want a full commit id`, "--image foo@sha256:ZZ", `--network "host"`}},
		{name: "managed buildkitd", args: []string{"verify", "--source", dir, "--commit", commit, "--image", published, "--quiet"},
			env: map[string]string{"BUILDKIT_HOST": "", "REPROVER_BUILDKITD": fixtures.BuildkitdBinary()}, wantStdout: []string{"verdict: reproducible"}},
		{name: "managed buildkitd that cannot start", args: []string{"verify", "--source", dir, "--commit", commit, "--image", published},
			env: map[string]string{"BUILDKIT_HOST": "", "REPROVER_BUILDKITD": "/bin/false"}, wantCode: 2, wantStderr: []string{"buildkitd exited before answering"}},
		{name: "BUILDKIT_HOST", args: []string{"verify", "--source", dir, "--commit", commit, "--image", published, "--quiet"},
			env: map[string]string{"BUILDKIT_HOST": addr}, wantStdout: []string{"verdict: reproducible"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			args, report := withReport(t, tc.args, string(tc.wantReport))
			expect(t, args, tc.wantCode, tc.wantStdout, tc.wantStderr)
			if report != "" {
				rep := readsBack(t, report, func(b []byte) (any, error) { return verify.ReadReport(b) }).(*verify.Report)
				if rep.SchemaVersion != 1 || rep.Verdict != tc.wantReport {
					t.Errorf("--report file: schemaVersion %d verdict %s, want 1 %s", rep.SchemaVersion, rep.Verdict, tc.wantReport)
				}
			}
		})
	}
}
