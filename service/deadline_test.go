package service_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/service"
	"github.com/reprover/reprover/verify"
)

// TestHungPartFailsTheJob: a registry or a BuildKit daemon that accepts
// connections and never answers ends the job at its deadline, as a failed
// verification naming the deadline and the address that hung, after one
// run. Real parts: the pipeline runner, a real buildkitd where the case
// needs one to get as far as the registry.
func TestHungPartFailsTheJob(t *testing.T) {
	const jobTimeout = 3 * time.Second
	digest := "@sha256:" + strings.Repeat("b", 64)
	for _, tc := range []struct {
		name string
		// setup returns the runner and the request, and the address the
		// failure must name.
		setup func(t *testing.T, hung string) (service.Runner, map[string]any)
	}{
		{"registry", func(t *testing.T, hung string) (service.Runner, map[string]any) {
			addr := fixtures.Buildkit(t, fixtures.StartDaemon)
			return &service.PipelineRunner{Builders: verify.NewBuilders([]string{addr}, nil)}, map[string]any{"image": hung + "/app" + digest}
		}},
		{"buildkit daemon", func(t *testing.T, hung string) (service.Runner, map[string]any) {
			return &service.PipelineRunner{Builders: verify.NewBuilders([]string{"tcp://" + hung}, nil)}, validRequest()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hung, _ := fixtures.SilentListener(t)
			runner, body := tc.setup(t, hung)
			s := newServer(t, runner, func(c *service.Config) { c.JobTimeout = jobTimeout })
			code, m, raw := s.do(t, "POST", "/api/v1/verifications", token, body)
			if code != 202 {
				t.Fatalf("submit: %d %s", code, raw)
			}
			start := time.Now()
			got := s.wait(t, m["id"].(string), 30*time.Second)
			took := time.Since(start)
			msg, _ := got["error"].(string)
			t.Logf("failed after %v: %s", took.Round(100*time.Millisecond), msg)
			if got["status"] != service.StatusFailed || !strings.Contains(msg, "deadline") || !strings.Contains(msg, hung) {
				t.Errorf("ended %v: %q, want failed naming the deadline and %s", got["status"], msg, hung)
			}
			if got["attempts"] != 1.0 {
				t.Errorf("ran %v times, want once", got["attempts"])
			}
			// The deadline, the grace a run has to stop (1 s at this
			// timeout), and the poll.
			if took > jobTimeout+5*time.Second {
				t.Errorf("failed %v after the submission, want within the deadline (%v) and a few seconds", took.Round(100*time.Millisecond), jobTimeout)
			}
		})
	}
}

// TestDeadlineRunsOnce: a run that does not stop at its deadline (it
// stops late, or never) still holds its verification: its attempt keeps
// heartbeating until it returns, so the reaper never runs it again beside
// it; past the grace the verification fails naming the deadline, and it
// ran once. Fault injection: every part the service controls stops at the
// deadline (TestHungPartFailsTheJob), so only a runner written to ignore
// its context can stand for a part that does not (git before it was made
// to, a library that blocks).
func TestDeadlineRunsOnce(t *testing.T) {
	const (
		jobTimeout = time.Second
		heartbeat  = 50 * time.Millisecond
		staleAfter = 400 * time.Millisecond // the reaper looks every 133 ms
	)
	for _, tc := range []struct {
		name      string
		late      time.Duration // how long past its context the run returns (0: never)
		grace     time.Duration
		wantError string
	}{
		{"stops late, within the grace", 1500 * time.Millisecond, 5 * time.Second, "the job's deadline (1s) passed: context deadline exceeded"},
		{"never stops", 0, 1500 * time.Millisecond, "did not stop within 1.5s of it; it was abandoned"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var runs atomic.Int64
			unblock := make(chan struct{})
			t.Cleanup(func() { close(unblock) })
			runner := funcRunner(func(ctx context.Context, r service.Request) (*verify.Report, []byte, error) {
				runs.Add(1)
				<-ctx.Done()
				if tc.late > 0 {
					select {
					case <-time.After(tc.late):
					case <-unblock:
					}
				} else {
					<-unblock
				}
				return nil, nil, ctx.Err()
			})
			s := newServerSetup(t, runner, func(c *service.Config) { c.JobTimeout = jobTimeout },
				func(svc *service.Service) { svc.SetTimings(heartbeat, staleAfter, tc.grace) })
			_, m, raw := s.do(t, "POST", "/api/v1/verifications", token, validRequest())
			id, _ := m["id"].(string)
			if id == "" {
				t.Fatalf("submit: %s", raw)
			}
			got := s.wait(t, id, 30*time.Second)
			if msg, _ := got["error"].(string); got["status"] != service.StatusFailed || !strings.Contains(msg, tc.wantError) || got["attempts"] != 1.0 {
				t.Errorf("ended %v after %v attempts: %q, want failed after 1: %q", got["status"], got["attempts"], msg, tc.wantError)
			}
			// Let the reaper look a few more times, and River settle: no
			// second run may come.
			passes := s.svc.ReaperPasses()
			db := s.svc.Store().DB()
			fixtures.WaitFor(t, 20*time.Second, "three reaper passes and River holding no job that could run", func() (bool, string, error) {
				var pending int
				err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM river_job WHERE state NOT IN ('completed', 'discarded', 'cancelled')`).Scan(&pending)
				return pending == 0 && s.svc.ReaperPasses() >= passes+3, fmt.Sprintf("%d pending, %d passes", pending, s.svc.ReaperPasses()-passes), err
			})
			if n := runs.Load(); n != 1 {
				t.Errorf("ran %d times, want once", n)
			}
		})
	}
}

// TestRescuedWhileLive: River hands a job out again while its first
// attempt is still running (its rescuer does so to a job running longer
// than RescueStuckJobsAfter; a retry can too). The second attempt finds the
// verification held by a live attempt and does not start; the first
// finishes it. River's rescuer runs every 30 s (fixed), so the test makes
// the rescuer's change to the job's row itself: state available again.
func TestRescuedWhileLive(t *testing.T) {
	var runs atomic.Int64
	unblock := make(chan struct{})
	runner := funcRunner(func(ctx context.Context, r service.Request) (*verify.Report, []byte, error) {
		runs.Add(1)
		select {
		case <-unblock:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		return &verify.Report{SchemaVersion: 1, Verdict: verify.Reproducible, Hints: []string{}}, nil, nil
	})
	s := newServerSetup(t, runner, nil, func(svc *service.Service) { svc.SetTimings(50*time.Millisecond, 400*time.Millisecond, time.Second) })
	_, m, raw := s.do(t, "POST", "/api/v1/verifications", token, validRequest())
	id, _ := m["id"].(string)
	if id == "" {
		t.Fatalf("submit: %s", raw)
	}
	db := s.svc.Store().DB()
	fixtures.WaitFor(t, 20*time.Second, "the first attempt running", func() (bool, string, error) {
		return runs.Load() == 1, fmt.Sprintf("%d runs", runs.Load()), nil
	})
	if _, err := db.ExecContext(t.Context(), `UPDATE river_job SET state = 'available' WHERE kind = 'reprover_verify' AND state = 'running'`); err != nil {
		t.Fatal(err)
	}
	fixtures.WaitFor(t, 20*time.Second, "River's second attempt at the job to end", func() (bool, string, error) {
		var attempt int
		var state string
		err := db.QueryRowContext(t.Context(), `SELECT attempt, state FROM river_job WHERE kind = 'reprover_verify'`).Scan(&attempt, &state)
		return attempt == 2 && state == "completed", fmt.Sprintf("attempt %d %s", attempt, state), err
	})
	if n := runs.Load(); n != 1 {
		t.Fatalf("the rescued job ran the verification again while the first run was live: %d runs", n)
	}
	close(unblock)
	got := s.wait(t, id, 20*time.Second)
	if got["status"] != service.StatusDone || got["attempts"] != 1.0 || runs.Load() != 1 {
		t.Errorf("ended %v after %v attempts and %d runs, want done after 1", got["status"], got["attempts"], runs.Load())
	}
}
