package verify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/reprover/reprover/builder"
)

// ErrBuilderUnreachable is returned (wrapped, naming the daemon) when a
// BuildKit daemon does not answer: a fault a later attempt may not meet.
var ErrBuilderUnreachable = errors.New("buildkitd unreachable")

// Builders hands out connections to BuildKit, for the CLI and the service
// alike: the daemons at the given addresses in turn (a pool), or, with
// none, one private buildkitd started on first use and stopped by Close.
type Builders struct {
	daemons []Daemon
	logger  *slog.Logger
	next    atomic.Uint64

	mu     sync.Mutex
	daemon *builder.Daemon
}

// Daemon is one buildkitd of a pool: its address and, for tcp://, the
// TLS settings that reach it.
type Daemon struct {
	Addr string
	TLS  TLS
}

// TLS is how to reach a daemon over mutual TLS (builder's settings, named
// here so that callers need not import builder).
type TLS = builder.TLS

// NewBuilders returns the daemons at addrs (unix://…, tcp://…), used in
// turn; with no address, a managed buildkitd (from PATH or
// REPROVER_BUILDKITD).
func NewBuilders(addrs []string, logger *slog.Logger) *Builders {
	ds := make([]Daemon, 0, len(addrs))
	for _, a := range addrs {
		ds = append(ds, Daemon{Addr: a})
	}
	return NewDaemonBuilders(ds, logger)
}

// NewDaemonBuilders is NewBuilders with each daemon's TLS settings.
func NewDaemonBuilders(daemons []Daemon, logger *slog.Logger) *Builders {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Builders{daemons: daemons, logger: logger}
}

// Start starts the managed buildkitd now, when there is one, so that a
// daemon that cannot start is known before any job.
func (b *Builders) Start(ctx context.Context) error {
	if len(b.daemons) > 0 {
		return nil
	}
	_, err := b.managed(ctx)
	return err
}

func (b *Builders) managed(ctx context.Context) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.daemon == nil {
		d, err := builder.StartDaemon(ctx, builder.DaemonOptions{Logger: b.logger})
		if err != nil {
			return "", fmt.Errorf("starting buildkitd: %w", err)
		}
		b.daemon = d
	}
	return b.daemon.Addr, nil
}

// Get connects to the next daemon and checks that it answers. release
// closes the connection.
func (b *Builders) Get(ctx context.Context) (bld Builder, release func(), err error) {
	var d Daemon
	if len(b.daemons) == 0 {
		if d.Addr, err = b.managed(ctx); err != nil {
			return nil, nil, err
		}
	} else {
		d = b.daemons[int(b.next.Add(1)-1)%len(b.daemons)]
	}
	addr := d.Addr
	c, err := builder.ConnectTLS(ctx, addr, d.TLS, b.logger)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrBuilderUnreachable, addr, err)
	}
	if _, err := c.Version(ctx); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrBuilderUnreachable, addr, err)
	}
	return c, func() { c.Close() }, nil
}

// Close stops the managed buildkitd, if one was started.
func (b *Builders) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.daemon == nil {
		return nil
	}
	err := b.daemon.Stop()
	b.daemon = nil
	return err
}
