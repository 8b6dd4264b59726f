package service_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/service"
)

// Load: requests in all, and in flight at once.
const (
	loadRequests    = 1000
	loadConcurrency = 50
)

// BenchmarkAPILoad: a real reprover serve process on SQLite holding
// finished verifications answers 1,000 requests, 50 at a time, from this
// process: re-submissions of the same requests (idempotent: 200, no new
// job), GETs of one verification with its report, and list pages. It
// reports throughput and latency, and fails unless every response is 200
// and the queue stays empty (no job created, no run started).
func BenchmarkAPILoad(b *testing.B) {
	addr := fixtures.Buildkit(b, fixtures.StartDaemon)
	reg := fixtures.NewRegistry(b)
	rel := fixtures.PublishRelease(b, reg, addr, "load/app", map[string]string{"Dockerfile": copyDockerfile, "app/hello.txt": "hello\n"})
	dataDir := b.TempDir()
	p := startServe(b, "load", serveOpts{dataDir: dataDir, buildkit: addr})

	// Finished verifications (cached verdicts): the release and its
	// tampered copy, each with 4 values of an unused build argument.
	var bodies []map[string]any
	for i := range 8 {
		image := rel.Published
		if i%2 == 1 {
			image = rel.Tampered
		}
		bodies = append(bodies, map[string]any{"source": rel.Dir, "commit": rel.Commit, "image": image, "buildArgs": map[string]string{"N": fmt.Sprint(i / 2)}})
	}
	ids := make([]string, len(bodies))
	for i, body := range bodies {
		code, m, err := post(p.url, body)
		if err != nil || code != 202 {
			b.Fatalf("submitting %d: %d %v %v", i, code, m, err)
		}
		ids[i] = m["id"].(string)
	}
	for _, id := range ids {
		fixtures.WaitFor(b, 3*time.Minute, "verification "+id+" to finish", func() (bool, string, error) {
			code, m, err := getJSON(http.DefaultClient, p.url+"/api/v1/verifications/"+id)
			if err != nil || code != 200 {
				return false, "", fmt.Errorf("GET %s: %d %v", id, code, err)
			}
			if m["status"] == service.StatusFailed {
				return false, "", fmt.Errorf("verification %s failed: %v", id, m["error"])
			}
			return m["status"] == service.StatusDone, fmt.Sprintf("status %v", m["status"]), nil
		})
	}
	jobs := riverJobs(b, filepath.Join(dataDir, "reprover.db"))
	submitted := metric(b, p.url, "reprover_verifications_submitted_total")
	runs := p.logLines("msg=verifying")

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: loadConcurrency}, Timeout: 30 * time.Second}
	listURL := p.url + "/api/v1/verifications?commit=" + url.QueryEscape(rel.Commit) + "&limit=20"
	for b.Loop() {
		// The queue depth, sampled while the load runs.
		var maxDepth, sampleErrs atomic.Int64
		stop := make(chan struct{})
		var sampler sync.WaitGroup
		sampler.Go(func() {
			for {
				d, err := metricValue(client, p.url, "reprover_queue_depth")
				if err != nil {
					sampleErrs.Add(1)
				} else if int64(d) > maxDepth.Load() {
					maxDepth.Store(int64(d))
				}
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
		})

		latencies := make([]time.Duration, loadRequests)
		var non200 atomic.Int64
		start := time.Now()
		errs := parallel(loadConcurrency, loadRequests, func(i int) error {
			var code int
			var err error
			t0 := time.Now()
			switch k := i % len(bodies); {
			case i%10 < 5: // half: the same request again
				code, _, err = postWith(client, p.url, bodies[k])
			case i%10 < 9:
				code, _, err = getJSON(client, p.url+"/api/v1/verifications/"+ids[k])
			default:
				code, _, err = getJSON(client, listURL)
			}
			latencies[i] = time.Since(t0)
			if err != nil {
				return err
			}
			if code != 200 {
				non200.Add(1)
				return fmt.Errorf("request %d: status %d", i, code)
			}
			return nil
		})
		elapsed := time.Since(start)
		close(stop)
		sampler.Wait()

		slices.Sort(latencies)
		pct := func(q float64) time.Duration { return latencies[int(q*float64(len(latencies)-1))] }
		rps := float64(loadRequests) / elapsed.Seconds()
		b.ReportMetric(rps, "req/s")
		b.ReportMetric(float64(pct(0.50).Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-ms")
		b.Logf("%d requests, %d at a time, in %v: %.0f req/s; latency p50 %v, p99 %v, max %v; queue depth at most %d",
			loadRequests, loadConcurrency, elapsed.Round(time.Millisecond), rps, pct(0.50).Round(time.Microsecond),
			pct(0.99).Round(time.Microsecond), latencies[len(latencies)-1].Round(time.Microsecond), maxDepth.Load())
		if len(errs) > 0 {
			b.Errorf("%d of %d requests failed (%d not 200); first: %v", len(errs), loadRequests, non200.Load(), errs[0])
		}
		if d, e := maxDepth.Load(), sampleErrs.Load(); d != 0 || e != 0 {
			b.Errorf("queue depth reached %d under idempotent load (and %d reads of /metrics failed), want 0", d, e)
		}
	}
	if n := riverJobs(b, filepath.Join(dataDir, "reprover.db")); n != jobs {
		b.Errorf("River jobs %d after the load, %d before: re-submissions made jobs", n, jobs)
	}
	if n := metric(b, p.url, "reprover_verifications_submitted_total"); n != submitted {
		b.Errorf("reprover_verifications_submitted_total %v after the load, %v before", n, submitted)
	}
	if n := p.logLines("msg=verifying"); n != runs {
		b.Errorf("%d runs started during the load", n-runs)
	}
}

// riverJobs counts River's jobs in a serve process's SQLite database, read
// alongside it (WAL).
func riverJobs(tb testing.TB, path string) int {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(tb.Context(), "SELECT count(*) FROM river_job").Scan(&n); err != nil {
		tb.Fatalf("counting River's jobs: %v", err)
	}
	return n
}

// getJSON GETs u and decodes a JSON object; safe outside the test
// goroutine.
func getJSON(c *http.Client, u string) (int, map[string]any, error) {
	resp, err := c.Get(u)
	if err != nil {
		return 0, nil, err
	}
	return decodeResponse(resp)
}

// postWith is post with a client of the caller's.
func postWith(c *http.Client, baseURL string, body any) (int, map[string]any, error) {
	j, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequest("POST", baseURL+"/api/v1/verifications", bytes.NewReader(j))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	return decodeResponse(resp)
}

func decodeResponse(resp *http.Response) (int, map[string]any, error) {
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%w: %.200s", err, raw)
	}
	return resp.StatusCode, m, nil
}
