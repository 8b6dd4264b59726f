package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFirstMessages pins, as golden files, what a new user reads on stderr
// after the wrong turns of the first ten minutes: every bad argument named
// at once before anything starts, a usage line for a wrong argument count,
// and where buildkitd was looked for. Run with -update to rewrite them.
func TestFirstMessages(t *testing.T) {
	empty := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"verify-bad-arguments", []string{"verify", "--source", "/nonexistent", "--commit", "abc", "--image", "foo@sha256:ZZ", "--platform", "linux/not/an/arch", "--lock", "../x"},
			map[string]string{"BUILDKIT_HOST": "", "REPROVER_BUILDKITD": "/bin/false"}},
		{"verify-no-image", []string{"verify"}, nil},
		{"twice-bad-arguments", []string{"twice", "--commit", "abc", "--platform", "linux/not/an/arch", "--network", "host", "--lock", "../x"},
			map[string]string{"BUILDKIT_HOST": "", "REPROVER_BUILDKITD": "/bin/false"}},
		{"twice-no-arguments", []string{"twice", "extra"}, nil},
		{"diff-no-arguments", []string{"diff"}, nil},
		{"buildkitd-not-found", []string{"lock", "--source", empty},
			map[string]string{"BUILDKIT_HOST": "", "REPROVER_BUILDKITD": "", "PATH": empty}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, stderr := expect(t, tc.args, 2, nil, nil)
			exe, _ := os.Executable()
			got := strings.NewReplacer(empty, "EMPTY", filepath.Dir(exe), "EXEDIR").Replace(stderr) + "\n"
			path := filepath.Join("testdata", "stderr", tc.name+".txt")
			if *updateDocs {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test ./cmd/reprover -run TestFirstMessages -update)", err)
			}
			if got != string(want) {
				t.Errorf("stderr:\n%s\nwant (%s):\n%s", got, path, want)
			}
		})
	}
}
