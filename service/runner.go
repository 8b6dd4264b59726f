package service

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"syscall"

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
	next   atomic.Uint64
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
	rep, verr := verify.Run(ctx, req, c, verify.Options{Image: p.Image, Progress: io.Discard, ProgressMode: "quiet", Logger: p.Logger})
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
