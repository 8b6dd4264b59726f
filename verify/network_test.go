package verify_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/pins"
	"github.com/reprover/reprover/verify"
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestVerifyProxy: a release whose RUN downloads is rebuilt through
// BuildKit's capturing proxy, each download checked against the pins of a
// lock file or of the release's own provenance; a download that changed
// since the release, one no pin names, no pins at all, or a private
// download host not allowed by name each stop the verification (exit 2)
// naming the URL.
func TestVerifyProxy(t *testing.T) {
	w := newWorld(t)
	const release = "the input the release downloaded\n"
	var served atomic.Value
	served.Store(release)
	srv := fixtures.BridgeServer(t, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/input.txt":
			fmt.Fprint(rw, served.Load().(string))
		case "/extra.txt":
			fmt.Fprint(rw, "not in the lock\n")
		default:
			http.NotFound(rw, r)
		}
	}))
	host, _, _ := strings.Cut(srv, ":")
	input := "http://" + srv + "/input.txt"
	dockerfile := "FROM BASE\nRUN wget -q -O /input.txt " + input + " && (wget -q -O- http://" + srv + "/probe || true)\n"
	lock := func(urls ...string) string {
		var ps []string
		for _, u := range urls {
			ps = append(ps, fmt.Sprintf(`{"url":%q,"sha256":%q}`, u, sha(release)))
		}
		return `{"lockVersion":1,"downloads":[` + strings.Join(ps, ",") + `]}`
	}
	tests := []struct {
		name       string
		files      map[string]string
		dockerfile string
		provenance bool // the release carries provenance
		serve      string
		req        func(*verify.Request)
		want       verify.Verdict
		pinsFrom   string
		wantErr    []string
		errIs      error
		wantHint   string
		inputs     string // the summary of the downloads' states; "" when all as released
		state      string // "STATE PINNED" of the download the summary names first
	}{
		{name: "pinned by the lock file", files: map[string]string{"reprover.lock.json": lock(input)}, want: verify.Reproducible, pinsFrom: pins.FromLock},
		{name: "pinned by the release's provenance", provenance: true, want: verify.Reproducible, pinsFrom: pins.FromProvenance},
		// Inputs that moved since the release do not stop the
		// verification: the rebuild is compared, and the report names them.
		{name: "the download changed since the release", files: map[string]string{"reprover.lock.json": lock(input)}, serve: "changed\n",
			want: verify.Mismatch, pinsFrom: pins.FromLock, inputs: "0 of 1 downloads as released; input.txt changed",
			wantHint: "Inputs: 0 of 1 downloads as released; input.txt changed", state: "changed " + sha(release)},
		{name: "the download changed, and the image does not keep it", files: map[string]string{"reprover.lock.json": lock(input)}, serve: "changed\n",
			dockerfile: "FROM BASE\nRUN wget -q -O /tmp/input.txt " + input + " && rm /tmp/input.txt\n",
			want:       verify.Reproducible, pinsFrom: pins.FromLock, inputs: "0 of 1 downloads as released; input.txt changed", state: "changed " + sha(release)},
		{name: "a download no pin names", files: map[string]string{"reprover.lock.json": lock(input)},
			dockerfile: "FROM BASE\nRUN wget -q -O /input.txt " + input + " && wget -q -O /extra.txt http://" + srv + "/extra.txt\n",
			want:       verify.Reproducible, pinsFrom: pins.FromLock, inputs: "1 of 1 downloads as released; extra.txt new", state: "new "},
		{name: "no pins", wantErr: []string{"no pins", "reprover.lock.json", "reprover lock", "AllowUnpinnedDownloads"}, errIs: verify.ErrNoPins},
		{name: "no pins, compared all the same", req: func(r *verify.Request) { r.AllowUnpinnedDownloads = true },
			want: verify.Reproducible, pinsFrom: pins.FromNone, inputs: "0 of 0 downloads as released; input.txt new", state: "new "},
		{name: "a lock file named but missing", req: func(r *verify.Request) { r.Lock = "locks/app.json" }, wantErr: []string{"Lock locks/app.json"}},
		{name: "a private download host not allowed", files: map[string]string{"reprover.lock.json": lock(input)},
			req:     func(r *verify.Request) { r.AllowDownloadHosts = nil },
			wantErr: []string{"403 Forbidden"}, wantHint: "AllowDownloadHosts " + host},
		{name: "offline, the RUN is refused with the way out", files: map[string]string{"reprover.lock.json": lock(input)},
			req:     func(r *verify.Request) { r.Network = "none" },
			wantErr: []string{"run-downloads", "--network proxy"}, errIs: verify.ErrUnpinned},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			df := tc.dockerfile
			if df == "" {
				df = dockerfile
			}
			files := w.files(df, tc.files)
			dir, commit := fixtures.GitRepo(t, files, commitTime)
			served.Store(release)
			x, _ := w.publish(dir, "", builder.Spec{Network: builder.NetworkProxy, ProxyHosts: []string{srv}, Provenance: tc.provenance})
			ref := w.push("release/proxy-"+strings.Map(func(r rune) rune {
				if r >= 'a' && r <= 'z' {
					return r
				}
				return '-'
			}, tc.name), x)
			if tc.serve != "" {
				served.Store(tc.serve)
			}
			req := verify.Request{Source: dir, Commit: commit, Image: ref, Network: "proxy", AllowDownloadHosts: []string{host}}
			if tc.req != nil {
				tc.req(&req)
			}
			rep, err := verify.Run(t.Context(), req, w.bk, verify.Options{ProgressMode: "quiet"})
			roundTrip(t, rep)
			if len(tc.wantErr) > 0 {
				if err == nil || rep.Verdict != verify.Error {
					t.Fatalf("verdict %s (err %v), want an error", rep.Verdict, err)
				}
				for _, s := range tc.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not say %q", err, s)
					}
				}
				if tc.wantHint != "" && !strings.Contains(strings.Join(rep.Hints, "\n"), tc.wantHint) {
					t.Errorf("hints %q lack %q", rep.Hints, tc.wantHint)
				}
				if tc.errIs != nil && !errors.Is(err, tc.errIs) {
					t.Errorf("error %v is not %v", err, tc.errIs)
				}
				return
			}
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if rep.Verdict != tc.want {
				t.Errorf("verdict %s, want %s", rep.Verdict, tc.want)
			}
			b := rep.Build
			if b.Network != "proxy" || b.Pins == nil || b.Pins.From != tc.pinsFrom {
				t.Errorf("build network %s pins %+v, want proxy pinned by %s", b.Network, b.Pins, tc.pinsFrom)
			}
			if tc.wantHint != "" && !strings.Contains(strings.Join(rep.Hints, "\n"), tc.wantHint) {
				t.Errorf("hints %q lack %q", rep.Hints, tc.wantHint)
			}
			if tc.inputs != "" {
				if b.Inputs == nil || b.Inputs.String() != tc.inputs || rep.InputsAsReleased() || rep.Verified(true) {
					t.Errorf("inputs %+v, want %q, not as released (strict: not verified)", b.Inputs, tc.inputs)
				}
				var states []string
				for _, d := range b.Downloads {
					if d.State != "" && d.State != "pinned" {
						states = append(states, d.State+" "+d.Pinned)
					}
				}
				if len(states) == 0 || states[0] != tc.state {
					t.Errorf("download states %q, want %q first", states, tc.state)
				}
				return
			}
			if !rep.InputsAsReleased() || b.Inputs == nil || b.Inputs.String() != "1 of 1 downloads as released" {
				t.Errorf("inputs %+v, want all as released", b.Inputs)
			}
			var got []string
			for _, d := range b.Downloads {
				got = append(got, strings.TrimSpace(fmt.Sprintf("%s %s %d %s %s %s", d.Method, d.URL, d.Status, d.SHA256, d.PinnedBy, d.State)))
			}
			want := []string{"GET " + input + " 200 " + sha(release) + " " + tc.pinsFrom + " pinned", "GET http://" + srv + "/probe 404"}
			if strings.Join(got, "\n") != strings.Join(want, "\n") && strings.Join(got, "\n") != strings.Join([]string{want[1], want[0]}, "\n") {
				t.Errorf("downloads:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// TestLockThenVerify: reprover lock's build pins what RUN downloads; the
// lock committed next to the Dockerfile then verifies the release, and a
// download the lock build could not pin whole is refused.
func TestLockThenVerify(t *testing.T) {
	w := newWorld(t)
	const input = "pinned by the maintainer\n"
	srv := fixtures.BridgeServer(t, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/input.txt" {
			fmt.Fprint(rw, input)
			return
		}
		http.NotFound(rw, r)
	}))
	host, _, _ := strings.Cut(srv, ":")
	files := w.files("FROM BASE\nRUN wget -q -O /input.txt http://"+srv+"/input.txt\n", nil)
	work := t.TempDir()
	for name, body := range files {
		if err := os.MkdirAll(filepath.Join(work, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := verify.Lock(t.Context(), verify.LockRequest{Dir: work}, w.bk, verify.Options{ProgressMode: "quiet"}); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("a lock build reaching a private host not allowed: %v, want the download refused (403)", err)
	}
	l, _, err := verify.Lock(t.Context(), verify.LockRequest{Dir: work, AllowDownloadHosts: []string{host}}, w.bk, verify.Options{ProgressMode: "quiet"})
	if err != nil {
		t.Fatalf("lock: %v", err)
	}
	if len(l.Downloads) != 1 || l.Downloads[0].URL != "http://"+srv+"/input.txt" || l.Downloads[0].SHA256 != sha(input) {
		t.Fatalf("lock %+v, want the one download with its sha256", l.Downloads)
	}
	data, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	files[pins.LockFile] = string(data)
	dir, commit := fixtures.GitRepo(t, files, commitTime)
	x, _ := w.publish(dir, "", builder.Spec{Network: builder.NetworkProxy, ProxyHosts: []string{srv}})
	ref := w.push("release/locked", x)
	rep, err := verify.Run(t.Context(), verify.Request{Source: dir, Commit: commit, Image: ref, Network: "proxy", AllowDownloadHosts: []string{host}}, w.bk, verify.Options{ProgressMode: "quiet"})
	if err != nil || rep.Verdict != verify.Reproducible || rep.Build.Pins == nil || rep.Build.Pins.From != pins.FromLock {
		t.Errorf("verify with the lock: %s (%v), pins %+v; want reproducible, pinned by the lock", rep.Verdict, err, rep.Build)
	}
}

// TestVerifyNetworkIncomplete: a rebuild whose RUN gets a download the
// proxy cannot capture whole (a ranged GET) or sends another method that
// brings content (a POST), each step ending with output without a newline
// (BuildKit then glues its request list onto it), never verifies: the
// error names the URL and BuildKit's reason, whatever the pins; and
// reprover lock refuses to pin such a build.
func TestVerifyNetworkIncomplete(t *testing.T) {
	w := newWorld(t)
	const release = "the input the release downloaded\n"
	srv := fixtures.BridgeServer(t, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/input.txt":
			http.ServeContent(rw, r, "input.txt", time.Time{}, strings.NewReader(release))
		case "/api":
			fmt.Fprint(rw, "an answer to a POST\n")
		default:
			http.NotFound(rw, r)
		}
	}))
	host, _, _ := strings.Cut(srv, ":")
	input := "http://" + srv + "/input.txt"
	lock := `{"lockVersion":1,"downloads":[{"url":"` + input + `","sha256":"` + sha(release) + `"}]}`
	get := "wget -q -O /input.txt " + input
	// busybox wget sends every proxied request as a GET: the POST is
	// written by hand to the proxy.
	post := "p=${HTTP_PROXY#http://}; printf 'POST http://" + srv + "/api HTTP/1.0\\r\\nContent-Length: 1\\r\\n\\r\\nx' | nc -w 10 ${p%:*} ${p##*:} > /answer"
	for _, tc := range []struct {
		name    string
		run     string
		wantErr []string
	}{
		{name: "a ranged GET of a pinned URL", run: get + " && wget -q -O /part --header 'Range: bytes=0-3' " + input + "; printf x >&2",
			wantErr: []string{"GET " + input + " answered 206", "partial_response", "did not capture the whole body"}},
		{name: "a POST answered with content", run: get + "; " + post + "; printf x >&2",
			wantErr: []string{"POST http://" + srv + "/api answered 200", "method_not_materializable", "only GETs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := w.files("FROM BASE\nRUN "+tc.run+"\n", map[string]string{pins.LockFile: lock})
			dir, commit := fixtures.GitRepo(t, files, commitTime)
			x, _ := w.publish(dir, "", builder.Spec{Network: builder.NetworkProxy, ProxyHosts: []string{srv}})
			ref := w.push("release/incomplete-"+strings.Map(func(r rune) rune {
				if r >= 'a' && r <= 'z' {
					return r
				}
				return '-'
			}, tc.name), x)
			rep, err := verify.Run(t.Context(), verify.Request{Source: dir, Commit: commit, Image: ref, Network: "proxy", AllowDownloadHosts: []string{host}}, w.bk, verify.Options{ProgressMode: "quiet"})
			roundTrip(t, rep)
			var pe *pins.Error
			if err == nil || rep.Verdict != verify.Error || !errors.As(err, &pe) {
				t.Fatalf("verdict %s (err %v), want an error of the pins", rep.Verdict, err)
			}
			t.Logf("refused: %v", err)
			for _, s := range tc.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}

			work := t.TempDir()
			for name, body := range files {
				if err := os.MkdirAll(filepath.Join(work, filepath.Dir(name)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(work, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if _, _, err := verify.Lock(t.Context(), verify.LockRequest{Dir: work, AllowDownloadHosts: []string{host}}, w.bk, verify.Options{ProgressMode: "quiet"}); err == nil || !strings.Contains(err.Error(), tc.wantErr[0]) {
				t.Errorf("lock: %v, want a refusal naming %q", err, tc.wantErr[0])
			}
		})
	}
}
