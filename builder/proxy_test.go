package builder_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/pins"
)

// TestBuildProxy: with the proxy network, a RUN downloads from an allowed
// host through BuildKit's proxy; the build returns each request with the
// sha256 of what was served, a 404 with its status, and a host the policy
// does not allow is refused (the step sees a 403). Without the proxy the
// same RUN has no network.
func TestBuildProxy(t *testing.T) {
	ctx := t.Context()
	addr := fixtures.Buildkit(t, fixtures.StartDaemon)
	reg := fixtures.NewRegistry(t)
	baseRef := reg.PushBusybox(t)
	payload := "a release input\n"
	srv := fixtures.BridgeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/input.txt" {
			fmt.Fprint(w, payload)
			return
		}
		http.NotFound(w, r)
	}))
	host, _, _ := strings.Cut(srv, ":")
	other := strings.TrimSuffix(host, ".1") + ".1:1" // the same machine, a port no pin names
	src := t.TempDir()
	writeFile(t, src, "Dockerfile", "FROM "+baseRef+"\n"+
		"RUN wget -q -O /input.txt http://"+srv+"/input.txt && (wget -q -O- http://"+srv+"/missing || true) && (wget -q -O- http://"+other+"/x || true)\n")
	c, err := builder.Connect(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	spec := func(network string) builder.Spec {
		return builder.Spec{ContextDir: src, DockerfilePath: filepath.Join(src, "Dockerfile"), DockerfileName: "Dockerfile", SourceDateEpoch: 1740830400,
			OCIMediaTypes: true, OutputDir: filepath.Join(t.TempDir(), "out"), Network: network, ProxyHosts: []string{srv}}
	}
	res, err := c.Build(ctx, spec(builder.NetworkProxy), os.Stderr, "plain")
	if err != nil {
		t.Fatalf("proxied build: %v", err)
	}
	sum := sha256.Sum256([]byte(payload))
	want := []pins.Capture{
		{Method: "GET", URL: "http://" + srv + "/input.txt", Status: 200, SHA256: hex.EncodeToString(sum[:])},
		{Method: "GET", URL: "http://" + srv + "/missing", Status: 404},
	}
	slices.SortFunc(res.Captures, func(a, b pins.Capture) int { return strings.Compare(a.URL, b.URL) })
	if !slices.Equal(res.Captures, want) {
		t.Errorf("captures %+v, want %+v", res.Captures, want)
	}
	for _, c := range res.Captures {
		if strings.Contains(c.URL, other) {
			t.Errorf("a request to %s, which no pin names, reached it: %+v", other, c)
		}
	}

	_, err = c.Build(ctx, spec(builder.NetworkNone), os.Stderr, "plain")
	var be *builder.BuildError
	if !errors.As(err, &be) || be.Line != 2 {
		t.Errorf("the same build without the proxy: %v, want the RUN at Dockerfile:2 to fail", err)
	}
}

// TestBuildProxyNoBypass: a RUN that ignores the proxy (its variables
// unset) reaches nothing: the proxy network has no other way out.
func TestBuildProxyNoBypass(t *testing.T) {
	ctx := t.Context()
	addr := fixtures.Buildkit(t, fixtures.StartDaemon)
	reg := fixtures.NewRegistry(t)
	baseRef := reg.PushBusybox(t)
	srv := fixtures.BridgeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "x") }))
	src := t.TempDir()
	writeFile(t, src, "Dockerfile", "FROM "+baseRef+"\nRUN printf 'GET /x HTTP/1.0\\r\\n\\r\\n' | nc -w 5 "+strings.Replace(srv, ":", " ", 1)+" > /x; echo \"nc exit $?\"; test -s /x\n")
	c, err := builder.Connect(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Build(ctx, builder.Spec{ContextDir: src, DockerfilePath: filepath.Join(src, "Dockerfile"), DockerfileName: "Dockerfile", SourceDateEpoch: 1,
		OCIMediaTypes: true, OutputDir: filepath.Join(t.TempDir(), "out"), Network: builder.NetworkProxy, ProxyHosts: []string{srv}}, os.Stderr, "plain")
	var be *builder.BuildError
	if !errors.As(err, &be) {
		t.Fatalf("a direct connection past the proxy: %v, want the step to fail", err)
	}
	if be.File != "Dockerfile" || be.Line != 2 {
		t.Errorf("failed step at %s:%d, want Dockerfile:2 (BuildKit loses it with the proxy; reprover finds it by the step's name)", be.File, be.Line)
	}
	if tail := strings.Join(be.LogTail, "\n"); !strings.Contains(tail, "nc exit") || strings.Contains(tail, "proxy network requests") {
		t.Errorf("log tail %q: want nc's failure to connect, and no request through the proxy", tail)
	}
}

// TestBuildProxyRefusesHostNetwork: a daemon whose workers run on the
// host's network would proxy from its own namespace (the host's loopback
// included): a proxied build there is refused, saying what it needs.
func TestBuildProxyRefusesHostNetwork(t *testing.T) {
	ctx := t.Context()
	d, err := builder.StartDaemon(ctx, builder.DaemonOptions{Binary: fixtures.BuildkitdBinary(), HostNetwork: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	c, err := builder.Connect(ctx, d.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	src := t.TempDir()
	writeFile(t, src, "Dockerfile", "FROM scratch\nCOPY Dockerfile /\n")
	_, err = c.Build(ctx, builder.Spec{ContextDir: src, DockerfilePath: filepath.Join(src, "Dockerfile"), DockerfileName: "Dockerfile", SourceDateEpoch: 1,
		OCIMediaTypes: true, OutputDir: filepath.Join(t.TempDir(), "out"), Network: builder.NetworkProxy}, os.Stderr, "quiet")
	if !errors.Is(err, builder.ErrCannotProxy) || !strings.Contains(err.Error(), `network "host"`) || !strings.Contains(err.Error(), "containernetworking-plugins") {
		t.Errorf("err %v, want ErrCannotProxy naming the host network and what the proxy needs", err)
	}
}
