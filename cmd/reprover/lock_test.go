package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
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
	out := filepath.Join(t.TempDir(), "lock.json")
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
