package service_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/service"
	"github.com/reprover/reprover/verify"
)

// copyDockerfile is a release without RUN: the cheapest real rebuild.
const copyDockerfile = "FROM BASE\nCOPY app/ /app/\n"

// TestPostgresAPI: the API's semantics on PostgreSQL with the real
// pipeline: submission, idempotency (also through a second service on the
// same database), verdicts, the list filters and cursor, metrics.
func TestPostgresAPI(t *testing.T) {
	dsn := fixtures.Postgres(t)
	runner, _, addr := pipeline(t)
	reg := fixtures.NewRegistry(t)
	rel := fixtures.PublishRelease(t, reg, addr, "pg/app", map[string]string{"Dockerfile": copyDockerfile, "app/hello.txt": "hello\n"})
	s := newServer(t, runner, func(c *service.Config) { c.Database = dsn })

	req := func(image string) map[string]any {
		return map[string]any{"source": rel.Dir, "commit": rel.Commit, "image": image}
	}
	ids := map[string]string{}
	for _, tc := range []struct{ image, verdict string }{{rel.Published, string(verify.Reproducible)}, {rel.Tampered, string(verify.Mismatch)}} {
		code, m, raw := s.do(t, "POST", "/api/v1/verifications", token, req(tc.image))
		if code != 202 {
			t.Fatalf("submit: %d %s", code, raw)
		}
		id := m["id"].(string)
		if code, m, _ := s.do(t, "POST", "/api/v1/verifications", token, req(tc.image)); code != 200 || m["id"] != id {
			t.Errorf("the same request again: %d %v, want 200 %s", code, m["id"], id)
		}
		got := s.wait(t, id, 2*time.Minute)
		if got["status"] != service.StatusDone || got["verdict"] != tc.verdict || got["attempts"] != 1.0 {
			t.Errorf("%s: %v %v after %v attempts (%v), want done %s after 1", tc.image, got["status"], got["verdict"], got["attempts"], got["error"], tc.verdict)
		}
		ids[tc.verdict] = id
	}
	if code, m, _ := s.do(t, "POST", "/api/v1/verifications", token, map[string]any{"source": rel.Dir, "commit": "abc", "image": rel.Published}); code != 400 || m["field"] != "commit" {
		t.Errorf("short commit: %d %v", code, m)
	}
	if code, _, _ := s.do(t, "GET", "/api/v1/verifications/vnope", "", nil); code != 404 {
		t.Errorf("unknown id: %d, want 404", code)
	}
	_, m, _ := s.do(t, "GET", "/api/v1/verifications?verdict=mismatch", "", nil)
	if items, _ := m["items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != ids[string(verify.Mismatch)] {
		t.Errorf("list verdict=mismatch: %v", m)
	}
	// Two pages of one, through the cursor (PostgreSQL placeholders).
	_, m, _ = s.do(t, "GET", "/api/v1/verifications?commit="+rel.Commit+"&limit=1", "", nil)
	next, _ := m["next"].(string)
	items, _ := m["items"].([]any)
	if len(items) != 1 || next == "" {
		t.Fatalf("first page: %v", m)
	}
	_, m2, _ := s.do(t, "GET", "/api/v1/verifications?commit="+rel.Commit+"&limit=1&cursor="+next, "", nil)
	items2, _ := m2["items"].([]any)
	if len(items2) != 1 || items2[0].(map[string]any)["id"] == items[0].(map[string]any)["id"] || m2["next"] != nil {
		t.Errorf("second page: %v", m2)
	}
	if n := metric(t, s.url, "reprover_jobs_finished_total"); n != 2 {
		t.Errorf("reprover_jobs_finished_total %v, want 2", n)
	}
	if n := metric(t, s.url, `reprover_verifications{status="done"}`); n != 2 {
		t.Errorf(`reprover_verifications{status="done"} %v, want 2`, n)
	}

	// A second service on the same database (migrations run again, under
	// the lock) sees the verdicts and does not run them again.
	s2 := newServer(t, runner, func(c *service.Config) { c.Database = dsn })
	for verdict, id := range ids {
		code, m, _ := s2.do(t, "GET", "/api/v1/verifications/"+id, "", nil)
		if code != 200 || m["verdict"] != verdict {
			t.Errorf("second service, GET %s: %d %v", id, code, m["verdict"])
		}
	}
	if code, m, _ := s2.do(t, "POST", "/api/v1/verifications", token, req(rel.Published)); code != 200 || m["id"] != ids[string(verify.Reproducible)] {
		t.Errorf("resubmitted to the second service: %d %v", code, m["id"])
	}
	if n := metric(t, s2.url, "reprover_verifications_submitted_total"); n != 0 {
		t.Errorf("the second service counted %v new submissions, want 0", n)
	}
}

// TestScaleOutPostgres: two reprover serve processes share one PostgreSQL
// database. 40 real verifications, each submitted through both processes'
// APIs at once, are each stored once and run exactly once (attempts 1, one River job, one run in the
// logs, 40 finished in the metrics of both together), with the right
// verdict; both processes take work.
func TestScaleOutPostgres(t *testing.T) {
	dsn := fixtures.Postgres(t)
	addr := fixtures.Buildkit(t, fixtures.StartDaemon)
	reg := fixtures.NewRegistry(t)
	rel := fixtures.PublishRelease(t, reg, addr, "scale/app", map[string]string{"Dockerfile": copyDockerfile, "app/hello.txt": "hello\n"})
	// Started together on the new database: their migrations race.
	procs := startServes(t, serveSpec{"serve-a", serveOpts{database: dsn, dataDir: t.TempDir(), buildkit: addr}},
		serveSpec{"serve-b", serveOpts{database: dsn, dataDir: t.TempDir(), buildkit: addr}})

	// 40 distinct requests: an unused build argument makes each its own
	// verification (and a real rebuild) without changing the image; half
	// are of the tampered copy.
	const n = 40
	type sub struct {
		body    map[string]any
		verdict string
		id      string
	}
	subs := make([]sub, n)
	for i := range subs {
		image, verdict := rel.Published, string(verify.Reproducible)
		if i%2 == 1 {
			image, verdict = rel.Tampered, string(verify.Mismatch)
		}
		subs[i] = sub{body: map[string]any{"source": rel.Dir, "commit": rel.Commit, "image": image, "buildArgs": map[string]string{"N": fmt.Sprint(i)}}, verdict: verdict}
	}
	start := time.Now()
	errs := parallel(8, n, func(i int) error {
		// The same request through both processes at once: one stores
		// it (202), the other answers with the same job (200).
		codes, got := make([]int, 2), make([]string, 2)
		errs := parallel(2, 2, func(k int) error {
			code, m, err := post(procs[(i+k)%2].url, subs[i].body)
			if err != nil {
				return err
			}
			codes[k], got[k] = code, fmt.Sprint(m["id"])
			return nil
		})
		if len(errs) > 0 {
			return fmt.Errorf("submission %d: %v", i, errs)
		}
		if codes[0]+codes[1] != 202+200 || got[0] != got[1] {
			return fmt.Errorf("submission %d through both processes at once: %v with ids %v, want 202 and 200 with one id", i, codes, got)
		}
		subs[i].id = got[0]
		return nil
	})
	for _, err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}

	deadline := time.Now().Add(6 * time.Minute)
	for i := range subs {
		got := procs[i%2].api().wait(t, subs[i].id, time.Until(deadline))
		if got["status"] != service.StatusDone || got["verdict"] != subs[i].verdict || got["attempts"] != 1.0 {
			t.Errorf("verification %d: %v %v after %v attempts (%v), want done %s after 1", i, got["status"], got["verdict"], got["attempts"], got["error"], subs[i].verdict)
		}
		// Each is a rebuild of its own, with its build argument.
		var rep struct {
			Build   struct{ BuildArgs map[string]string }
			Rebuilt struct{ Digest string }
		}
		b, _ := json.Marshal(got["report"])
		if err := json.Unmarshal(b, &rep); err != nil || rep.Build.BuildArgs["N"] != fmt.Sprint(i) || rep.Rebuilt.Digest == "" {
			t.Errorf("verification %d: report without its rebuild: %s", i, b)
		}
	}
	t.Logf("40 verifications finished %v after the first submission", time.Since(start).Round(time.Second))

	total, runs := 0.0, 0
	for _, p := range procs {
		finished := metric(t, p.url, "reprover_jobs_finished_total")
		ran := p.logLines("msg=verifying")
		t.Logf("%s: %v finished, %d runs started", p.name, finished, ran)
		if finished == 0 {
			t.Errorf("%s finished no verification: the processes do not share the queue", p.name)
		}
		total += finished
		runs += ran
	}
	if total != n || runs != n {
		t.Errorf("%v verifications finished and %d runs started in all, want %d and %d", total, runs, n, n)
	}
	if q := metric(t, procs[0].url, "reprover_queue_depth"); q != 0 {
		t.Errorf("queue depth %v after all finished", q)
	}

	// River's own record: one job per verification, completed at its first
	// attempt. River marks jobs completed in batches, a moment after the
	// verification's result is stored.
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var jobs, completed, maxAttempt int
	fixtures.WaitFor(t, 15*time.Second, "River to mark every job completed", func() (bool, string, error) {
		err := conn.QueryRow(t.Context(), `SELECT count(*), count(*) FILTER (WHERE state = 'completed'), coalesce(max(attempt), 0)
			FROM river_job WHERE kind = 'reprover_verify'`).Scan(&jobs, &completed, &maxAttempt)
		return completed == n, fmt.Sprintf("%d of %d jobs completed", completed, jobs), err
	})
	if jobs != n || completed != n || maxAttempt != 1 {
		t.Errorf("river_job: %d jobs, %d completed, max attempt %d; want %d, %d, 1", jobs, completed, maxAttempt, n, n)
	}
}

// parallel runs f(0..n-1), width at a time, and returns the errors.
func parallel(width, n int, f func(i int) error) []error {
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	sem := make(chan struct{}, width)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f(i); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errs
}

// post submits body with the token; safe outside the test goroutine.
func post(baseURL string, body any) (int, map[string]any, error) {
	return postWith(http.DefaultClient, baseURL, body)
}

// TestQueueLimitConcurrent: limits.queuedPerToken holds when one token's
// submissions arrive at once, on both databases. On PostgreSQL, under
// READ COMMITTED, each transaction once inserted and then counted without
// seeing the others' uncommitted rows: 200 submissions at once under a
// limit of 5 stored 6 or 8 (red team). The race is at each token's limit,
// and one wave of eight tokens meets it about every other run: six waves
// of eight tokens, 50 submissions each, all but surely meet it where it
// exists.
func TestQueueLimitConcurrent(t *testing.T) {
	const limit, waves, perWave, each = 5, 6, 8, 50
	tokens := make([]string, waves*perWave)
	for k := range tokens {
		tokens[k] = fmt.Sprintf("concurrent-token-%d", k)
	}
	for _, tc := range []struct {
		name     string
		database func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "" }},
		{"postgres", func(t *testing.T) string { return fixtures.Postgres(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := tc.database(t)
			s := newServer(t, blockingRunner(t), func(c *service.Config) {
				if dsn != "" {
					c.Database = dsn
				}
				c.Auth.Tokens = tokens
				c.Limits.QueuedPerToken = limit
			})
			for w := range waves {
				wave := tokens[w*perWave : (w+1)*perWave]
				accepted := make([]int, perWave)
				var mu sync.Mutex
				errs := parallel(perWave*each, perWave*each, func(i int) error {
					body := validRequest()
					body["buildArgs"] = map[string]string{"N": fmt.Sprint(w*perWave*each + i)}
					code, m, err := postAs(s.url, wave[i%perWave], body)
					if err != nil {
						return err
					}
					switch code {
					case 202:
						mu.Lock()
						accepted[i%perWave]++
						mu.Unlock()
					case 429:
					default:
						return fmt.Errorf("submission %d: %d %v, want 202 or 429", i, code, m)
					}
					return nil
				})
				for _, err := range errs {
					t.Error(err)
				}
				for k, n := range accepted {
					if n != limit {
						t.Errorf("%s: %d of %d submissions at once accepted, want the limit, %d", wave[k], n, each, limit)
					}
				}
			}
			stored := metric(t, s.url, `reprover_verifications{status="queued"}`) + metric(t, s.url, `reprover_verifications{status="running"}`)
			if stored != float64(limit*len(tokens)) {
				t.Errorf("%v verifications stored, want %d", stored, limit*len(tokens))
			}
		})
	}
}

// postAs submits body with tok; safe outside the test goroutine.
func postAs(baseURL, tok string, body any) (int, map[string]any, error) {
	j, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequest("POST", baseURL+"/api/v1/verifications", bytes.NewReader(j))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	return decodeResponse(resp)
}
