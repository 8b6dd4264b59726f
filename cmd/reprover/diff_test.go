package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/fixtures"
)

// TestDiffExitCodes runs the diff command as a user would and checks the
// exit-code contract and the outputs.
func TestDiffExitCodes(t *testing.T) {
	reg := fixtures.NewRegistry(t)
	cases := map[string]fixtures.Case{}
	for _, c := range fixtures.Cases() {
		cases[c.Name] = c
	}
	push := func(name string) (string, string) {
		c := cases[name]
		return reg.MustPush(t, "cli/"+name, "a", c.A), reg.MustPush(t, "cli/"+name, "b", c.B)
	}
	idA, idB := push("identical")
	eqA, eqB := push("recompressed-zstd")
	addA, addB := push("added-file")
	causeA, causeB := push("causes")
	dir := t.TempDir()
	if err := fixtures.WriteLayout(filepath.Join(dir, "layout"), "v1", cases["added-file"].B); err != nil {
		t.Fatal(err)
	}

	archive := filepath.Join(dir, "image.tar")
	if err := fixtures.WriteArchive(archive, filepath.Join(dir, "layout")); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
		wantReport string // the verdict of the --report file the case writes
	}{
		{name: "identical", args: []string{"diff", idA, idB}, wantCode: 0, wantStdout: []string{"verdict: identical"}},
		{name: "equivalent", args: []string{"diff", eqA, eqB}, wantCode: 0, wantStdout: []string{"verdict: equivalent", "compression"}},
		{name: "different", args: []string{"diff", addA, addB}, wantCode: 1, wantStdout: []string{"verdict: different", "+ /app/backdoor.sh"}},
		{name: "json", args: []string{"diff", "--format", "json", addA, addB}, wantCode: 1, wantStdout: []string{`"verdict": "different"`, `"path": "/app/backdoor.sh"`},
			wantReport: compare.Different},
		{name: "report of the same", args: []string{"diff", eqA, eqB}, wantReport: compare.Equivalent, wantStdout: []string{"verdict: equivalent"}},
		{name: "html", args: []string{"diff", "--format", "html", addA, addB}, wantCode: 1, wantStdout: []string{"<!doctype html>", "/app/backdoor.sh"}},
		{name: "layout-vs-registry", args: []string{"diff", addB, "oci:" + filepath.Join(dir, "layout") + ":v1"}, wantCode: 0, wantStdout: []string{"verdict: identical"}},
		{name: "archive-vs-registry", args: []string{"diff", "oci-archive:" + archive, addA}, wantCode: 1, wantStdout: []string{"- /app/backdoor.sh"}},
		{name: "missing-image", args: []string{"diff", addA, reg.Host + "/cli/nothing:here"}, wantCode: 2, wantStderr: []string{reg.Host + "/cli/nothing:here", "not found"}},
		{name: "missing-layout", args: []string{"diff", addA, "oci:" + filepath.Join(dir, "nope")}, wantCode: 2, wantStderr: []string{"nope", "not found"}},
		{name: "bad-digest", args: []string{"diff", addA, reg.Host + "/x@sha256:ABC"}, wantCode: 2, wantStderr: []string{"malformed digest"}},
		{name: "bad-format", args: []string{"diff", "--format", "yaml", addA, addB}, wantCode: 2, wantStderr: []string{"--format"}},
		{name: "wrong-platform", args: []string{"diff", "--platform", "linux/s390x", addA, addB}, wantCode: 2, wantStderr: []string{"linux/s390x"}},
		{name: "usage", args: []string{"diff", addA}, wantCode: 2, wantStderr: []string{"accepts 2 arg", "usage: reprover diff IMAGE-A IMAGE-B"}},
		{name: "causes", args: []string{"diff", causeA, causeB}, wantCode: 1,
			wantStdout: []string{"hint: 1 of 9 differences: gzip header (time or name) (/app/changelog.gz)", "cause gzip-header: header mtime", "inside it:"}},
		{name: "diffoscope", args: []string{"diff", "--diffoscope", causeA, causeB}, wantCode: 1, wantReport: compare.Different,
			wantStdout: []string{"diffoscope:", "--- A/changelog.gz", "gzip compressed data, was \"changelog\""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args, report := withReport(t, tc.args, tc.wantReport)
			out, _ := expect(t, args, tc.wantCode, tc.wantStdout, tc.wantStderr)
			if strings.Contains(out, "\x1b[") {
				t.Errorf("colour escape codes on a non-terminal stdout")
			}
			if report != "" {
				rep := readsBack(t, report, func(b []byte) (any, error) { return compare.ReadReport(b) }).(*compare.Report)
				if rep.SchemaVersion != 1 || rep.Verdict != tc.wantReport {
					t.Errorf("--report file: schemaVersion %d verdict %s, want 1 %s", rep.SchemaVersion, rep.Verdict, tc.wantReport)
				}
			}
		})
	}
}

// TestDiffLayerIndex: what diff learns of layers is kept in the layer
// index, and a second comparison from the index reports the same; a bad
// --decompressor is exit 2 before anything is read.
func TestDiffLayerIndex(t *testing.T) {
	reg := fixtures.NewRegistry(t)
	var c fixtures.Case
	for _, x := range fixtures.Cases() {
		if x.Name == "modified-file" {
			c = x
		}
	}
	a, b := reg.MustPush(t, "index/modified", "a", c.A), reg.MustPush(t, "index/modified", "b", c.B)
	dir := filepath.Join(t.TempDir(), "layers")
	var reports []string
	for range 2 {
		out, _ := expect(t, []string{"diff", "--format", "json", "--layer-index", dir, a, b}, 1, []string{`"verdict": "different"`}, nil)
		reports = append(reports, out)
	}
	if reports[0] != reports[1] {
		t.Errorf("the comparison from the index differs:\n%s\n%s", reports[0], reports[1])
	}
	var files int
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files++
		}
		return nil
	})
	if files == 0 {
		t.Errorf("the layer index in %s is empty", dir)
	}
	expect(t, []string{"diff", "--decompressor", "zlib", a, b}, 2, nil, []string{`--decompressor "zlib": want auto, go or igzip`})
}

// TestDiffoscopeMissing: --diffoscope without diffoscope installed is
// exit 2 saying how to install it, before any image is read.
func TestDiffoscopeMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	expect(t, []string{"diff", "--diffoscope", "oci:/nonexistent-a", "oci:/nonexistent-b"}, 2, nil,
		[]string{"--diffoscope: diffoscope is not installed (Debian: apt-get install diffoscope-minimal"})
}

// withReport adds --report FILE to args when a report is wanted, and
// returns FILE.
func withReport(t *testing.T, args []string, want string) ([]string, string) {
	if want == "" {
		return args, ""
	}
	report := filepath.Join(t.TempDir(), "report.json")
	return append([]string{args[0], "--report", report}, args[1:]...), report
}

// readsBack reads a --report file and checks that it reads back as it was
// written: decoded and encoded again, it is the same bytes.
func readsBack(t *testing.T, path string, read func([]byte) (any, error)) any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("--report: %v", err)
	}
	rep, err := read(b)
	if err != nil {
		t.Fatalf("--report file: %v", err)
	}
	again, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if string(again)+"\n" != string(b) {
		t.Errorf("--report file does not read back as written:\nwritten:\n%s\nread back:\n%s", b, again)
	}
	return rep
}

func tempFile(t *testing.T) *os.File {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func readBack(t *testing.T, f *os.File) string {
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSpace(b))
}

// expect runs reprover with args and checks the exit code and that stdout
// and stderr contain the given strings; it returns both outputs.
func expect(t *testing.T, args []string, wantCode int, wantStdout, wantStderr []string) (string, string) {
	t.Helper()
	stdout, stderr := tempFile(t), tempFile(t)
	code := run(t.Context(), args, nil, stdout, stderr)
	out, errOut := readBack(t, stdout), readBack(t, stderr)
	if code != wantCode {
		t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, wantCode, out, errOut)
	}
	for _, s := range wantStdout {
		if !strings.Contains(out, s) {
			t.Errorf("stdout lacks %q:\n%s", s, out)
		}
	}
	for _, s := range wantStderr {
		if !strings.Contains(errOut, s) {
			t.Errorf("stderr lacks %q:\n%s", s, errOut)
		}
	}
	return out, errOut
}
