package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/service"
	"github.com/reprover/reprover/verify"
)

func TestMain(m *testing.M) {
	logrus.SetLevel(logrus.ErrorLevel)
	code := m.Run()
	fixtures.StopBuildkit()
	os.Exit(code)
}

const token = "s3cret-token"

// server is a service on a real SQLite file (or the database given) behind
// a real HTTP server.
type server struct {
	svc *service.Service
	url string
	cfg *service.Config
}

func newServer(t *testing.T, runner service.Runner, edit func(*service.Config)) *server {
	t.Helper()
	return newServerClock(t, runner, edit, nil)
}

// newServerClock is newServer with the service's clock set (nil: the real
// one).
func newServerClock(t *testing.T, runner service.Runner, edit func(*service.Config), clock func() time.Time) *server {
	t.Helper()
	return newServerSetup(t, runner, edit, func(svc *service.Service) {
		if clock != nil {
			svc.SetClock(clock)
		}
	})
}

// newServerSetup is newServer with setup applied to the service before it
// starts (a clock, shorter timings).
func newServerSetup(t *testing.T, runner service.Runner, edit func(*service.Config), setup func(*service.Service)) *server {
	t.Helper()
	cfg := &service.Config{DataDir: t.TempDir(), Workers: 2, PublicReads: true, StaleAfter: 20 * time.Second}
	cfg.Auth.Tokens = []string{token}
	cfg.Sources.Allow = []string{"/", "https://"}
	cfg.Images.Allow = []string{"127.0.0.1:"}
	if edit != nil {
		edit(cfg)
	}
	svc, err := service.New(t.Context(), cfg, runner, nil)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(svc)
	}
	if err := svc.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(svc.Handler())
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		svc.Stop(ctx)
	})
	return &server{svc: svc, url: hs.URL, cfg: cfg}
}

func (s *server) do(t *testing.T, method, path, tok string, body any) (int, map[string]any, []byte) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		r = bytes.NewReader(j)
	}
	req, _ := http.NewRequestWithContext(t.Context(), method, s.url+path, r)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m, raw
}

// steppingClock is the real time, but never the same millisecond twice
// (the store's resolution): events it stamps are in a strict order.
func steppingClock() func() time.Time {
	var mu sync.Mutex
	var last time.Time
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now().Truncate(time.Millisecond)
		if !now.After(last) {
			now = last.Add(time.Millisecond)
		}
		last = now
		return now
	}
}

// wait polls a verification until it is done or failed.
func (s *server) wait(t *testing.T, id string, within time.Duration) map[string]any {
	t.Helper()
	var m map[string]any
	fixtures.WaitFor(t, within, "verification "+id+" to finish", func() (bool, string, error) {
		_, m, _ = s.do(t, "GET", "/api/v1/verifications/"+id, "", nil)
		st := m["status"]
		return st == service.StatusDone || st == service.StatusFailed, fmt.Sprintf("status %v", st), nil
	})
	return m
}

// funcRunner is a Runner made of a function. Used only where the real
// pipeline cannot produce the fault under test (a panic, a hang, a count
// of runs), and says so at each use.
type funcRunner func(ctx context.Context, r service.Request) (*verify.Report, []byte, error)

func (f funcRunner) Run(ctx context.Context, r service.Request) (*verify.Report, []byte, error) {
	return f(ctx, r)
}

func validRequest() map[string]any {
	return map[string]any{"source": "/srv/src/app", "commit": strings.Repeat("a", 40), "image": "registry.example/app@sha256:" + strings.Repeat("b", 64)}
}

// countingRunner records runs per commit and never builds: the rules under
// test are the API's, before any pipeline (fault injection: the real
// pipeline cannot count its runs).
type countingRunner struct {
	mu   sync.Mutex
	runs map[string]int
}

func (c *countingRunner) Run(ctx context.Context, r service.Request) (*verify.Report, []byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.runs == nil {
		c.runs = map[string]int{}
	}
	c.runs[r.Commit]++
	return &verify.Report{SchemaVersion: 1, Verdict: verify.Reproducible, Hints: []string{}}, nil, nil
}

func (c *countingRunner) count(commit string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runs[commit]
}

// TestSubmissionRules: auth, validation naming the field, idempotency,
// body limits, unknown ids. No build runs. Each subtest sets up what it
// needs: any one of them runs alone.
func TestSubmissionRules(t *testing.T) {
	with := func(k string, v any) map[string]any {
		m := validRequest()
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	refused := []struct {
		name      string
		tok       string
		body      any
		wantCode  int
		wantField string
	}{
		{"no token", "", validRequest(), 401, ""},
		{"wrong token", "nope-nope-nope", validRequest(), 401, ""},
		{"missing image", token, with("image", nil), 400, "image"},
		{"short commit", token, with("commit", "abc123"), 400, "commit"},
		{"source outside the allowed prefixes", token, with("source", "git://evil.example/x"), 400, "source"},
		{"local path climbing out", token, with("source", "srv/../../etc"), 400, "source"},
		{"git URL on the metadata host", token, with("source", "https://169.254.169.254/latest/meta-data.git"), 400, "source"},
		{"git URL on an internal host", token, with("source", "https://git.corp.internal/app.git"), 400, "source"},
		{"file URL", token, with("source", "file:///etc"), 400, "source"},
		{"git URL on 127.1", token, with("source", "https://127.1/app.git"), 400, "source"},
		{"git URL on a decimal address", token, with("source", "https://2130706433/app.git"), 400, "source"},
		{"git URL on a hex address", token, with("source", "https://0x7f000001/app.git"), 400, "source"},
		{"git URL on localhost.", token, with("source", "https://localhost./app.git"), 400, "source"},
		{"image on 127.1", token, with("image", "127.1:5000/app@sha256:"+strings.Repeat("b", 64)), 400, "image"},
		{"metadata host image", token, with("image", "169.254.169.254/latest@sha256:"+strings.Repeat("b", 64)), 400, "image"},
		{"private host image", token, with("image", "10.0.0.7:5000/app:1"), 400, "image"},
		{"layout image", token, with("image", "oci:/etc"), 400, "image"},
		{"malformed digest", token, with("image", "registry.example/app@sha256:ZZ"), 400, "image"},
		{"dockerfile escaping", token, with("dockerfile", "../../etc/passwd"), 400, "dockerfile"},
		{"bad target", token, with("target", "a b"), 400, "target"},
		{"bad build arg", token, with("buildArgs", map[string]string{"1BAD": "x"}), 400, "buildArgs"},
		{"bad platform", token, with("platforms", []string{"linux/not-an-arch/x/y"}), 400, "platforms"},
		{"wrong type", token, with("platforms", "linux/amd64"), 400, "platforms"},
		{"unknown network", token, with("network", "host"), 400, "network"},
		{"proxy on a server that does not allow it", token, with("network", "proxy"), 400, "network"},
		{"unknown field", token, with("sauce", "x"), 400, "sauce"},
		{"not JSON", token, "{", 400, ""},
		{"huge body", token, `{"source":"` + strings.Repeat("x", 300<<10) + `"}`, 413, ""},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			runner := &countingRunner{}
			s := newServer(t, runner, nil)
			code, m, raw := s.do(t, "POST", "/api/v1/verifications", tc.tok, tc.body)
			if code != tc.wantCode {
				t.Fatalf("status %d, want %d: %s", code, tc.wantCode, raw)
			}
			if tc.wantField != "" && m["field"] != tc.wantField {
				t.Errorf("error names field %v, want %s: %s", m["field"], tc.wantField, raw)
			}
			if _, m, _ := s.do(t, "GET", "/api/v1/verifications", "", nil); len(m["items"].([]any)) != 0 {
				t.Errorf("a refused request was stored: %v", m)
			}
		})
	}
	t.Run("only the image", func(t *testing.T) {
		runner := &countingRunner{}
		s := newServer(t, runner, nil)
		code, m, raw := s.do(t, "POST", "/api/v1/verifications", token, map[string]any{"image": validRequest()["image"]})
		if code != 202 {
			t.Fatalf("an image alone: %d, want 202 (the pipeline reads the rest from its provenance or labels): %s", code, raw)
		}
		s.wait(t, m["id"].(string), 20*time.Second)
	})
	t.Run("same request again", func(t *testing.T) {
		runner := &countingRunner{}
		s := newServer(t, runner, nil)
		code, first, raw := s.do(t, "POST", "/api/v1/verifications", token, validRequest())
		if code != 202 {
			t.Fatalf("first submission: %d, want 202: %s", code, raw)
		}
		code, again, raw := s.do(t, "POST", "/api/v1/verifications", token, validRequest())
		if code != 200 || again["id"] != first["id"] {
			t.Fatalf("the same request again: %d id %v, want 200 and id %v: %s", code, again["id"], first["id"], raw)
		}
		s.wait(t, first["id"].(string), 20*time.Second)
		if n := runner.count(validRequest()["commit"].(string)); n != 1 {
			t.Errorf("the request ran %d times, want once", n)
		}
	})
	t.Run("reads", func(t *testing.T) {
		s := newServer(t, &countingRunner{}, nil)
		_, m, _ := s.do(t, "POST", "/api/v1/verifications", token, validRequest())
		id := m["id"].(string)
		s.wait(t, id, 20*time.Second)
		if code, _, _ := s.do(t, "GET", "/api/v1/verifications/vnope", "", nil); code != 404 {
			t.Errorf("unknown id: %d, want 404", code)
		}
		if code, _, _ := s.do(t, "GET", "/api/v1/verifications/"+id+"/attestation", "", nil); code != 404 {
			t.Errorf("attestation of an unsigned verification: %d, want 404", code)
		}
		code, m, _ := s.do(t, "GET", "/api/v1/verifications?verdict=reproducible", "", nil)
		if items, _ := m["items"].([]any); code != 200 || len(items) != 1 {
			t.Errorf("list by verdict: %d %v", code, m)
		}
		if code, _, _ := s.do(t, "GET", "/api/v1/verifications?limit=0", "", nil); code != 400 {
			t.Errorf("limit=0: %d, want 400", code)
		}
		if code, _, _ := s.do(t, "GET", "/healthz", "", nil); code != 200 {
			t.Errorf("healthz: %d", code)
		}
		_, _, metrics := s.do(t, "GET", "/metrics", "", nil)
		for _, name := range []string{"reprover_jobs_finished_total", "reprover_queue_depth", "reprover_job_duration_seconds", "reprover_http_requests_total"} {
			if !bytes.Contains(metrics, []byte(name)) {
				t.Errorf("/metrics lacks %s", name)
			}
		}
	})
}

// TestPrivateReads: with publicReads false, reads need the token too.
func TestPrivateReads(t *testing.T) {
	s := newServer(t, funcRunner(func(ctx context.Context, r service.Request) (*verify.Report, []byte, error) {
		return nil, nil, errors.New("not run")
	}), func(c *service.Config) { c.PublicReads = false })
	for _, p := range []string{"/api/v1/verifications", "/api/v1/verifications/vx", "/", "/metrics"} {
		if code, _, _ := s.do(t, "GET", p, "", nil); code != 401 {
			t.Errorf("GET %s without a token: %d, want 401", p, code)
		}
	}
	if code, _, _ := s.do(t, "GET", "/api/v1/verifications", token, nil); code != 200 {
		t.Errorf("GET with the token: %d", code)
	}
}

// TestPoisonJob: a verification whose run panics fails once, recorded with
// the reason, and is not retried. Fault injection: the real pipeline has
// no way to panic on demand.
func TestPoisonJob(t *testing.T) {
	var runs atomic.Int64
	s := newServer(t, funcRunner(func(ctx context.Context, r service.Request) (*verify.Report, []byte, error) {
		runs.Add(1)
		panic("poison")
	}), nil)
	_, m, _ := s.do(t, "POST", "/api/v1/verifications", token, validRequest())
	got := s.wait(t, m["id"].(string), 20*time.Second)
	if got["status"] != service.StatusFailed || !strings.Contains(got["error"].(string), "panicked") {
		t.Errorf("a panicking job ended as %v", got)
	}
	// Once River holds no job that could still run, no retry can come.
	db := s.svc.Store().DB()
	fixtures.WaitFor(t, 20*time.Second, "River to hold no job that could run", func() (bool, string, error) {
		var pending int
		err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM river_job WHERE state NOT IN ('completed', 'discarded', 'cancelled')`).Scan(&pending)
		return pending == 0, fmt.Sprintf("%d pending", pending), err
	})
	if n := runs.Load(); n != 1 {
		t.Errorf("a panicking job ran %d times, want 1", n)
	}
}

// TestJobDeadline: a run that does not end is stopped at jobTimeout and the
// verification fails naming the deadline. Fault injection: a hang.
func TestJobDeadline(t *testing.T) {
	s := newServer(t, funcRunner(func(ctx context.Context, r service.Request) (*verify.Report, []byte, error) {
		<-ctx.Done()
		return nil, nil, ctx.Err()
	}), func(c *service.Config) { c.JobTimeout = 2 * time.Second })
	_, m, _ := s.do(t, "POST", "/api/v1/verifications", token, validRequest())
	got := s.wait(t, m["id"].(string), 30*time.Second)
	if got["status"] != service.StatusFailed || !strings.Contains(got["error"].(string), "deadline") {
		t.Errorf("a hanging job ended as %v", got)
	}
}

func decode(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// TestStoredButNotEnqueued: a verification left stored but without a job
// (its process died between the two writes) is enqueued by the reaper and
// runs once. The state is made with the store directly: no real crash can
// be timed between those two writes.
func TestStoredButNotEnqueued(t *testing.T) {
	var runs atomic.Int64
	s := newServer(t, funcRunner(func(ctx context.Context, r service.Request) (*verify.Report, []byte, error) {
		runs.Add(1)
		return &verify.Report{SchemaVersion: 1, Verdict: verify.Reproducible, Hints: []string{}}, nil, nil
	}), nil)
	var req service.Request
	b, _ := json.Marshal(validRequest())
	json.Unmarshal(b, &req)
	v, created, err := s.svc.Store().Create(t.Context(), req.ID(), req, time.Now())
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	got := s.wait(t, v.ID, 60*time.Second)
	if got["status"] != service.StatusDone || runs.Load() != 1 {
		t.Errorf("status %v after %d runs, want done after 1", got["status"], runs.Load())
	}
}

// TestTransientRetry: a buildkitd that does not answer is a transient
// fault: the job is retried with backoff, then fails naming the daemon. A
// real fault: nothing listens on that socket.
func TestTransientRetry(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "nobody.sock")
	runner := &service.PipelineRunner{Builders: verify.NewBuilders([]string{"unix://" + sock}, nil)}
	s := newServer(t, runner, func(c *service.Config) { c.MaxAttempts = 2 })
	_, m, raw := s.do(t, "POST", "/api/v1/verifications", token, validRequest())
	id, _ := m["id"].(string)
	if id == "" {
		t.Fatalf("submit: %s", raw)
	}
	got := s.wait(t, id, 60*time.Second)
	if got["status"] != service.StatusFailed || !strings.Contains(got["error"].(string), sock) {
		t.Errorf("ended as %v (%v), want failed naming %s", got["status"], got["error"], sock)
	}
	if n := got["attempts"].(float64); n != 2 {
		t.Errorf("ran %v times, want 2 (one retry)", n)
	}
	_, _, metrics := s.do(t, "GET", "/metrics", "", nil)
	if want := `reprover_buildkit_connections_total{daemon="unix://` + sock + `",outcome="failed"} 2`; !strings.Contains(string(metrics), want) {
		t.Errorf("/metrics lacks %s", want)
	}
}

// TestNetworkConfig: network.default must be a mode the server allows; a
// request that names no network is stored with the default it ran under.
func TestNetworkConfig(t *testing.T) {
	for _, c := range []struct {
		def   string
		proxy bool
		err   string
	}{
		{"", false, ""}, {"none", false, ""}, {"proxy", true, ""},
		{"proxy", false, "network.allowProxy"}, {"host", true, `network.default "host"`},
	} {
		cfg := &service.Config{DataDir: t.TempDir(), StaleAfter: time.Minute}
		cfg.Sources.Allow = []string{"/"}
		cfg.Network.Default, cfg.Network.AllowProxy = c.def, c.proxy
		cfg.Defaults()
		err := cfg.Validate()
		if (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("default %q allowProxy %v: %v, want %q", c.def, c.proxy, err, c.err)
		}
	}
	s := newServer(t, &countingRunner{}, func(c *service.Config) { c.Network.Default, c.Network.AllowProxy = "proxy", true })
	code, m, raw := s.do(t, "POST", "/api/v1/verifications", token, validRequest())
	if code != 202 {
		t.Fatalf("submit: %d %s", code, raw)
	}
	if req, _ := m["request"].(map[string]any); req == nil || req["network"] != "proxy" {
		_, m, _ = s.do(t, "GET", "/api/v1/verifications/"+m["id"].(string), "", nil)
		if req, _ := m["request"].(map[string]any); req["network"] != "proxy" {
			t.Errorf("stored request %v, want network proxy (the default it runs under)", m["request"])
		}
	}
}

// TestCompareConfig: the comparisons share a layer index under the data
// directory unless layerIndex.dir is off; decompressor must be one the
// comparison knows; diffoscope: true gives the pipeline Debian's
// diffoscope, and without it installed the service does not start,
// saying how to install it.
func TestCompareConfig(t *testing.T) {
	for _, c := range []struct {
		name, dir, decompressor string
		diffoscope, noPath      bool
		wantIndex               bool
		err                     string
	}{
		{name: "default", wantIndex: true},
		{name: "off", dir: "off"},
		{name: "igzip", decompressor: "igzip", wantIndex: true},
		{name: "unknown decompressor", decompressor: "zlib", err: `decompressor "zlib": want auto, go or igzip`},
		{name: "diffoscope", diffoscope: true, wantIndex: true},
		{name: "diffoscope not installed", diffoscope: true, noPath: true,
			err: "diffoscope: true in the configuration: --diffoscope: diffoscope is not installed (Debian: apt-get install diffoscope-minimal"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.noPath {
				t.Setenv("PATH", t.TempDir())
			}
			cfg := &service.Config{DataDir: t.TempDir(), StaleAfter: time.Minute, Decompressor: c.decompressor, Diffoscope: c.diffoscope}
			cfg.Sources.Allow = []string{"/"}
			cfg.LayerIndex.Dir = c.dir
			runner := &service.PipelineRunner{}
			svc, err := service.New(t.Context(), cfg, runner, nil)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("New: %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer svc.Stop(t.Context())
			if (runner.Index != nil) != c.wantIndex || runner.Decompressor != c.decompressor {
				t.Errorf("index %v decompressor %q, want an index: %v, %q", runner.Index, runner.Decompressor, c.wantIndex, c.decompressor)
			}
			if _, err := os.Stat(filepath.Join(cfg.DataDir, "layer-index")); (err == nil) != c.wantIndex {
				t.Errorf("DATADIR/layer-index: %v", err)
			}
			if got := runner.Diffoscope != nil && filepath.Base(runner.Diffoscope.Path) == "diffoscope"; got != c.diffoscope {
				t.Errorf("the pipeline's diffoscope: %+v, want one: %v", runner.Diffoscope, c.diffoscope)
			}
		})
	}
}
