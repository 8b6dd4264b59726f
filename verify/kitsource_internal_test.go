package verify

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprover/reprover/kit"
)

// TestExportFromKit: the commit's tree exported from a kit's git objects
// is the commit's exactly, as from its repository: contents as committed
// (a .gitattributes filter, eol and export-subst do not apply, though the
// filter's driver is configured where the kit was made), modes 0644 and
// 0755, the symlink, nested directories, every mtime the commit time;
// the commit's parent is not in the kit and is not needed. A kit of
// another commit is ErrKit naming both.
func TestExportFromKit(t *testing.T) {
	dir := t.TempDir()
	when := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	gitIn := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		d := when.Format(time.RFC3339)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_COMMITTER_DATE="+d, "GIT_AUTHOR_DATE="+d)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("git %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	write := func(name, body string, mode os.FileMode) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	gitIn("init", "-q")
	write("Dockerfile", "FROM scratch\n", 0o644)
	gitIn("add", "-A")
	gitIn("commit", "-q", "-m", "first")
	write("run.sh", "#!/bin/sh\necho run\n", 0o755)
	write("src/deep/a.txt", "lower\n$Format:%H$\n", 0o600)
	write(".gitattributes", "*.txt text eol=crlf filter=upper\nsrc/deep/a.txt export-subst\nrun.sh export-ignore\n", 0o644)
	if err := os.Symlink("src/deep/a.txt", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	gitIn("add", "-A")
	gitIn("commit", "-q", "-m", "second")
	commit, parent := gitIn("rev-parse", "HEAD"), gitIn("rev-parse", "HEAD^")
	gitIn("config", "filter.upper.smudge", "tr a-z A-Z")

	subject := v1.Descriptor{MediaType: types.OCIImageIndex, Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("5", 64)}, Size: 1}
	k, err := kit.Make(t.Context(), kit.MakeOptions{Subject: subject, SourceDir: dir, Commit: commit, Scratch: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	scratch := t.TempDir()
	co, err := fromKit(t.Context(), k, commit, Options{}, scratch)
	if err != nil {
		t.Fatal(err)
	}
	if co.Commit != commit || co.Kit != k.Digest().String() || !co.CommitTime.Equal(when) {
		t.Errorf("checkout %+v: want commit %s at %s from kit %s", co, commit, when, k.Digest())
	}
	for name, want := range map[string]struct {
		body string
		mode os.FileMode
	}{
		"Dockerfile":     {"FROM scratch\n", 0o644},
		"run.sh":         {"#!/bin/sh\necho run\n", 0o755},
		"src/deep/a.txt": {"lower\n$Format:%H$\n", 0o644},
		".gitattributes": {"*.txt text eol=crlf filter=upper\nsrc/deep/a.txt export-subst\nrun.sh export-ignore\n", 0o644},
	} {
		p := filepath.Join(co.Dir, filepath.FromSlash(name))
		b, err := os.ReadFile(p)
		st, serr := os.Lstat(p)
		if err != nil || serr != nil || string(b) != want.body || st.Mode() != want.mode || !st.ModTime().Equal(when) {
			t.Errorf("%s: %q mode %v mtime %v (%v, %v); want %q mode %v mtime %s", name, b, st.Mode(), st.ModTime(), err, serr, want.body, want.mode, when)
		}
	}
	if l, err := os.Readlink(filepath.Join(co.Dir, "link")); err != nil || l != "src/deep/a.txt" {
		t.Errorf("link: %q, %v", l, err)
	}
	for _, d := range []string{"src", "src/deep"} {
		if st, err := os.Stat(filepath.Join(co.Dir, d)); err != nil || !st.IsDir() || !st.ModTime().Equal(when) {
			t.Errorf("%s: %v, %v", d, st, err)
		}
	}
	if ents, _ := os.ReadDir(scratch); len(ents) != 1 {
		t.Errorf("scratch holds %v: want the export alone (the kit's repository removed)", ents)
	}
	if _, err := fromKit(t.Context(), k, parent, Options{}, t.TempDir()); !errors.Is(err, ErrKit) ||
		!strings.Contains(err.Error(), "holds the source at commit "+commit+", and the release's is "+parent) {
		t.Errorf("the kit for another commit: %v", err)
	}
}
