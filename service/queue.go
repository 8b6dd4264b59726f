package service

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// verifyArgs is the River job of one verification generation.
type verifyArgs struct {
	ID         string `json:"id"`
	Generation int    `json:"generation"`
}

func (verifyArgs) Kind() string { return "reprover_verify" }

// InsertOpts: one job per (verification, generation), whoever enqueues it.
func (verifyArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

type verifyWorker struct {
	river.WorkerDefaults[verifyArgs]
	s *Service
}

func (w *verifyWorker) Work(ctx context.Context, job *river.Job[verifyArgs]) error {
	return w.s.work(ctx, job.Args.ID, job.Args.Generation, job.Attempt, job.MaxAttempts)
}

// queue is River on whichever database the store uses.
type queue interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Enqueue(ctx context.Context, id string, gen int) error
	// EnqueueTx enqueues in the store's transaction tx (Store.create).
	EnqueueTx(ctx context.Context, tx any, id string, gen int) error
	// Check reads the queue's table: the health check.
	Check(ctx context.Context) error
}

type riverQueue[TTx any] struct{ c *river.Client[TTx] }

func (q *riverQueue[TTx]) Start(ctx context.Context) error { return q.c.Start(ctx) }
func (q *riverQueue[TTx]) Stop(ctx context.Context) error  { return q.c.Stop(ctx) }
func (q *riverQueue[TTx]) Enqueue(ctx context.Context, id string, gen int) error {
	_, err := q.c.Insert(ctx, verifyArgs{ID: id, Generation: gen}, nil)
	return err
}

func (q *riverQueue[TTx]) EnqueueTx(ctx context.Context, tx any, id string, gen int) error {
	t, ok := tx.(TTx)
	if !ok {
		return fmt.Errorf("enqueueing in a %T transaction: the queue wants a %T", tx, t)
	}
	_, err := q.c.InsertTx(ctx, t, verifyArgs{ID: id, Generation: gen}, nil)
	return err
}

func (q *riverQueue[TTx]) Check(ctx context.Context) error {
	select {
	case <-q.c.Stopped():
		return errors.New("the job queue has stopped")
	default:
	}
	_, err := q.c.JobList(ctx, river.NewJobListParams().First(1))
	return err
}

func newQueue(ctx context.Context, st *Store, cfg *Config, s *Service, logger *slog.Logger) (queue, error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, &verifyWorker{s: s})
	river.AddWorker(workers, &reverifyWorker{s: s})
	rc := &river.Config{
		Queues:      map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}},
		Workers:     workers,
		JobTimeout:  cfg.JobTimeout,
		MaxAttempts: cfg.MaxAttempts,
		// River rescues a running job only after its timeout; a dead
		// worker's job is requeued sooner by the service (see reap).
		RescueStuckJobsAfter: cfg.JobTimeout + time.Minute,
		FetchPollInterval:    500 * time.Millisecond,
		Logger:               logger,
		PeriodicJobs:         reverifyJobs(cfg),
	}
	if st.postgres {
		driver := riverpgxv5.New(st.pool)
		if err := st.withMigrationLock(ctx, func() error { return migrateRiver(ctx, driver) }); err != nil {
			return nil, err
		}
		c, err := river.NewClient[pgx.Tx](driver, rc)
		if err != nil {
			return nil, err
		}
		return &riverQueue[pgx.Tx]{c}, nil
	}
	driver := riversqlite.New(st.db)
	if err := migrateRiver(ctx, driver); err != nil {
		return nil, err
	}
	// SQLite has no LISTEN/NOTIFY: River polls.
	rc.PollOnly = true
	c, err := river.NewClient[*sql.Tx](driver, rc)
	if err != nil {
		return nil, err
	}
	return &riverQueue[*sql.Tx]{c}, nil
}

func migrateRiver[TTx any](ctx context.Context, driver riverdriver.Driver[TTx]) error {
	m, err := rivermigrate.New[TTx](driver, nil)
	if err != nil {
		return err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrating the job queue: %w", err)
	}
	return nil
}
