package compare

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/reprover/reprover/internal/text"
)

// Diffoscope runs Debian's diffoscope on each differing file pair that
// explaining a mismatch read (both contents within its bounds), and puts
// its text in the file's report. Each run is bounded in time and output,
// has no network (its own network namespace), and sees only a scratch
// directory with the two files.
type Diffoscope struct {
	// Path is the diffoscope executable (FindDiffoscope).
	Path string
	// Timeout bounds one file's run (default 60 s); MaxFiles the files
	// looked at in one comparison (default 50); MaxOutput the text kept of
	// one run (default 64 KiB).
	Timeout   time.Duration
	MaxFiles  int
	MaxOutput int
	// ScratchDir receives the file pairs (default: a temporary directory,
	// removed afterwards).
	ScratchDir string
}

// FindDiffoscope finds diffoscope on PATH, or says how to install it.
func FindDiffoscope() (string, error) {
	p, err := exec.LookPath("diffoscope")
	if err != nil {
		return "", errors.New("--diffoscope: diffoscope is not installed (Debian: apt-get install diffoscope-minimal, or diffoscope for every comparator)")
	}
	return p, nil
}

func (d *Diffoscope) withDefaults() Diffoscope {
	o := *d
	if o.Timeout <= 0 {
		o.Timeout = time.Minute
	}
	if o.MaxFiles <= 0 {
		o.MaxFiles = 50
	}
	if o.MaxOutput <= 0 {
		o.MaxOutput = 64 << 10
	}
	return o
}

// diffoscopeFiles runs diffoscope on the targets whose contents were read,
// at most MaxFiles of them.
func diffoscopeFiles(ctx context.Context, d *Diffoscope, targets []target, ca, cb [][]byte, o Options) error {
	dd := d.withDefaults()
	scratch := dd.ScratchDir
	if scratch == "" {
		dir, err := os.MkdirTemp("", "reprover-diffoscope-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		scratch = dir
	}
	n := 0
	for i, t := range targets {
		if ca[i] == nil || cb[i] == nil || t.fc.Change != Modified {
			continue
		}
		if n == dd.MaxFiles {
			t.fc.Diffoscope = fmt.Sprintf("(not run: diffoscope looks at %d files per comparison)", dd.MaxFiles)
			continue
		}
		n++
		out, err := dd.run(ctx, filepath.Join(scratch, fmt.Sprint(n)), t.fc.Path, ca[i], cb[i], o)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			out = "diffoscope failed: " + err.Error()
		}
		t.fc.Diffoscope = out
	}
	return nil
}

// run compares one pair in dir, named as the file is, under
// NAME_A/ and NAME_B/.
func (d Diffoscope) run(ctx context.Context, dir, p string, a, b []byte, o Options) (string, error) {
	base := safeName(path.Base(p))
	fa, fb := filepath.Join(dir, safeName(o.NameA), base), filepath.Join(dir, safeName(o.NameB), base)
	for _, f := range []struct {
		name string
		data []byte
	}{{fa, a}, {fb, b}} {
		if err := os.MkdirAll(filepath.Dir(f.name), 0o700); err != nil {
			return "", err
		}
		if err := os.WriteFile(f.name, f.data, 0o600); err != nil {
			return "", err
		}
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.Path, "--text", "-", "--max-text-report-size", fmt.Sprint(d.MaxOutput),
		filepath.Join(safeName(o.NameA), base), filepath.Join(safeName(o.NameB), base))
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + dir, "TMPDIR=" + dir, "LC_ALL=C.UTF-8"}
	cmd.SysProcAttr = isolated()
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &limitedBuffer{&stdout, d.MaxOutput}, &limitedBuffer{&stderr, 4 << 10}
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return "", fmt.Errorf("stopped after %s", d.Timeout)
	case errors.As(err, &exit) && exit.ExitCode() == 1, err == nil:
		out := stdout.String()
		if stdout.Len() >= d.MaxOutput {
			out = text.Truncate(out, d.MaxOutput) + "\n(cut at " + fmt.Sprint(d.MaxOutput) + " bytes)"
		}
		return out, nil
	default:
		return "", fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
}

// isolated runs diffoscope in its own process group (killed whole) and
// network namespace (no network): as root directly, otherwise inside a
// user namespace that maps the caller.
func isolated() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true, Cloneflags: syscall.CLONE_NEWNET}
	if os.Geteuid() != 0 {
		a.Cloneflags |= syscall.CLONE_NEWUSER
		a.UidMappings = []syscall.SysProcIDMap{{ContainerID: os.Geteuid(), HostID: os.Geteuid(), Size: 1}}
		a.GidMappings = []syscall.SysProcIDMap{{ContainerID: os.Getegid(), HostID: os.Getegid(), Size: 1}}
	}
	return a
}

// safeName is a file name made of a path's last element: printable,
// never "." or "..", at most 100 bytes.
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '/' || r == 0 || !unicode.IsPrint(r) {
			return '_'
		}
		return r
	}, s)
	if s == "" || s == "." || s == ".." {
		s = "file"
	}
	return text.Truncate(s, 100)
}

// limitedBuffer keeps the first max bytes written to it and discards the
// rest (without failing the writer).
type limitedBuffer struct {
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
