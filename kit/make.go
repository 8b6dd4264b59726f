package kit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/reprover/reprover/internal/hosts"
	"github.com/reprover/reprover/internal/limits"
	"github.com/reprover/reprover/internal/text"
	"github.com/reprover/reprover/pins"
)

// MakeOptions say what a kit is made of and how its downloads are fetched.
type MakeOptions struct {
	// Subject is the published image's index or manifest; Name its
	// repository, recorded in the config for people.
	Subject v1.Descriptor
	Name    string
	// Pins are the release's downloads (its provenance's, or a lock
	// file's): each is fetched and must serve the pinned bytes.
	Pins []pins.Pin
	// SourceDir, when set, is a git repository whose commit Commit (a
	// commit id, or anything git resolves to one; "" is HEAD) the kit
	// keeps: the commit object, its trees and blobs, as a git pack.
	SourceDir, Commit string
	Params            Params
	// Bases are base images to keep (HOST/REPO@sha256:…, as the
	// Dockerfile pins them), fetched through Registry: each one's index or
	// manifest and, for the platforms of Params, manifests, configs and
	// layers (bases.go).
	Bases    []string
	Registry Options
	// AllowHosts are download hosts reached although they are, or resolve
	// to, loopback, private or link-local addresses (cloud metadata):
	// refused otherwise, since pins are the publisher's and must not make
	// whoever makes a kit probe their own network.
	AllowHosts []string
	// Scratch is where the blobs are kept until the kit is closed ("":
	// the system's temporary directory).
	Scratch string
	// Parallel bounds the downloads fetched at once (0: 4).
	Parallel int
	// Transport, when set, replaces the one Make dials with (tests); the
	// hosts rule is then the transport's to keep.
	Transport http.RoundTripper
	// Timeout bounds one download (0: 10 minutes).
	Timeout time.Duration
	Limits  Limits
	Logger  *slog.Logger
}

// MismatchError is a pinned URL that no longer serves the pinned bytes.
type MismatchError struct {
	URL       string
	Want, Got string // sha256 hex
	WantSize  int64  // 0 when the pin has none
	GotSize   int64
}

func (e *MismatchError) Error() string {
	switch {
	case e.Got == "":
		return fmt.Sprintf("%s serves more than the %d bytes the release pinned (sha256:%s)", text.Truncate(e.URL, 256), e.WantSize, e.Want)
	case e.Want == e.Got:
		return fmt.Sprintf("%s serves %d bytes, the release pinned %d (sha256:%s)", text.Truncate(e.URL, 256), e.GotSize, e.WantSize, e.Want)
	}
	return fmt.Sprintf("%s serves sha256:%s, the release pinned sha256:%s", text.Truncate(e.URL, 256), e.Got, e.Want)
}

// ErrMismatch is what a *MismatchError is, for errors.Is.
var ErrMismatch = errors.New("a download does not match its pin")

func (e *MismatchError) Unwrap() error { return ErrMismatch }

// Make fetches every pinned URL, streaming each to a scratch file and
// checking its sha256 (and size, when pinned) before it is kept, exports
// the source tree when asked, and returns the kit. A download that does
// not match its pin is a *MismatchError naming the URL and both digests;
// on any error nothing is kept. Close the kit to remove its scratch files.
func Make(ctx context.Context, o MakeOptions) (*Kit, error) {
	lim := o.Limits.withDefaults()
	ps, err := uniquePins(o.Pins)
	if err != nil {
		return nil, err
	}
	if err := checkDownloads(ps, lim); err != nil {
		return nil, fmt.Errorf("the release's pins: %w", err)
	}
	if o.Subject.Digest.Algorithm != "sha256" || o.Subject.MediaType == "" {
		return nil, fmt.Errorf("making a kit: the subject needs a sha256 digest and a media type")
	}
	dir, err := os.MkdirTemp(o.Scratch, "reprover-kit-")
	if err != nil {
		return nil, fmt.Errorf("making a kit: %w", err)
	}
	k, err := makeIn(ctx, dir, ps, o, lim)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return k, nil
}

func makeIn(ctx context.Context, dir string, ps []pins.Pin, o MakeOptions, lim Limits) (*Kit, error) {
	f := newFetcher(o, lim, dir)
	g, gctx := errgroup.WithContext(ctx)
	parallel := o.Parallel
	if parallel <= 0 {
		parallel = 4
	}
	g.SetLimit(parallel)
	sizes := make([]int64, len(ps))
	redirects := make([]string, len(ps))
	for i, p := range ps {
		g.Go(func() error {
			var err error
			sizes[i], redirects[i], err = f.fetch(gctx, p)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	cfg := Config{SchemaVersion: SchemaVersion, Subject: Subject{Digest: o.Subject.Digest.String(), Name: o.Name}, Params: o.Params,
		Downloads: make([]pins.Pin, len(ps))}
	for i, p := range ps {
		cfg.Downloads[i] = pins.Pin{URL: p.URL, SHA256: p.SHA256, Size: sizes[i], Redirect: redirects[i]}
	}
	if o.SourceDir != "" {
		src, err := packSource(ctx, o.SourceDir, o.Commit, dir, lim)
		if err != nil {
			return nil, err
		}
		cfg.Source = &src
	}
	if len(o.Bases) > 0 {
		bs, err := keepBases(ctx, dir, o, lim)
		if err != nil {
			return nil, err
		}
		cfg.Bases = bs
	}
	raw, err := marshalConfig(cfg)
	if err != nil {
		return nil, err
	}
	m := manifestOf(cfg, raw, o.Subject)
	mb, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	h, _, err := v1.SHA256(bytes.NewReader(mb))
	if err != nil {
		return nil, err
	}
	return newKit(ctx, cfg, raw, mb, h, &m, scratchStore{dir}), nil
}

// uniquePins is ps sorted by URL, each URL once; a URL pinned to two
// digests is refused.
func uniquePins(ps []pins.Pin) ([]pins.Pin, error) {
	out := slices.Clone(ps)
	slices.SortStableFunc(out, func(a, b pins.Pin) int { return strings.Compare(a.URL, b.URL) })
	for i := 1; i < len(out); i++ {
		if a, b := out[i-1], out[i]; a.URL == b.URL && (a.SHA256 != b.SHA256 || a.Size != b.Size && a.Size > 0 && b.Size > 0) {
			return nil, fmt.Errorf("the release's pins: %s is pinned twice, to sha256:%s and sha256:%s", text.Truncate(a.URL, 256), a.SHA256, b.SHA256)
		}
	}
	return slices.CompactFunc(out, func(a, b pins.Pin) bool { return a.URL == b.URL }), nil
}

// fetcher fetches downloads into dir, named by their sha256.
type fetcher struct {
	transport http.RoundTripper
	lim       Limits
	dir       string
	timeout   time.Duration
	total     atomic.Int64
	log       *slog.Logger
}

func newFetcher(o MakeOptions, lim Limits, dir string) *fetcher {
	tr := o.Transport
	if tr == nil {
		tr = guardedTransport(o.AllowHosts)
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &fetcher{lim: lim, dir: dir, timeout: timeout, log: log, transport: tr}
}

// MaxRedirects bounds the redirects followed from one pinned URL (Go's
// client and curl stop at 10 and 50, wget at 20).
const MaxRedirects = 10

// fetch streams p's URL to a scratch file, checking it against the pin
// before keeping it under its sha256; it returns the size, and the URL
// the pinned one redirected to ("" when it answered itself).
//
// Redirects are followed, MaxRedirects at most, each hop dialled under
// the same hosts rule: BuildKit's proxy pins a redirect's source with the
// digest of where it led (v0.34.2 util/network/proxy.go,
// ProxyCapture.Materials) and the target under its own URL, so the bytes
// at the end are checked against the source's pin, and the target is a
// pin of its own, fetched and checked as any.
func (f *fetcher) fetch(ctx context.Context, p pins.Pin) (int64, string, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	u := text.Truncate(p.URL, 256)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL, nil)
	if err != nil {
		return 0, "", fmt.Errorf("download %s: %w", u, err)
	}
	// The bytes as served: a transparently decompressed body is not what
	// the release pinned.
	req.Header.Set("Accept-Encoding", "identity")
	var redirect string
	client := &http.Client{Transport: f.transport, CheckRedirect: func(next *http.Request, via []*http.Request) error {
		if len(via) > MaxRedirects {
			return fmt.Errorf("more than %d redirects (the last to %s)", MaxRedirects, text.Truncate(pins.CanonicalURL(next.URL.String()), 256))
		}
		if len(via) == 1 {
			redirect = pins.CanonicalURL(next.URL.String())
		}
		return nil
	}}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("download %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		if redirect != "" {
			return 0, "", fmt.Errorf("download %s: redirected to %s, answered %s", u, text.Truncate(pins.CanonicalURL(resp.Request.URL.String()), 256), resp.Status)
		}
		return 0, "", fmt.Errorf("download %s: answered %s", u, resp.Status)
	}
	max := f.lim.MaxBlobBytes
	if p.Size > 0 {
		max = min(max, p.Size)
	}
	tmp, err := os.CreateTemp(f.dir, ".download-")
	if err != nil {
		return 0, "", err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(resp.Body, max+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, "", fmt.Errorf("download %s: after %d bytes: %w", u, n, err)
	}
	if n > max {
		if p.Size > 0 && p.Size <= f.lim.MaxBlobBytes {
			return 0, "", &MismatchError{URL: p.URL, Want: p.SHA256, WantSize: p.Size, GotSize: n}
		}
		return 0, "", fmt.Errorf("download %s: %w", u, &limits.Error{What: "download bytes", Limit: "MaxBlobBytes", Max: f.lim.MaxBlobBytes, Got: n})
	}
	got := hex.EncodeToString(h.Sum(nil))
	if got != p.SHA256 || (p.Size > 0 && n != p.Size) {
		return 0, "", &MismatchError{URL: p.URL, Want: p.SHA256, Got: got, WantSize: p.Size, GotSize: n}
	}
	if t := f.total.Add(n); t > f.lim.MaxKitBytes {
		return 0, "", &limits.Error{What: "kit bytes", Limit: "MaxKitBytes", Max: f.lim.MaxKitBytes, Got: t}
	}
	if err := os.Rename(tmp.Name(), filepath.Join(f.dir, got)); err != nil {
		return 0, "", err
	}
	f.log.Debug("kept download", "url", u, "sha256", got, "bytes", n)
	return n, redirect, nil
}

// guardedTransport dials no loopback, private, link-local or special
// address unless the URL's host is allowed by name, judging the address
// actually dialled (a name that resolves to one is refused too). It uses
// no proxy: the address judged is the one reached.
func guardedTransport(allow []string) http.RoundTripper {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:               nil,
		ForceAttemptHTTP2:   true,
		TLSHandshakeTimeout: 30 * time.Second,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if slices.Contains(allow, host) {
				return d.DialContext(ctx, network, addr)
			}
			if a, err := netip.ParseAddr(host); err == nil && hosts.LocalAddr(a) {
				return nil, &LocalError{Host: host, Why: why(a)}
			}
			if hosts.LocalHost(host) {
				return nil, &LocalError{Host: host, Why: "a local name"}
			}
			g := *d
			g.Control = func(_, address string, _ syscall.RawConn) error {
				ap, err := netip.ParseAddrPort(address)
				if err != nil {
					return err
				}
				if hosts.LocalAddr(ap.Addr()) {
					return &LocalError{Host: host, Addr: ap.Addr().String(), Why: why(ap.Addr())}
				}
				return nil
			}
			return g.DialContext(ctx, network, addr)
		},
	}
}

func why(a netip.Addr) string {
	if w := hosts.Special(a); w != "" {
		return w
	}
	return "a local address"
}

// LocalError is a download host that is, or resolves to, an address
// reprover does not reach for someone else, and was not allowed by name.
type LocalError struct {
	Host, Addr, Why string
}

func (e *LocalError) Error() string {
	at := ""
	if e.Addr != "" && e.Addr != e.Host {
		at = " (" + e.Addr + ")"
	}
	return fmt.Sprintf("host %s%s is %s: refused unless allowed by name", e.Host, at, e.Why)
}

// scratchStore reads a made kit's blobs from its scratch directory.
type scratchStore struct{ dir string }

func (s scratchStore) open(_ context.Context, d v1.Descriptor, what string) (io.ReadCloser, error) {
	f, err := os.Open(filepath.Join(s.dir, d.Digest.Hex))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return verifying(f, d, what), nil
}

func (s scratchStore) close() error { return os.RemoveAll(s.dir) }
