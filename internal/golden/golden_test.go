package golden

import (
	"os"
	"path/filepath"
	"testing"
)

// TestFile: a file that holds what the code generates passes; a stale one
// fails naming the command that rewrites it; with update it is rewritten.
func TestFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "doc.md")
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stale := &testing.T{}
	func() {
		defer func() { _ = recover() }()
		File(stale, path, "new\n", false, "go test ./x -run TestDoc")
	}()
	if !stale.Failed() {
		t.Errorf("a stale file passed")
	}
	File(t, path, "new\n", true, "go test ./x -run TestDoc")
	if b, _ := os.ReadFile(path); string(b) != "new\n" {
		t.Errorf("after update: %q", b)
	}
	File(t, path, "new\n", false, "go test ./x -run TestDoc")
}

// TestFileSymlink: -update refuses a symlink where the doc goes, and
// writes nothing through it.
func TestFileSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "elsewhere")
	path := filepath.Join(dir, "doc.md")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	failed := &testing.T{}
	func() {
		defer func() { _ = recover() }()
		File(failed, path, "new\n", true, "go test ./x -run TestDoc")
	}()
	if _, err := os.Lstat(target); !os.IsNotExist(err) {
		t.Errorf("written through the symlink: %v", err)
	}
}
