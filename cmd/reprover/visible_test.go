package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/internal/text"
	"github.com/reprover/reprover/internal/text/texttest"
)

// TestOutputShowsVisible: an image whose file names, link target, history
// and a text file's lines hold escape sequences (set the window title,
// clear the screen, ring the bell) and a Dockerfile or a path that hold
// them reach the terminal made visible, on stdout and stderr alike
// (issue 25).
func TestOutputShowsVisible(t *testing.T) {
	const title = "\x1b]0;pwned\x07"
	reg := fixtures.NewRegistry(t)
	image := func(instruction string, es ...fixtures.Entry) string {
		img := fixtures.Image(fixtures.Spec{Steps: []fixtures.Step{{Instruction: instruction, Entries: es}}})
		return reg.MustPush(t, "cli/visible", instruction[len(instruction)-1:], img)
	}
	refA := image("COPY . /a", fixtures.File("app/notes.txt", "hello\n"))
	refB := image("COPY . / "+title+"b", fixtures.File("app/notes.txt", "hello \x1b[2J\x07\n"),
		fixtures.File("app/a"+title+"b", "x"), fixtures.Symlink("app/link", "\x1b[2J"+title), fixtures.File("app/two\nlines", "x"))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM alpine"+title+":3.20\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		code int
	}{
		{"diff", []string{"diff", refA, refB}, 1},
		{"diff-html", []string{"diff", "--format", "html", refA, refB}, 1},
		{"error", []string{"diff", refA, "oci:" + filepath.Join(dir, "no"+title+"pe")}, 2},
		{"check", []string{"check", "--source", dir}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			stdout, stderr := expect(t, c.args, c.code, nil, nil)
			for _, out := range []struct{ name, s string }{{"stdout", stdout}, {"stderr", stderr}} {
				if i := texttest.Hidden(out.s); i >= 0 {
					t.Errorf("%s holds %q: %s", out.name, out.s[i:i+1], texttest.Around(out.s, i))
				}
			}
			if !strings.Contains(stdout+stderr, `\x1b]0;pwned\x07`) {
				t.Errorf("neither stdout nor stderr shows the title sequence made visible:\n%s\n%s", text.VisibleLines(stdout), text.VisibleLines(stderr))
			}
		})
	}
}
