package builder

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reprover/reprover/pins"
)

// TestReplayTimeouts: the replay's server is where other builds' proxies,
// or anything on the daemon's network, reach it. A connection that never
// asks, asks by halves, idles after an answer (keep-alive) or stops
// reading a blob is closed in bounded time; a blob read at a slow but
// steady rate, taking longer in all than any of those bounds, is served
// whole. (A red-team found idle keep-alive connections kept for ever: the
// server had no IdleTimeout.) The timeouts are shortened for the test.
func TestReplayTimeouts(t *testing.T) {
	old := replayTimeouts
	replayTimeouts.header, replayTimeouts.idle, replayTimeouts.stall = 300*time.Millisecond, 300*time.Millisecond, 500*time.Millisecond
	t.Cleanup(func() { replayTimeouts = old })
	// Larger than what the kernel's socket buffers hold, on both ends.
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<20)
	const u = "http://h.example/big"
	r := &bytesReplay{pins: map[string]pins.Pin{u: {URL: u, SHA256: sha256Hex(big), Size: int64(len(big))}}, blobs: map[string][]byte{u: big}}
	stopped := make(chan struct{}, 1)
	rp, err := startReplay(t.Context(), r, "127.0.0.1:0", slog.New(onMessage{"replay stream stopped by its reader", stopped}))
	if err != nil {
		t.Fatal(err)
	}
	defer rp.close()
	addr := rp.ln.Addr().String()
	blob := strings.TrimPrefix(rp.base, "http://"+addr) + "b/0"
	// closed: the server closes c (the read ends, and not by the test's
	// own deadline, ten times the server's bounds).
	closed := func(t *testing.T, c net.Conn, br *bufio.Reader) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		_, err := io.Copy(io.Discard, br)
		if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the connection is still open after 3 s")
		}
	}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, c net.Conn, br *bufio.Reader)
	}{
		{"connected, asking nothing", closed},
		{"half a request header", func(t *testing.T, c net.Conn, br *bufio.Reader) {
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n", blob)
			closed(t, c, br)
		}},
		{"idle after an answer (keep-alive)", func(t *testing.T, c net.Conn, br *bufio.Reader) {
			fmt.Fprintf(c, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			closed(t, c, br)
		}},
		{"a blob never read", func(t *testing.T, c net.Conn, br *bufio.Reader) {
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", blob)
			// The server gives the stream up (it says so in its log).
			select {
			case <-stopped:
			case <-time.After(3 * time.Second):
				t.Fatal("the stream of a blob nobody reads still goes on after 3 s")
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				return // cut before its header: also given up
			}
			c.SetReadDeadline(time.Now().Add(3 * time.Second))
			n, _ := io.Copy(io.Discard, resp.Body)
			if n == int64(len(big)) {
				t.Error("a blob nobody read for longer than the stall bound was served whole")
			}
		}},
		{"a blob read at a slow but steady rate", func(t *testing.T, c net.Conn, br *bufio.Reader) {
			// A small receive buffer: the kernel opens the window again
			// as each read frees it, not after megabytes.
			if err := c.(*net.TCPConn).SetReadBuffer(64 << 10); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", blob)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			// 16 MiB at 256 KiB every 20 ms: over a second in all, each
			// read well within the stall bound (the kernel wakes a blocked
			// writer once a third of its send buffer is free: ~100 ms).
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			var got bytes.Buffer
			start := time.Now()
			for {
				<-tick.C
				n, err := io.CopyN(&got, resp.Body, 256<<10)
				if err != nil || n == 0 {
					break
				}
			}
			if !bytes.Equal(got.Bytes(), big) {
				t.Errorf("got %d bytes of %d", got.Len(), len(big))
			}
			if d := time.Since(start); d < 2*replayTimeouts.stall {
				t.Errorf("read in %v: not slower in all than the stall bound", d)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			tc.run(t, c, bufio.NewReader(c))
		})
	}
}

// TestReplayConnections: connections past maxReplayConns are not taken
// from the kernel's backlog (none of the verifier's file descriptors)
// until one of those held closes.
func TestReplayConnections(t *testing.T) {
	r := &bytesReplay{}
	rp, err := startReplay(t.Context(), r, "127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer rp.close()
	addr := rp.ln.Addr().String()
	var held []net.Conn
	for range maxReplayConns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	// Every held connection is the server's: each is answered.
	for _, c := range held {
		fmt.Fprintf(c, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	fmt.Fprintf(extra, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(extra)
	extra.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := br.Peek(1); err == nil {
		t.Fatalf("connection %d was answered while %d were held", maxReplayConns+1, maxReplayConns)
	}
	held[0].Close()
	extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("connection %d, once one closed: %v", maxReplayConns+1, err)
	}
	resp.Body.Close()
}

// onMessage is a slog handler that signals on c each record with message msg.
type onMessage struct {
	msg string
	c   chan struct{}
}

func (h onMessage) Enabled(context.Context, slog.Level) bool { return true }
func (h onMessage) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		select {
		case h.c <- struct{}{}:
		default:
		}
	}
	return nil
}
func (h onMessage) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h onMessage) WithGroup(string) slog.Handler      { return h }

// bytesReplay is a Replay over bytes in memory; a pin may say other than
// its bytes (the builder must not trust it).
type bytesReplay struct {
	pins  map[string]pins.Pin
	blobs map[string][]byte
}

func (r *bytesReplay) URLs() []string { return slices.Sorted(maps.Keys(r.pins)) }
func (r *bytesReplay) Pin(u string) (pins.Pin, bool) {
	p, ok := r.pins[u]
	return p, ok
}
func (r *bytesReplay) Open(u string) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(r.blobs[u])), nil
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// TestReplayRedirects: a kit's URL that redirected when the kit was made
// (Pin.Redirect) is answered with a redirect to its target's blob when the
// kit holds the target with the same sha256, so the proxy records both
// captures as it did for the release (the source with the target's
// digest); otherwise with its own bytes. A cycle of redirects is refused
// before anything listens, naming a URL of it.
func TestReplayRedirects(t *testing.T) {
	body, other := []byte("the release's input\n"), []byte("other bytes\n")
	pin := func(u string, b []byte, to string) pins.Pin {
		return pins.Pin{URL: u, SHA256: sha256Hex(b), Size: int64(len(b)), Redirect: to}
	}
	const a, b, c = "http://h.example/a", "http://h.example/b", "http://mirror.example/c"
	for _, tc := range []struct {
		name string
		pins []pins.Pin
		want map[string]string // URL → its answer: "302 URL" or "200"
		err  string            // startReplay's error
	}{
		{name: "a redirect to a target the kit holds", pins: []pins.Pin{pin(a, body, c), pin(c, body, "")},
			want: map[string]string{a: "302 " + c, c: "200"}},
		{name: "two redirects", pins: []pins.Pin{pin(a, body, b), pin(b, body, c), pin(c, body, "")},
			want: map[string]string{a: "302 " + b, b: "302 " + c, c: "200"}},
		{name: "a redirect to a target the kit lacks", pins: []pins.Pin{pin(a, body, c)},
			want: map[string]string{a: "200"}},
		{name: "a redirect to a target held with other bytes", pins: []pins.Pin{pin(a, body, c), pin(c, other, "")},
			want: map[string]string{a: "200", c: "200"}},
		{name: "a cycle", pins: []pins.Pin{pin(a, body, b), pin(b, body, a)}, err: "redirects to itself through 1 other URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &bytesReplay{pins: map[string]pins.Pin{}, blobs: map[string][]byte{}}
			for _, p := range tc.pins {
				r.pins[p.URL] = p
				r.blobs[p.URL] = body
				if p.SHA256 == sha256Hex(other) {
					r.blobs[p.URL] = other
				}
			}
			rp, err := startReplay(t.Context(), r, "127.0.0.1:0", slog.New(slog.DiscardHandler))
			if tc.err != "" {
				if err == nil {
					rp.close()
					t.Fatal("a replay started")
				}
				if !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "http://h.example/") {
					t.Errorf("err %v, want one saying %q and naming the URL", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer rp.close()
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			for u, want := range tc.want {
				i := slices.Index(rp.blobs, u)
				resp, err := client.Get(rp.base + "b/" + strconv.Itoa(i))
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				answer := strconv.Itoa(resp.StatusCode)
				if loc := resp.Header.Get("Location"); loc != "" {
					j, err := strconv.Atoi(strings.TrimPrefix(loc, rp.base+"b/"))
					if err != nil || j < 0 || j >= len(rp.blobs) {
						t.Fatalf("%s: Location %s is no blob of the replay", u, loc)
					}
					answer += " " + rp.blobs[j]
				}
				if answer != want {
					t.Errorf("%s: answered %s, want %s", u, answer, want)
				}
				if want == "200" && !bytes.Equal(got, r.blobs[u]) {
					t.Errorf("%s: %q, want %q", u, got, r.blobs[u])
				}
			}
		})
	}
}
