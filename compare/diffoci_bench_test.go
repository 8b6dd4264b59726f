package compare_test

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/image"
)

// diffociRunner runs diffoci (REPROVER_DIFFOCI) on layouts served by a
// registry on 127.0.0.1, over HTTPS (the only way diffoci reads images),
// with a certificate of this run.
type diffociRunner struct {
	bin, home, ca string
	refs          map[string]string // the reference of each layout directory
}

// startDiffoci serves the layouts in dirs to diffoci and has it pull
// each into its own store (by a diff of the first with each other, not
// timed: its pull is not what is measured); nil when REPROVER_DIFFOCI is
// not set. The registry stops at the end of the benchmark.
func startDiffoci(b *testing.B, dirs []string) *diffociRunner {
	bin := os.Getenv("REPROVER_DIFFOCI")
	if bin == "" {
		return nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	home := b.TempDir()
	if err := os.Mkdir(filepath.Join(home, "blobs"), 0o700); err != nil {
		b.Fatal(err)
	}
	// Blobs on disk: a registry in this process's memory would count in
	// reprover's peak RSS.
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0)),
		registry.WithBlobHandler(registry.NewDiskBlobHandler(filepath.Join(home, "blobs"))))}}
	srv.StartTLS()
	b.Cleanup(srv.Close)
	ca := filepath.Join(home, "registry.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		b.Fatal(err)
	}
	host := l.Addr().String()
	d := &diffociRunner{bin: bin, home: home, ca: ca, refs: map[string]string{}}
	for _, dir := range dirs {
		p, err := layout.FromPath(dir)
		if err != nil {
			b.Fatal(err)
		}
		idx, err := p.ImageIndex()
		if err != nil {
			b.Fatal(err)
		}
		m, err := idx.IndexManifest()
		if err != nil {
			b.Fatal(err)
		}
		img, err := idx.Image(m.Manifests[0].Digest)
		if err != nil {
			b.Fatal(err)
		}
		ref, err := name.ParseReference(host + "/bench/" + filepath.Base(dir) + ":latest")
		if err != nil {
			b.Fatal(err)
		}
		if err := remote.Write(ref, img, remote.WithTransport(srv.Client().Transport)); err != nil {
			b.Fatal(err)
		}
		d.refs[dir] = ref.String()
	}
	for _, dir := range dirs[1:] {
		if _, err := d.diff(b.Context(), dirs[0], dir); err != nil {
			b.Fatal(err)
		}
	}
	return d
}

// diff runs diffoci diff --semantic on the layouts x and y and returns
// what it cost: wall time, CPU time and peak RSS (VmHWM) of the process.
func (d *diffociRunner) diff(ctx context.Context, x, y string) (cost, error) {
	cmd := exec.CommandContext(ctx, d.bin, "diff", "--semantic", "--backend", "local", d.refs[x], d.refs[y])
	cmd.Env = []string{"HOME=" + d.home, "XDG_CACHE_HOME=" + filepath.Join(d.home, "cache"), "SSL_CERT_FILE=" + d.ca, "PATH=/usr/bin:/bin"}
	out := &limitedBuffer{max: 4 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	t := time.Now()
	if err := cmd.Start(); err != nil {
		return cost{}, err
	}
	// The child's rusage counts this process's RSS at the exec, so its
	// peak is read from /proc while it runs.
	peak := watchHWM(cmd.Process.Pid)
	err := cmd.Wait()
	c := cost{wall: time.Since(t), rss: peak()}
	if cmd.ProcessState != nil {
		c.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 1 {
		err = nil // the images differ
	}
	if err != nil {
		return cost{}, fmt.Errorf("diffoci: %v: %s", err, out.b)
	}
	return c, nil
}

// BenchmarkVsDiffoci compares the bench pairs with reprover and with
// diffoci (github.com/reproducible-containers/diffoci, `--semantic`, its
// fastest mode) in the same run, when REPROVER_DIFFOCI names a diffoci
// binary: reprover does not build, vendor or install it. diffoci reads
// images from a registry, over HTTPS only: the layouts are served by a
// registry on 127.0.0.1 with a certificate of this run, and pulled into
// diffoci's own store before it is timed (reprover reads the layouts).
func BenchmarkVsDiffoci(b *testing.B) {
	if os.Getenv("REPROVER_DIFFOCI") == "" {
		b.Skip("REPROVER_DIFFOCI is not set: no diffoci binary to measure against")
	}
	dirs, imgs := benchLayouts(b, benchDir())
	dirA, dirB, dirC, dirD := dirs[0], dirs[1], dirs[2], dirs[3]
	ctx := context.Background()
	d := startDiffoci(b, dirs[:])
	diffoci := func(x, y string) (time.Duration, int64, error) {
		c, err := d.diff(ctx, x, y)
		return c.wall, c.rss, err
	}
	warmPageCache(dirs[:]...)
	for b.Loop() {
		for _, c := range []struct {
			name, short string
			y           string
			img         *image.Resolved
			verdict     string
			goal        float64
		}{
			{"recompressed, the same files", "rec", dirD, imgs[3], compare.Equivalent, 3},
			{"recompressed, a file changed in each layer", "rec-changed", dirB, imgs[1], compare.Different, 3},
			{"one changed file", "one", dirC, imgs[2], compare.Different, 20},
		} {
			// diffoci writes what it unpacks: its dirty pages are written
			// back before anything else is timed, or the disk is shared.
			syscall.Sync()
			ours, ourRSS := measure(b, func() error {
				return compareBench(ctx, imgs[0], c.img, compare.DecompressAuto, c.verdict)
			})
			theirs, theirRSS, err := diffoci(dirA, c.y)
			if err != nil {
				b.Fatal(err)
			}
			syscall.Sync()
			ratio := theirs.Seconds() / ours.Seconds()
			b.ReportMetric(ratio, c.short+"-vs-diffoci")
			fmt.Printf("%s: reprover %v (peak RSS %d MiB), diffoci --semantic %v (peak RSS %d MiB): %.1fx faster (goal ≥ %.0fx)\n",
				c.name, ours.Round(time.Millisecond), ourRSS>>20, theirs.Round(time.Millisecond), theirRSS>>20, ratio, c.goal)
		}
	}
}

// watchHWM samples the peak resident set (VmHWM) of process pid until
// the returned func is called, which returns the last seen.
func watchHWM(pid int) func() int64 {
	var peak atomic.Int64
	stop, done := make(chan struct{}), make(chan struct{})
	status := fmt.Sprintf("/proc/%d/status", pid)
	go func() {
		defer close(done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			if b, err := os.ReadFile(status); err == nil {
				for _, line := range strings.Split(string(b), "\n") {
					if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
						kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
						peak.Store(max(peak.Load(), kb<<10))
					}
				}
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 { close(stop); <-done; return peak.Load() }
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	b   []byte
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if n := l.max - len(l.b); n > 0 {
		l.b = append(l.b, p[:min(n, len(p))]...)
	}
	return len(p), nil
}
