package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/inspect"
)

// TestInspectExitCodes runs the inspect command as a user would: the
// exit code follows --fail-on (0 none reaches it, 1 one does, 2 could
// not inspect), in each format, with the report file.
func TestInspectExitCodes(t *testing.T) {
	reg := fixtures.NewRegistry(t)
	files := []fixtures.Entry{fixtures.Dir("app"), fixtures.File("app/hello", "hi\n")}
	clean := reg.MustPush(t, "cli/inspect", "clean", fixtures.Image(fixtures.Spec{User: "65532", Steps: []fixtures.Step{{Instruction: "COPY . /app", Entries: files}}}))
	root := reg.MustPush(t, "cli/inspect", "root", fixtures.Image(fixtures.Spec{Steps: []fixtures.Step{{Instruction: "COPY . /app", Entries: files}}}))
	secret := reg.MustPush(t, "cli/inspect", "secret", fixtures.Image(fixtures.Spec{User: "65532", Env: []string{"API_TOKEN=s3cret-value"},
		Steps: []fixtures.Step{{Instruction: "COPY . /app", Entries: files}}}))
	report := filepath.Join(t.TempDir(), "report.json")
	for _, tc := range []struct {
		name           string
		args           []string
		code           int
		stdout, stderr []string
	}{
		{name: "clean", args: []string{"inspect", clean}, code: 0, stdout: []string{"user 65532", "noProvenance"}},
		{name: "root below the default", args: []string{"inspect", root}, code: 0, stdout: []string{"medium runsAsRoot: the config sets no USER"}},
		{name: "root with --fail-on medium", args: []string{"inspect", "--fail-on", "medium", root}, code: 1},
		{name: "clean with --fail-on low", args: []string{"inspect", "--fail-on", "low", clean}, code: 1},
		{name: "secret", args: []string{"inspect", "--format", "json", "--report", report, secret}, code: 1, stdout: []string{`"check": "secretInEnv"`, `"schemaVersion": 1`}},
		{name: "secret with --fail-on none", args: []string{"inspect", "--fail-on", "none", "--format", "html", secret}, code: 0, stdout: []string{"<!doctype html>", "secretInEnv"}},
		{name: "bad --fail-on", args: []string{"inspect", "--fail-on", "severe", clean}, code: 2, stderr: []string{"--fail-on"}},
		{name: "bad --decompressor", args: []string{"inspect", "--decompressor", "zip", clean}, code: 2, stderr: []string{"--decompressor"}},
		{name: "missing image", args: []string{"inspect", reg.Host + "/cli/nothing:here"}, code: 2, stderr: []string{"not found"}},
		{name: "usage", args: []string{"inspect"}, code: 2, stderr: []string{"usage: reprover inspect IMAGE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _ := expect(t, tc.args, tc.code, tc.stdout, tc.stderr)
			if strings.Contains(out, "s3cret-value") {
				t.Errorf("the secret is shown:\n%s", out)
			}
		})
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var rep inspect.Report
	if err := json.Unmarshal(b, &rep); err != nil || rep.SchemaVersion != 1 || len(rep.Platforms) != 1 {
		t.Errorf("--report: %v %+v", err, rep)
	}
}
