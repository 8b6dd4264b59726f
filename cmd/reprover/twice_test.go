package main

import (
	"strings"
	"testing"

	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/verify"
)

// TestTwiceCommand runs reprover twice as a maintainer would before a
// release, on git repositories whose Dockerfiles are reproducible or not:
// the exit-code contract (0 reproducible, 1 not, 2 could not build), the
// differing file named in the text, and the report formats.
func TestTwiceCommand(t *testing.T) {
	addr := fixtures.Buildkit(t, fixtures.StartDaemon)
	base := fixtures.NewRegistry(t).PushBusybox(t)
	repo := func(dockerfile string) []string {
		dir, commit := fixtures.GitRepo(t, map[string]string{"Dockerfile": strings.ReplaceAll(dockerfile, "BASE", base), "app/hello.txt": "hello\n"}, fixtures.ReleaseTime)
		return []string{"twice", "--source", dir, "--commit", commit, "--buildkit-addr", addr, "--quiet"}
	}
	deterministic := repo("FROM BASE\nCOPY app/ /app/\nRUN echo built > /app/built.txt\n")
	stamped := repo("FROM BASE\nCOPY app/ /app/\nRUN date +%s%N > /stamp\n")
	random := repo("FROM BASE\nRUN head -c 32 /dev/urandom > /random\n")
	unpinned := repo("FROM busybox:latest\nCOPY app/ /app/\n")
	failing := repo("FROM BASE\nRUN echo broken >&2 && false\n")
	with := func(args []string, extra ...string) []string { return append(append([]string{}, args...), extra...) }
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantCode   int
		wantStdout []string
		wantStderr []string
		wantReport verify.Verdict // the verdict of the --report file the case writes
	}{
		{name: "reproducible", args: deterministic, wantStdout: []string{"verdict: reproducible", "first:", "second:", "SOURCE_DATE_EPOCH: 1740830400"}},
		{name: "reproducible as json", args: with(deterministic, "--format", "json"), wantReport: verify.Reproducible,
			wantStdout: []string{`"verdict": "reproducible"`, `"first"`, `"second"`, `"started"`}},
		{name: "the time in a file", args: stamped, wantCode: 1, wantReport: verify.Mismatch,
			wantStdout: []string{"verdict: mismatch", "~ /stamp  (content"},
			wantStderr: []string{"reprover: not reproducible: 1 file(s) differ between the two builds"}},
		{name: "random bytes as a page", args: with(random, "--format", "html"), wantCode: 1,
			wantStdout: []string{"<!doctype html>", "first build:", "/random"}, wantStderr: []string{"not reproducible"}},
		{name: "unpinned base", args: unpinned, wantCode: 2, wantReport: verify.Error,
			wantStdout: []string{"verdict: error"}, wantStderr: []string{"reprover: could not build:", "Dockerfile:1: unpinned-from"}},
		{name: "a failing step", args: failing, wantCode: 2, wantStderr: []string{"could not build", "Dockerfile:2:", "broken"}},
		{name: "an unknown commit", args: with(deterministic[:3], "--commit", strings.Repeat("a", 40), "--buildkit-addr", addr), wantCode: 2,
			wantStderr: []string{strings.Repeat("a", 40), "commit not found"}},
		{name: "a bad format", args: with(deterministic, "--format", "yaml"), wantCode: 2, wantStderr: []string{`--format "yaml": want text, json or html`}},
		{name: "every bad argument named before anything starts", args: []string{"twice", "--commit", "abc", "--network", "host"},
			env: map[string]string{"BUILDKIT_HOST": "", "REPROVER_BUILDKITD": "/bin/false"}, wantCode: 2,
			wantStderr: []string{"--source: required", `--commit "abc": want a full commit id`, `--network "host"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			args, report := withReport(t, tc.args, string(tc.wantReport))
			expect(t, args, tc.wantCode, tc.wantStdout, tc.wantStderr)
			if report != "" {
				rep := readsBack(t, report, func(b []byte) (any, error) { return verify.ReadTwiceReport(b) }).(*verify.TwiceReport)
				if rep.SchemaVersion != 1 || rep.Verdict != tc.wantReport {
					t.Errorf("--report file: schemaVersion %d verdict %s, want 1 %s", rep.SchemaVersion, rep.Verdict, tc.wantReport)
				}
			}
		})
	}
}

// TestTwiceNotReproducible: the sentence on stderr says why each verdict
// but reproducible fails, equivalent included.
func TestTwiceNotReproducible(t *testing.T) {
	files := []compare.FileChange{{Path: "/stamp"}, {Path: "/random"}}
	for _, tc := range []struct {
		name string
		rep  verify.TwiceReport
		want string
	}{
		{"equivalent", verify.TwiceReport{Verdict: verify.Equivalent, Encoding: []string{compare.EncTarHeaders}},
			"the two builds hold the same files and config, but their encoding differs (tarHeaders), so they are not bit-identical"},
		{"files differ", verify.TwiceReport{Verdict: verify.Mismatch, Platforms: []verify.Platform{{Verdict: verify.Mismatch, PlatformComparison: compare.Platform{Platform: "linux/amd64", Files: files}}}},
			"2 file(s) differ between the two builds"},
		{"config differs", verify.TwiceReport{Verdict: verify.Mismatch, Platforms: []verify.Platform{{Verdict: verify.Mismatch, PlatformComparison: compare.Platform{Platform: "linux/amd64"}}}},
			"the linux/amd64 images differ (see the report)"},
		{"a download moved, the images are identical", verify.TwiceReport{Verdict: verify.Mismatch, DownloadChanges: []verify.DownloadChange{{URL: "http://x/y"}},
			Platforms: []verify.Platform{{Verdict: verify.Reproducible}}},
			"1 download(s) served the two builds different bytes"},
	} {
		if got := notReproducible(&tc.rep); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
