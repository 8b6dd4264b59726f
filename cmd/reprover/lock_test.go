package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/pins"
)

// TestLockCommand runs reprover lock as a maintainer would: the lock file
// it writes pins the download, and a build that cannot reach its download
// host is exit 2 naming the refusal.
func TestLockCommand(t *testing.T) {
	addr := fixtures.Buildkit(t, fixtures.StartDaemon)
	reg := fixtures.NewRegistry(t)
	base := reg.PushBusybox(t)
	srv := fixtures.BridgeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "input\n") }))
	host, _, _ := strings.Cut(srv, ":")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+base+"\nRUN wget -q -O /input http://"+srv+"/input\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The lock is written over an older one, which keeps its mode.
	out := filepath.Join(t.TempDir(), "lock.json")
	if err := os.WriteFile(out, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
		check      func(t *testing.T)
	}{
		{"written", []string{"lock", "--source", dir, "--out", out, "--buildkit-addr", addr, "--allow-download-host", host, "--quiet"}, 0,
			[]string{"wrote " + out + ": 1 download(s) from 1 host(s)"}, nil, func(t *testing.T) {
				l, err := pins.ReadLockFile(out, "", pins.Limits{})
				if err != nil || len(l.Downloads) != 1 || l.Downloads[0].URL != "http://"+srv+"/input" {
					t.Errorf("lock file: %+v (%v)", l, err)
				}
				if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o600 {
					t.Errorf("lock file mode: %v (%v), want the old file's 0600", st.Mode(), err)
				}
			}},
		{"a private host not allowed", []string{"lock", "--source", dir, "--out", filepath.Join(t.TempDir(), "x.json"), "--buildkit-addr", addr, "--quiet"}, 2,
			nil, []string{"403 Forbidden"}, nil},
		{"not a directory", []string{"lock", "--source", filepath.Join(dir, "nope"), "--buildkit-addr", addr}, 2, nil, []string{"not a directory"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, tc.args, tc.wantCode, tc.wantStdout, tc.wantStderr)
			if tc.check != nil {
				tc.check(t)
			}
		})
	}
}

// TestLockOutput: reprover lock refuses, before it builds anything, to
// write its lock through a symlink (a committed reprover.lock.json
// pointing outside the tree), into a FIFO (opening it would block for
// ever) or over a directory. No BuildKit is started: the refusal comes
// first.
func TestLockOutput(t *testing.T) {
	noDaemon := "unix://" + filepath.Join(t.TempDir(), "no-buildkitd.sock")
	for _, tc := range []struct {
		name    string
		make    func(t *testing.T, path string)
		useOut  bool // --out PATH rather than the default SOURCE/reprover.lock.json
		wantErr string
		check   func(t *testing.T, path string)
	}{
		{name: "committed symlink to a file outside", make: func(t *testing.T, path string) {
			target := filepath.Join(t.TempDir(), "authorized_keys")
			if err := os.WriteFile(target, []byte("precious\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, path); err != nil {
				t.Fatal(err)
			}
		}, wantErr: "is a symlink", check: func(t *testing.T, path string) {
			target, _ := os.Readlink(path)
			if b, err := os.ReadFile(target); err != nil || string(b) != "precious\n" {
				t.Errorf("the symlink's target holds %q (%v)", b, err)
			}
		}},
		{name: "--out a symlink", useOut: true, make: func(t *testing.T, path string) {
			if err := os.Symlink(filepath.Join(t.TempDir(), "elsewhere"), path); err != nil {
				t.Fatal(err)
			}
		}, wantErr: "is a symlink"},
		{name: "committed FIFO", make: func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o644); err != nil {
				t.Fatal(err)
			}
		}, wantErr: "is not a regular file (a FIFO)"},
		{name: "--out a directory", useOut: true, make: func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
		}, wantErr: "is not a regular file (a directory)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, pins.LockFile)
			args := []string{"lock", "--source", dir, "--buildkit-addr", noDaemon, "--quiet"}
			if tc.useOut {
				path = filepath.Join(t.TempDir(), "out.json")
				args = append(args, "--out", path)
			}
			tc.make(t, path)
			expect(t, args, 2, nil, []string{"writing the lock: " + path + " " + tc.wantErr})
			if tc.check != nil {
				tc.check(t, path)
			}
		})
	}
}
