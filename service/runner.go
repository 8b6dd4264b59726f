package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/reprover/reprover/internal/hosts"

	"github.com/reprover/reprover/attest"
	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/verify"
)

// PipelineRunner runs the verify pipeline, each job on the next buildkitd
// of a pool, and signs the outcome when it has a key.
type PipelineRunner struct {
	Addrs  []string
	Key    *attest.PrivateKey // nil: no attestations
	Image  image.Options
	Logger *slog.Logger
	// AllowPrivate lists image prefixes (images.allow) whose registry may
	// be on a loopback, private or link-local address; every other
	// connection to such an address is refused when it is dialled, so a
	// name that resolved to a public address at submission cannot be
	// re-pointed inside (DNS rebinding).
	AllowPrivate []string
	next         atomic.Uint64
}

// transport dials registries, refusing private addresses not allowed.
func (p *PipelineRunner) transport() http.RoundTripper { return dialGuard(p.AllowPrivate) }

// dialGuard is an HTTP transport that refuses, when dialling, loopback,
// private and link-local addresses not named by an allow prefix.
func dialGuard(allow []string) http.RoundTripper {
	allowed := func(address string) bool {
		for _, a := range allow {
			host, _, _ := strings.Cut(a, "/")
			if host != "" && strings.HasPrefix(address, host) {
				return true
			}
		}
		return false
	}
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			if ip := net.ParseIP(host); ip != nil && hosts.LocalIP(ip) && !allowed(address) {
				return fmt.Errorf("refusing to connect to %s: a loopback, private or link-local address not in images.allow", address)
			}
			return nil
		}}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = d.DialContext
	return image.GuardedTransport(t, nil)
}

// Run implements Runner.
func (p *PipelineRunner) Run(ctx context.Context, r Request) (*compare.Report, []byte, error) {
	if len(p.Addrs) == 0 {
		return nil, nil, errors.New("no buildkitd configured")
	}
	addr := p.Addrs[int(p.next.Add(1)-1)%len(p.Addrs)]
	c, err := builder.Connect(ctx, addr, p.Logger)
	if err != nil {
		return nil, nil, &TransientError{err}
	}
	defer c.Close()
	if _, err := c.Version(ctx); err != nil {
		return nil, nil, &TransientError{err}
	}
	req := verify.Request{Source: r.Source, Commit: r.Commit, Image: r.Image, Dockerfile: r.Dockerfile, Context: r.Context,
		Target: r.Target, BuildArgs: r.BuildArgs, Platforms: r.Platforms, SourceDateEpoch: "auto"}
	iopts := p.Image
	if iopts.Transport == nil {
		iopts.Transport = p.transport()
	}
	rep, verr := verify.Run(ctx, req, c, verify.Options{Image: iopts, Progress: io.Discard, ProgressMode: "quiet", Logger: p.Logger})
	if verr != nil && transient(verr) {
		return rep, nil, &TransientError{verr}
	}
	var att []byte
	if p.Key != nil {
		envs, err := verify.Attestations(ctx, rep, req, p.Key, verify.AttestOptions{})
		if err == nil {
			att = bytes.Join(envs, []byte("\n"))
			att = append(att, '\n')
		} else if verr == nil {
			return rep, nil, err
		}
	}
	return rep, att, verr
}

// transient: the network let us down (a registry or buildkitd that does
// not answer), which a later attempt may not meet. A verdict, a refused
// input or a failed build step is never transient.
func transient(err error) bool {
	var be *builder.BuildError
	if errors.As(err, &be) || errors.Is(err, verify.ErrUnpinned) || errors.Is(err, verify.ErrUnknownCommit) || errors.Is(err, image.ErrNotFound) {
		return false
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EHOSTUNREACH) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
