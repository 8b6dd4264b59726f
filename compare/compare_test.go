package compare_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/image"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestCases runs the named table of fixtures through a real registry and
// checks the verdict, the paths named, and the whole report against
// testdata/golden/NAME.json and NAME.txt.
func TestCases(t *testing.T) {
	reg := fixtures.NewRegistry(t)
	for _, c := range fixtures.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			ctx := t.Context()
			refA := reg.MustPush(t, "cases/"+c.Name, "a", c.A)
			refB := reg.MustPush(t, "cases/"+c.Name, "b", c.B)
			a, err := image.Open(ctx, refA, image.Options{})
			if err != nil {
				t.Fatal(err)
			}
			b, err := image.Open(ctx, refB, image.Options{})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := compare.Images(ctx, a, b, compare.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Verdict != c.Verdict {
				t.Errorf("verdict = %s, want %s", rep.Verdict, c.Verdict)
			}
			named := changedPaths(rep)
			for _, p := range c.Paths {
				if !slices.Contains(named, p) {
					t.Errorf("report does not name %s; it names %v", p, named)
				}
			}
			causes := causesByPath(rep)
			for p, want := range c.Causes {
				if got := causes[p]; got != want {
					t.Errorf("cause of %s: %q, want %q (all: %v)", p, got, want, causes)
				}
			}
			js, err := json.MarshalIndent(rep, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			// What diff writes reads back as the report it was.
			if back, err := compare.ReadReport(js); err != nil || !reflect.DeepEqual(back, rep) {
				t.Errorf("the report read back differs (%v):\nwritten %+v\nread    %+v", err, rep, back)
			}
			var txt bytes.Buffer
			if err := rep.WriteText(&txt, compare.TextOptions{}); err != nil {
				t.Fatal(err)
			}
			golden(t, c.Name+".json", strings.ReplaceAll(string(js), reg.Host, "REGISTRY")+"\n")
			golden(t, c.Name+".txt", strings.ReplaceAll(txt.String(), reg.Host, "REGISTRY"))
			if c.Causes != nil {
				// The page leads with the causes.
				var page bytes.Buffer
				if err := rep.WriteHTML(&page); err != nil {
					t.Fatal(err)
				}
				if i, j := strings.Index(page.String(), "the causes of the differences"), strings.Index(page.String(), "<h2>linux/amd64"); i < 0 || i > j {
					t.Errorf("the page does not lead with the causes (at %d, the platform at %d)", i, j)
				}
				golden(t, c.Name+".html", strings.ReplaceAll(page.String(), reg.Host, "REGISTRY"))
			}
		})
	}
}

// causesByPath maps each merged change's path (and PATH!INNER for the
// members of archives) to its cause.
func causesByPath(rep *compare.Report) map[string]string {
	out := map[string]string{}
	var add func(prefix string, fs []compare.FileChange)
	add = func(prefix string, fs []compare.FileChange) {
		for _, f := range fs {
			out[prefix+f.Path] = f.Cause
			add(prefix+f.Path+"!", f.Inner)
		}
	}
	for _, p := range rep.Platforms {
		add("", p.Files)
		for _, c := range p.Config {
			out["config:"+c.Field] = c.Cause
		}
	}
	return out
}

func changedPaths(rep *compare.Report) []string {
	var out []string
	for _, p := range rep.Platforms {
		for _, f := range p.Files {
			out = append(out, f.Path)
		}
		for _, l := range p.Layers {
			for _, f := range l.Files {
				out = append(out, f.Path)
			}
		}
	}
	return out
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./compare -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file; got:\n%s", path, got)
	}
}
