package verify

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/reprover/reprover/internal/gitid"
	"github.com/reprover/reprover/internal/hosts"
	"github.com/reprover/reprover/internal/param"
)

// Checkout is a commit's tree exported into a scratch directory.
type Checkout struct {
	Dir        string
	Commit     string
	CommitTime time.Time
	// Kit is the digest of the kit whose git objects the tree came from
	// (verify/kitsource.go); "" when it came from the source.
	Kit string
}

// maxSourceBytes bounds what a source tree may write into the scratch
// directory (a source is untrusted too).
const maxSourceBytes = 8 << 30

// MaxCloneBytes bounds what cloning a source may write (a repository's
// history can be far larger than its tree); a variable for tests.
var MaxCloneBytes int64 = 16 << 30

// ExportCommit writes the tree of commit, exactly as git stores it, into
// dir: regular files 0644 or 0755 whatever the umask, symlinks as symlinks,
// no .git, no working-tree files, submodules left empty. mtimes are the
// commit time. source is a local repository or a git URL (cloned bare into
// a scratch directory first), the caller's own: any host or path may be
// cloned, but a source that does not parse or names another transport is
// refused (hosts.ParseSource), and the clone is pinned to the address its
// host resolved to. Run judges a source someone else named (clonePolicy).
func ExportCommit(ctx context.Context, source, commit, dir string) (*Checkout, error) {
	return exportCommit(ctx, source, commit, dir, anywhere)
}

// exportCommit is ExportCommit with the source judged by p, when it is
// cloned, and git pinned to the address judged.
func exportCommit(ctx context.Context, source, commit, dir string, p hosts.SourcePolicy) (*Checkout, error) {
	if !gitid.Valid(commit) {
		return nil, param.Errorf("Commit", "{Commit} %q: want a full commit id (40 or 64 lower-case hex digits), not a branch, tag or abbreviation", commit)
	}
	t, err := hosts.JudgeSource(ctx, source, p)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", source, err)
	}
	repo := source
	if t.Scheme != "" {
		bare := filepath.Join(dir, ".clone")
		defer os.RemoveAll(bare)
		if err := cloneBounded(ctx, t, bare, MaxCloneBytes); err != nil {
			return nil, fmt.Errorf("cloning %s: %w", source, err)
		}
		repo = bare
	} else if st, err := os.Stat(source); err != nil || !st.IsDir() {
		return nil, param.Errorf("Source", "{Source} %s: not a directory or git URL", source)
	}
	if out, err := git(ctx, repo, "cat-file", "-t", commit); err != nil || strings.TrimSpace(out) != "commit" {
		return nil, fmt.Errorf("%s in %s: %w", commit, source, ErrUnknownCommit)
	}
	// rev-list --no-walk, not show: show reads the parents, which a kit's
	// repository does not have. It prints "commit ID" then the time.
	ctOut, err := git(ctx, repo, "rev-list", "--no-walk", "--format=%ct", commit)
	if err != nil {
		return nil, fmt.Errorf("%s in %s: %w", commit, source, err)
	}
	_, ct, _ := strings.Cut(strings.TrimSpace(ctOut), "\n")
	secs, err := strconv.ParseInt(strings.TrimSpace(ct), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("commit time of %s: %w", commit, err)
	}
	co := &Checkout{Dir: filepath.Join(dir, "src"), Commit: commit, CommitTime: time.Unix(secs, 0).UTC()}
	if err := os.MkdirAll(co.Dir, 0o755); err != nil {
		return nil, err
	}
	if err := writeTree(ctx, repo, commit, co.Dir, co.CommitTime); err != nil {
		return nil, fmt.Errorf("exporting %s from %s: %w", commit, source, err)
	}
	return co, nil
}

// Limits on a clone that stops making progress by itself (the job's
// deadline ends it otherwise): curl gives up on a transfer slower than
// lowSpeedLimit bytes a second for lowSpeedTime seconds.
const (
	lowSpeedLimit = "1000"
	lowSpeedTime  = "60"
)

// cloneBounded clones t bare into dir, stopping git once dir holds more
// than max bytes. Only t's transport is allowed, connecting to the address
// judged; no redirects to other hosts; fsck rejects malformed trees
// (duplicate entries, a name that is both a file and a directory).
func cloneBounded(ctx context.Context, t hosts.Target, dir string, max int64) error {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	over := make(chan int64, 1)
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-cctx.Done():
				return
			case <-t.C:
			}
			if n := dirSize(dir); n > max {
				over <- n
				cancel()
				return
			}
		}
	}()
	args := append(t.GitArgs(), "-c", "transfer.fsckObjects=true", "-c", "http.followRedirects=false",
		"-c", "http.lowSpeedLimit="+lowSpeedLimit, "-c", "http.lowSpeedTime="+lowSpeedTime,
		"clone", "--quiet", "--bare", "--no-tags", "--", t.URL(), dir)
	cmd := gitCommand(cctx, args...)
	cmd.Env = append(cmd.Env, t.GitEnv()...)
	err := run(cmd)
	select {
	case n := <-over:
		return fmt.Errorf("the clone exceeds %d bytes (%d written)", max, n)
	default:
	}
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("git hung: stopped it and every process it started when the context ended (%w)", context.Cause(ctx))
	}
	if err == nil && dirSize(dir) > max {
		return fmt.Errorf("the clone exceeds %d bytes", max)
	}
	return err
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// maxLinkTarget bounds a symlink's target (Linux's own limit is 4096).
const maxLinkTarget = 4096

// writeTree lists the tree with ls-tree and writes each blob from one
// `git cat-file --batch`, so .gitattributes (export-subst, filters) cannot
// change what is exported. Every write goes through an os.Root on dir: a
// malformed tree (a symlink and a directory of one name, duplicate
// entries) cannot make it write outside dir.
func writeTree(ctx context.Context, repo, commit, dir string, mtime time.Time) error {
	out, err := git(ctx, repo, "ls-tree", "-r", "-z", "--full-tree", commit)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	cf, err := startCatFile(ctx, repo)
	if err != nil {
		return err
	}
	defer cf.close()
	t := &treeWriter{root: root, dir: dir, mtime: mtime, made: map[string]bool{".": true}, seen: map[string]bool{}}
	for _, rec := range strings.Split(strings.TrimSuffix(out, "\x00"), "\x00") {
		if rec == "" {
			continue
		}
		if err := t.entry(rec, cf); err != nil {
			return err
		}
	}
	for i := len(t.dirs) - 1; i >= 0; i-- {
		if err := root.Chtimes(t.dirs[i], mtime, mtime); err != nil {
			return err
		}
	}
	return os.Chtimes(dir, mtime, mtime)
}

// entry writes one ls-tree record ("MODE TYPE OID\tNAME"), its blob read
// from cf.
func (t *treeWriter) entry(rec string, cf *catFile) error {
	meta, name, ok := strings.Cut(rec, "\t")
	f := strings.Fields(meta)
	if !ok || len(f) != 3 {
		return fmt.Errorf("unexpected ls-tree line %q", rec)
	}
	mode, typ, oid := f[0], f[1], f[2]
	if !filepath.IsLocal(name) || strings.Split(name, "/")[0] == ".git" || strings.Contains(name, "\\") {
		return fmt.Errorf("refusing tree entry %q", name)
	}
	if t.seen[name] {
		return fmt.Errorf("tree entry %q appears twice", name)
	}
	t.seen[name] = true
	if err := t.parents(name); err != nil {
		return err
	}
	switch typ {
	case "commit": // a submodule: an empty directory, as a checkout without --recursive
		return t.mkdir(name)
	case "blob":
	default:
		return fmt.Errorf("tree entry %q has type %s", name, typ)
	}
	size, err := cf.object(oid)
	if err != nil {
		return err
	}
	if t.total += size; t.total > maxSourceBytes {
		return fmt.Errorf("source tree exceeds %d bytes", int64(maxSourceBytes))
	}
	if err := t.write(name, mode, cf.r, size); err != nil {
		return err
	}
	_, err = cf.r.ReadByte() // the newline after each object
	return err
}

// write writes a blob of size bytes from r as name: a symlink, or a file
// of mode 0644 or 0755 as git stores it.
func (t *treeWriter) write(name, mode string, r io.Reader, size int64) error {
	switch mode {
	case "120000":
		if size > maxLinkTarget {
			return fmt.Errorf("tree entry %q: a symlink target of %d bytes (limit %d)", name, size, maxLinkTarget)
		}
		target, err := io.ReadAll(io.LimitReader(r, size))
		if err != nil {
			return err
		}
		if err := t.root.Symlink(string(target), name); err != nil {
			return err
		}
		return lchtimes(filepath.Join(t.dir, filepath.FromSlash(name)), t.mtime)
	case "100644":
		return writeBlob(t.root, name, r, size, 0o644, t.mtime)
	case "100755":
		return writeBlob(t.root, name, r, size, 0o755, t.mtime)
	}
	return fmt.Errorf("tree entry %q has mode %s", name, mode)
}

// catFile is one `git cat-file --batch`: objects asked for by id.
type catFile struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	r      *bufio.Reader
	stderr bytes.Buffer
}

func startCatFile(ctx context.Context, repo string) (*catFile, error) {
	cf := &catFile{cmd: gitCommand(ctx, "-C", repo, "cat-file", "--batch")}
	var err error
	if cf.stdin, err = cf.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cf.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cf.cmd.Stderr = &cf.stderr
	if err := cf.cmd.Start(); err != nil {
		return nil, err
	}
	cf.r = bufio.NewReader(stdout)
	return cf, nil
}

// object asks for oid and reads its header: its content, of the size
// returned, follows on r, then a newline.
func (cf *catFile) object(oid string) (int64, error) {
	if _, err := fmt.Fprintln(cf.stdin, oid); err != nil {
		return 0, err
	}
	hdr, err := cf.r.ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("git cat-file: %w (%s)", err, cf.stderr.String())
	}
	hf := strings.Fields(hdr)
	if len(hf) != 3 {
		return 0, fmt.Errorf("git cat-file: unexpected header %q", hdr)
	}
	size, err := strconv.ParseInt(hf[2], 10, 64)
	if err != nil || size < 0 {
		return 0, fmt.Errorf("git cat-file: bad size in %q", hdr)
	}
	return size, nil
}

func (cf *catFile) close() {
	cf.stdin.Close()
	cf.cmd.Wait()
}

// treeWriter creates directories under a root, only where it made them.
type treeWriter struct {
	root  *os.Root
	dir   string // root's path
	mtime time.Time
	made  map[string]bool // directories this export created
	seen  map[string]bool // entries written
	dirs  []string
	total int64 // bytes of the blobs written
}

// parents creates the directories above name. A parent must be a
// directory this export made: a symlink or file of that name is refused.
func (t *treeWriter) parents(name string) error {
	dir := path.Dir(name)
	if t.made[dir] {
		return nil
	}
	if err := t.parents(dir); err != nil {
		return err
	}
	if t.seen[dir] {
		return fmt.Errorf("tree entry %q: %q is not a directory", name, dir)
	}
	return t.mkdir(dir)
}

func (t *treeWriter) mkdir(name string) error {
	if err := t.root.Mkdir(name, 0o755); err != nil {
		return err
	}
	t.made[name] = true
	t.dirs = append(t.dirs, name)
	return t.root.Chmod(name, 0o755) // Mkdir's mode is filtered by the umask
}

func writeBlob(root *os.Root, name string, r io.Reader, size int64, perm os.FileMode, mtime time.Time) error {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(f, r, size); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	// Chmod too: OpenFile's mode is filtered by the umask.
	if err := root.Chmod(name, perm); err != nil {
		return err
	}
	return root.Chtimes(name, mtime, mtime)
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	if dir != "" {
		args = append([]string{"-C", dir}, args...)
	}
	cmd := gitCommand(ctx, args...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := run(cmd); err != nil {
		return "", err
	}
	return stdout.String(), nil
}

// run runs a git command, its error naming the command's last argument
// and quoting what git said.
func run(cmd *exec.Cmd) error {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("git %s: %w: %s", cmd.Args[len(cmd.Args)-1], err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// gitWaitDelay is how long a git command's output is waited for after it
// was killed (a process it started could hold the pipes open).
const gitWaitDelay = 5 * time.Second

// gitCommand is git without the user's or system's configuration and
// without prompts, in a process group of its own: when ctx ends, the
// whole group is killed (git-remote-http, ssh and any other process git
// started), and Wait returns within gitWaitDelay whatever holds the pipes.
func gitCommand(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=/bin/true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = gitWaitDelay
	return cmd
}
