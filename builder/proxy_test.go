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
	"strconv"
	"strings"
	"testing"
	"time"

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
		{Method: "GET", URL: "http://" + srv + "/missing", Status: 404, Incomplete: pins.ReasonFailed},
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

// TestBuildProxyCaptures: every request a RUN makes through the proxy is
// a capture of the build, from BuildKit's own record of it (the build's
// provenance), whatever its method and however it ended: a body the proxy
// did not capture whole carries BuildKit's reason and no digest. Each RUN
// ends with output that has no newline, onto which BuildKit glues its
// "proxy network requests:" header in the step log; a list the step prints
// itself cannot hide a request, and one naming a request the proxy never
// saw makes the build an error.
func TestBuildProxyCaptures(t *testing.T) {
	ctx := t.Context()
	addr := fixtures.Buildkit(t, fixtures.StartDaemon)
	reg := fixtures.NewRegistry(t)
	baseRef := reg.PushBusybox(t)
	const payload = "a release input, served whole or in part\n"
	srv := fixtures.BridgeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/input.txt":
			http.ServeContent(w, r, "input.txt", time.Time{}, strings.NewReader(payload))
		case "/moved":
			http.Redirect(w, r, "/input.txt", http.StatusMovedPermanently)
		case "/api":
			fmt.Fprint(w, "an answer to a POST\n")
		case "/short":
			w.Header().Set("Content-Length", "100")
			fmt.Fprint(w, "ten bytes\n")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler) // the connection is cut 90 bytes short
		default:
			http.NotFound(w, r)
		}
	}))
	url := func(path string) string { return "http://" + srv + path }
	// byHand sends a request through the proxy with busybox nc (busybox
	// wget sends every proxied request as a GET, --post-data included).
	byHand := func(method, path, body string) string {
		return "p=${HTTP_PROXY#http://}; printf '" + method + " " + url(path) + " HTTP/1.0\\r\\nContent-Length: " + strconv.Itoa(len(body)) + "\\r\\n\\r\\n" + body + "' | nc -w 10 ${p%:*} ${p##*:} > /answer"
	}
	sum := sha256.Sum256([]byte(payload))
	whole := hex.EncodeToString(sum[:])
	c, err := builder.Connect(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		name    string
		run     string
		want    []pins.Capture
		wantErr []string
	}{
		{name: "a whole GET, through a redirect", run: "wget -q -O /in " + url("/moved") + "; printf x >&2",
			want: []pins.Capture{{Method: "GET", URL: url("/input.txt"), Status: 200, SHA256: whole}, {Method: "GET", URL: url("/moved"), Status: 301, SHA256: whole}}},
		{name: "a ranged GET answered 206", run: "wget -q -O /part --header 'Range: bytes=0-3' " + url("/input.txt") + "; printf x >&2",
			want: []pins.Capture{{Method: "GET", URL: url("/input.txt"), Status: 206, Incomplete: pins.ReasonPartial}}},
		{name: "a POST answered with content", run: byHand("POST", "/api", "x") + "; printf x >&2",
			want: []pins.Capture{{Method: "POST", URL: url("/api"), Status: 200, Incomplete: pins.ReasonNotGET}}},
		{name: "a HEAD", run: byHand("HEAD", "/input.txt", "") + "; printf x >&2",
			want: []pins.Capture{{Method: "HEAD", URL: url("/input.txt"), Status: 200, Incomplete: pins.ReasonNotGET}}},
		{name: "a body cut short", run: "wget -q -O /short " + url("/short") + "; printf x >&2",
			want: []pins.Capture{{Method: "GET", URL: url("/short"), Status: 200, Incomplete: pins.ReasonBodyFailed}}},
		{name: "a GET that failed", run: "wget -q -O /missing " + url("/missing") + "; printf x >&2",
			want: []pins.Capture{{Method: "GET", URL: url("/missing"), Status: 404, Incomplete: pins.ReasonFailed}}},
		{name: "a list the step printed before BuildKit's", run: "printf 'proxy network requests:\\n- GET " + url("/forged") + " -> 200\\n' >&2; wget -q -O /in " + url("/input.txt") + "; printf x >&2",
			want: []pins.Capture{{Method: "GET", URL: url("/input.txt"), Status: 200, SHA256: whole}}},
		{name: "a list the step printed, and no request", run: "printf 'proxy network requests:\\n- GET " + url("/forged") + " -> 200\\n' >&2",
			wantErr: []string{"GET " + url("/forged") + " -> 200", "provenance"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := t.TempDir()
			writeFile(t, src, "Dockerfile", "FROM "+baseRef+"\nRUN "+tc.run+"\n")
			res, err := c.Build(ctx, builder.Spec{ContextDir: src, DockerfilePath: filepath.Join(src, "Dockerfile"), DockerfileName: "Dockerfile", SourceDateEpoch: 1,
				OCIMediaTypes: true, OutputDir: filepath.Join(t.TempDir(), "out"), Network: builder.NetworkProxy, ProxyHosts: []string{srv}}, os.Stderr, "plain")
			if tc.wantErr != nil {
				if !errors.Is(err, builder.ErrUnrecorded) {
					t.Fatalf("build: %v, want ErrUnrecorded", err)
				}
				for _, s := range tc.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not say %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			if !slices.Equal(res.Captures, tc.want) {
				t.Errorf("captures\n%+v\nwant\n%+v", res.Captures, tc.want)
			}
		})
	}
}
