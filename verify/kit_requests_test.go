package verify_test

import (
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/kit"
	"github.com/reprover/reprover/pins"
	"github.com/reprover/reprover/verify"
)

// TestVerifyKitReleaseRequests: a replay answers 404 every request the kit
// does not serve, so what the release's own requests were decides whether
// the inputs are as released. A probe that failed in the release too (its
// provenance records it) is the release's server's answer again: as
// released. Pins from a lock file say nothing of the release's failures:
// the probe is then a request the release may not have made, and the
// inputs are not as released (a strict verification fails, as from the
// upstreams where it would be new). A release that made a POST (bytes
// nobody knows) is not replayed: a kit serves only GETs, and the proxy
// keeps no record of one it refuses. (Red-team, session 6: H2, H3.)
func TestVerifyKitReleaseRequests(t *testing.T) {
	w := newWorld(t)
	body := "the release's input\n"
	up := &upstream{files: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/a.txt" && r.Method == http.MethodGet {
			rw.Write([]byte(body))
			return
		}
		http.NotFound(rw, r)
	})}
	repo := fixtures.BridgeServer(t, up)
	host, _, _ := net.SplitHostPort(repo)
	probe := "(wget -q -O /dev/null http://" + repo + "/probe || true) && wget -q -O /a http://" + repo + "/a.txt"
	post := `p=${HTTP_PROXY:-$http_proxy}; p=${p#http://}; p=${p%/}; ` +
		`(printf 'POST http://` + repo + `/api HTTP/1.1\r\nHost: ` + repo + `\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx' | nc ${p%:*} ${p##*:} || true) && ` +
		"wget -q -O /a http://" + repo + "/a.txt"
	lock := `{"lockVersion": 1, "downloads": [{"url": "http://` + repo + `/a.txt", "sha256": "` + sha256hex(body) + `", "size": ` + strconv.Itoa(len(body)) + `}]}` + "\n"
	for _, c := range []struct {
		name     string
		run      string
		lock     bool
		released bool   // inputs as released
		err      string // else: ErrKit naming this
	}{
		{"a probe the release failed on too", probe, false, true, ""},
		{"a probe, pins from a lock file", probe, true, false, ""},
		{"a POST in the release", post, false, false, "records POST http://" + repo + "/api"},
	} {
		t.Run(c.name, func(t *testing.T) {
			files := map[string]string{"Dockerfile": "FROM " + w.base + "\nRUN " + c.run + "\n"}
			if c.lock {
				files[pins.LockFile] = lock
			}
			dir, commit := fixtures.GitRepo(t, files, commitTime)
			x, _ := w.publish(dir, "", builder.Spec{Network: builder.NetworkProxy, ProxyHosts: []string{repo}, Provenance: true})
			ref := w.push("release/requests", x)
			in, err := verify.ReadKitInputs(t.Context(), ref, verify.Options{})
			if err != nil {
				t.Fatal(err)
			}
			k, err := kit.Make(t.Context(), kit.MakeOptions{Subject: in.Subject, Name: in.Repository, AllowHosts: []string{host},
				Pins: []pins.Pin{{URL: "http://" + repo + "/a.txt", SHA256: sha256hex(body)}}})
			if err != nil {
				t.Fatal(err)
			}
			kitDir := filepath.Join(t.TempDir(), "kit")
			if err := k.WriteTo(t.Context(), "oci:"+kitDir); err != nil {
				t.Fatal(err)
			}
			k.Close()
			before := up.requests.Load()
			rep, err := verify.Run(t.Context(), verify.Request{Source: dir, Commit: commit, Image: ref, Network: builder.NetworkProxy, Kit: "oci:" + kitDir},
				w.bk, verify.Options{ProgressMode: "quiet", ReplayAddr: net.JoinHostPort(host, "0")})
			if n := up.requests.Load() - before; n != 0 {
				t.Errorf("the upstream got %d request(s) during a replay", n)
			}
			if c.err != "" {
				if !errors.Is(err, verify.ErrKit) || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("verdict %s, error %v: want ErrKit naming %q", rep.Verdict, err, c.err)
				}
				return
			}
			if err != nil || rep.Verdict != verify.Reproducible {
				t.Fatalf("verdict %s, error %v: want reproducible", rep.Verdict, err)
			}
			if got := rep.InputsAsReleased(); got != c.released {
				t.Errorf("inputs %s: as released %v, want %v", rep.Build.Inputs, got, c.released)
			}
		})
	}
}
