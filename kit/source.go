package kit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/reprover/reprover/internal/gitid"
	"github.com/reprover/reprover/internal/limits"
	"github.com/reprover/reprover/internal/text"
)

// packSource keeps the git objects of commit (HEAD when "") of the git
// repository dir, its commit object, trees and blobs and nothing else
// (no parent, no tag, no submodule's commit), as a pack in scratch named
// by its sha256: `git rev-list --objects --no-walk` lists them and `git
// pack-objects` packs them, on one thread and reusing nothing from the
// repository's own packs, so the same commit gives the same pack with the
// same git. A pack rather than a tar: a verifier gives it to git, which
// computes every object's id, so the tree is proven to be the commit's
// (ImportSource). Not a bundle: one bounded to a commit lists its parents
// as prerequisites, which a verifier lacks, and its pack may be thin.
func packSource(ctx context.Context, dir, commit, scratch string, lim Limits) (Source, error) {
	if commit == "" {
		commit = "HEAD"
	}
	if strings.HasPrefix(commit, "-") {
		return Source{}, fmt.Errorf("source %s: commit %q: not a revision", dir, text.Truncate(commit, 80))
	}
	out, err := gitOutput(ctx, dir, "rev-parse", "--verify", "--end-of-options", commit+"^{commit}")
	if err != nil {
		return Source{}, fmt.Errorf("source %s: %w", dir, err)
	}
	id := strings.TrimSpace(string(out))
	if !gitid.Valid(id) {
		return Source{}, fmt.Errorf("source %s: git resolved %s to %q", dir, commit, text.Truncate(id, 80))
	}
	objects, err := gitOutput(ctx, dir, "rev-list", "--objects", "--no-walk", id)
	if err != nil {
		return Source{}, fmt.Errorf("source %s at %s: %w", dir, id, err)
	}
	if n := bytes.Count(objects, []byte("\n")); n > lim.MaxSourceEntries {
		return Source{}, fmt.Errorf("source %s at %s: %w", dir, id, &limits.Error{What: "source objects", Limit: "MaxSourceEntries", Max: int64(lim.MaxSourceEntries), Got: int64(n)})
	}
	tmp, err := os.CreateTemp(scratch, ".source-")
	if err != nil {
		return Source{}, err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(tmp, h)}
	cmd := gitCommand(ctx, "-C", dir, "pack-objects", "--stdout", "--threads=1", "--no-reuse-delta", "--no-reuse-object", "--delta-base-offset", "-q")
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(objects), cw, &stderr
	err = cmd.Run()
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Source{}, fmt.Errorf("source %s at %s: git pack-objects: %w: %s", dir, id, err, text.Truncate(strings.TrimSpace(stderr.String()), 512))
	}
	// What a verifier would refuse is not kept.
	f, err := os.Open(tmp.Name())
	if err != nil {
		return Source{}, err
	}
	_, err = checkPack(f, len(id)/2, lim)
	f.Close()
	if err != nil {
		return Source{}, fmt.Errorf("source %s at %s: %w", dir, id, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := os.Rename(tmp.Name(), filepath.Join(scratch, sum)); err != nil {
		return Source{}, err
	}
	return Source{Commit: id, Pack: "sha256:" + sum, Size: cw.n}, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func gitOutput(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := gitCommand(ctx, append([]string{"-C", dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s: %w: %s", args[0], err, text.Truncate(strings.TrimSpace(stderr.String()), 512))
	}
	return out, nil
}

// gitCommand is git without the user's or system's configuration, in a
// process group of its own that is killed when ctx ends.
func gitCommand(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "git", args...)
	// No GIT_DIR, GIT_OBJECT_DIRECTORY or other GIT_ variable of the
	// caller's: git reads the repository named, and only it.
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "GIT_") })
	cmd.Env = append(env, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// ImportSource makes dir (a directory that does not exist yet, or is
// empty) a bare git repository holding the kit's source objects, and
// returns the commit they are: the pack is read first under lim
// (checkPack), then `git index-pack` computes every object's id, so the
// commit the kit names exists in dir only if the objects hash to it, and
// its tree is that commit's. Objects that hash to another commit, a pack
// with objects beyond the commit's own, a truncated or malformed pack, or
// one over a limit is refused, naming the kit and the commit. git runs
// with no configuration but dir's own, which it just made, no hooks, and
// reaches no network; the commit's parents are not there.
func (k *Kit) ImportSource(ctx context.Context, dir string, lim Limits) (string, error) {
	s := k.Config.Source
	if s == nil {
		return "", fmt.Errorf("kit %s holds no source", k.digest)
	}
	lim = lim.withDefaults()
	if err := k.importSource(ctx, *s, dir, lim); err != nil {
		return "", fmt.Errorf("kit %s: source at %s: %w", k.digest, s.Commit, err)
	}
	return s.Commit, nil
}

func (k *Kit) importSource(ctx context.Context, s Source, dir string, lim Limits) error {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return fmt.Errorf("importing into %s: the directory is not empty", dir)
	} else if err != nil && !os.IsNotExist(err) {
		return err
	}
	args := []string{"init", "--quiet", "--bare", "--template="}
	if len(s.Commit) == 64 {
		args = append(args, "--object-format=sha256")
	}
	if _, err := gitOutput(ctx, ".", append(args, "--", dir)...); err != nil {
		return err
	}
	// The pack is read and checked whole before git sees a byte of it.
	tmp, err := os.CreateTemp(dir, ".pack-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	rc, err := k.blobs.open(ctx, sourceDescriptor(s), "source pack at "+s.Commit)
	if err != nil {
		tmp.Close()
		return err
	}
	count, err := checkPack(io.TeeReader(rc, tmp), len(s.Commit)/2, lim)
	rc.Close()
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	pack, err := os.Open(tmp.Name())
	if err != nil {
		return err
	}
	defer pack.Close()
	cmd := gitCommand(ctx, "--git-dir="+dir, "-c", "core.hooksPath=/dev/null", "index-pack", "--stdin", "--fsck-objects",
		"--threads=1", "--max-input-size="+strconv.FormatInt(s.Size, 10))
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stderr = pack, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("git index-pack: %w: %s", err, text.Truncate(strings.TrimSpace(stderr.String()), 512))
	}
	// The proof: git hashed the objects, and one of them is the commit.
	if out, err := gitOutput(ctx, dir, "cat-file", "-t", s.Commit); err != nil || strings.TrimSpace(string(out)) != "commit" {
		return fmt.Errorf("the kit's objects are not commit %s: no object hashes to it (%d objects)", s.Commit, count)
	}
	return exactlyCommit(ctx, dir, s.Commit, count)
}

// exactlyCommit refuses objects in the repository dir beyond the commit's
// own (its tree's); one it lacks fails git when the tree is read.
func exactlyCommit(ctx context.Context, dir, commit string, count int) error {
	// Ids only: at most count lines of one id each (checkPack bounded it).
	want, err := gitOutput(ctx, dir, "rev-list", "--objects", "--no-object-names", "--no-walk", commit)
	if err != nil {
		return err
	}
	of := make(map[string]bool, count)
	for line := range strings.Lines(string(want)) {
		of[strings.TrimSpace(line)] = true
	}
	all, err := gitOutput(ctx, dir, "cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype)")
	if err != nil {
		return err
	}
	var extra []string
	for line := range strings.Lines(string(all)) {
		if id, typ, _ := strings.Cut(strings.TrimSpace(line), " "); !of[id] {
			extra = append(extra, typ+" "+id)
		}
	}
	if len(extra) > 0 {
		return fmt.Errorf("the pack holds %d object(s) beyond the commit's own (%s%s)", len(extra), extra[0], more(len(extra)))
	}
	return nil
}

func more(n int) string {
	if n > 1 {
		return ", …"
	}
	return ""
}
