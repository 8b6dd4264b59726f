package files

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/reprover/reprover/internal/limits"
)

func TestReadRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	small, big := filepath.Join(dir, "small"), filepath.Join(dir, "big")
	if err := os.WriteFile(small, []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(big, make([]byte, 100), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, say string }{
		{small, ""}, {fifo, "not a regular file"}, {"/dev/zero", "not a regular file"}, {dir, "not a regular file"},
		{big, "MaxTest=64"}, {filepath.Join(dir, "missing"), "no such file"},
	} {
		b, err := ReadRegular(c.path, "NAME", 64, "MaxTest")
		switch {
		case c.say == "" && (err != nil || string(b) != "FROM scratch\n"):
			t.Errorf("%s: %q %v", c.path, b, err)
		case c.say != "" && (err == nil || !strings.Contains(err.Error(), c.say)):
			t.Errorf("%s: err %v, want %q", c.path, err, c.say)
		}
	}
	_, err := ReadRegular(big, "NAME", 64, "MaxTest")
	var le *limits.Error
	if !errors.As(err, &le) {
		t.Errorf("%v is not a *limits.Error", err)
	}
}
