package builder_test

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/pins"
)

// TestReplayHTTPS: apt in a Debian base installs from a flat repository
// served over HTTPS (the test CA the daemon trusts), through the proxy;
// then the same build replays from a kit of the downloads it pinned. apt
// asks the proxy with CONNECT, which names each URL https://host:port/…;
// the kit's URLs are converted to the replay's http:// blobs, and apt's
// probes of files the repository lacks (InRelease, compressed indexes)
// get the replay's 404 as they got the server's. The replay succeeds with
// every pinned download from the kit, the same digests, the probes named
// by their URLs, and the server sees no request.
func TestReplayHTTPS(t *testing.T) {
	ctx := t.Context()
	caPEM, serverTLS := fixtures.TestCA(t)
	img, err := fixtures.DebianBase()
	if err != nil {
		t.Fatal(err)
	}
	reg := fixtures.NewRegistry(t)
	base := reg.MustPush(t, "base/debian", "bookworm", img)
	dir := fixtures.AptRepoPath()
	var (
		mu     sync.Mutex
		served []string
	)
	files := http.FileServer(http.Dir(dir))
	repo := fixtures.BridgeServerTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		served = append(served, r.Method+" "+r.URL.Path)
		mu.Unlock()
		files.ServeHTTP(w, r)
	}), serverTLS)
	reached := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := served
		served = nil
		return out
	}
	d, err := builder.StartDaemon(ctx, builder.DaemonOptions{Binary: fixtures.BuildkitdBinary(), Env: []string{"SSL_CERT_FILE=" + caPEM}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	c, err := d.Connect(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	src := t.TempDir()
	writeFile(t, src, "Dockerfile", "FROM "+base+"\n"+
		"RUN echo \"deb [trusted=yes] https://"+repo+"/ ./\" > /etc/apt/sources.list.d/local.list"+
		" && rm -f /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list"+
		" && apt-get update && apt-get install -y --no-install-recommends hello && hello\n")
	build := func(r builder.Replay) (*builder.Result, error) {
		return c.Build(ctx, builder.Spec{ContextDir: src, DockerfilePath: filepath.Join(src, "Dockerfile"), DockerfileName: "Dockerfile",
			SourceDateEpoch: 1740830400, OCIMediaTypes: true, OutputDir: filepath.Join(t.TempDir(), "out"),
			Network: builder.NetworkProxy, ProxyHosts: []string{repo}, Replay: r}, os.Stderr, "plain")
	}

	published, err := build(nil)
	if err != nil {
		t.Fatalf("the build from the HTTPS repository: %v", err)
	}
	if len(reached()) == 0 {
		t.Fatal("the build from the repository reached no server")
	}
	kit := &memReplay{pins: map[string]pins.Pin{}, blobs: map[string][]byte{}, verify: true}
	for _, c := range published.Captures {
		if c.SHA256 == "" {
			continue
		}
		if !strings.HasPrefix(c.URL, "https://"+repo+"/") {
			t.Fatalf("capture %+v: not of https://%s/", c, repo)
		}
		b, err := os.ReadFile(filepath.Join(dir, strings.TrimPrefix(c.URL, "https://"+repo+"/")))
		if err != nil {
			t.Fatal(err)
		}
		kit.pins[c.URL] = pins.Pin{URL: c.URL, SHA256: c.SHA256, Size: int64(len(b))}
		kit.blobs[c.URL] = b
	}
	if !slices.ContainsFunc(published.Captures, func(c pins.Capture) bool { return strings.HasSuffix(c.URL, ".deb") && c.SHA256 != "" }) {
		t.Fatalf("captures %+v: no .deb", published.Captures)
	}

	replayed, err := build(kit)
	if err != nil {
		t.Fatalf("the replayed build: %v", err)
	}
	if s := reached(); len(s) > 0 {
		t.Errorf("requests reached the repository during the replay: %q", s)
	}
	want := slices.Clone(published.Captures)
	for i := range want {
		want[i].FromKit = want[i].SHA256 != ""
	}
	if !slices.Equal(replayed.Captures, want) {
		t.Errorf("replayed captures\n%+v\nwant\n%+v", replayed.Captures, want)
	}
	t.Logf("image from the repository %s, replayed %s", published.Digest, replayed.Digest)
}
