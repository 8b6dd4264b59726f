package kit_test

import (
	"bytes"
	"cmp"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/internal/limits"
	"github.com/reprover/reprover/kit"
)

// git runs git in dir with a fixed identity and dates, and no user or
// system configuration.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_COMMITTER_DATE=2025-01-01T00:00:00Z", "GIT_AUTHOR_DATE=2025-01-01T00:00:00Z")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	return string(out)
}

// gitRepo makes a repository of two commits and returns its directory
// and the second: a file, an executable, a symlink, nested directories,
// and a .gitattributes whose filter, eol and export-subst would change
// the files in a checkout or git archive (the filter's driver is
// configured in the repository after the commit), over a first commit a
// kit does not keep. Work in progress is left in the work tree.
func gitRepo(t *testing.T) (string, string) {
	dir := t.TempDir()
	git(t, dir, "init", "-q")
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY . /\n"), 0o644)
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "first")
	os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\n"), 0o755)
	os.MkdirAll(filepath.Join(dir, "src", "deep"), 0o755)
	os.WriteFile(filepath.Join(dir, "src", "deep", "a.txt"), []byte("a\n$Format:%H$\n"), 0o600)
	os.Symlink("src/deep/a.txt", filepath.Join(dir, "link"))
	os.WriteFile(filepath.Join(dir, ".gitattributes"), []byte("*.txt text eol=crlf filter=upper\nsrc/deep/a.txt export-subst\nrun.sh export-ignore\n"), 0o644)
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "second")
	commit := strings.TrimSpace(git(t, dir, "rev-parse", "HEAD"))
	git(t, dir, "config", "filter.upper.smudge", "tr a-z A-Z")
	git(t, dir, "config", "filter.upper.clean", "tr a-z A-Z")
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("changed"), 0o644)
	return dir, commit
}

// TestSourceRoundTrip: a kit made with a source keeps the commit's git
// objects (not the work tree's, and the parent's not at all), the same
// pack each time; ImportSource gives a bare repository where git finds
// the commit, with the tree, modes, symlink and bytes as committed (no
// filter, eol or export-subst applied), and nothing else.
func TestSourceRoundTrip(t *testing.T) {
	reg := fixtures.NewRegistry(t)
	rel := newRelease(t, reg, "one")
	dir, commit := gitRepo(t)
	parent := strings.TrimSpace(git(t, dir, "rev-parse", "HEAD^"))
	tree := git(t, dir, "ls-tree", "-r", "--full-tree", commit)
	var packs []string
	for range 2 {
		k, err := rel.make(t, func(o *kit.MakeOptions) { o.SourceDir = dir })
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close()
		if s := k.Config.Source; s == nil || s.Commit != commit {
			t.Fatalf("source %+v, want commit %s", s, commit)
		}
		packs = append(packs, k.Config.Source.Pack)
		where := "oci-archive:" + filepath.Join(t.TempDir(), "kit.tar")
		if err := k.WriteTo(t.Context(), where); err != nil {
			t.Fatal(err)
		}
		back, err := kit.Open(t.Context(), where, rel.repo, rel.subject.Digest, kit.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer back.Close()
		repo := filepath.Join(t.TempDir(), "repo")
		got, err := back.ImportSource(t.Context(), repo, kit.Limits{})
		if err != nil || got != commit {
			t.Fatalf("ImportSource: %s, %v", got, err)
		}
		if got := git(t, repo, "ls-tree", "-r", "--full-tree", commit); got != tree {
			t.Errorf("the imported tree:\n%s\nwant the commit's:\n%s", got, tree)
		}
		for name, want := range map[string]string{"Dockerfile": "FROM scratch\nCOPY . /\n", "run.sh": "#!/bin/sh\n", "src/deep/a.txt": "a\n$Format:%H$\n", "link": "src/deep/a.txt"} {
			if b := git(t, repo, "cat-file", "-p", commit+":"+name); b != want {
				t.Errorf("%s: %q, want %q", name, b, want)
			}
		}
		if n := strings.Count(git(t, repo, "cat-file", "--batch-all-objects", "--batch-check"), "\n"); n != 9 {
			t.Errorf("%d objects imported, want 9: the commit, 3 trees, 5 blobs", n)
		}
		cmd := exec.Command("git", "-C", repo, "cat-file", "-e", parent)
		if cmd.Run() == nil {
			t.Errorf("the parent %s was kept", parent)
		}
	}
	if packs[0] != packs[1] {
		t.Errorf("the same commit made two packs: %s, %s", packs[0], packs[1])
	}
	if _, err := rel.make(t, func(o *kit.MakeOptions) { o.SourceDir, o.Commit = dir, "--output=/tmp/x" }); err == nil || !strings.Contains(err.Error(), "not a revision") {
		t.Errorf("an option as the commit: %v", err)
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

// realPack is git's pack of commit's objects in dir, and of the objects
// named in extra.
func realPack(t *testing.T, dir, commit string, extra ...string) []byte {
	t.Helper()
	list := git(t, dir, "rev-list", "--objects", "--no-walk", commit)
	for _, e := range extra {
		list += e + "\n"
	}
	cmd := exec.Command("git", "-C", dir, "pack-objects", "--stdout", "-q")
	cmd.Stdin = strings.NewReader(list)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// packEntry is one object of a pack written by hand: its type, the size
// its header declares (len(data) when -1), what follows the header (a
// delta's base), and the bytes compressed.
type packEntry struct {
	typ  int
	size int64
	base []byte
	data []byte
}

// packOf writes a version 2 pack of the entries, its header declaring
// count objects (len(entries) when -1), with its SHA-1 trailer.
func packOf(count int64, entries ...packEntry) []byte {
	if count < 0 {
		count = int64(len(entries))
	}
	var b bytes.Buffer
	b.WriteString("PACK")
	binary.Write(&b, binary.BigEndian, uint32(2))
	binary.Write(&b, binary.BigEndian, uint32(count))
	for _, e := range entries {
		size := e.size
		if size < 0 {
			size = int64(len(e.data))
		}
		c := byte(e.typ<<4) | byte(size&15)
		for size >>= 4; size > 0; size >>= 7 {
			b.WriteByte(c | 0x80)
			c = byte(size & 0x7f)
		}
		b.WriteByte(c)
		b.Write(e.base)
		z := zlib.NewWriter(&b)
		z.Write(e.data)
		z.Close()
	}
	h := sha1.Sum(b.Bytes())
	b.Write(h[:])
	return b.Bytes()
}

// varint is a delta's size.
func varint(n int64) []byte {
	var out []byte
	for ; n >= 0x80; n >>= 7 {
		out = append(out, byte(n&0x7f)|0x80)
	}
	return append(out, byte(n))
}

// TestImportSourceHostile: a kit's source pack that is not exactly the
// commit's objects, or that git would be made to allocate or read beyond
// the limits for, is refused naming the kit and the commit, before git
// reads it when the limits or the pack's form are at fault; nothing is
// left that a verification could take for the commit.
func TestImportSourceHostile(t *testing.T) {
	dir, commit := gitRepo(t)
	parent := strings.TrimSpace(git(t, dir, "rev-parse", "HEAD^"))
	good := realPack(t, dir, commit)
	blobID := bytes.Repeat([]byte{1}, 20)
	for _, c := range []struct {
		name   string
		pack   []byte
		commit string // the commit the kit names (commit when "")
		lim    kit.Limits
		want   string
		limit  string
	}{
		{name: "the objects of another commit", pack: good, commit: parent,
			want: "the kit's objects are not commit " + parent + ": no object hashes to it"},
		{name: "objects beyond the commit's", pack: realPack(t, dir, commit, parent),
			want: "the pack holds 1 object(s) beyond the commit's own (commit " + parent + ")"},
		{name: "cut in its checksum", pack: good[:len(good)-5], want: "the pack's checksum: unexpected EOF"},
		{name: "cut in an object", pack: good[:len(good)/2], want: "unexpected EOF"},
		{name: "bytes after the checksum", pack: append(slices.Clone(good), 'x'), want: "1 bytes after the pack's checksum"},
		{name: "checksum wrong", pack: append(slices.Clone(good[:len(good)-1]), good[len(good)-1]^1), want: "git index-pack"},
		{name: "not a pack", pack: []byte("PAKC\x00\x00\x00\x02\x00\x00\x00\x00"), want: `not a git pack: it starts "PAKC"`},
		{name: "version 9", pack: []byte("PACK\x00\x00\x00\x09\x00\x00\x00\x00"), want: "git pack version 9"},
		{name: "count bomb in the header", pack: packOf(1<<32 - 1),
			want: "source objects (the pack's header): 4294967295 exceeds limit MaxSourceEntries=1000000", limit: "MaxSourceEntries"},
		{name: "more objects than the limit", pack: good, lim: kit.Limits{MaxSourceEntries: 4},
			want: "exceeds limit MaxSourceEntries=4", limit: "MaxSourceEntries"},
		{name: "an object over the limit", pack: good, lim: kit.Limits{MaxSourceBytes: 10},
			want: "exceeds limit MaxSourceBytes=10", limit: "MaxSourceBytes"},
		{name: "a size declared huge", pack: packOf(-1, packEntry{typ: 3, size: 1 << 50, data: []byte("abc")}),
			want: "source object bytes: 1125899906842624 exceeds limit MaxSourceBytes", limit: "MaxSourceBytes"},
		{name: "a delta whose result is huge", pack: packOf(-1, packEntry{typ: 3, size: -1, data: []byte("abc")},
			packEntry{typ: 7, size: -1, base: blobID, data: append(append(varint(3), varint(1<<40)...), 0x90, 0x03)}),
			want: "a delta's result: source object bytes: 1099511627776 exceeds limit MaxSourceBytes", limit: "MaxSourceBytes"},
		{name: "objects over the limit together", lim: kit.Limits{MaxSourceBytes: 5},
			pack: packOf(-1, packEntry{typ: 3, size: -1, data: []byte("abc")}, packEntry{typ: 3, size: -1, data: []byte("def")}),
			want: "source bytes (objects 0..1): 6 exceeds limit MaxSourceBytes=5", limit: "MaxSourceBytes"},
		{name: "inflates beyond its header", pack: packOf(-1, packEntry{typ: 3, size: 3, data: []byte("abcd")}),
			want: "pack object 0 at offset 12: inflates to more than 3 bytes, its header says 3"},
		{name: "inflates short of its header", pack: packOf(-1, packEntry{typ: 3, size: 5, data: []byte("abc")}),
			want: "pack object 0 at offset 12: inflates to 3 bytes, its header says 5"},
		{name: "a tag", pack: packOf(-1, packEntry{typ: 4, size: -1, data: []byte("object x\n")}),
			want: "type 4: a commit's objects are a commit, trees and blobs"},
		{name: "a size of 70 bits", pack: append([]byte("PACK\x00\x00\x00\x02\x00\x00\x00\x01"), bytes.Repeat([]byte{0xff}, 11)...),
			want: "a size of more than 63 bits"},
		{name: "a thin pack", pack: packOf(-1, packEntry{typ: 7, size: -1, base: blobID, data: append(append(varint(3), varint(3)...), 0x90, 0x03)}),
			want: "git index-pack"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cr := newCrafted()
			cr.source, cr.commit = c.pack, cmp.Or(c.commit, commit)
			k, err := kit.Open(t.Context(), cr.write(t), "", hostileSubject.Digest, kit.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer k.Close()
			repo := filepath.Join(t.TempDir(), "repo")
			got, err := k.ImportSource(t.Context(), repo, c.lim)
			if err == nil {
				t.Fatalf("imported %s", got)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "source at "+cr.commit) {
				t.Errorf("error:\n%v\nwant it to name the source at %s and say %q", err, cr.commit, c.want)
			}
			var le *limits.Error
			if errors.As(err, &le) != (c.limit != "") || c.limit != "" && le.Limit != c.limit {
				t.Errorf("limit error %v, want %q", le, c.limit)
			}
		})
	}
}

// TestSourceSHA256: a repository of SHA-256 object ids is kept and
// imported as well: its pack's ids are 32 bytes, and the repository
// imported into is one of SHA-256 ids.
func TestSourceSHA256(t *testing.T) {
	dir := t.TempDir()
	git(t, dir, "init", "-q", "--object-format=sha256")
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644)
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "one")
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY . /\n"), 0o644)
	git(t, dir, "commit", "-q", "-a", "-m", "two")
	commit := strings.TrimSpace(git(t, dir, "rev-parse", "HEAD"))
	if len(commit) != 64 {
		t.Fatalf("commit %q: want a SHA-256 id", commit)
	}
	k, err := kit.Make(t.Context(), kit.MakeOptions{Subject: hostileSubject, SourceDir: dir, Scratch: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	repo := filepath.Join(t.TempDir(), "repo")
	if got, err := k.ImportSource(t.Context(), repo, kit.Limits{}); err != nil || got != commit {
		t.Fatalf("ImportSource: %s, %v; want %s", got, err, commit)
	}
	if b := git(t, repo, "cat-file", "-p", commit+":Dockerfile"); b != "FROM scratch\nCOPY . /\n" {
		t.Errorf("Dockerfile: %q", b)
	}
}
