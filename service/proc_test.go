package service_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/reprover/reprover/fixtures"
)

// Helpers for tests that run `reprover serve` as real processes: several
// sharing one database, killed with SIGKILL, started again.

var reproverBuild struct {
	once sync.Once
	path string
	err  error
}

// reproverBinary builds cmd/reprover once per test binary, into the
// repository's .cache/test (ignored by git, reused by the next run). The
// new binary is renamed into place: a process still running the old one
// (another test binary) keeps its copy.
func reproverBinary(t testing.TB) string {
	t.Helper()
	reproverBuild.once.Do(func() {
		root, err := filepath.Abs("..")
		if err != nil {
			reproverBuild.err = err
			return
		}
		dir := filepath.Join(root, ".cache", "test")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			reproverBuild.err = err
			return
		}
		path := filepath.Join(dir, "reprover")
		tmp := fmt.Sprintf("%s.%d", path, os.Getpid())
		start := time.Now()
		cmd := exec.Command("go", "build", "-o", tmp, "./cmd/reprover")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			reproverBuild.err = fmt.Errorf("go build ./cmd/reprover: %w: %s", err, out)
			return
		}
		reproverBuild.err = os.Rename(tmp, path)
		reproverBuild.path = path
		t.Logf("built %s in %v", path, time.Since(start).Round(100*time.Millisecond))
	})
	if reproverBuild.err != nil {
		t.Fatal(reproverBuild.err)
	}
	return reproverBuild.path
}

// serveOpts are the flags of one reprover serve process.
type serveOpts struct {
	database   string // empty: SQLite under dataDir
	dataDir    string
	buildkit   string
	workers    int
	staleAfter time.Duration
}

// serveProc is a running `reprover serve`.
type serveProc struct {
	name   string
	opts   serveOpts
	url    string
	cmd    *exec.Cmd
	log    string // its stderr, in a file
	exited chan struct{}
}

// startServe starts reprover serve with opts (see startServes).
func startServe(t testing.TB, name string, o serveOpts) *serveProc {
	t.Helper()
	return startServes(t, serveSpec{name, o})[0]
}

type serveSpec struct {
	name string
	opts serveOpts
}

// startServes starts reprover serve processes at once (as a deployment
// would: their migrations race), each on a free port of 127.0.0.1, and
// waits until each answers /healthz. They are stopped (SIGTERM) when the
// test ends, and die with the test binary.
func startServes(t testing.TB, specs ...serveSpec) []*serveProc {
	t.Helper()
	bin := reproverBinary(t)
	procs := make([]*serveProc, len(specs))
	// A port found free may be taken before serve binds it: try again.
	for try := 1; ; try++ {
		launched := map[int]*serveProc{}
		for i, sp := range specs {
			if procs[i] == nil {
				launched[i] = launchServe(t, bin, sp.name, sp.opts)
			}
		}
		retry := false
		for i, p := range launched {
			t.Cleanup(func() {
				p.stop(t)
				if t.Failed() {
					t.Logf("%s's log (tail):\n%s", p.name, p.tail(4000))
				}
			})
			err := p.waitHealthy(t, 60*time.Second)
			if err == nil {
				procs[i] = p
				continue
			}
			p.kill(t)
			if try == 3 || !strings.Contains(p.tail(4000), "address already in use") {
				t.Fatalf("reprover serve (%s): %v", p.name, err)
			}
			retry = true
		}
		if !retry {
			return procs
		}
	}
}

func launchServe(t testing.TB, bin, name string, o serveOpts) *serveProc {
	t.Helper()
	if o.workers == 0 {
		o.workers = 2
	}
	if o.staleAfter == 0 {
		o.staleAfter = 20 * time.Second
	}
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"serve", "--log-level", "info", "--listen", addr, "--data-dir", o.dataDir, "--workers", strconv.Itoa(o.workers),
		"--buildkit-addrs", o.buildkit, "--sources-allow", "/", "--images-allow", "127.0.0.1:", "--auth-tokens", token,
		"--stale-after", o.staleAfter.String()}
	if o.database != "" {
		args = append(args, "--database", o.database)
	}
	p := &serveProc{name: name, opts: o, url: "http://" + addr, exited: make(chan struct{}),
		log: filepath.Join(t.TempDir(), fmt.Sprintf("%s-%d.log", name, time.Now().UnixNano()))}
	logf, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = cleanEnv()
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	return p
}

// cleanEnv is this process's environment without REPROVER_* (which serve
// would read as configuration).
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REPROVER_") {
			env = append(env, kv)
		}
	}
	return env
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitHealthy waits until p answers /healthz (nil) or exits (an error
// with its log's tail: startServes tries again when the port was taken);
// neither within that long fails the test.
func (p *serveProc) waitHealthy(t testing.TB, within time.Duration) error {
	t.Helper()
	fixtures.WaitFor(t, within, p.name+" to answer /healthz", func() (bool, string, error) {
		select {
		case <-p.exited:
			return true, "", nil
		default:
		}
		resp, err := http.Get(p.url + "/healthz")
		if err != nil {
			return false, err.Error(), nil
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status, nil
	})
	select {
	case <-p.exited:
		return fmt.Errorf("exited (%v) before serving:\n%s", p.cmd.ProcessState, p.tail(4000))
	default:
		return nil
	}
}

// api is the process's HTTP API with service_test.go's helpers (do, wait).
func (p *serveProc) api() *server { return &server{url: p.url} }

// kill is kill -9: no shutdown, no last write.
func (p *serveProc) kill(t testing.TB) {
	t.Helper()
	select {
	case <-p.exited:
		return
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Logf("killing %s: %v", p.name, err)
	}
	<-p.exited
}

// stop is a graceful stop (SIGTERM), SIGKILL after 40 s.
func (p *serveProc) stop(t testing.TB) {
	t.Helper()
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(40 * time.Second):
		t.Errorf("%s did not stop within 40s of SIGTERM", p.name)
		p.kill(t)
	}
}

func (p *serveProc) tail(n int) string {
	b, _ := os.ReadFile(p.log)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// logLines counts the lines of the process's log that contain s.
func (p *serveProc) logLines(s string) int {
	b, _ := os.ReadFile(p.log)
	return bytes.Count(b, []byte(s))
}

// metric sums every series of a Prometheus metric on /metrics (0 when
// absent).
func metric(t testing.TB, baseURL, name string) float64 {
	t.Helper()
	v, err := metricValue(http.DefaultClient, baseURL, name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// metricValue is metric for any goroutine.
func metricValue(c *http.Client, baseURL, name string) (float64, error) {
	resp, err := c.Get(baseURL + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (!strings.HasPrefix(rest, " ") && !strings.HasPrefix(rest, "{")) {
			continue // another metric, or a longer name
		}
		f := strings.Fields(rest[strings.LastIndex(rest, "}")+1:])
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return 0, fmt.Errorf("metric line %q: %w", line, err)
		}
		sum += v
	}
	return sum, sc.Err()
}
