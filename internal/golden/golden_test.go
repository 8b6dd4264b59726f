package golden

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a T that keeps what File said.
type recorder struct{ errs []string }

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// TestFile: a file that holds what the code generates passes; a stale one
// fails naming the command that rewrites it; with update it is rewritten;
// update refuses a symlink where the doc goes and writes nothing through
// it.
func TestFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "doc.md")
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stale recorder
	File(&stale, path, "new\n", false, "go test ./x -run TestDoc")
	if len(stale.errs) != 1 || !strings.Contains(stale.errs[0], "is stale: run go test ./x -run TestDoc -update") {
		t.Errorf("a stale file: %q", stale.errs)
	}
	var fresh recorder
	File(&fresh, path, "new\n", true, "go test ./x -run TestDoc")
	if b, _ := os.ReadFile(path); string(b) != "new\n" || len(fresh.errs) != 0 {
		t.Errorf("after update: %q, %q", b, fresh.errs)
	}

	target, link := filepath.Join(dir, "elsewhere"), filepath.Join(dir, "link.md")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	var refused recorder
	File(&refused, link, "new\n", true, "go test ./x -run TestDoc")
	if len(refused.errs) == 0 {
		t.Errorf("written through a symlink")
	}
	if _, err := os.Lstat(target); !os.IsNotExist(err) {
		t.Errorf("the symlink's target was written: %v", err)
	}
}
