package builder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFindBuildkitd: $REPROVER_BUILDKITD, then next to the executable,
// then PATH; when none has it, the error names every place it looked.
func TestFindBuildkitd(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "buildkitd")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	beside := filepath.Join(filepath.Dir(exe), "buildkitd")

	t.Run("REPROVER_BUILDKITD", func(t *testing.T) {
		t.Setenv("REPROVER_BUILDKITD", fake)
		t.Setenv("PATH", "")
		if p, err := FindBuildkitd(); err != nil || p != fake {
			t.Errorf("%q %v, want %s", p, err, fake)
		}
	})
	t.Run("next to the executable", func(t *testing.T) {
		t.Setenv("REPROVER_BUILDKITD", "")
		t.Setenv("PATH", "")
		if err := os.WriteFile(beside, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(beside)
		if p, err := FindBuildkitd(); err != nil || p != beside {
			t.Errorf("%q %v, want %s", p, err, beside)
		}
	})
	t.Run("PATH", func(t *testing.T) {
		t.Setenv("REPROVER_BUILDKITD", "")
		t.Setenv("PATH", dir)
		if p, err := FindBuildkitd(); err != nil || p != fake {
			t.Errorf("%q %v, want %s", p, err, fake)
		}
	})
	t.Run("nowhere", func(t *testing.T) {
		t.Setenv("REPROVER_BUILDKITD", filepath.Join(dir, "nope"))
		t.Setenv("PATH", t.TempDir())
		_, err := FindBuildkitd()
		for _, s := range []string{"$REPROVER_BUILDKITD (" + filepath.Join(dir, "nope"), beside, "buildkitd in PATH", "make install", "--buildkit-addr"} {
			if err == nil || !strings.Contains(err.Error(), s) {
				t.Errorf("err %v does not say %q", err, s)
			}
		}
	})
}
