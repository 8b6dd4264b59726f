package builder_test

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
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

// memReplay is a builder.Replay over blobs held in memory: the test's
// stand-in for a kit (package kit is the caller's; builder does not import
// it). With verify, Open's reader fails at its end when the bytes are not
// the pin's, as a kit's does; without, it lies silently.
type memReplay struct {
	pins   map[string]pins.Pin
	blobs  map[string][]byte
	verify bool
}

func (m *memReplay) URLs() []string { return slices.Sorted(maps.Keys(m.pins)) }

func (m *memReplay) Pin(url string) (pins.Pin, bool) {
	p, ok := m.pins[url]
	return p, ok
}

func (m *memReplay) Open(url string) (io.ReadCloser, error) {
	b, ok := m.blobs[url]
	if !ok {
		return nil, fmt.Errorf("no blob of %s", url)
	}
	if !m.verify {
		return io.NopCloser(bytes.NewReader(b)), nil
	}
	return io.NopCloser(&checkAtEOF{r: bytes.NewReader(b), h: sha256.New(), pin: m.pins[url]}), nil
}

// checkAtEOF fails at the end of its bytes when they are not the pin's.
type checkAtEOF struct {
	r io.Reader
	h interface {
		Sum([]byte) []byte
		Write([]byte) (int, error)
	}
	pin pins.Pin
}

func (c *checkAtEOF) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	if errors.Is(err, io.EOF) {
		if got := hex.EncodeToString(c.h.Sum(nil)); got != c.pin.SHA256 {
			return n, fmt.Errorf("download %s: sha256:%s, want sha256:%s", c.pin.URL, got, c.pin.SHA256)
		}
	}
	return n, err
}

// upstream is a download server on a test bridge that counts what reached it.
type upstream struct {
	addr string
	mu   sync.Mutex
	seen []string
}

func (u *upstream) reached() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := u.seen
	u.seen = nil
	return out
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestReplay: a build whose RUN downloads two files through the proxy is
// built once from their server, its captures pinned; then again with a
// Replay holding those two blobs. The replayed build is the same image,
// its captures name the same URLs with the same digests, served from the
// kit, and the server saw no request. A kit lacking a URL, or whose blob
// is not its pin's bytes (its reader failing at the end, or not), fails
// the build naming the URL, and no request reaches the server either.
func TestReplay(t *testing.T) {
	ctx := t.Context()
	d, err := builder.StartDaemon(ctx, builder.DaemonOptions{Binary: fixtures.BuildkitdBinary()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	if d.Gateway == "" {
		t.Fatal("the daemon has no bridge (the proxy needs the CNI plugins: make tools)")
	}
	c, err := d.Connect(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	reg := fixtures.NewRegistry(t)
	baseRef := reg.PushBusybox(t)
	files := map[string][]byte{"/a.txt": []byte("the first input\n"), "/b.txt": []byte("the second input, longer\n")}
	up := &upstream{}
	up.addr = fixtures.BridgeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up.mu.Lock()
		up.seen = append(up.seen, r.Method+" "+r.URL.Path)
		up.mu.Unlock()
		if b, ok := files[r.URL.Path]; ok {
			w.Write(b)
			return
		}
		if r.URL.Path == "/latest" {
			http.Redirect(w, r, "/a.txt", http.StatusFound)
			return
		}
		http.NotFound(w, r)
	}))
	urlA, urlB := "http://"+up.addr+"/a.txt", "http://"+up.addr+"/b.txt"
	both := "wget -q -O /a " + urlA + " && wget -q -O /b " + urlB + " && cat /a /b > /both"
	build := func(t *testing.T, c *builder.Client, run string, r builder.Replay, replayAddr string) (*builder.Result, error) {
		t.Helper()
		src := t.TempDir()
		writeFile(t, src, "Dockerfile", "FROM "+baseRef+"\nRUN "+run+"\n")
		return c.Build(ctx, builder.Spec{ContextDir: src, DockerfilePath: filepath.Join(src, "Dockerfile"), DockerfileName: "Dockerfile",
			SourceDateEpoch: 1740830400, OCIMediaTypes: true, OutputDir: filepath.Join(t.TempDir(), "out"),
			Network: builder.NetworkProxy, ProxyHosts: []string{up.addr}, Replay: r, ReplayAddr: replayAddr}, os.Stderr, "plain")
	}

	published, err := build(t, c, both, nil, "")
	if err != nil {
		t.Fatalf("the build from the server: %v", err)
	}
	want := []pins.Capture{
		{Method: "GET", URL: urlA, Status: 200, SHA256: sum(files["/a.txt"])},
		{Method: "GET", URL: urlB, Status: 200, SHA256: sum(files["/b.txt"])},
	}
	if !slices.Equal(published.Captures, want) {
		t.Fatalf("captures of the build from the server %+v, want %+v", published.Captures, want)
	}
	if s := up.reached(); len(s) != 2 {
		t.Fatalf("the server saw %q, want the two GETs", s)
	}
	kit := func(verify bool, blobs map[string][]byte) *memReplay {
		m := &memReplay{pins: map[string]pins.Pin{}, blobs: blobs, verify: verify}
		for _, c := range published.Captures {
			if _, ok := blobs[c.URL]; ok {
				m.pins[c.URL] = pins.Pin{URL: c.URL, SHA256: c.SHA256, Size: int64(len(files[strings.TrimPrefix(c.URL, "http://"+up.addr)]))}
			}
		}
		return m
	}
	fromKit := func(cs []pins.Capture) []pins.Capture {
		out := slices.Clone(cs)
		for i := range out {
			out[i].FromKit = true
		}
		return out
	}
	other := bytes.ToUpper(files["/b.txt"]) // the same size, other bytes
	// A blob larger than what the server buffers, wrong in its last byte:
	// the step must get it cut short, never whole.
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	urlBig := "http://" + up.addr + "/big.bin"
	bigWrong := slices.Clone(big)
	bigWrong[len(bigWrong)-1] ^= 1
	bigKit := &memReplay{pins: map[string]pins.Pin{urlBig: {URL: urlBig, SHA256: sum(big), Size: int64(len(big))}}, blobs: map[string][]byte{urlBig: bigWrong}}
	// A pin as BuildKit records it, asked for with the default port: the
	// proxy converts it before it dials (no server), and the capture is
	// named as BuildKit names it without a kit (TestReplayNames).
	const pinned = "http://pinned.example/a.txt"
	portKit := &memReplay{pins: map[string]pins.Pin{pinned: {URL: pinned, SHA256: sum(files["/a.txt"]), Size: int64(len(files["/a.txt"]))}},
		blobs: map[string][]byte{pinned: files["/a.txt"]}, verify: true}
	for _, tc := range []struct {
		name       string
		run        string
		kit        *memReplay
		replayAddr string // for a daemon reprover did not start
		want       []pins.Capture
		wantErr    error    // errors.Is
		say        []string // in the error
		errURL     string   // the URL the error names, default urlB
		stepOK     bool     // the step succeeds: the error is the replay's alone
	}{
		{name: "the kit holds both", run: both, kit: kit(true, map[string][]byte{urlA: files["/a.txt"], urlB: files["/b.txt"]}),
			want: fromKit(want)},
		{name: "a daemon reprover did not start, the replay's address given", run: both, kit: kit(true, map[string][]byte{urlA: files["/a.txt"], urlB: files["/b.txt"]}),
			replayAddr: net.JoinHostPort(d.Gateway, "0"), want: fromKit(want)},
		{name: "a pinned URL asked for with its default port", run: "wget -q -O /a http://pinned.example:80/a.txt", kit: portKit,
			want: []pins.Capture{{Method: "GET", URL: pinned, Status: 200, SHA256: sum(files["/a.txt"]), FromKit: true}}},
		{name: "the kit lacks one", run: both, kit: kit(true, map[string][]byte{urlA: files["/a.txt"]}),
			wantErr: builder.ErrNotInKit, say: []string{urlB}},
		{name: "the kit lacks one, and the step goes on", run: "wget -q -O /a " + urlA + " && (wget -q -O /b " + urlB + " || true)",
			kit:  kit(true, map[string][]byte{urlA: files["/a.txt"]}),
			want: []pins.Capture{fromKit(want)[0], {Method: "GET", URL: urlB, Status: 404, Incomplete: pins.ReasonFailed}}},
		{name: "a blob whose reader fails at its end", run: both, kit: kit(true, map[string][]byte{urlA: files["/a.txt"], urlB: other}),
			say: []string{urlB, "want sha256:" + sum(files["/b.txt"])}},
		{name: "a blob that lies", run: both, kit: kit(false, map[string][]byte{urlA: files["/a.txt"], urlB: other}),
			say: []string{urlB, sum(other), "its pin says", sum(files["/b.txt"])}},
		{name: "a blob that lies, and the step goes on", run: "wget -q -O /a " + urlA + " && (wget -q -O /b " + urlB + " || true)",
			kit:    kit(false, map[string][]byte{urlA: files["/a.txt"], urlB: other}),
			stepOK: true, say: []string{urlB, "its pin says"}},
		{name: "a large blob that lies in its last byte reaches the step cut short",
			run: "wget -q -O /big " + urlBig + "; echo \"wget exit $?\"; test \"$(wc -c < /big)\" -lt " + fmt.Sprint(len(big)),
			kit: bigKit, errURL: urlBig, stepOK: true, say: []string{urlBig, sum(bigWrong), "its pin says"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bc := c
			if tc.replayAddr != "" {
				bc, err = builder.Connect(ctx, d.Addr, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer bc.Close()
			}
			res, err := build(t, bc, tc.run, tc.kit, tc.replayAddr)
			if s := up.reached(); len(s) > 0 {
				t.Errorf("requests reached the server during the replay: %q", s)
			}
			if tc.say != nil || tc.wantErr != nil {
				errURL := cmp.Or(tc.errURL, urlB)
				var re *builder.ReplayError
				if !errors.As(err, &re) || re.URL != errURL {
					t.Fatalf("err %v, want a ReplayError naming %s", err, errURL)
				}
				var be *builder.BuildError
				if errors.As(err, &be) == tc.stepOK {
					t.Errorf("err %v: a failed step %v, want %v", err, !tc.stepOK, !tc.stepOK)
				}
				if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Errorf("err %v, want %v", err, tc.wantErr)
				}
				for _, s := range tc.say {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not say %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("replayed build: %v", err)
			}
			if !slices.Equal(res.Captures, tc.want) {
				t.Errorf("captures\n%+v\nwant\n%+v", res.Captures, tc.want)
			}
			if tc.run == both && res.Digest != published.Digest {
				t.Errorf("replayed image %s, the build from the server made %s", res.Digest, published.Digest)
			}
		})
	}

	// BuildKit pins a redirect's source with the digest of where it led,
	// beside the target's own pin; a kit records the redirect (kit.Make),
	// and its replay answers it so that the captures are the release's:
	// the source answered 302 with the target's digest, the target 200.
	// (A red-team found the source served 200 with the target's bytes, the
	// target never asked, and its pin missing.)
	t.Run("a redirect replays as released", func(t *testing.T) {
		up.mu.Lock()
		up.seen = nil
		up.mu.Unlock()
		urlLatest := "http://" + up.addr + "/latest"
		run := "wget -q -O /a " + urlLatest
		released, err := build(t, c, run, nil, "")
		if err != nil {
			t.Fatalf("the build from the server: %v", err)
		}
		d := sum(files["/a.txt"])
		want := []pins.Capture{{Method: "GET", URL: urlA, Status: 200, SHA256: d}, {Method: "GET", URL: urlLatest, Status: 302, SHA256: d}}
		if !slices.Equal(released.Captures, want) {
			t.Fatalf("captures of the build from the server %+v, want %+v", released.Captures, want)
		}
		up.mu.Lock()
		up.seen = nil
		up.mu.Unlock()
		size := int64(len(files["/a.txt"]))
		r := &memReplay{pins: map[string]pins.Pin{
			urlLatest: {URL: urlLatest, SHA256: d, Size: size, Redirect: urlA},
			urlA:      {URL: urlA, SHA256: d, Size: size},
		}, blobs: map[string][]byte{urlLatest: files["/a.txt"], urlA: files["/a.txt"]}, verify: true}
		res, err := build(t, c, run, r, "")
		if err != nil {
			t.Fatalf("replayed build: %v", err)
		}
		if s := up.reached(); len(s) > 0 {
			t.Errorf("requests reached the server during the replay: %q", s)
		}
		if !slices.Equal(res.Captures, fromKit(want)) {
			t.Errorf("captures of the replay\n%+v\nwant\n%+v", res.Captures, fromKit(want))
		}
		if res.Digest != released.Digest {
			t.Errorf("replayed image %s, the build from the server made %s", res.Digest, released.Digest)
		}
	})

	t.Run("a daemon reprover did not start, no replay address", func(t *testing.T) {
		bc, err := builder.Connect(ctx, d.Addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer bc.Close()
		_, err = build(t, bc, both, kit(true, map[string][]byte{urlA: files["/a.txt"]}), "")
		if err == nil || !strings.Contains(err.Error(), "ReplayAddr") || !strings.Contains(err.Error(), d.Addr) {
			t.Errorf("err %v, want one naming the daemon and ReplayAddr", err)
		}
	})
}
