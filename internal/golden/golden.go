// Package golden keeps a file generated from the code's own tables (a
// doc page, a table in one) the same as the code: a test compares the file
// with what the code generates, and rewrites it when asked (-update).
package golden

import (
	"os"

	"github.com/reprover/reprover/internal/files"
)

// T is what File needs of a *testing.T.
type T interface {
	Helper()
	Errorf(format string, args ...any)
}

// File fails t when the file at path does not hold got, naming the
// command that rewrites it (rerun); with update it writes got there first,
// beside it and renamed (a symlink or FIFO there is refused).
func File(t T, path, got string, update bool, rerun string) {
	t.Helper()
	if update {
		if err := files.WriteRegular(path, []byte(got), 0o644); err != nil {
			t.Errorf("%v", err)
			return
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("%v", err)
		return
	}
	if string(want) != got {
		t.Errorf("%s is stale: run %s -update", path, rerun)
	}
}
