package kit

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/reprover/reprover/internal/gitid"
	"github.com/reprover/reprover/internal/limits"
	"github.com/reprover/reprover/internal/text"
)

// exportSource writes the tree of commit (HEAD when "") in the git
// checkout dir as a tar in scratch, named by its sha256: entries in git's
// order, regular files 0644 or 0755, symlinks, uid and gid 0, mtime 0, so
// the same tree is the same blob. git archive is not used: it applies the
// tree's own export-ignore and export-subst attributes, and a kit keeps
// the tree as committed. Submodules are left out, as git archive does.
func exportSource(ctx context.Context, dir, commit, scratch string, lim Limits) (Source, error) {
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
	tmp, err := os.CreateTemp(scratch, ".source-")
	if err != nil {
		return Source{}, err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(tmp, h)}
	err = writeTree(ctx, dir, id, tar.NewWriter(cw), lim)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Source{}, fmt.Errorf("source %s at %s: %w", dir, id, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := os.Rename(tmp.Name(), filepath.Join(scratch, sum)); err != nil {
		return Source{}, err
	}
	return Source{Commit: id, Tree: "sha256:" + sum, Size: cw.n}, nil
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

// writeTree writes the tree of commit id: `git ls-tree -r -z` lists it,
// `git cat-file --batch` streams each blob.
func writeTree(ctx context.Context, dir, id string, tw *tar.Writer, lim Limits) error {
	list, err := gitOutput(ctx, dir, "ls-tree", "-r", "-z", "--full-tree", id)
	if err != nil {
		return err
	}
	cmd := gitCommand(ctx, "-C", dir, "cat-file", "--batch")
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { in.Close(); cmd.Wait() }()
	br := bufio.NewReader(outPipe)
	var total int64
	n := 0
	for entry := range strings.SplitSeq(strings.TrimSuffix(string(list), "\x00"), "\x00") {
		if entry == "" {
			continue
		}
		meta, name, ok := strings.Cut(entry, "\t")
		fields := strings.Fields(meta)
		if !ok || len(fields) != 3 {
			return fmt.Errorf("git ls-tree: unexpected line %q", text.Truncate(entry, 128))
		}
		mode, kind, oid := fields[0], fields[1], fields[2]
		if kind != "blob" { // a submodule (commit)
			continue
		}
		if n++; n > lim.MaxSourceEntries {
			return &limits.Error{What: "source tree entries", Limit: "MaxSourceEntries", Max: int64(lim.MaxSourceEntries), Got: int64(n)}
		}
		if _, err := io.WriteString(in, oid+"\n"); err != nil {
			return fmt.Errorf("git cat-file: %w: %s", err, stderr.String())
		}
		head, err := br.ReadString('\n')
		if err != nil {
			return fmt.Errorf("git cat-file %s: %w: %s", oid, err, stderr.String())
		}
		hf := strings.Fields(head)
		if len(hf) != 3 || hf[0] != oid || hf[1] != "blob" {
			return fmt.Errorf("git cat-file %s: answered %q", oid, text.Truncate(head, 128))
		}
		size, err := strconv.ParseInt(hf[2], 10, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("git cat-file %s: size %q", oid, hf[2])
		}
		if total += size; total > lim.MaxSourceBytes {
			return &limits.Error{What: "source tree bytes", Limit: "MaxSourceBytes", Max: lim.MaxSourceBytes, Got: total}
		}
		hdr := &tar.Header{Name: name, Mode: 0o644, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		body := io.LimitReader(br, size)
		switch mode {
		case "100644":
			hdr.Typeflag, hdr.Size = tar.TypeReg, size
		case "100755":
			hdr.Typeflag, hdr.Size, hdr.Mode = tar.TypeReg, size, 0o755
		case "120000":
			target, err := io.ReadAll(body)
			if err != nil {
				return err
			}
			hdr.Typeflag, hdr.Linkname, hdr.Mode = tar.TypeSymlink, string(target), 0o777
			body = strings.NewReader("")
		default:
			return fmt.Errorf("%s: git mode %s", text.Truncate(name, 256), mode)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", text.Truncate(name, 256), err)
		}
		if _, err := io.Copy(tw, body); err != nil {
			return fmt.Errorf("%s: %w", text.Truncate(name, 256), err)
		}
		if _, err := br.ReadByte(); err != nil { // the newline after the contents
			return err
		}
	}
	return tw.Close()
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
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// ExtractSource writes the kit's source tree into dir, which must be an
// empty directory, and returns the commit it was exported from. The tar
// is untrusted: an entry whose name is not local (`../x`, absolute), a
// symlink whose target leaves the tree, a hard link, a device, a
// duplicate, or more entries or bytes than the limits allow is refused,
// naming it; every file is written through an os.Root of dir, so no
// entry, whatever symlinks came before it, is written outside.
func (k *Kit) ExtractSource(dir string, lim Limits) (string, error) {
	s := k.Config.Source
	if s == nil {
		return "", fmt.Errorf("kit %s holds no source tree", k.digest)
	}
	lim = lim.withDefaults()
	if ents, err := os.ReadDir(dir); err != nil {
		return "", err
	} else if len(ents) > 0 {
		return "", fmt.Errorf("extracting the kit's source into %s: the directory is not empty", dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", err
	}
	defer root.Close()
	rc, err := k.blobs.open(k.ctx, sourceDescriptor(*s), "source tree at "+s.Commit)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	if err := extract(tar.NewReader(rc), root, lim); err != nil {
		return "", fmt.Errorf("kit %s: source tree at %s: %w", k.digest, s.Commit, err)
	}
	// The verifying reader checks the digest at EOF: read past the end
	// of the archive.
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return "", fmt.Errorf("kit %s: %w", k.digest, err)
	}
	return s.Commit, nil
}

func extract(tr *tar.Reader, root *os.Root, lim Limits) error {
	var total int64
	for n := 1; ; n++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if n > lim.MaxSourceEntries {
			return &limits.Error{What: "source tree entries", Limit: "MaxSourceEntries", Max: int64(lim.MaxSourceEntries), Got: int64(n)}
		}
		name := strings.TrimSuffix(h.Name, "/")
		q := strconv.Quote(text.Truncate(h.Name, 256))
		if !filepath.IsLocal(name) || strings.ContainsRune(name, 0) || name == "." {
			return fmt.Errorf("entry %s: not a name inside the tree", q)
		}
		if err := root.MkdirAll(path.Dir(name), 0o755); err != nil {
			return fmt.Errorf("entry %s: %w", q, err)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.Mkdir(name, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("entry %s: %w", q, err)
			}
		case tar.TypeReg:
			if h.Size < 0 {
				return fmt.Errorf("entry %s: size %d", q, h.Size)
			}
			if total += h.Size; total > lim.MaxSourceBytes {
				return fmt.Errorf("entry %s: %w", q, &limits.Error{What: "source tree bytes", Limit: "MaxSourceBytes", Max: lim.MaxSourceBytes, Got: total})
			}
			mode := fs.FileMode(0o644)
			if h.Mode&0o111 != 0 {
				mode = 0o755
			}
			f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
			if err != nil {
				return fmt.Errorf("entry %s: %w", q, err)
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("entry %s: %w", q, err)
			}
		case tar.TypeSymlink:
			t := h.Linkname
			if path.IsAbs(t) || !filepath.IsLocal(path.Join(path.Dir(name), t)) && path.Join(path.Dir(name), t) != "." {
				return fmt.Errorf("entry %s: symlink to %q leaves the tree", q, text.Truncate(t, 256))
			}
			if err := root.Symlink(t, name); err != nil {
				return fmt.Errorf("entry %s: %w", q, err)
			}
		default:
			return fmt.Errorf("entry %s: type %q: a source tree holds files, directories and symlinks", q, string(h.Typeflag))
		}
	}
}
