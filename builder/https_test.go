package builder_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/pins"
)

// TestBuildProxyHTTPS: apt in a Debian base downloads from a flat apt
// repository served over HTTPS (a certificate of a test CA) through
// BuildKit's capturing proxy. The proxy intercepts TLS with its own CA,
// which the step trusts, and dials the server verifying it against the
// daemon's roots: with the test CA as the daemon's SSL_CERT_FILE the build
// succeeds and returns each https:// request with the sha256 of what was
// served, apt's probes as 404s without a digest. A daemon without the
// test CA cannot verify the server: the step sees 502s, the build fails,
// and no request reaches the server.
func TestBuildProxyHTTPS(t *testing.T) {
	caPEM, serverTLS := fixtures.TestCA(t)
	img, err := fixtures.DebianBase()
	if err != nil {
		t.Fatal(err)
	}
	reg := fixtures.NewRegistry(t)
	base := reg.MustPush(t, "base/debian", "bookworm", img)

	dir := fixtures.AptRepoPath()
	debs, _ := filepath.Glob(filepath.Join(dir, "hello_*_amd64.deb"))
	if len(debs) != 1 {
		t.Fatalf("the apt repository %s has %d hello .debs, want 1 (make tools)", dir, len(debs))
	}
	var (
		mu     sync.Mutex
		served []string // what reached the server: method, path, protocol, status
	)
	files := http.FileServer(http.Dir(dir))
	repo := fixtures.BridgeServerTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &httpsStatusWriter{ResponseWriter: w, status: 200}
		files.ServeHTTP(rec, r)
		mu.Lock()
		served = append(served, r.Method+" "+r.URL.Path+" "+r.Proto+" "+http.StatusText(rec.status))
		mu.Unlock()
	}), serverTLS)
	reached := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := served
		served = nil
		return out
	}
	packagesURL := "https://" + repo + "/./Packages"
	debURL := "https://" + repo + "/./" + filepath.Base(debs[0])
	want := map[string]string{packagesURL: sha256OfFile(t, filepath.Join(dir, "Packages")), debURL: sha256OfFile(t, debs[0])}

	sources := "RUN echo \"deb [trusted=yes] https://" + repo + "/ ./\" > /etc/apt/sources.list.d/local.list" +
		" && rm -f /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list"
	install := sources + " && apt-get update && apt-get install -y --no-install-recommends hello && hello\n"
	build := func(t *testing.T, addr, run string) (*builder.Result, error) {
		t.Helper()
		src := t.TempDir()
		writeFile(t, src, "Dockerfile", "FROM "+base+"\n"+run)
		c, err := builder.Connect(t.Context(), addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		res, err := c.Build(t.Context(), builder.Spec{ContextDir: src, DockerfilePath: filepath.Join(src, "Dockerfile"), DockerfileName: "Dockerfile",
			SourceDateEpoch: 1740830400, OCIMediaTypes: true, OutputDir: filepath.Join(t.TempDir(), "out"),
			Network: builder.NetworkProxy, ProxyHosts: []string{repo}}, os.Stderr, "plain")
		t.Logf("build took %v", time.Since(start).Round(time.Millisecond))
		return res, err
	}

	t.Run("daemon trusts the test CA", func(t *testing.T) {
		start := time.Now()
		d, err := builder.StartDaemon(t.Context(), builder.DaemonOptions{Binary: fixtures.BuildkitdBinary(), Env: []string{"SSL_CERT_FILE=" + caPEM}})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Stop()
		t.Logf("daemon with SSL_CERT_FILE=%s started in %v", caPEM, time.Since(start).Round(time.Millisecond))
		res, err := build(t, d.Addr, install)
		if err != nil {
			t.Fatalf("build through the proxy to the HTTPS repository: %v", err)
		}
		t.Logf("the server saw %q", reached())
		got, probes := map[string]string{}, 0
		for _, c := range res.Captures {
			t.Logf("captured %s %s -> %d %s", c.Method, c.URL, c.Status, c.SHA256)
			if c.Method != "GET" || !strings.HasPrefix(c.URL, "https://"+repo+"/") {
				t.Errorf("%s %s: not a GET from https://%s/", c.Method, c.URL, repo)
			}
			switch c.Status {
			case 200:
				got[c.URL] = c.SHA256
			case 404:
				probes++
				if c.SHA256 != "" {
					t.Errorf("%s answered 404 but has sha256 %s", c.URL, c.SHA256)
				}
			default:
				t.Errorf("%s answered %d", c.URL, c.Status)
			}
		}
		for u, sum := range want {
			if got[u] != sum {
				t.Errorf("GET %s: sha256 %q, want %s (the file on disk)", u, got[u], sum)
			}
		}
		if len(got) != len(want) {
			t.Errorf("downloads %v, want only %v", got, want)
		}
		for _, p := range []string{"InRelease", "Release"} {
			if !slices.ContainsFunc(res.Captures, func(c pins.Capture) bool {
				return c.URL == "https://"+repo+"/./"+p && c.Status == 404
			}) {
				t.Errorf("apt's probe of %s is not recorded as a 404: %+v", p, res.Captures)
			}
		}
		t.Logf("%d captures: %d downloads, %d probes answered 404", len(res.Captures), len(got), probes)
	})

	t.Run("daemon without the test CA", func(t *testing.T) {
		addr := fixtures.Buildkit(t, fixtures.StartDaemon)
		reached()
		_, err := build(t, addr, install)
		// The step's exit code and log, not its Dockerfile line: with
		// the proxy network BuildKit re-digests the RUN's vertex, and the
		// error carries no source location.
		var be *builder.BuildError
		if !errors.As(err, &be) || be.ExitCode != 100 {
			t.Fatalf("build on a daemon that does not trust the server: %v, want apt-get's exit code 100", err)
		}
		tail := strings.Join(be.LogTail, "\n")
		// apt's own "502  Bad Gateway" lines may have scrolled out of the
		// 20-line tail when it retried; its summary is always there.
		if flat := strings.Join(be.LogTail, ""); !strings.Contains(flat, "502  Bad Gateway") && !strings.Contains(flat, "Some index files failed to download") {
			t.Errorf("log tail %q: want apt's failure to fetch through the proxy", tail)
		}
		if !strings.Contains(tail, "- GET https://"+repo+"/./InRelease -> 502") || strings.Contains(tail, "-> 200") {
			t.Errorf("log tail %q: want the proxy's 502 for the repository, no 200", tail)
		}
		if s := reached(); len(s) > 0 {
			t.Errorf("requests reached the server past an unverified TLS handshake: %q", s)
		}

		// The same step made to succeed when apt cannot install: the
		// build's captures list each request with the proxy's 502.
		res, err := build(t, addr, sources+" && (apt-get update -o Acquire::Retries=0; echo \"apt-get update exit $?\") && ! apt-get install -y --no-install-recommends hello\n")
		if err != nil {
			t.Fatalf("build tolerating apt's failure: %v", err)
		}
		if !slices.ContainsFunc(res.Captures, func(c pins.Capture) bool {
			return c == pins.Capture{Method: "GET", URL: "https://" + repo + "/./InRelease", Status: 502, Incomplete: pins.ReasonUpstream}
		}) {
			t.Errorf("captures %+v: want apt's GET of InRelease answered 502", res.Captures)
		}
		for _, c := range res.Captures {
			t.Logf("captured %s %s -> %d %s", c.Method, c.URL, c.Status, c.SHA256)
			if !strings.HasPrefix(c.URL, "https://"+repo+"/") || c.Status != 502 || c.SHA256 != "" {
				t.Errorf("%s %s -> %d %q: want a 502 without a digest", c.Method, c.URL, c.Status, c.SHA256)
			}
		}
		if s := reached(); len(s) > 0 {
			t.Errorf("requests reached the server past an unverified TLS handshake: %q", s)
		}
	})
}

type httpsStatusWriter struct {
	http.ResponseWriter
	status int
}

func (r *httpsStatusWriter) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func sha256OfFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (make tools)", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
