package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprover/reprover/fixtures"
)

// resolver answers from a table, as the red team's /etc/hosts (vm and
// runsc for 127.0.0.1) and DNS an attacker controls would; after[name]
// answers replace the first ones once a name was looked up (DNS
// rebinding between a check and the clone).
type resolver struct {
	mu     sync.Mutex
	first  map[string][]string
	after  map[string][]string
	looked map[string]bool
}

func (r *resolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	answer, ok := r.first[host]
	if a, rebinds := r.after[host]; rebinds && r.looked[host] {
		answer, ok = a, true
	}
	if r.looked == nil {
		r.looked = map[string]bool{}
	}
	r.looked[host] = true
	if !ok {
		return nil, errors.New("no such host")
	}
	var out []netip.Addr
	for _, a := range answer {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

func testResolver() *resolver {
	return &resolver{first: map[string][]string{
		"vm":             {"127.0.0.1"},
		"runsc":          {"127.0.0.1"},
		"git.example":    {"140.82.112.3"},
		"mixed.example":  {"140.82.112.3", "10.0.0.5"},
		"cgnat.example":  {"100.100.100.200"},
		"nat64.example":  {"64:ff9b::a9fe:a9fe"},
		"rebind.example": {"140.82.112.3"},
		"pinned.invalid": {"127.0.0.1"},
	}, after: map[string][]string{"rebind.example": {"127.0.0.1"}}}
}

// TestSourceAllowed: a source only the published image names, judged for
// the CLI (--allow-source-host): every spelling the red team tried, and
// the ones it did not.
func TestSourceAllowed(t *testing.T) {
	for _, c := range []struct {
		name  string
		src   string
		allow []string
		err   string // "" for allowed
	}{
		{name: "public", src: "https://git.example/app.git"},
		{name: "public scp", src: "git@git.example:org/app.git"},
		{name: "a name that does not resolve here is judged again when cloned", src: "https://nowhere.invalid/app.git"},
		{name: "vm, in /etc/hosts for 127.0.0.1", src: "http://vm:8088/app.git", err: "the host vm resolves to 127.0.0.1 (loopback): cloned only with AllowSourceHosts vm"},
		{name: "runsc, in /etc/hosts for 127.0.0.1", src: "http://runsc:8088/app.git", err: "AllowSourceHosts runsc"},
		{name: "vm allowed by name", src: "http://vm:8088/app.git", allow: []string{"vm"}},
		{name: "vm is not allowed by its address", src: "http://vm:8088/app.git", allow: []string{"127.0.0.1"}, err: "resolves to 127.0.0.1"},
		{name: "one private address among public ones", src: "https://mixed.example/app.git", err: "10.0.0.5"},
		{name: "CGNAT metadata", src: "https://cgnat.example/app.git", err: "100.100.100.200"},
		{name: "NAT64 of the metadata address", src: "https://nat64.example/app.git", err: "169.254.169.254"},
		{name: "unparseable escape", src: "http://127.0.0.1:8088/git/%zz/../repo.git", err: "does not parse"},
		{name: "unparseable escape, host allowed", src: "http://127.0.0.1:8088/git/%zz/../repo.git", allow: []string{"127.0.0.1"}, err: "does not parse"},
		{name: "percent-encoded host", src: "http://%31%32%37.0.0.1:8088/app.git", err: "'%'"},
		{name: "IPv6 zone", src: "http://[::1%25lo]:8088/app.git", err: "'%'"},
		{name: "IPv6 loopback", src: "http://[::1]:8088/app.git", err: "AllowSourceHosts ::1"},
		{name: "IPv4-mapped loopback", src: "http://[::ffff:127.0.0.1]:8088/app.git", err: "local"},
		{name: "scp on loopback", src: "git@127.0.0.1:x", err: "AllowSourceHosts 127.0.0.1"},
		{name: "scp on vm", src: "git@vm:x", err: "resolves to 127.0.0.1"},
		{name: "localhost", src: "http://localhost:8088/app.git", err: "AllowSourceHosts localhost"},
		{name: "127.1", src: "http://127.1/app.git", err: "local"},
		{name: "metadata", src: "http://169.254.169.254/latest.git", err: "link-local"},
		{name: "ext transport", src: "ext::sh -c touch% /tmp/pwned", err: "transport"},
		{name: "fd transport", src: "fd::3", err: "transport"},
		{name: "an option", src: "--upload-pack=touch /tmp/pwned", err: "'-'"},
		{name: "ssh proxy command", src: "ssh://-oProxyCommand=touch%20/tmp/pwned/x", err: "host"},
		{name: "git+ssh", src: "git+ssh://git.example/x", err: "transport"},
		{name: "a local path", src: "/srv/git/app", err: "the local path /srv/git/app is cloned only when allowed by name: give Source, or AllowSourceHosts with its directory"},
		{name: "a local path allowed", src: "/srv/git/app", allow: []string{"/srv/git/"}},
		{name: "a local path climbing out", src: "/srv/git/../../etc", allow: []string{"/srv/git"}, err: "/etc"},
		{name: "a file URL allowed", src: "file:///srv/git/app", allow: []string{"/srv/git"}},
		{name: "a file URL climbing out", src: "file:///srv/git/../../etc", allow: []string{"/srv/git"}, err: "/etc"},
		{name: "a file URL on another host", src: "file://evil.example/etc", allow: []string{"/"}, err: "file://"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := judgeAhead(t.Context(), c.src, allowedByName(c.allow, testResolver()))
			if c.err == "" {
				if err != nil {
					t.Fatalf("%s refused: %v", c.src, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("%s: err = %v, want one saying %q", c.src, err, c.err)
			}
		})
	}
	// With this machine's resolver: localhost as written, and a name
	// resolving to loopback.
	for _, src := range []string{"http://localhost:8088/app.git", "http://localhost.localdomain.localhost/app.git"} {
		if err := sourceAllowed(t.Context(), src, nil); err == nil {
			t.Errorf("%s allowed", src)
		}
	}
}

// TestClonePolicy: which hosts the clone allows, for each kind of caller.
func TestClonePolicy(t *testing.T) {
	src := "http://vm:8088/app.git"
	for _, c := range []struct {
		name  string
		from  string
		allow []string                 // Request.AllowSourceHosts
		host  func(src, h string) bool // Options.AllowSourceHost
		want  bool                     // vm allowed
	}{
		{name: "the CLI's own --source", from: FromFlag, want: true},
		{name: "a source the image names", from: FromProvenance, want: false},
		{name: "a source the image names, allowed", from: FromLabel, allow: []string{"vm"}, want: true},
		{name: "the service, a submitted source", from: FromFlag, host: func(string, string) bool { return false }, want: false},
		{name: "the service allows it", from: FromProvenance, host: func(s, h string) bool { return s == src && h == "vm" }, want: true},
	} {
		p := &params{req: Request{Source: src, AllowSourceHosts: c.allow}, of: map[string]Parameter{"source": {src, c.from}}}
		pol := clonePolicy(p, Options{AllowSourceHost: c.host})
		if got := pol.AllowHost != nil && pol.AllowHost("vm"); got != c.want {
			t.Errorf("%s: vm allowed = %v, want %v", c.name, got, c.want)
		}
		// Only the caller's own source may go unpinned (a name that
		// does not resolve here).
		if own := c.from == FromFlag && c.host == nil; pol.Unpinned != own {
			t.Errorf("%s: unpinned = %v, want %v", c.name, pol.Unpinned, own)
		}
	}
}

// gitRepo makes a repository with one commit (no fixtures here: they
// import verify) and returns its directory and commit.
func gitRepo(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=a", "GIT_AUTHOR_EMAIL=a@b", "GIT_COMMITTER_NAME=a", "GIT_COMMITTER_EMAIL=a@b",
			"GIT_AUTHOR_DATE=2025-03-01T12:00:00Z", "GIT_COMMITTER_DATE=2025-03-01T12:00:00Z")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	g("init", "-q")
	g("add", "README")
	g("commit", "-qm", "one")
	return dir, g("rev-parse", "HEAD")
}

// dumbHTTP serves a bare copy of repo over git's dumb HTTP protocol on
// 127.0.0.1 and returns its port.
func dumbHTTP(t *testing.T, repo string) string {
	t.Helper()
	bare := filepath.Join(t.TempDir(), "repo.git")
	for _, args := range [][]string{{"clone", "-q", "--bare", repo, bare}, {"-C", bare, "update-server-info"}} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v %s", args, err, out)
		}
	}
	hs := httptest.NewServer(http.StripPrefix("/repo.git/", http.FileServer(http.Dir(bare))))
	t.Cleanup(hs.Close)
	_, port, _ := net.SplitHostPort(hs.Listener.Addr().String())
	return port
}

// TestClonePinned: the clone connects to the address judged, never to
// what git would look up again. pinned.invalid resolves only through the
// test's resolver: it is cloned only because git was told its address.
// A name that rebinds to 127.0.0.1 between the parameters' check and the
// clone is refused when cloned.
func TestClonePinned(t *testing.T) {
	repo, commit := gitRepo(t)
	port := dumbHTTP(t, repo)
	src := "http://pinned.invalid:" + port + "/repo.git"
	co, err := exportCommit(t.Context(), src, commit, t.TempDir(), allowedByName([]string{"pinned.invalid"}, testResolver()))
	if err != nil {
		t.Fatalf("the pinned clone: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(co.Dir, "README")); err != nil || string(b) != "x\n" {
		t.Errorf("README: %q, %v", b, err)
	}
	if _, err := exportCommit(t.Context(), src, commit, t.TempDir(), allowedByName(nil, testResolver())); err == nil || !strings.Contains(err.Error(), "resolves to 127.0.0.1") {
		t.Errorf("pinned.invalid not allowed: err = %v, want it refused", err)
	}
	r := testResolver()
	rebind := "http://rebind.example:" + port + "/repo.git"
	if err := judgeAhead(t.Context(), rebind, allowedByName(nil, r)); err != nil {
		t.Fatalf("rebind.example's first answer (public) refused: %v", err)
	}
	if _, err := exportCommit(t.Context(), rebind, commit, t.TempDir(), allowedByName(nil, r)); err == nil || !strings.Contains(err.Error(), "rebind.example resolves to 127.0.0.1") {
		t.Errorf("rebind.example, now 127.0.0.1, when cloned: err = %v, want it refused", err)
	}
}

// TestClonePinnedGitDaemon: git:// has no option to pin its connection,
// so its URL names the address judged; a name only the test resolves is
// cloned through git daemon on 127.0.0.1.
func TestClonePinnedGitDaemon(t *testing.T) {
	repo, commit := gitRepo(t)
	base := t.TempDir()
	if out, err := exec.Command("git", "clone", "-q", "--bare", repo, filepath.Join(base, "repo.git")).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close() // git daemon cannot take a listener: it binds the port again
	d := exec.Command("git", "daemon", "--verbose", "--export-all", "--reuseaddr", "--base-path="+base, "--listen=127.0.0.1", "--port="+port)
	stderr, err := d.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Process.Kill(); d.Wait() })
	ready := make(chan error, 1)
	go func() {
		buf := make([]byte, 4096)
		var seen []byte
		for {
			n, err := stderr.Read(buf)
			seen = append(seen, buf[:n]...)
			if bytes.Contains(seen, []byte("Ready to rumble")) {
				ready <- nil
				io.Copy(io.Discard, stderr)
				return
			}
			if err != nil {
				ready <- fmt.Errorf("git daemon: %w: %s", err, seen)
				return
			}
		}
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("git daemon did not start")
	}
	src := "git://pinned.invalid:" + port + "/repo.git"
	co, err := exportCommit(t.Context(), src, commit, t.TempDir(), allowedByName([]string{"pinned.invalid"}, testResolver()))
	if err != nil {
		t.Fatalf("the pinned git:// clone: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(co.Dir, "README")); err != nil || string(b) != "x\n" {
		t.Errorf("README: %q, %v", b, err)
	}
}

// TestCloneHangStopped: a source host that accepts and never answers
// (127.0.0.1, allowed by name) does not hang the verification past its
// deadline: git and every process it started (git-remote-http holds the
// pipes) are gone within seconds, and the error names the source and
// says it hung.
func TestCloneHangStopped(t *testing.T) {
	addr, accepted := fixtures.SilentListener(t)
	src := fmt.Sprintf("http://%s/hang-%d.git", addr, time.Now().UnixNano())
	const deadline = 3 * time.Second
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := exportCommit(ctx, src, strings.Repeat("a", 40), t.TempDir(), allowedByName([]string{"127.0.0.1"}, nil))
		done <- err
	}()
	select {
	case <-accepted:
	case err := <-done:
		t.Fatalf("returned before connecting: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("git never connected")
	}
	groups := processGroups(t, src)
	if len(groups) == 0 {
		t.Fatal("no process names the source while it hangs")
	}
	var err error
	select {
	case err = <-done:
	case <-time.After(deadline + 15*time.Second):
		t.Fatalf("still cloning %s 15 s after the deadline", src)
	}
	if took := time.Since(start); took > deadline+gitWaitDelay+2*time.Second {
		t.Errorf("returned after %s, deadline %s", took, deadline)
	}
	if err == nil || !strings.Contains(err.Error(), src) || !strings.Contains(err.Error(), "hung") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want one naming %s, saying it hung, wrapping the deadline", err, src)
	}
	// The kill is sent before Wait returns; give the kernel a bounded
	// moment to finish the processes.
	fixtures.WaitFor(t, 2*time.Second, "the end of git's processes", func() (bool, string, error) {
		left := liveInGroups(t, groups)
		return len(left) == 0, fmt.Sprintf("still alive: %s", left), nil
	})
}

// processGroups are the process groups of the processes whose command line
// names s (read from /proc).
func processGroups(t *testing.T, s string) map[int]bool {
	t.Helper()
	groups := map[int]bool{}
	pids, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range pids {
		cmdline, err := os.ReadFile(filepath.Join(p, "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(s)) {
			continue
		}
		if f := statFields(p); len(f) > 2 {
			if pgid, err := strconv.Atoi(f[2]); err == nil {
				groups[pgid] = true
				t.Logf("%s %q in group %d", p, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}), pgid)
			}
		}
	}
	return groups
}

// liveInGroups lists the processes in groups that are not zombies.
func liveInGroups(t *testing.T, groups map[int]bool) []string {
	var left []string
	pids, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range pids {
		f := statFields(p)
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if pgid, err := strconv.Atoi(f[2]); err == nil && groups[pgid] {
			cmdline, _ := os.ReadFile(filepath.Join(p, "cmdline"))
			left = append(left, fmt.Sprintf("%s %q (%s)", p, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}), f[0]))
		}
	}
	return left
}

// statFields are /proc/PID/stat's fields after the command name: state,
// ppid, pgrp, …
func statFields(dir string) []string {
	b, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}
