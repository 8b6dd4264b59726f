package verify_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/verify"
)

// gitObj writes a raw object into repo (hash-object --literally accepts
// what porcelain never makes) and returns its id.
func gitObj(t *testing.T, repo, typ string, body []byte) string {
	t.Helper()
	cmd := exec.Command("git", "-C", repo, "hash-object", "-t", typ, "-w", "--literally", "--stdin")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hash-object: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// treeEntry is one raw entry of a tree object.
func treeEntry(t *testing.T, mode, name, id string) []byte {
	raw, err := hex.DecodeString(id)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte(mode+" "+name+"\x00"), raw...)
}

// hostileCommit makes a commit whose tree is entries, in a new repository.
func hostileCommit(t *testing.T, entries func(repo string) [][]byte) (string, string) {
	t.Helper()
	repo, _ := fixtures.GitRepo(t, map[string]string{"README": "x\n"}, fixtures.ReleaseTime)
	tree := gitObj(t, repo, "tree", bytes.Join(entries(repo), nil))
	commit := gitObj(t, repo, "commit", []byte("tree "+tree+"\nauthor a <a@b> 1740830400 +0000\ncommitter a <a@b> 1740830400 +0000\n\nhostile\n"))
	return repo, commit
}

// TestExportHostileTrees: a repository is untrusted too. A tree that names
// the same path as a symlink and as a directory must not make the export
// write through the symlink; duplicate entries and huge link targets are
// refused; nothing is written outside the scratch directory.
func TestExportHostileTrees(t *testing.T) {
	outside := t.TempDir()
	tests := []struct {
		name    string
		entries func(repo string) [][]byte
		want    string
	}{
		{"symlink then directory of the same name", func(repo string) [][]byte {
			link := gitObj(t, repo, "blob", []byte(outside))
			file := gitObj(t, repo, "blob", []byte("pwned\n"))
			sub := gitObj(t, repo, "tree", treeEntry(t, "100644", "x", file))
			return [][]byte{treeEntry(t, "120000", "a", link), treeEntry(t, "40000", "a", sub)}
		}, "not a directory"},
		{"duplicate entries", func(repo string) [][]byte {
			file := gitObj(t, repo, "blob", []byte("one\n"))
			return [][]byte{treeEntry(t, "100644", "f", file), treeEntry(t, "100644", "f", file)}
		}, "twice"},
		{"huge symlink target", func(repo string) [][]byte {
			link := gitObj(t, repo, "blob", bytes.Repeat([]byte("a"), 5000))
			return [][]byte{treeEntry(t, "120000", "l", link)}
		}, "symlink target"},
	}
	for _, tc := range tests {
		for _, viaURL := range []bool{false, true} {
			name := tc.name
			if viaURL {
				name += " (cloned)"
			}
			t.Run(name, func(t *testing.T) {
				repo, commit := hostileCommit(t, tc.entries)
				src := repo
				if viaURL {
					src = "file://" + repo
				}
				_, err := verify.ExportCommit(t.Context(), src, commit, t.TempDir())
				if err == nil {
					t.Fatal("the hostile tree was exported")
				}
				if !viaURL && !strings.Contains(err.Error(), tc.want) {
					t.Errorf("err = %v, want it to say %q", err, tc.want)
				}
				if _, err := os.Stat(filepath.Join(outside, "x")); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("the export wrote outside its directory: %v", err)
				}
			})
		}
	}
}

// TestSymlinkedInputsRefused: a --context or Dockerfile that the source
// makes a symlink (to /, to /dev/zero) is refused before anything is read
// or sent to BuildKit.
func TestSymlinkedInputsRefused(t *testing.T) {
	repo, _ := fixtures.GitRepo(t, map[string]string{"Dockerfile": "FROM scratch\n", "app/a": "a\n"}, fixtures.ReleaseTime)
	for _, l := range [][2]string{{"/", "ctx"}, {"/dev/zero", "Dockerfile.zero"}, {"/etc", "sub"}} {
		if err := os.Symlink(l[0], filepath.Join(repo, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	run := exec.Command("git", "-C", repo, "-c", "user.name=a", "-c", "user.email=a@b", "commit", "-qam", "links")
	run.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null")
	if out, err := exec.Command("git", "-C", repo, "add", "-A").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if out, err := run.CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	out, err := exec.Command("git", "-C", repo, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	commit := strings.TrimSpace(string(out))
	layout := filepath.Join(t.TempDir(), "published")
	if err := fixtures.WriteLayout(layout, "v1", fixtures.Image(fixtures.Spec{})); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		req  verify.Request
	}{
		{"context symlinked to /", verify.Request{Context: "ctx"}},
		{"Dockerfile symlinked to /dev/zero", verify.Request{Dockerfile: "Dockerfile.zero"}},
		{"Dockerfile under a symlinked directory", verify.Request{Dockerfile: "sub/passwd"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			req.Source, req.Commit, req.Image = repo, commit, "oci:"+layout+":v1"
			// No builder: the request must be refused before any build.
			rep, err := verify.Run(t.Context(), req, nil, verify.Options{})
			if err == nil || !strings.Contains(err.Error(), "symlink") || rep.Verdict != "error" {
				t.Errorf("verdict %s, err %v; want an error naming the symlink", rep.Verdict, err)
			}
			roundTrip(t, rep)
		})
	}
}

// TestCloneBounded: a clone that writes more than MaxCloneBytes stops with
// an error saying so.
func TestCloneBounded(t *testing.T) {
	repo, commit := fixtures.GitRepo(t, map[string]string{"big.bin": randomText(2 << 20)}, fixtures.ReleaseTime)
	old := verify.MaxCloneBytes
	verify.MaxCloneBytes = 1 << 20
	defer func() { verify.MaxCloneBytes = old }()
	_, err := verify.ExportCommit(t.Context(), "file://"+repo, commit, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("err = %v, want the clone stopped at the limit", err)
	}
}

// randomText is n bytes that do not compress.
func randomText(n int) string {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = 'a' + byte(x%26)
	}
	return string(b)
}
