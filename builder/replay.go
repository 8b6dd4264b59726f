package builder

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	spb "github.com/moby/buildkit/sourcepolicy/pb"
	"golang.org/x/net/netutil"

	"github.com/reprover/reprover/internal/limits"
	"github.com/reprover/reprover/internal/text"
	"github.com/reprover/reprover/pins"
)

// Replay is where a rebuild's downloads come from instead of their
// servers (a kit): the URLs it holds, each one's pin, and its bytes. Open's
// reader should fail at its end when the bytes are not the pinned ones;
// the builder checks them against the pin as well, whatever Open does.
type Replay interface {
	URLs() []string
	Pin(url string) (pins.Pin, bool)
	Open(url string) (io.ReadCloser, error)
}

// ErrNotInKit is a download a replayed build asked for that the Replay
// does not hold (wrapped in a *ReplayError naming it). No server was
// asked: the step got a 404 from reprover.
var ErrNotInKit = errors.New("the kit holds no download of it")

// ReplayError is a download a replay could not serve as pinned: the URL
// the build asked for and why (ErrNotInKit, Open's error, or bytes that are
// not the pin's).
type ReplayError struct {
	URL string
	Err error
}

func (e *ReplayError) Error() string {
	return fmt.Sprintf("replaying %s: %v", text.Truncate(e.URL, 512), e.Err)
}

func (e *ReplayError) Unwrap() error { return e.Err }

// How the replay's server is bounded: streams served at once (more wait
// their turn), connections held at once (more wait in the kernel's
// backlog, holding none of the verifier's file descriptors), the request
// header, and the failures kept for the build's error.
const (
	maxReplayStreams = 16
	maxReplayConns   = 64
	maxReplayHeader  = 64 << 10
	maxReplayErrors  = 100
)

// replayTimeouts bound how long the replay's server waits on a
// connection: for a request's header, for the next request of an idle
// keep-alive connection, and for each write of a blob to make progress (a
// large blob goes on at any steady rate; a reader that stops is cut off).
// The server listens where other builds' proxies, or anything on the
// daemon's network, reach it: without them a connection that never asks,
// or never reads, holds a file descriptor and a stream of the verifier for
// as long as it likes. A variable so that tests can shorten them.
var replayTimeouts = struct{ header, idle, stall time.Duration }{header: 10 * time.Second, idle: 10 * time.Second, stall: time.Minute}

// replay serves a Replay's blobs over HTTP for one build, where the
// daemon's proxy reaches it, and says how the build's source policy sends
// each proxied GET there (rules). What BuildKit v0.34.2 does with them
// (util/network/proxyprovider/provider_linux.go, sourcepolicy/engine.go):
//
//   - The proxy evaluates each request as an http source whose identifier
//     is the URL as the step asked for it: http:// in the request's own
//     absolute form, https:// with the CONNECT's authority (host:443).
//   - A CONVERT rule that matches ends that pass of the policy (whatever
//     DENY came before); the converted URL is evaluated again from the
//     start, so it must itself be allowed, and must not be converted again
//     (20 passes at most, then the request is denied).
//   - A converted URL may be http:// to any host; only a GET may be
//     converted (another method is refused: the step gets a 403).
//   - The request and its material are recorded under the converted URL
//     (default ports dropped), with the sha256 of the bytes relayed: the
//     captures name the replay's URLs, mapped back here (restore).
//   - A denied request is recorded nowhere, so URLs the kit lacks are not
//     denied but converted too, to a path that answers 404 and names them.
type replay struct {
	r     Replay
	ln    net.Listener
	srv   *http.Server
	base  string   // http://ADDR/TOKEN/
	blobs []string // the Replay's URLs, by the index in their path
	// redirect is, by a blob's index, the blob its URL redirected to
	// (Pin.Redirect) when the Replay holds that one with the same sha256.
	redirect map[int]int
	sem      chan struct{}
	stall    time.Duration // the longest a write of a blob may wait
	logger   *slog.Logger
	wg       sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	errs    []*ReplayError
	lacking []string
	dropped int // failures past maxReplayErrors
	unnamed int // URLs lacking past maxReplayErrors
}

// startReplay listens on addr (host:port, port 0 for any) and serves r.
func startReplay(ctx context.Context, r Replay, addr string, logger *slog.Logger) (*replay, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("replay address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		return nil, fmt.Errorf("replay address %q: name the address the daemon's proxy reaches, not every address", addr)
	}
	urls := slices.Clone(r.URLs())
	slices.Sort(urls)
	urls = slices.Compact(urls)
	if len(urls) > maxCaptures {
		return nil, &limits.Error{What: "downloads of the replay", Limit: "maxCaptures", Max: maxCaptures, Got: int64(len(urls))}
	}
	for _, u := range urls {
		if err := replayable(u); err != nil {
			return nil, err
		}
	}
	redirect, err := redirects(r, urls)
	if err != nil {
		return nil, err
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	token := make([]byte, 16)
	_, _ = rand.Read(token)
	rp := &replay{r: r, ln: ln, blobs: urls, redirect: redirect, sem: make(chan struct{}, maxReplayStreams), logger: logger, stall: replayTimeouts.stall,
		base: "http://" + ln.Addr().String() + "/" + hex.EncodeToString(token) + "/"}
	rp.srv = &http.Server{Handler: http.HandlerFunc(rp.serve), MaxHeaderBytes: maxReplayHeader,
		ReadHeaderTimeout: replayTimeouts.header, IdleTimeout: replayTimeouts.idle,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug)}
	go func() { _ = rp.srv.Serve(netutil.LimitListener(ln, maxReplayConns)) }()
	return rp, nil
}

// close stops the server and waits for every stream to end (its reader
// closed).
func (rp *replay) close() {
	rp.mu.Lock()
	rp.closed = true
	rp.mu.Unlock()
	_ = rp.srv.Close()
	rp.wg.Wait()
}

// enter counts a stream in, unless the replay is closing.
func (rp *replay) enter() bool {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.closed {
		return false
	}
	rp.wg.Add(1)
	return true
}

// rules are the source policy's rules for a replayed build: every http(s)
// URL denied; each URL of the Replay, as the proxy may name it, converted
// to its blob; any other converted to the path that answers "not in the
// kit"; the replay's own URLs allowed.
func (rp *replay) rules() []*spb.Rule {
	rs := []*spb.Rule{{Action: spb.PolicyAction_DENY, Selector: &spb.Selector{Identifier: `^https?://`, MatchType: spb.MatchType_REGEX}}}
	for i, u := range rp.blobs {
		to := rp.base + "b/" + strconv.Itoa(i)
		for _, v := range proxyNames(u) {
			rs = append(rs, &spb.Rule{Action: spb.PolicyAction_CONVERT,
				Selector: &spb.Selector{Identifier: v, MatchType: spb.MatchType_EXACT},
				Updates:  &spb.Update{Identifier: to}})
		}
	}
	prefix := strings.TrimPrefix(rp.base, "http://")
	rs = append(rs,
		&spb.Rule{Action: spb.PolicyAction_CONVERT,
			Selector: &spb.Selector{Identifier: `(?s)^(https://.*|http://` + notPrefix(prefix) + `.*)$`, MatchType: spb.MatchType_REGEX},
			Updates:  &spb.Update{Identifier: rp.base + "lacks/${1}"}},
		&spb.Rule{Action: spb.PolicyAction_ALLOW,
			Selector: &spb.Selector{Identifier: `(?s)^` + regexp.QuoteMeta(rp.base) + `(b/[0-9]+|lacks/.*)$`, MatchType: spb.MatchType_REGEX}})
	return rs
}

// redirects are the redirects a replay answers, by blob index (urls are
// sorted): BuildKit's proxy pins a redirect's source with the digest of
// where it led, and the target under its own URL (v0.34.2
// util/network/proxy.go, ProxyCapture.Materials). Answering the source
// with its target's bytes would leave the target unasked, its pin
// missing; answering it with a redirect to the target's blob lets the
// proxy record the same two captures (the source's digest is the
// target's again). A redirect whose target the Replay lacks, or holds
// with other bytes, is not answered so: the source's bytes are served.
// A cycle is refused, naming a URL in it.
func redirects(r Replay, urls []string) (map[int]int, error) {
	next := map[int]int{}
	for i, u := range urls {
		p, ok := r.Pin(u)
		if !ok || p.Redirect == "" {
			continue
		}
		j, found := slices.BinarySearch(urls, p.Redirect)
		if !found || j == i {
			continue
		}
		if t, ok := r.Pin(urls[j]); ok && t.SHA256 == p.SHA256 {
			next[i] = j
		}
	}
	const (
		unseen = iota
		walking
		done
	)
	state := make([]uint8, len(urls))
	for i := range urls {
		var path []int
		for k := i; ; {
			if state[k] == walking {
				return nil, fmt.Errorf("replay: %s redirects to itself through %d other URLs of the kit", text.Truncate(urls[k], 256), len(path)-slices.Index(path, k)-1)
			}
			if state[k] == done {
				break
			}
			state[k] = walking
			path = append(path, k)
			j, ok := next[k]
			if !ok {
				break
			}
			k = j
		}
		for _, k := range path {
			state[k] = done
		}
	}
	return next, nil
}

// maxReplayURL bounds a URL of the Replay (the proxy reads at most 1 MiB
// of a request's header).
const maxReplayURL = 1 << 20

// replayable refuses a URL of the Replay that no proxied GET can name: its
// rule would convert another source (an image, a git remote, a local
// directory) into a download of the kit. So is one not spelled as the
// proxy records a download (pins.CanonicalURL).
func replayable(raw string) error {
	if len(raw) > maxReplayURL {
		return &limits.Error{What: "a URL of the replay (" + text.Truncate(raw, 80) + ")", Limit: "maxReplayURL", Max: maxReplayURL, Got: int64(len(raw))}
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("replay: URL %q: %w", text.Truncate(raw, 256), err)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "", u.Fragment != "", u.Opaque != "":
		return fmt.Errorf("replay: %q is not an http(s) URL a step can ask the proxy for", text.Truncate(raw, 256))
	}
	// Captures are named as the proxy records a request; a blob kept
	// under another spelling of its URL would name them otherwise than a
	// build without the kit does (TestReplayNames).
	if err := pins.CheckCanonical(raw); err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	return nil
}

// proxyNames are the identifiers the proxy may evaluate a URL as (a
// capture's URL has no default port; the proxy names an https request
// with the CONNECT's host:443, and a client may write :80 or :443).
func proxyNames(raw string) []string {
	out := []string{raw}
	u, err := url.Parse(raw)
	if err != nil || u.Port() != "" || u.Host == "" {
		return out
	}
	port := map[string]string{"http": "80", "https": "443"}[u.Scheme]
	if port == "" {
		return out
	}
	u.Host = net.JoinHostPort(u.Hostname(), port)
	return append(out, u.String())
}

// notPrefix is a regexp that matches at the start of any string that does
// not begin with s (Go's regexp has no negative lookahead).
func notPrefix(s string) string {
	re := ""
	for i := len(s) - 1; i >= 0; i-- {
		c := fmt.Sprintf(`\x{%x}`, s[i])
		if re == "" {
			re = `(?:$|[^` + c + `])`
			continue
		}
		re = `(?:$|[^` + c + `]|` + c + re + `)`
	}
	return re
}

func (rp *replay) serve(w http.ResponseWriter, req *http.Request) {
	if !rp.enter() {
		http.Error(w, "reprover: the build is over", http.StatusServiceUnavailable)
		return
	}
	defer rp.wg.Done()
	// Every answer must make progress within rp.stall (stream renews it
	// at each write); a deadline left by the connection's last answer
	// would cut this one otherwise (the server sets none: no WriteTimeout).
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(rp.stall))
	path := strings.TrimPrefix(rp.base, "http://"+rp.ln.Addr().String())
	rest, ok := strings.CutPrefix(req.RequestURI, path)
	if !ok || req.Method != http.MethodGet {
		http.NotFound(w, req)
		return
	}
	if orig, ok := strings.CutPrefix(rest, "lacks/"); ok {
		orig = pins.CanonicalURL(orig)
		rp.lack(orig)
		http.Error(w, "reprover: the kit holds no download of "+orig, http.StatusNotFound)
		return
	}
	i, err := strconv.Atoi(strings.TrimPrefix(rest, "b/"))
	if !strings.HasPrefix(rest, "b/") || err != nil || i < 0 || i >= len(rp.blobs) {
		http.NotFound(w, req)
		return
	}
	if j, ok := rp.redirect[i]; ok {
		http.Redirect(w, req, rp.base+"b/"+strconv.Itoa(j), http.StatusFound)
		return
	}
	select {
	case rp.sem <- struct{}{}:
		defer func() { <-rp.sem }()
	case <-req.Context().Done():
		return
	}
	u := rp.blobs[i]
	sent, err := rp.stream(w, u)
	if err == nil {
		return
	}
	var se *sendError
	if errors.As(err, &se) {
		rp.logger.Debug("replay stream stopped by its reader", "url", u, "err", se.err)
	} else {
		rp.fail(&ReplayError{URL: u, Err: err})
	}
	if !sent {
		http.Error(w, "reprover: the kit cannot serve "+u, http.StatusInternalServerError)
		return
	}
	// The body stops short of its Content-Length: the proxy and the step
	// see it cut, never complete.
	panic(http.ErrAbortHandler)
}

// stream sends the blob of u, checking it against its pin as it goes: the
// last byte is held back until the Replay's reader has ended cleanly and
// the size and sha256 are the pin's, so bytes that are not the pin's never
// reach the step whole.
// sent says whether the answer has begun (its status and headers).
func (rp *replay) stream(w http.ResponseWriter, u string) (sent bool, err error) {
	// Each write must make progress within rp.stall, however long the
	// whole blob takes (or its turn took): a reader that stops reading is
	// cut off.
	ctl := http.NewResponseController(w)
	progress := func() error { return ctl.SetWriteDeadline(time.Now().Add(rp.stall)) }
	_ = progress()
	pin, ok := rp.r.Pin(u)
	switch {
	case !ok:
		return false, ErrNotInKit
	case !isHex64(pin.SHA256):
		return false, fmt.Errorf("its pin's sha256 %q is not 64 lower-case hex digits", text.Truncate(pin.SHA256, 80))
	case pin.Size < 0 || pin.Size == 0 && pin.SHA256 != emptySHA256:
		return false, fmt.Errorf("its pin gives no size (%d)", pin.Size)
	}
	rc, err := rp.r.Open(u)
	if err != nil {
		return false, err
	}
	defer rc.Close()
	w.Header().Set("Content-Length", strconv.FormatInt(pin.Size, 10))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	h := sha256.New()
	var (
		n    int64
		held []byte // the last byte read, not yet sent
		buf  = make([]byte, 32<<10)
	)
	for {
		k, rerr := rc.Read(buf)
		if k > 0 {
			n += int64(k)
			if n > pin.Size {
				return true, fmt.Errorf("the kit's blob is longer than its %d bytes", pin.Size)
			}
			h.Write(buf[:k])
			out := append(held, buf[:k-1]...)
			if err := progress(); err != nil {
				return true, &sendError{err}
			}
			if _, err := w.Write(out); err != nil {
				return true, &sendError{err}
			}
			held = append(held[:0], buf[k-1])
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			return true, rerr
		}
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != pin.Size || got != pin.SHA256 {
		return true, fmt.Errorf("the kit's blob is %d bytes with sha256:%s, its pin says %d bytes with sha256:%s", n, got, pin.Size, pin.SHA256)
	}
	if err := progress(); err != nil {
		return true, &sendError{err}
	}
	if _, err := w.Write(held); err != nil {
		return true, &sendError{err}
	}
	return true, nil
}

// sendError is a blob the proxy stopped reading (the step's doing, not
// the kit's): the stream ends, and no ReplayError is kept.
type sendError struct{ err error }

func (e *sendError) Error() string { return "sending it: " + e.err.Error() }

const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func (rp *replay) fail(e *ReplayError) {
	rp.logger.Warn("replay failed", "url", e.URL, "err", e.Err)
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if len(rp.errs) >= maxReplayErrors {
		rp.dropped++
		return
	}
	rp.errs = append(rp.errs, e)
}

func (rp *replay) lack(u string) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if slices.Contains(rp.lacking, u) {
		return
	}
	if len(rp.lacking) >= maxReplayErrors {
		rp.unnamed++
		return
	}
	rp.lacking = append(rp.lacking, u)
}

// failed is every blob that was not served as pinned (nil when none).
func (rp *replay) failed() error {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	var errs []error
	for _, e := range rp.errs {
		errs = append(errs, e)
	}
	if len(errs) > 0 && rp.dropped > 0 {
		errs = append(errs, fmt.Errorf("and %d more not served", rp.dropped))
	}
	return errors.Join(errs...)
}

// lacked is every URL asked for that the kit does not hold (nil when
// none): for a build that failed, since a step that tolerated the 404 (a
// package manager's probe) is no error.
func (rp *replay) lacked() error {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	var errs []error
	for _, u := range rp.lacking {
		errs = append(errs, &ReplayError{URL: u, Err: ErrNotInKit})
	}
	if rp.unnamed > 0 {
		errs = append(errs, fmt.Errorf("and %d more URLs the kit lacks", rp.unnamed))
	}
	return errors.Join(errs...)
}

// restore names each capture by the URL the step asked for: a blob's by
// the Replay's URL, marked FromKit; one the kit lacked by its own URL.
// A capture of any other URL reached past the replay: an error.
func (rp *replay) restore(caps []pins.Capture) ([]pins.Capture, error) {
	byIndex := map[string]string{}
	for i, u := range rp.blobs {
		byIndex[pins.CanonicalURL(rp.base+"b/"+strconv.Itoa(i))] = u
	}
	base := pins.CanonicalURL(rp.base)
	out := make([]pins.Capture, 0, len(caps))
	for _, c := range caps {
		switch u, ok := byIndex[c.URL]; {
		case ok:
			c.URL, c.FromKit = u, true
		case strings.HasPrefix(c.URL, base+"lacks/"):
			c.URL = pins.CanonicalURL(strings.TrimPrefix(c.URL, base+"lacks/"))
		default:
			return nil, fmt.Errorf("a replayed build reached %s %s, not the kit (%s)", text.Truncate(c.Method, 32), text.Truncate(c.URL, 512), rp.base)
		}
		out = append(out, c)
	}
	slices.SortStableFunc(out, func(a, b pins.Capture) int { return strings.Compare(a.URL, b.URL) })
	return out, nil
}
