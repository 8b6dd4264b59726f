package files

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestWriteRegular writes over each kind of thing a path can be. A
// symlink is refused and its target untouched; a FIFO is refused at once
// (opened, it would block until a reader came); a regular file is
// replaced by rename (a reader holding the old one still reads it whole)
// and keeps its mode.
func TestWriteRegular(t *testing.T) {
	umask := syscall.Umask(0o022)
	syscall.Umask(umask)
	for _, tc := range []struct {
		name     string
		setup    func(t *testing.T, path string) // makes what is at path
		wantErr  string
		wantMode os.FileMode
		check    func(t *testing.T, path string)
	}{
		{name: "new file", setup: func(*testing.T, string) {}, wantMode: 0o644 &^ os.FileMode(umask)},
		{name: "regular file replaced", setup: func(t *testing.T, path string) {
			writeFile(t, path, "old\n", 0o600)
		}, wantMode: 0o600},
		{name: "symlink to a file outside", setup: func(t *testing.T, path string) {
			target := filepath.Join(t.TempDir(), "outside")
			writeFile(t, target, "precious\n", 0o644)
			symlink(t, target, path)
		}, wantErr: "is a symlink", check: func(t *testing.T, path string) {
			target, _ := os.Readlink(path)
			if b, err := os.ReadFile(target); err != nil || string(b) != "precious\n" {
				t.Errorf("the symlink's target now holds %q (%v)", b, err)
			}
		}},
		{name: "dangling symlink", setup: func(t *testing.T, path string) {
			symlink(t, filepath.Join(t.TempDir(), "created"), path)
		}, wantErr: "is a symlink", check: func(t *testing.T, path string) {
			target, _ := os.Readlink(path)
			if _, err := os.Lstat(target); !os.IsNotExist(err) {
				t.Errorf("the dangling symlink's target was created (%v)", err)
			}
		}},
		{name: "FIFO", setup: func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o644); err != nil {
				t.Fatal(err)
			}
		}, wantErr: "is not a regular file (a FIFO)"},
		{name: "directory", setup: func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
		}, wantErr: "is not a regular file (a directory)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "reprover.lock.json")
			tc.setup(t, path)
			var held *os.File // a reader of the file before it is replaced
			if st, err := os.Lstat(path); err == nil && st.Mode().IsRegular() {
				if held, err = os.Open(path); err != nil {
					t.Fatal(err)
				}
				defer held.Close()
			}
			err := WriteRegular(path, []byte("new\n"), 0o644)
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("err %v, want %q naming %s", err, tc.wantErr, path)
				}
			case err != nil:
				t.Fatal(err)
			default:
				st, err := os.Lstat(path)
				if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != tc.wantMode {
					t.Fatalf("%s: %v (%v), want a regular file of mode %v", path, st.Mode(), err, tc.wantMode)
				}
				if b, _ := os.ReadFile(path); string(b) != "new\n" {
					t.Errorf("%s holds %q", path, b)
				}
				if held != nil {
					b := make([]byte, 16)
					n, _ := held.Read(b)
					if string(b[:n]) != "old\n" {
						t.Errorf("the file open before was written in place: it reads %q", b[:n])
					}
				}
			}
			if tc.check != nil {
				tc.check(t, path)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Errorf("%s holds %d entries, want only the file (no temporary left)", dir, len(entries))
			}
		})
	}
}

func TestWritable(t *testing.T) {
	dir := t.TempDir()
	if err := Writable(filepath.Join(dir, "new")); err != nil {
		t.Errorf("a missing file: %v", err)
	}
	if err := Writable("/dev/null"); err == nil || !strings.Contains(err.Error(), "/dev/null is not a regular file (a device)") {
		t.Errorf("/dev/null: %v", err)
	}
}

func writeFile(t *testing.T, path, body string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, path string) {
	t.Helper()
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}
