package builder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moby/buildkit/client"
)

// Daemon is a buildkitd that reprover started, with a private state
// directory, and stops when done.
type Daemon struct {
	Addr string
	// Bridge is the network bridge of its workers ("" when it has none:
	// without CNI plugins it runs with the host network, and cannot proxy).
	Bridge string
	// Gateway is the bridge's address on the host, the address a RUN's
	// traffic reaches the host by.
	Gateway string
	cmd     *exec.Cmd
	dir     string
	stderr  *tailBuffer
	done    chan error

	stopOnce sync.Once
	stopErr  error
}

// DaemonOptions configure StartDaemon.
type DaemonOptions struct {
	// Binary is the buildkitd to run; empty means $REPROVER_BUILDKITD,
	// else buildkitd from PATH.
	Binary string
	// StateDir holds the daemon's state and socket; empty means a new
	// temporary directory, removed by Stop.
	StateDir string
	Logger   *slog.Logger
	// Timeout bounds the wait for the daemon to answer (default 60 s).
	Timeout time.Duration
	// HostNetwork runs the workers on the host's network instead of a
	// bridge of their own: such a daemon cannot proxy (for tests of that
	// refusal).
	HostNetwork bool
	// Env is added to the daemon's environment, e.g. SSL_CERT_FILE for
	// the certificates its proxy trusts when it dials servers.
	Env []string
}

// FindBuildkitd finds the buildkitd a managed daemon runs, in this order:
// $REPROVER_BUILDKITD; next to reprover's own executable (as make install
// puts them); buildkitd in PATH. The error lists the places it looked.
func FindBuildkitd() (string, error) {
	var looked []string
	if p := os.Getenv("REPROVER_BUILDKITD"); p != "" {
		if isExecutable(p) {
			return p, nil
		}
		looked = append(looked, "$REPROVER_BUILDKITD ("+p+": not an executable file)")
	} else {
		looked = append(looked, "$REPROVER_BUILDKITD (not set)")
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "buildkitd")
		if isExecutable(p) {
			return p, nil
		}
		looked = append(looked, p)
	}
	if p, err := exec.LookPath("buildkitd"); err == nil {
		return p, nil
	}
	looked = append(looked, "buildkitd in PATH")
	return "", fmt.Errorf("buildkitd not found; looked at %s: install it next to reprover (make install), set REPROVER_BUILDKITD, or give --buildkit-addr / BUILDKIT_HOST", strings.Join(looked, ", "))
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// StartDaemon starts a private buildkitd and waits until it answers. A
// daemon that cannot start is an error saying why (not found, not root,
// no runc, the tail of its log).
func StartDaemon(ctx context.Context, o DaemonOptions) (*Daemon, error) {
	bin := o.Binary
	if bin == "" {
		p, err := FindBuildkitd()
		if err != nil {
			return nil, err
		}
		bin = p
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("a managed buildkitd needs root (rootless BuildKit is not set up by reprover): run as root or give --buildkit-addr")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		return nil, errors.New("runc not found in PATH: buildkitd's OCI worker needs it (Debian: apt-get install runc)")
	}
	if o.Timeout == 0 {
		o.Timeout = 60 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Daemon{dir: o.StateDir, stderr: &tailBuffer{max: 16 << 10}, done: make(chan error, 1)}
	if d.dir == "" {
		dir, err := os.MkdirTemp("", "reprover-buildkitd-")
		if err != nil {
			return nil, err
		}
		d.dir = dir
	}
	sock := filepath.Join(d.dir, "buildkitd.sock")
	d.Addr = "unix://" + sock
	// The process outlives ctx's cancellation only until Stop: it is not
	// started with exec.CommandContext so that a cancelled build can still
	// be cleaned up by Stop.
	args := []string{"--root", filepath.Join(d.dir, "root"), "--addr", d.Addr,
		"--oci-worker=true", "--containerd-worker=false", "--oci-worker-gc=false"}
	if o.HostNetwork {
		args = append(args, "--oci-worker-net=host")
	} else if cfg, err := d.bridgeConfig(); err != nil {
		return nil, err
	} else if cfg != "" {
		args = append(args, "--config", cfg)
	}
	d.cmd = exec.Command(bin, args...)
	// Every proxied request is listed in the step's log: no clipping.
	d.cmd.Env = append(append(os.Environ(), "BUILDKIT_STEP_LOG_MAX_SIZE=-1", "BUILDKIT_STEP_LOG_MAX_SPEED=-1"), o.Env...)
	d.cmd.Stderr = d.stderr
	d.cmd.Stdout = d.stderr
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	o.Logger.Info("started buildkitd", "pid", d.cmd.Process.Pid, "addr", d.Addr)
	go func() { d.done <- d.cmd.Wait() }()

	if err := d.waitReady(ctx, sock, o.Timeout); err != nil {
		return nil, err
	}
	return d, nil
}

// waitReady waits until the daemon answers on sock, or has exited, or
// timeout has passed (then it is stopped).
func (d *Daemon) waitReady(ctx context.Context, sock string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case err := <-d.done:
			d.done <- err
			d.cleanup()
			return fmt.Errorf("buildkitd exited before answering (%v): %s", err, d.stderr.tail(10))
		case <-ctx.Done():
			d.Stop()
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if _, err := os.Stat(sock); err == nil {
			c, err := client.New(ctx, d.Addr)
			if err == nil {
				ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
				_, err = c.Info(ictx)
				cancel()
				c.Close()
				if err == nil {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			d.Stop()
			return fmt.Errorf("buildkitd did not answer within %v: %s", timeout, d.stderr.tail(10))
		}
	}
}

// Stop terminates the daemon and removes a state directory it created.
// Stopping it again does nothing (a deferred Stop after an explicit one
// must not wait for an exit that was already reaped).
func (d *Daemon) Stop() error {
	d.stopOnce.Do(func() {
		if d.cmd.Process != nil {
			_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-d.done:
			case <-time.After(20 * time.Second):
				_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
				<-d.done
			}
		}
		d.stopErr = d.cleanup()
	})
	return d.stopErr
}

// Connect dials the daemon. Its client knows the daemon's bridge, where a
// replayed build serves the kit (Spec.ReplayAddr need not be given).
func (d *Daemon) Connect(ctx context.Context, logger *slog.Logger) (*Client, error) {
	c, err := Connect(ctx, d.Addr, logger)
	if err != nil {
		return nil, err
	}
	c.gateway = d.Gateway
	return c, nil
}

// cniDir holds Debian's CNI plugins (containernetworking-plugins).
const cniDir = "/usr/lib/cni"

// bridgeConfig writes the daemon's config for a bridge network of its own
// (a name and subnet no other daemon uses: never buildkit0, which a
// user's daemon may have), when the CNI plugins are installed.
func (d *Daemon) bridgeConfig() (string, error) {
	if _, err := os.Stat(filepath.Join(cniDir, "bridge")); err != nil {
		return "", nil
	}
	subnet, err := freeSubnet()
	if err != nil {
		return "", err
	}
	d.Bridge = fmt.Sprintf("rp%d", subnet)
	d.Gateway = fmt.Sprintf("10.213.%d.1", subnet)
	cfg := fmt.Sprintf("[worker.oci]\n  networkMode = \"bridge\"\n  cniBinaryPath = %q\n  bridgeName = %q\n  bridgeSubnet = \"10.213.%d.0/24\"\n",
		cniDir, d.Bridge, subnet)
	path := filepath.Join(d.dir, "buildkitd.toml")
	return path, os.WriteFile(path, []byte(cfg), 0o644)
}

// freeSubnet picks N for 10.213.N.0/24 that no interface of this machine
// has an address in, nor a bridge of that name.
func freeSubnet() (int, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return 0, err
	}
	start := int(time.Now().UnixNano() % 256)
	for i := range 256 {
		n := (start + i) % 256
		_, subnet, _ := net.ParseCIDR(fmt.Sprintf("10.213.%d.0/24", n))
		used := false
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && subnet.Contains(ipn.IP) {
				used = true
			}
		}
		if _, err := net.InterfaceByName(fmt.Sprintf("rp%d", n)); err == nil {
			used = true
		}
		if !used {
			return n, nil
		}
	}
	return 0, errors.New("no free subnet in 10.213.0.0/16 for buildkitd's bridge")
}

func (d *Daemon) cleanup() error {
	if d.Bridge != "" {
		// buildkitd leaves its bridge behind.
		_ = exec.Command("ip", "link", "delete", d.Bridge).Run()
	}
	if strings.HasPrefix(filepath.Base(d.dir), "reprover-buildkitd-") {
		// buildkitd leaves mounts behind only when killed; unmount what is
		// left so the removal cannot cross into a mounted filesystem.
		unmountUnder(d.dir)
		return os.RemoveAll(d.dir)
	}
	return nil
}

// unmountUnder detaches any mount below dir (lazy, best effort).
func unmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			points = append(points, f[4])
		}
	}
	for i := len(points) - 1; i >= 0; i-- {
		_ = syscall.Unmount(points[i], syscall.MNT_DETACH)
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

// tail returns the last n lines, joined with " | ".
func (t *tailBuffer) tail(n int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(string(bytes.TrimSpace(t.buf)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
