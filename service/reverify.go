package service

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/reprover/reprover/verify"
)

// reverifyArgs is the periodic job of reverify.every: every known release
// verified again (Service.Reverify). River runs periodic jobs on its
// elected leader only, so several processes on one database make one
// round, not one each.
type reverifyArgs struct{}

func (reverifyArgs) Kind() string { return "reprover_reverify" }

type reverifyWorker struct {
	river.WorkerDefaults[reverifyArgs]
	s *Service
}

func (w *reverifyWorker) Work(ctx context.Context, _ *river.Job[reverifyArgs]) error {
	n, err := w.s.Reverify(ctx)
	w.s.logger.Info("reverify: known releases submitted again", "count", n, "error", err)
	return err
}

// reverifyJobs is the periodic job when reverify.every is set.
func reverifyJobs(cfg *Config) []*river.PeriodicJob {
	if cfg.Reverify.Every <= 0 {
		return nil
	}
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(cfg.Reverify.Every),
		func() (river.JobArgs, *river.InsertOpts) { return reverifyArgs{}, nil }, nil)}
}

// Reverify submits again, as one round named by the time now, the request
// of every release that has a finished verification (its latest form:
// the request with no round), at most reverify.max of them, the most
// recently verified first. Each is a new verification beside the earlier
// ones: the image's page then shows whether the release still verifies,
// and when it stopped, why (docs/service.md). It returns how many it
// submitted.
func (s *Service) Reverify(ctx context.Context) (int, error) {
	reqs, err := s.store.releases(ctx, s.cfg.Reverify.Max)
	if err != nil {
		return 0, fmt.Errorf("reverify: listing known releases: %w", err)
	}
	round := s.now().UTC().Truncate(time.Second).Format(time.RFC3339)
	n := 0
	for _, r := range reqs {
		r.Reverify = round
		if _, created, err := s.submitAs(ctx, r, "reverify", 0); err != nil {
			return n, fmt.Errorf("reverify: %s: %w", r.Image, err)
		} else if created {
			n++
		}
	}
	return n, nil
}

// releases are the distinct requests (with no round) of finished
// verifications, the most recently finished first, at most max.
func (s *Store) releases(ctx context.Context, max int) ([]Request, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT request FROM reprover_verification WHERE status IN (?, ?) ORDER BY finished_at DESC, id DESC LIMIT ?`),
		StatusDone, StatusFailed, 20*max)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	seen := map[string]bool{}
	var out []Request
	for rows.Next() && len(out) < max {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		var r Request
		if err := json.Unmarshal([]byte(raw), &r); err != nil {
			return nil, fmt.Errorf("a stored request: %w", err)
		}
		r.Reverify = ""
		if id := r.ID(); !seen[id] {
			seen[id] = true
			out = append(out, r)
		}
	}
	return out, rows.Err()
}

// Stopped says that a release which verified no longer does: the first
// finished verification after its last pass, when it finished, its
// verdict and why (its error, else its report's first hint).
type Stopped struct {
	Since   time.Time      `json:"since"`
	ID      string         `json:"id"`
	Verdict verify.Verdict `json:"verdict"`
	Why     string         `json:"why,omitempty"`
}

// stoppedVerifying is Stopped for an image's verifications, newest first;
// nil when the newest finished one passed, or none ever did.
func stoppedVerifying(vs []*Verification) *Stopped {
	var after *Verification // the oldest finished one newer than the last pass
	for _, v := range vs {
		if v.FinishedAt == nil {
			continue
		}
		if v.Verdict.Verified(false) {
			if after == nil {
				return nil
			}
			st := &Stopped{Since: *after.FinishedAt, ID: after.ID, Verdict: after.Verdict, Why: after.Error}
			if st.Why == "" {
				var rep struct {
					Hints []string `json:"hints"`
				}
				if json.Unmarshal(after.Report, &rep) == nil && len(rep.Hints) > 0 {
					st.Why = rep.Hints[0]
				}
			}
			return st
		}
		after = v
	}
	return nil
}
