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
	"os"
	"syscall"
	"time"

	"github.com/reprover/reprover/attest"
	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/hosts"
	"github.com/reprover/reprover/verify"
)

// PipelineRunner runs the verify pipeline, each job on the next builder
// of the pool, and signs the outcome when it has a key.
type PipelineRunner struct {
	Builders *verify.Builders
	Key      *attest.PrivateKey // nil: no attestations
	Image    image.Options
	Logger   *slog.Logger
	// AllowPrivate lists image prefixes (images.allow) whose registry may
	// be on a loopback, private or link-local address; every other
	// connection to such an address is refused when it is dialled, so a
	// name that resolved to a public address at submission cannot be
	// re-pointed inside (DNS rebinding).
	AllowPrivate []string
	// AllowDownloadHosts are network.allowDownloadHosts.
	AllowDownloadHosts []string
	// Diffoscope, when set (the diffoscope option), looks inside each
	// differing file of a mismatch.
	Diffoscope *compare.Diffoscope
	// Index is the layer index the comparisons share (layerIndex), and
	// Decompressor how they decompress gzip (decompressor).
	Index        *compare.Index
	Decompressor string
	// SourcePolicy judges a source only the image names (sources.allow).
	SourcePolicy func(source string) error
	// AllowSourceHost judges the host of every source when it is cloned
	// (sources.allow; verify.Options.AllowSourceHost).
	AllowSourceHost func(source, host string) bool
	// ScratchDir holds each job's checkout and rebuilt image (a directory
	// of its own, removed after the job); Start sweeps what a killed
	// process left. Empty: the system's temporary directory.
	ScratchDir string
	// KitDir keeps the kits of verifications whose downloads all matched
	// (kits.keep store), replayed by later verifications of the image;
	// PushKits pushes them as referrers (kits.keep push). Neither: none
	// kept.
	KitDir   string
	PushKits bool
}

// transport dials registries, refusing private addresses not allowed.
func (p *PipelineRunner) transport() http.RoundTripper { return dialGuard(p.AllowPrivate) }

// dialGuard is an HTTP transport that refuses, when dialling, loopback,
// private and link-local addresses that allow does not name.
func dialGuard(allow allowList) http.RoundTripper {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			if ip := net.ParseIP(host); ip != nil && hosts.LocalIP(ip) && !allow.allowsAddress(address) {
				return fmt.Errorf("refusing to connect to %s: a loopback, private or link-local address not in images.allow", address)
			}
			return nil
		}}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = d.DialContext
	return image.GuardedTransport(t, nil)
}

// Check connects to a daemon of the pool (the health check): nil when one
// answers.
func (p *PipelineRunner) Check(ctx context.Context) error {
	if p.Builders == nil {
		return errors.New("no builders configured")
	}
	_, release, err := p.Builders.Get(ctx)
	if err != nil {
		return err
	}
	release()
	return nil
}

// Run implements Runner.
func (p *PipelineRunner) Run(ctx context.Context, r Request) (*verify.Report, []byte, error) {
	if p.Builders == nil {
		return nil, nil, errors.New("no builders configured")
	}
	c, release, err := p.Builders.Get(ctx)
	if err != nil {
		return nil, nil, &TransientError{err}
	}
	defer release()
	req := verify.Request{Source: r.Source, Commit: r.Commit, Image: r.Image, Dockerfile: r.Dockerfile, Context: r.Context,
		Target: r.Target, BuildArgs: r.BuildArgs, Platforms: r.Platforms, SourceDateEpoch: "auto",
		Network: r.Network, AllowDownloadHosts: p.AllowDownloadHosts}
	iopts := p.Image
	if iopts.Transport == nil {
		iopts.Transport = p.transport()
	}
	opts := verify.Options{Image: iopts, Progress: io.Discard, ProgressMode: "quiet", Logger: p.Logger, SourcePolicy: p.SourcePolicy, AllowSourceHost: p.AllowSourceHost, Words: fieldOf,
		Compare: compare.Options{Diffoscope: p.Diffoscope, Index: p.Index, Decompressor: p.Decompressor}}
	if p.ScratchDir != "" {
		if err := os.MkdirAll(p.ScratchDir, 0o700); err != nil {
			return nil, nil, err
		}
		dir, err := os.MkdirTemp(p.ScratchDir, "verify-")
		if err != nil {
			return nil, nil, err
		}
		defer os.RemoveAll(dir)
		opts.ScratchDir = dir
	}
	opts.KitDir = p.KitDir
	rep, verr := verify.Run(ctx, req, c, opts)
	if verr != nil && verify.Transient(verr) {
		return rep, nil, &TransientError{verr}
	}
	if verr == nil {
		p.keepKit(ctx, rep, req, opts)
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
