package service

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

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

// TransientError marks a fault worth retrying.
type TransientError struct{ Err error }

func (e *TransientError) Error() string { return e.Err.Error() }
func (e *TransientError) Unwrap() error { return e.Err }

// Service is reprover serve: store, queue, workers, HTTP.
type Service struct {
	cfg     *Config
	store   *Store
	queue   queue
	runner  Runner
	logger  *slog.Logger
	metrics *metrics
	now     func() time.Time

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
	st, err := OpenStore(ctx, cfg.Database)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, store: st, runner: runner, logger: logger, now: time.Now}
	s.metrics = newMetrics(st)
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

// Submit stores a validated request and enqueues it; the same request
// again returns the stored verification and created=false.
func (s *Service) Submit(ctx context.Context, r Request) (*Verification, bool, error) {
	if r.Network == "" && s.cfg.Network.Default == "proxy" {
		r.Network = "proxy" // stored as run: the default may change later
	}
	v, created, err := s.store.Create(ctx, r.ID(), r, s.now())
	if err != nil {
		return nil, false, err
	}
	if created {
		if err := s.queue.Enqueue(ctx, v.ID, v.Generation); err != nil {
			// Stored but not enqueued: Start enqueues it on the next run.
			return nil, false, fmt.Errorf("enqueueing %s: %w", v.ID, err)
		}
		s.metrics.submitted.Inc()
	}
	return v, created, nil
}

const heartbeatEvery = 5 * time.Second

// work runs one generation of a verification. Its result is written once;
// a panic is the job's failure, not a crash, and is not retried.
func (s *Service) work(ctx context.Context, id string, gen, attempt, maxAttempts int) (err error) {
	ok, err := s.store.Claim(ctx, id, gen, s.now())
	if err != nil {
		return err
	}
	if !ok {
		s.logger.Info("job superseded or finished", "id", id, "generation", gen)
		return nil
	}
	v, err := s.store.Get(ctx, id)
	if err != nil {
		return err
	}
	start := s.now()
	finish := func(status string, verdict verify.Verdict, msg string, report, att []byte) error {
		ok, err := s.store.Finish(context.WithoutCancel(ctx), id, gen, status, verdict, msg, report, att, s.now())
		if err == nil && ok {
			s.metrics.finished(status, verdict, s.now().Sub(start))
		}
		return err
	}
	if v.Attempts > s.cfg.MaxAttempts {
		return finish(StatusFailed, verify.Error, fmt.Sprintf("gave up after %d attempts (the worker died or the job kept failing)", v.Attempts-1), nil, nil)
	}

	hctx, stopBeat := context.WithCancel(ctx)
	defer stopBeat()
	go func() {
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-hctx.Done():
				return
			case <-t.C:
				if err := s.store.Heartbeat(context.WithoutCancel(hctx), id, gen, s.now()); err != nil {
					s.logger.Warn("heartbeat", "id", id, "err", err)
				}
			}
		}
	}()

	defer func() {
		if p := recover(); p != nil {
			s.logger.Error("verification panicked", "id", id, "panic", p, "stack", string(debug.Stack()))
			err = finish(StatusFailed, verify.Error, fmt.Sprintf("internal error: the verification panicked: %v", p), nil, nil)
		}
	}()
	s.logger.Info("verifying", "id", id, "generation", gen, "attempt", attempt, "image", v.Request.Image)
	rep, att, runErr := s.runner.Run(ctx, v.Request)
	if runErr != nil && ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		// Cancelled, not timed out: this process is stopping (River cancels
		// running jobs when serve's context ends, e.g. on SIGTERM). Not the
		// verification's failure (it used to be stored as failed, "the
		// job's deadline passed"): leave it running. River retries the job
		// (Claim takes a running verification of the same generation), or,
		// if the stop loses that, the reaper requeues it once the heartbeats
		// stop. TestRestartMidJob.
		s.logger.Warn("interrupted by shutdown; it will run again", "id", id, "generation", gen)
		return runErr
	}
	var te *TransientError
	if errors.As(runErr, &te) && attempt < maxAttempts && ctx.Err() == nil {
		// Retried by River with backoff; back to queued so the reaper
		// leaves it alone meanwhile.
		s.logger.Warn("transient failure, will retry", "id", id, "attempt", attempt, "err", runErr)
		if _, err := s.store.db.ExecContext(context.WithoutCancel(ctx), s.store.q(`UPDATE reprover_verification SET status = ?, error = ? WHERE id = ? AND generation = ? AND status = ?`),
			StatusQueued, "retrying: "+runErr.Error(), id, gen, StatusRunning); err != nil {
			return err
		}
		return runErr
	}
	var reportJSON []byte
	if rep != nil {
		if reportJSON, err = json.Marshal(rep); err != nil {
			return err
		}
	}
	if runErr != nil {
		msg := runErr.Error()
		if ctx.Err() != nil {
			msg = fmt.Sprintf("the job's deadline (%v) passed: %v", s.cfg.JobTimeout, runErr)
		}
		return finish(StatusFailed, verify.Error, msg, reportJSON, att)
	}
	return finish(StatusDone, rep.Verdict, "", reportJSON, att)
}

// reapLoop requeues, as a new generation, verifications whose worker has
// not been heard from for StaleAfter: its process died (kill -9, a lost
// machine). River alone would wait for the job's whole timeout.
func (s *Service) reapLoop(ctx context.Context) {
	t := time.NewTicker(min(s.cfg.StaleAfter/3, 15*time.Second))
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
	}
}

func (s *Service) reap(ctx context.Context) error {
	before := s.now().Add(-s.cfg.StaleAfter)
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
