package service_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/service"
	"github.com/reprover/reprover/verify"
)

// slowDockerfile is a release whose rebuild takes a while: long enough to
// kill the process verifying it in the middle.
const slowDockerfile = "FROM BASE\nCOPY app/ /app/\nRUN sleep 15 && echo built > /app/built.txt\n"

// crashStaleAfter is --stale-after in these tests (its minimum).
const crashStaleAfter = 20 * time.Second

// TestCrashRecovery: a reprover serve process is killed with SIGKILL in the
// middle of a real rebuild. The process started again (SQLite) or another
// one sharing the database (PostgreSQL) runs the verification again once
// the dead worker has been silent for --stale-after; it finishes once,
// with the right verdict, and the crashed attempt never reports a result.
func TestCrashRecovery(t *testing.T) {
	addr := fixtures.Buildkit(t, fixtures.StartDaemon)
	reg := fixtures.NewRegistry(t)
	rel := fixtures.PublishRelease(t, reg, addr, "crash/app", map[string]string{"Dockerfile": slowDockerfile, "app/hello.txt": "hello\n"})
	body := map[string]any{"source": rel.Dir, "commit": rel.Commit, "image": rel.Published}

	for _, tc := range []struct {
		name     string
		postgres bool
	}{{"sqlite restarted", false}, {"postgres second process", true}} {
		t.Run(tc.name, func(t *testing.T) {
			o := serveOpts{dataDir: t.TempDir(), buildkit: addr, workers: 1, staleAfter: crashStaleAfter}
			if tc.postgres {
				o.database = fixtures.Postgres(t)
			}
			first := startServe(t, "first", o)
			id := submitAndWaitMidBuild(t, first, body)
			var second *serveProc
			if tc.postgres {
				// Started while the first runs the job, so that the job
				// is the first's.
				o2 := o
				o2.dataDir = t.TempDir()
				second = startServe(t, "second", o2)
			}
			first.kill(t)
			killed := time.Now()
			if !tc.postgres {
				second = startServe(t, "restarted", o) // the same data dir and database
			}
			got, rerun := watchRerun(t, second, id, killed)
			t.Logf("run again %v after the kill, finished %v after it", rerun.Round(100*time.Millisecond), time.Since(killed).Round(100*time.Millisecond))
			checkOnce(t, got, rerun, first, second)
			if tc.postgres {
				checkRiverJobs(t, o.database, id)
			}
		})
	}

	// SIGSTOP, not SIGKILL: the worker is not dead but silent (a paused VM,
	// a long GC or swap storm). Another process runs the verification
	// again; when the paused one wakes up and finishes its own rebuild, its
	// result for the superseded generation is refused.
	t.Run("postgres paused worker wakes up", func(t *testing.T) {
		dsn := fixtures.Postgres(t)
		o := serveOpts{database: dsn, dataDir: t.TempDir(), buildkit: addr, workers: 1, staleAfter: crashStaleAfter}
		first := startServe(t, "paused", o)
		id := submitAndWaitMidBuild(t, first, body)
		o.dataDir = t.TempDir()
		second := startServe(t, "second", o)
		if err := first.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		paused := time.Now()
		resumed := false
		resume := func() {
			if !resumed {
				resumed = true
				_ = first.cmd.Process.Signal(syscall.SIGCONT)
			}
		}
		t.Cleanup(resume) // before stop's SIGTERM (cleanups run last first)
		got, rerun := watchRerun(t, second, id, paused)
		t.Logf("run again %v after the pause, finished %v after it", rerun.Round(100*time.Millisecond), time.Since(paused).Round(100*time.Millisecond))
		checkOnce(t, got, rerun, first, second)

		// Wake the paused process; wait for its generation's River job to
		// end (its rebuild finishes, its result is refused).
		resume()
		conn, err := pgx.Connect(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(t.Context())
		var state string
		fixtures.WaitFor(t, 2*time.Minute, "the woken worker's River job to end", func() (bool, string, error) {
			err := conn.QueryRow(t.Context(), `SELECT state FROM river_job WHERE kind = 'reprover_verify' AND args->>'id' = $1 AND (args->>'generation')::int = 0`, id).Scan(&state)
			return state != "running", "state " + state, err
		})
		t.Logf("the woken worker's job ended %v after the pause", time.Since(paused).Round(100*time.Millisecond))
		if state != "completed" {
			t.Errorf("the woken worker's job is %s, want completed (its result refused, not retried)", state)
		}
		if n := first.logLines("msg=verifying"); n != 1 {
			t.Errorf("the paused process started %d runs, want 1", n)
		}
		_, after, _ := second.api().do(t, "GET", "/api/v1/verifications/"+id, "", nil)
		for _, k := range []string{"status", "verdict", "attempts", "updatedAt", "finishedAt", "error"} {
			if after[k] != got[k] {
				t.Errorf("after the paused worker woke up, %s is %v, was %v", k, after[k], got[k])
			}
		}
		if n := metric(t, first.url, "reprover_jobs_finished_total"); n != 0 {
			t.Errorf("the woken worker counted %v finished verifications, want 0", n)
		}
	})
}

// submitAndWaitMidBuild submits body to p and returns once p's worker is
// inside the rebuild: it claimed the job and has since sent a heartbeat
// (heartbeats come every 5 s; the RUN sleeps 15 s).
func submitAndWaitMidBuild(t *testing.T, p *serveProc, body map[string]any) string {
	t.Helper()
	code, m, raw := p.api().do(t, "POST", "/api/v1/verifications", token, body)
	if code != 202 {
		t.Fatalf("submit: %d %s", code, raw)
	}
	id := m["id"].(string)
	cfg := service.Config{Database: p.opts.database, DataDir: p.opts.dataDir}
	cfg.Defaults()
	st, err := service.OpenStore(t.Context(), cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fixtures.WaitFor(t, 60*time.Second, "a heartbeat of the running worker", func() (bool, string, error) {
		v, err := st.Get(t.Context(), id)
		if err != nil {
			return false, "", err
		}
		if v.Status != service.StatusQueued && v.Status != service.StatusRunning {
			return false, "", fmt.Errorf("finished before the test could stop it: %s", v.Status)
		}
		if v.Status == service.StatusRunning && v.HeartbeatAt.After(v.UpdatedAt) && v.Attempts != 1 {
			return false, "", fmt.Errorf("mid-build after %d attempts, want 1", v.Attempts)
		}
		return v.Status == service.StatusRunning && v.HeartbeatAt.After(v.UpdatedAt), fmt.Sprintf("%+v", v), nil
	})
	return id
}

// watchRerun polls id on p until it is finished, failing if it finishes
// before being run again (the lost worker's attempt must not report), and
// returns the final state and when the second attempt began after since.
func watchRerun(t *testing.T, p *serveProc, id string, since time.Time) (map[string]any, time.Duration) {
	t.Helper()
	var rerun time.Duration
	var m map[string]any
	fixtures.WaitFor(t, time.Until(since.Add(3*time.Minute)), "the verification to finish after the worker was lost", func() (bool, string, error) {
		_, m, _ = p.api().do(t, "GET", "/api/v1/verifications/"+id, "", nil)
		attempts, _ := m["attempts"].(float64)
		finished := m["status"] == service.StatusDone || m["status"] == service.StatusFailed
		if attempts < 2 && finished {
			return false, "", fmt.Errorf("finished by the lost worker's attempt: %v", m)
		}
		if attempts >= 2 && rerun == 0 {
			rerun = time.Since(since)
		}
		return finished, fmt.Sprintf("%v after %v attempts", m["status"], m["attempts"]), nil
	})
	return m, rerun
}

// checkOnce: the verification was run again within the staleness window,
// finished once by the second process with the right verdict.
func checkOnce(t *testing.T, got map[string]any, rerun time.Duration, lost, second *serveProc) {
	t.Helper()
	if got["status"] != service.StatusDone || got["verdict"] != string(verify.Reproducible) || got["attempts"] != 2.0 || got["error"] != nil {
		t.Errorf("ended %v %v after %v attempts (error %v), want done %s after 2", got["status"], got["verdict"], got["attempts"], got["error"], string(verify.Reproducible))
	}
	// Stale once the last heartbeat (every 5 s) is older than staleAfter;
	// the reaper looks every staleAfter/3.
	if lo, hi := crashStaleAfter-6*time.Second, crashStaleAfter+crashStaleAfter/3+15*time.Second; rerun < lo || rerun > hi {
		t.Errorf("run again %v after the worker was lost, want between %v and %v", rerun, lo, hi)
	}
	if n := lost.logLines("msg=verifying"); n != 1 {
		t.Errorf("%s started %d runs, want 1", lost.name, n)
	}
	if n := second.logLines("msg=verifying"); n != 1 {
		t.Errorf("%s started %d runs, want 1", second.name, n)
	}
	if n := second.logLines("worker lost"); n != 1 {
		t.Errorf("%s logged %d lost workers, want 1", second.name, n)
	}
	if n := metric(t, second.url, "reprover_jobs_finished_total"); n != 1 {
		t.Errorf("%s counted %v finished verifications, want 1", second.name, n)
	}
}

// checkRiverJobs: two River jobs for the verification, one per generation:
// the lost worker's still "running" (River rescues it only after the job
// timeout, and it will then find its generation superseded), the second
// completed at its first attempt.
func checkRiverJobs(t *testing.T, dsn, id string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	want := map[int]string{0: "running", 1: "completed"}
	var got map[int]string
	var attempts map[int]int
	// River marks jobs completed in batches, a moment after the result.
	fixtures.WaitFor(t, 15*time.Second, "the second generation's River job to complete", func() (bool, string, error) {
		rows, err := conn.Query(t.Context(), `SELECT (args->>'generation')::int, state, attempt FROM river_job WHERE kind = 'reprover_verify' AND args->>'id' = $1`, id)
		if err != nil {
			return false, "", err
		}
		defer rows.Close()
		got, attempts = map[int]string{}, map[int]int{}
		for rows.Next() {
			var gen, attempt int
			var state string
			if err := rows.Scan(&gen, &state, &attempt); err != nil {
				return false, "", err
			}
			got[gen], attempts[gen] = state, attempt
		}
		return len(got) == 2 && got[1] == "completed", fmt.Sprintf("jobs by generation %v", got), rows.Err()
	})
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] || attempts[0] != 1 || attempts[1] != 1 {
		t.Errorf("River jobs by generation: %v at attempts %v, want %v at attempt 1", got, attempts, want)
	}
}

// TestRestartMidJob: reprover serve stopped with SIGTERM (a restart, a
// rolling deploy) in the middle of a real rebuild. The interrupted
// verification is not a failure: it runs again when the process is back
// and ends with the right verdict.
func TestRestartMidJob(t *testing.T) {
	addr := fixtures.Buildkit(t, fixtures.StartDaemon)
	reg := fixtures.NewRegistry(t)
	rel := fixtures.PublishRelease(t, reg, addr, "restart/app", map[string]string{"Dockerfile": slowDockerfile, "app/hello.txt": "hello\n"})
	o := serveOpts{dataDir: t.TempDir(), buildkit: addr, workers: 1, staleAfter: crashStaleAfter}
	first := startServe(t, "first", o)
	id := submitAndWaitMidBuild(t, first, map[string]any{"source": rel.Dir, "commit": rel.Commit, "image": rel.Published})
	stopped := time.Now()
	first.stop(t)
	t.Logf("stopped in %v", time.Since(stopped).Round(100*time.Millisecond))
	if n, m := first.logLines("msg=verifying"), first.logLines("interrupted by shutdown"); n != 1 || m != 1 {
		t.Errorf("the first process started %d runs and logged %d interruptions, want 1 and 1", n, m)
	}
	second := startServe(t, "restarted", o)
	got, rerun := watchRerun(t, second, id, stopped)
	t.Logf("run again %v after the stop, finished %v after it", rerun.Round(100*time.Millisecond), time.Since(stopped).Round(100*time.Millisecond))
	if got["status"] != service.StatusDone || got["verdict"] != string(verify.Reproducible) || got["attempts"] != 2.0 {
		t.Errorf("ended %v %v after %v attempts (error %v), want done %s after 2", got["status"], got["verdict"], got["attempts"], got["error"], string(verify.Reproducible))
	}
	if n := metric(t, second.url, "reprover_jobs_finished_total"); n != 1 {
		t.Errorf("the restarted process counted %v finished verifications, want 1", n)
	}
}
