package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/fixtures"
)

// TestReportOutput: --report (as --attestation and lock's --out) is
// written by files.WriteRegular: a symlink at the path is refused and its
// target untouched (a report written into an untrusted checkout could
// overwrite any file through one), a FIFO is refused at once (opened, it
// would block for ever), a file is replaced.
func TestReportOutput(t *testing.T) {
	dir := t.TempDir()
	var identical fixtures.Case
	for _, c := range fixtures.Cases() {
		if c.Name == "identical" {
			identical = c
		}
	}
	if err := fixtures.WriteLayout(filepath.Join(dir, "layout"), "v1", identical.A); err != nil {
		t.Fatal(err)
	}
	img := "oci:" + filepath.Join(dir, "layout") + ":v1"
	target := filepath.Join(dir, "precious")
	if err := os.WriteFile(target, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		make     func(t *testing.T, path string)
		wantCode int
		wantErr  string
	}{
		{name: "a new file", make: func(*testing.T, string) {}},
		{name: "an old report", make: func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "a symlink", make: func(t *testing.T, path string) {
			if err := os.Symlink(target, path); err != nil {
				t.Fatal(err)
			}
		}, wantCode: 2, wantErr: "is a symlink"},
		{name: "a FIFO", make: func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o644); err != nil {
				t.Fatal(err)
			}
		}, wantCode: 2, wantErr: "is not a regular file (a FIFO)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "report.json")
			tc.make(t, path)
			var wantStderr []string
			if tc.wantErr != "" {
				wantStderr = []string{path + " " + tc.wantErr}
			}
			expect(t, []string{"diff", "--report", path, img, img}, tc.wantCode, nil, wantStderr)
			if tc.wantErr == "" {
				readsBack(t, path, func(b []byte) (any, error) { return compare.ReadReport(b) })
			}
			if b, err := os.ReadFile(target); err != nil || string(b) != "precious\n" {
				t.Errorf("%s holds %q (%v)", target, b, err)
			}
		})
	}
}
