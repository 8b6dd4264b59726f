package kit_test

import (
	"archive/tar"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/internal/limits"
	"github.com/reprover/reprover/kit"
)

// gitRepo makes a repository with one commit: a file, an executable, a
// symlink, a nested file; it returns its directory and the commit.
func gitRepo(t *testing.T) (string, string) {
	dir := t.TempDir()
	run := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_COMMITTER_DATE=2025-01-01T00:00:00Z", "GIT_AUTHOR_DATE=2025-01-01T00:00:00Z")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("init", "-q")
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY . /\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\n"), 0o755)
	os.MkdirAll(filepath.Join(dir, "src", "deep"), 0o755)
	os.WriteFile(filepath.Join(dir, "src", "deep", "a.txt"), []byte("a\n"), 0o600)
	os.Symlink("src/deep/a.txt", filepath.Join(dir, "link"))
	// export-subst would change the file in git archive's output; the
	// kit keeps the tree as committed.
	os.WriteFile(filepath.Join(dir, ".gitattributes"), []byte("src/deep/a.txt export-subst\nrun.sh export-ignore\n"), 0o644)
	run("add", "-A")
	run("commit", "-q", "-m", "one")
	commit := run("rev-parse", "HEAD")
	// Work in progress is not the commit's.
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("changed"), 0o644)
	return dir, commit
}

// TestSourceRoundTrip: a kit made with a source keeps its tree at the
// commit (not the work tree, whatever .gitattributes says), the same tar
// each time, and gives it back through ExtractSource.
func TestSourceRoundTrip(t *testing.T) {
	reg := fixtures.NewRegistry(t)
	rel := newRelease(t, reg, "one")
	dir, commit := gitRepo(t)
	var trees []string
	for range 2 {
		k, err := rel.make(t, func(o *kit.MakeOptions) { o.SourceDir = dir })
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close()
		if s := k.Config.Source; s == nil || s.Commit != commit {
			t.Fatalf("source %+v, want commit %s", s, commit)
		}
		trees = append(trees, k.Config.Source.Tree)
		where := "oci-archive:" + filepath.Join(t.TempDir(), "kit.tar")
		if err := k.WriteTo(t.Context(), where); err != nil {
			t.Fatal(err)
		}
		back, err := kit.Open(t.Context(), where, rel.repo, rel.subject.Digest, kit.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer back.Close()
		out := filepath.Join(t.TempDir(), "src")
		os.Mkdir(out, 0o755)
		got, err := back.ExtractSource(out, kit.Limits{})
		if err != nil || got != commit {
			t.Fatalf("ExtractSource: %s, %v", got, err)
		}
		for name, want := range map[string]string{"Dockerfile": "FROM scratch\nCOPY . /\n", "run.sh": "#!/bin/sh\n", "src/deep/a.txt": "a\n"} {
			if b, err := os.ReadFile(filepath.Join(out, name)); err != nil || string(b) != want {
				t.Errorf("%s: %q, %v; want %q", name, b, err, want)
			}
		}
		for name, mode := range map[string]os.FileMode{"run.sh": 0o755, "src/deep/a.txt": 0o644} {
			if st, err := os.Stat(filepath.Join(out, name)); err != nil || st.Mode().Perm()&^0o022 != mode&^0o022 {
				t.Errorf("%s: mode %v, %v; want %v", name, st.Mode(), err, mode)
			}
		}
		if l, err := os.Readlink(filepath.Join(out, "link")); err != nil || l != "src/deep/a.txt" {
			t.Errorf("link: %q, %v", l, err)
		}
	}
	if trees[0] != trees[1] {
		t.Errorf("the same commit made two trees: %s, %s", trees[0], trees[1])
	}
	if _, err := rel.make(t, func(o *kit.MakeOptions) { o.SourceDir, o.Commit = dir, "--output=/tmp/x" }); err == nil || !strings.Contains(err.Error(), "not a revision") {
		t.Errorf("an option as the commit: %v", err)
	}
}

// TestExtractSourceHostile: a source tar with names or links that leave
// the tree, entries that are not files, directories or symlinks, or more
// than the limits is refused naming the entry, and nothing is written
// outside the directory extracted into.
func TestExtractSourceHostile(t *testing.T) {
	for _, c := range []struct {
		name    string
		entries []fixtures.Entry
		lim     kit.Limits
		want    string
		limit   string
	}{
		{"parent", []fixtures.Entry{fixtures.File("../x", "x")}, kit.Limits{}, `entry "../x": not a name inside the tree`, ""},
		{"deep parent", []fixtures.Entry{fixtures.File("a/../../x", "x")}, kit.Limits{}, `entry "a/../../x": not a name inside the tree`, ""},
		{"absolute", []fixtures.Entry{fixtures.File("/etc/x", "x")}, kit.Limits{}, `entry "/etc/x": not a name inside the tree`, ""},
		{"root", []fixtures.Entry{fixtures.Dir("./")}, kit.Limits{}, `entry "./": not a name inside the tree`, ""},
		{"symlink up", []fixtures.Entry{fixtures.Symlink("a/l", "../../etc")}, kit.Limits{}, `entry "a/l": symlink to "../../etc" leaves the tree`, ""},
		{"symlink absolute", []fixtures.Entry{fixtures.Symlink("l", "/etc")}, kit.Limits{}, `entry "l": symlink to "/etc" leaves the tree`, ""},
		{"through a symlink to the root", []fixtures.Entry{fixtures.Symlink("r", "."), fixtures.File("r/../x", "x")}, kit.Limits{}, `entry "r/../x": openat r/../x: path escapes from parent`, ""},
		{"hard link", []fixtures.Entry{fixtures.File("a", "a"), fixtures.Hardlink("b", "a")}, kit.Limits{}, `entry "b": type "1"`, ""},
		{"device", []fixtures.Entry{{Name: "dev", Type: tar.TypeChar, DevMajor: 1, DevMinor: 3}}, kit.Limits{}, `entry "dev": type "3"`, ""},
		{"fifo", []fixtures.Entry{{Name: "p", Type: tar.TypeFifo}}, kit.Limits{}, `entry "p": type "6"`, ""},
		{"duplicate", []fixtures.Entry{fixtures.File("a", "1"), fixtures.File("a", "2")}, kit.Limits{}, `entry "a": open`, ""},
		{"file then through it", []fixtures.Entry{fixtures.File("a", "1"), fixtures.File("a/b", "2")}, kit.Limits{}, `entry "a/b"`, ""},
		{"entries", []fixtures.Entry{fixtures.File("a", ""), fixtures.File("b", ""), fixtures.File("c", "")}, kit.Limits{MaxSourceEntries: 2},
			"source tree entries: 3 exceeds limit MaxSourceEntries=2", "MaxSourceEntries"},
		{"bytes", []fixtures.Entry{fixtures.File("a", "12345"), fixtures.File("b", "6789")}, kit.Limits{MaxSourceBytes: 8},
			`entry "b": source tree bytes: 9 exceeds limit MaxSourceBytes=8`, "MaxSourceBytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cr := newCrafted()
			cr.source = fixtures.Tar(c.entries...)
			k, err := kit.Open(t.Context(), cr.write(t), "", hostileSubject.Digest, kit.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer k.Close()
			parent := t.TempDir()
			out := filepath.Join(parent, "src")
			os.Mkdir(out, 0o755)
			_, err = k.ExtractSource(out, c.lim)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one saying %q", err, c.want)

			}
			var le *limits.Error
			if errors.As(err, &le) != (c.limit != "") {
				t.Errorf("limit error %v, want %q", le, c.limit)
			}
			if ents, _ := os.ReadDir(parent); len(ents) != 1 {
				t.Errorf("wrote beside the directory: %v", ents)
			}
		})
	}
}

// TestConfigSchema: the config of a kit made with downloads and a source
// matches docs/kit.schema.json, and so does one without a source.
func TestConfigSchema(t *testing.T) {
	sch, err := jsonschema.NewCompiler().Compile(filepath.Join("..", "docs", "kit.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	reg := fixtures.NewRegistry(t)
	rel := newRelease(t, reg, "one")
	dir, _ := gitRepo(t)
	for _, src := range []string{dir, ""} {
		k, err := rel.make(t, func(o *kit.MakeOptions) {
			o.SourceDir = src
			o.Params.BuildArgs, o.Params.Platforms = map[string]string{"V": "1"}, []string{"linux/amd64"}
		})
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close()
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(k.RawConfig())))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(doc); err != nil {
			t.Errorf("source %q: the config does not match docs/kit.schema.json: %v\n%s", src, err, k.RawConfig())
		}
	}
}
