package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reprover/reprover/builder"
)

// Builders hands out connections to BuildKit, for the CLI and the service
// alike: the daemons at the given addresses in turn (a pool), or, with
// none, one private buildkitd started on first use and stopped by Close.
type Builders struct {
	daemons []Daemon
	logger  *slog.Logger
	next    atomic.Uint64

	mu     sync.Mutex
	daemon *builder.Daemon
	down   map[string]time.Time // pool members passed over until then

	// Observe, when set, is told of each pool member's answer (err nil)
	// or failure: the service counts them per daemon.
	Observe func(addr string, err error)
}

// Daemon is one buildkitd of a pool: its address and, for tcp://, the
// TLS settings that reach it.
type Daemon struct {
	Addr string
	TLS  TLS
	// ReplayAddr is host:port where the daemon's proxy reaches this
	// process, to be served a kit's downloads ("": it cannot be).
	ReplayAddr string
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

func (b *Builders) managed(ctx context.Context) (*builder.Daemon, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.daemon == nil {
		d, err := builder.StartDaemon(ctx, builder.DaemonOptions{Logger: b.logger})
		if err != nil {
			return nil, fmt.Errorf("starting buildkitd: %w", err)
		}
		b.daemon = d
	}
	return b.daemon, nil
}

// Get connects to the next daemon that answers: a pool member that does
// not is skipped for SkipFor, and its turn goes to the next one. release
// closes the connection. With every member down, the error names each.
func (b *Builders) Get(ctx context.Context) (bld Builder, release func(), err error) {
	if len(b.daemons) == 0 {
		d, err := b.managed(ctx)
		if err != nil {
			return nil, nil, err
		}
		// The daemon's own client knows its bridge: a replay serves a
		// kit there (builder.Spec.Replay).
		c, err := d.Connect(ctx, b.logger)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s: %w", ErrBuilderUnreachable, d.Addr, err)
		}
		return c, func() { c.Close() }, nil
	}
	var errs []error
	start := int(b.next.Add(1) - 1)
	for i := range b.daemons {
		d := b.daemons[(start+i)%len(b.daemons)]
		if until, down := b.downUntil(d.Addr); down && i < len(b.daemons)-1 {
			errs = append(errs, fmt.Errorf("%s: skipped until %s after a failure", d.Addr, until.Format(time.TimeOnly)))
			continue
		}
		c, release, err := b.connect(ctx, d)
		if err == nil {
			b.observe(d.Addr, nil)
			return c, release, nil
		}
		b.observe(d.Addr, err)
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, nil, errors.Join(errs...)
}

// SkipFor is how long a pool member that did not answer is passed over.
var SkipFor = 30 * time.Second

func (b *Builders) connect(ctx context.Context, d Daemon) (Builder, func(), error) {
	c, err := builder.ConnectTLS(ctx, d.Addr, d.TLS, b.logger)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrBuilderUnreachable, d.Addr, err)
	}
	if _, err := c.Version(ctx); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrBuilderUnreachable, d.Addr, err)
	}
	if d.ReplayAddr != "" {
		return servingClient{c, d.ReplayAddr}, func() { c.Close() }, nil
	}
	return c, func() { c.Close() }, nil
}

// servingClient is a pool member that reaches this process at addr: a
// kit's downloads are served there (builder.Spec.ReplayAddr).
type servingClient struct {
	*builder.Client
	addr string
}

func (c servingClient) Build(ctx context.Context, s builder.Spec, progress io.Writer, mode string) (*builder.Result, error) {
	if s.Replay != nil && s.ReplayAddr == "" {
		s.ReplayAddr = c.addr
	}
	return c.Client.Build(ctx, s, progress, mode)
}

func (c servingClient) CanReplay() bool { return true }

// downUntil says whether addr failed recently, and until when it is
// passed over.
func (b *Builders) downUntil(addr string) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	until, ok := b.down[addr]
	return until, ok && time.Now().Before(until)
}

// observe records a member's answer (err nil) or failure, for skipping
// and for the Observe hook (the service's per-daemon metrics).
func (b *Builders) observe(addr string, err error) {
	b.mu.Lock()
	if err != nil {
		if b.down == nil {
			b.down = map[string]time.Time{}
		}
		b.down[addr] = time.Now().Add(SkipFor)
	} else {
		delete(b.down, addr)
	}
	hook := b.Observe
	b.mu.Unlock()
	if hook != nil {
		hook(addr, err)
	}
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
