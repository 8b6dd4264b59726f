package service

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSweepScratch: the job directories a killed process left (older than
// any job may run) are removed at start; a running job's is kept.
func TestSweepScratch(t *testing.T) {
	root := t.TempDir()
	old, fresh := filepath.Join(root, "verify-old"), filepath.Join(root, "verify-fresh")
	for _, d := range []string{old, fresh} {
		if err := os.MkdirAll(filepath.Join(d, "src"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, long, long); err != nil {
		t.Fatal(err)
	}
	if err := sweepScratch(root, time.Now().Add(-30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("the dead job's directory is still there: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a running job's directory was removed: %v", err)
	}
	if err := sweepScratch(filepath.Join(root, "missing"), time.Now()); err != nil {
		t.Errorf("no scratch directory yet: %v", err)
	}
}
