package service

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reprover/reprover/attest"
	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/verify"
)

// Runner runs one verification: the verify pipeline, and the signed
// attestation when the server signs. Transient faults (a registry or
// buildkitd unreachable) are returned as *TransientError so the job is
// retried; any other outcome is final.
type Runner interface {
	Run(ctx context.Context, r Request) (rep *verify.Report, attestation []byte, err error)
}

// Service is reprover serve: store, queue, workers, HTTP.
type Service struct {
	cfg     *Config
	store   *Store
	queue   queue
	runner  Runner
	logger  *slog.Logger
	metrics *metrics
	now     func() time.Time

	// Timings derived from the configuration (SetTimings in tests).
	heartbeatEvery time.Duration // a running attempt's heartbeats
	staleAfter     time.Duration // a running attempt silent this long is dead
	stopGrace      time.Duration // how long a run may take to stop once its context ends
	reaped         atomic.Int64  // reaper passes (tests wait on it)

	// inspector inspects the images of GET /images/{digest}, one at a
	// time (inspecting).
	inspector  Inspector
	inspecting chan struct{}

	wg     sync.WaitGroup
	cancel context.CancelFunc
}

// New opens the store and the queue. Start begins working.
func New(ctx context.Context, cfg *Config, runner Runner, logger *slog.Logger) (*Service, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if pr, ok := runner.(*PipelineRunner); ok && pr.ScratchDir == "" {
		pr.ScratchDir = filepath.Join(cfg.DataDir, "scratch")
	}
	if pr, ok := runner.(*PipelineRunner); ok && pr.SourcePolicy == nil {
		allow := cfg.Sources.Allow
		pr.SourcePolicy = func(src string) error {
			if err := checkSource(src, allow); err != nil {
				return fmt.Errorf("%w: cloned only when sources.allow lets it", err)
			}
			return nil
		}
	}
	if pr, ok := runner.(*PipelineRunner); ok && pr.AllowSourceHost == nil {
		pr.AllowSourceHost = hostAllowedBy(cfg.Sources.Allow)
	}
	if pr, ok := runner.(*PipelineRunner); ok && pr.AllowDownloadHosts == nil {
		pr.AllowDownloadHosts = cfg.Network.AllowDownloadHosts
	}
	if pr, ok := runner.(*PipelineRunner); ok && cfg.Diffoscope && pr.Diffoscope == nil {
		p, err := compare.FindDiffoscope()
		if err != nil {
			return nil, fmt.Errorf("diffoscope: true in the configuration: %w", err)
		}
		pr.Diffoscope = &compare.Diffoscope{Path: p}
	}
	if pr, ok := runner.(*PipelineRunner); ok && pr.Index == nil && cfg.LayerIndex.Dir != "off" {
		dir := cmp.Or(cfg.LayerIndex.Dir, filepath.Join(cfg.DataDir, "layer-index"))
		idx, err := compare.OpenIndex(dir, cfg.LayerIndex.MaxBytes)
		if err != nil {
			return nil, fmt.Errorf("layerIndex.dir: %w", err)
		}
		pr.Index = idx
	}
	if pr, ok := runner.(*PipelineRunner); ok && pr.Decompressor == "" {
		pr.Decompressor = cfg.Decompressor
	}
	if pr, ok := runner.(*PipelineRunner); ok && pr.AllowPrivate == nil {
		pr.AllowPrivate = cfg.Images.Allow
	}
	if pr, ok := runner.(*PipelineRunner); ok && pr.KitDir == "" && !pr.PushKits {
		if cfg.Kits.Keep == KeepStore || cfg.Kits.Keep == KeepBoth {
			pr.KitDir = cfg.Kits.Dir
		}
		pr.PushKits = cfg.Kits.Keep == KeepPush || cfg.Kits.Keep == KeepBoth
	}
	if path, ok := strings.CutPrefix(cfg.Database, "sqlite://"); ok {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			logger.Info("creating a new database: the history starts empty", "path", path)
		}
	}
	st, err := OpenStore(ctx, cfg.Database)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, store: st, runner: runner, logger: logger, now: time.Now,
		heartbeatEvery: heartbeatEvery, staleAfter: cfg.StaleAfter,
		// Long enough for a run to unwind (close a connection, remove its
		// scratch directory), short against the deadline.
		stopGrace: min(10*time.Second, max(cfg.JobTimeout/4, time.Second))}
	s.metrics = newMetrics(st)
	var key *attest.PrivateKey
	if pr, ok := runner.(*PipelineRunner); ok {
		key = pr.Key
	}
	s.inspector, s.inspecting = newInspector(cfg.Images.Allow, key), make(chan struct{}, 1)
	if pr, ok := runner.(*PipelineRunner); ok && pr.Builders != nil && pr.Builders.Observe == nil {
		pr.Builders.Observe = s.metrics.daemon
	}
	q, err := newQueue(ctx, st, cfg, s, logger)
	if err != nil {
		st.Close()
		return nil, err
	}
	s.queue = q
	return s, nil
}

// Store is the service's store.
func (s *Service) Store() *Store { return s.store }

// SetClock replaces the clock the service stamps and judges times with
// (created, claimed, heartbeats, staleness); call it before Start. Tests
// use it to order events without sleeping.
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// Start starts the workers and the reaper, enqueues what a crash left
// stored but not enqueued, and removes the scratch directories a killed
// process left behind.
func (s *Service) Start(ctx context.Context) error {
	if pr, ok := s.runner.(*PipelineRunner); ok && pr.ScratchDir != "" {
		if err := sweepScratch(pr.ScratchDir, s.now().Add(-s.cfg.JobTimeout)); err != nil {
			s.logger.Warn("cleaning the scratch directory", "dir", pr.ScratchDir, "err", err)
		}
	}
	if err := s.queue.Start(ctx); err != nil {
		return fmt.Errorf("starting the job queue: %w", err)
	}
	queued, err := s.store.Queued(ctx, s.now().Add(time.Second))
	if err != nil {
		return err
	}
	for _, v := range queued {
		if err := s.queue.Enqueue(ctx, v.ID, v.Generation); err != nil {
			return err
		}
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.reapLoop(rctx)
	}()
	return nil
}

// Stop stops taking jobs, lets running ones finish (until ctx ends) and
// closes the store.
func (s *Service) Stop(ctx context.Context) error {
	if s.cancel != nil {
		s.cancel()
	}
	err := s.queue.Stop(ctx)
	s.wg.Wait()
	return errors.Join(err, s.store.Close())
}

// Submit stores a validated request and enqueues it, in one transaction;
// the same request again returns the stored verification and
// created=false. It does not apply limits.queuedPerToken (see submitAs).
func (s *Service) Submit(ctx context.Context, r Request) (*Verification, bool, error) {
	return s.submitAs(ctx, r, "", 0)
}

// submitAs is Submit for a submitter holding at most maxQueued
// verifications queued or running (0: no bound); over it, a
// *QueueFullError. The request is normalised first (normalise), so that
// requests that mean the same are one verification.
func (s *Service) submitAs(ctx context.Context, r Request, submitter string, maxQueued int) (*Verification, bool, error) {
	r = normalise(r, s.cfg)
	v, created, err := s.store.create(ctx, r.ID(), r, s.now(), newVerification{Submitter: submitter, MaxQueued: maxQueued,
		Enqueue: func(ctx context.Context, tx any) error { return s.queue.EnqueueTx(ctx, tx, r.ID(), 0) }})
	if err != nil {
		return nil, false, err
	}
	if created {
		s.metrics.submitted.Inc()
	}
	return v, created, nil
}

// heartbeatEvery is how often a running attempt says it is alive;
// staleAfter is at least four of them (Validate).
const heartbeatEvery = 5 * time.Second

// outcome is what a run returned, or the panic it raised.
type outcome struct {
	rep      *verify.Report
	att      []byte
	err      error
	panicked any
}

// work runs one generation of a verification. Its result is written once,
// by the attempt holding its lease; a panic is the job's failure, not a
// crash, and is not retried. River's job deadline (jobTimeout) cancels
// ctx: the run is given stopGrace to return, then the verification fails
// naming what it was doing, and work returns even if the run has not.
func (s *Service) work(ctx context.Context, id string, gen, attempt, maxAttempts int) error {
	c := &claimed{s: s, ctx: ctx, Attempt: Attempt{ID: id, Generation: gen, Lease: newLease()}, attempt: attempt, maxAttempts: maxAttempts}
	ok, err := s.store.Claim(ctx, c.Attempt, s.now(), s.now().Add(-s.staleAfter))
	if err != nil {
		return err
	}
	if !ok {
		s.logger.Info("not run: finished, superseded, or still running under another attempt", "id", id, "generation", gen, "attempt", attempt)
		return nil
	}
	// From here the attempt holds the verification: every way out
	// finishes it or puts it back in the queue.
	v, err := s.store.Get(ctx, id)
	if err != nil {
		c.release("reading it: " + err.Error())
		return err
	}
	c.start = s.now()
	if v.Attempts > s.cfg.MaxAttempts {
		return c.failed(fmt.Sprintf("gave up after %d attempts (the worker died or the job kept failing)", v.Attempts-1), nil, nil)
	}
	s.logger.Info("verifying", "id", id, "generation", gen, "attempt", attempt, "image", v.Request.Image)
	return c.run(v.Request)
}

// claimed is an attempt that holds its verification (Claim succeeded):
// every way out finishes it or puts it back in the queue.
type claimed struct {
	s   *Service
	ctx context.Context // the job's, which River's deadline ends
	Attempt
	attempt, maxAttempts int
	start                time.Time
}

// release puts the verification back in the queue, saying why.
func (c *claimed) release(why string) {
	if _, err := c.s.store.Release(context.WithoutCancel(c.ctx), c.Attempt, why, c.s.now()); err != nil {
		c.s.logger.Warn("releasing", "id", c.ID, "err", err)
	}
}

// finish stores the outcome, and counts it when it was stored.
func (c *claimed) finish(o Outcome) error {
	ok, err := c.s.store.Finish(context.WithoutCancel(c.ctx), c.Attempt, o, c.s.now())
	if err == nil && ok {
		c.s.metrics.finished(o.Status, o.Verdict, c.s.now().Sub(c.start))
	}
	return err
}

// failed finishes the verification as failed (verdict error), with why.
func (c *claimed) failed(why string, report, att []byte) error {
	return c.finish(Outcome{Status: StatusFailed, Verdict: verify.Error, Error: why, Report: report, Attestation: att})
}

// run runs the verification and stores what it returned. Heartbeats last
// as long as this attempt does, not as long as the job's context: past
// the deadline the attempt is still inside the run until it returns, and
// silence would have the reaper run the verification again beside it. A
// lost lease (another process ran it again while this one was paused)
// ends the run.
func (c *claimed) run(r Request) error {
	runCtx, stopRun := context.WithCancelCause(c.ctx)
	defer stopRun(nil)
	beatCtx, stopBeat := context.WithCancel(context.WithoutCancel(c.ctx))
	defer stopBeat()
	go c.s.heartbeat(beatCtx, c.Attempt, stopRun)

	done := make(chan outcome, 1) // buffered: an abandoned run's send does not block
	go func() {
		defer func() {
			if p := recover(); p != nil {
				c.s.logger.Error("verification panicked", "id", c.ID, "panic", p, "stack", string(debug.Stack()))
				done <- outcome{panicked: p}
			}
		}()
		rep, att, err := c.s.runner.Run(runCtx, r)
		done <- outcome{rep: rep, att: att, err: err}
	}()
	select {
	case out := <-done:
		return c.settle(runCtx, out)
	case <-runCtx.Done():
		select {
		case out := <-done:
			return c.settle(runCtx, out)
		case <-time.After(c.s.stopGrace):
			return c.abandon(runCtx)
		}
	}
}

// settle stores what a run returned: a verdict, a failure (in the API's
// words: sayFields), or, for a shutdown or a transient fault, the
// verification back in the queue.
func (c *claimed) settle(runCtx context.Context, out outcome) error {
	s, ctx := c.s, c.ctx
	if out.panicked != nil {
		return c.failed(fmt.Sprintf("internal error: the verification panicked: %v", out.panicked), nil, nil)
	}
	rep, att, runErr := out.rep, out.att, out.err
	if errors.Is(context.Cause(runCtx), errSuperseded) {
		s.logger.Warn("stopped: the verification was run again elsewhere", "id", c.ID, "generation", c.Generation)
		return nil
	}
	if runErr != nil && ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		// Cancelled, not timed out: this process is stopping (River cancels
		// running jobs when serve's context ends, e.g. on SIGTERM). Not the
		// verification's failure: it goes back to the queue, and River
		// retries the job (here once the process is back, or elsewhere).
		// TestRestartMidJob.
		s.logger.Warn("interrupted by shutdown; it will run again", "id", c.ID, "generation", c.Generation)
		c.release("interrupted by a shutdown; it will run again")
		return runErr
	}
	var te *TransientError
	if errors.As(runErr, &te) && c.attempt < c.maxAttempts && ctx.Err() == nil {
		// Retried by River with backoff; back to queued so the reaper
		// leaves it alone meanwhile.
		s.logger.Warn("transient failure, will retry", "id", c.ID, "attempt", c.attempt, "err", runErr)
		c.release("retrying: " + sayFields(runErr))
		return runErr
	}
	if runErr != nil && rep != nil {
		rep.Error = sayFields(runErr)
	}
	var reportJSON []byte
	if rep != nil {
		var err error
		if reportJSON, err = json.Marshal(rep); err != nil {
			c.release("encoding its report: " + err.Error())
			return err
		}
	}
	if runErr != nil {
		msg := sayFields(runErr)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			msg = fmt.Sprintf("the job's deadline (%v) passed: %s", s.cfg.JobTimeout, msg)
		}
		return c.failed(msg, reportJSON, att)
	}
	o := Outcome{Status: StatusDone, Verdict: rep.Verdict, Report: reportJSON, Attestation: att}
	if rep.Published != nil {
		o.ImageDigest = rep.Published.Digest
	}
	return c.finish(o)
}

// abandon ends an attempt whose run did not return within stopGrace of
// its context's end. The run goes on in the background (its result will
// be refused: the lease is given up); its verification fails naming the
// deadline, or goes back to the queue when the process is stopping.
func (c *claimed) abandon(runCtx context.Context) error {
	cause := context.Cause(runCtx)
	c.s.logger.Error("the verification did not stop; abandoned", "id", c.ID, "generation", c.Generation, "cause", cause, "grace", c.s.stopGrace)
	switch {
	case errors.Is(cause, errSuperseded):
		return nil
	case errors.Is(c.ctx.Err(), context.DeadlineExceeded):
		return c.failed(fmt.Sprintf("the job's deadline (%v) passed and the verification did not stop within %v of it; it was abandoned", c.s.cfg.JobTimeout, c.s.stopGrace), nil, nil)
	default:
		c.release("interrupted by a shutdown; it will run again")
		return c.ctx.Err()
	}
}

// heartbeat records every heartbeatEvery that the attempt is alive, until
// ctx ends; when the attempt has lost the lease, it stops the run (stop)
// with errSuperseded.
func (s *Service) heartbeat(ctx context.Context, a Attempt, stop context.CancelCauseFunc) {
	t := time.NewTicker(s.heartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		held, err := s.store.Heartbeat(ctx, a, s.now())
		switch {
		case err != nil && ctx.Err() == nil:
			s.logger.Warn("heartbeat", "id", a.ID, "err", err)
		case err == nil && !held:
			stop(errSuperseded)
			return
		}
	}
}

// newLease is an id for one attempt at a verification.
func newLease() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// reapLoop requeues, as a new generation, verifications whose worker has
// not been heard from for StaleAfter: its process died (kill -9, a lost
// machine). River alone would wait for the job's whole timeout.
func (s *Service) reapLoop(ctx context.Context) {
	t := time.NewTicker(min(s.staleAfter/3, 15*time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.reap(ctx); err != nil && ctx.Err() == nil {
			s.logger.Warn("requeueing stale jobs", "err", err)
		}
		s.reaped.Add(1)
	}
}

func (s *Service) reap(ctx context.Context) error {
	before := s.now().Add(-s.staleAfter)
	// A verification stored but never enqueued (its process died between
	// the two, or between a requeue and its enqueue) is enqueued again;
	// enqueueing a job that exists is a no-op (unique by args).
	waiting, err := s.store.Queued(ctx, before)
	if err != nil {
		return err
	}
	for _, v := range waiting {
		if err := s.queue.Enqueue(ctx, v.ID, v.Generation); err != nil {
			return err
		}
	}
	stale, err := s.store.Stale(ctx, before)
	if err != nil {
		return err
	}
	for _, v := range stale {
		ok, err := s.store.Requeue(ctx, v.ID, v.Generation, before, s.now())
		if err != nil {
			return err
		}
		if ok {
			s.logger.Warn("worker lost; running the verification again", "id", v.ID, "generation", v.Generation+1)
			if err := s.queue.Enqueue(ctx, v.ID, v.Generation+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// sweepScratch removes the job directories under root last changed before
// cutoff: no job runs longer than its deadline, so they are what a killed
// process (SIGKILL, a lost machine) left.
func sweepScratch(root string, cutoff time.Time) error {
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.ModTime().Before(cutoff) {
			continue
		}
		errs = append(errs, os.RemoveAll(filepath.Join(root, e.Name())))
	}
	return errors.Join(errs...)
}
