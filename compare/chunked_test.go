package compare

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestDiffLayersRandom: two layers compared a range of paths at a time
// compare as they do at once, whatever the ranges' size: random layers
// over a small tree, with duplicate entries and whiteouts of the paths
// they hold.
func TestDiffLayersRandom(t *testing.T) {
	paths := []string{"/a", "/a/x", "/a/b", "/a/b/y", "/a-b", "/a.b/x", "/c", "/..", "/../x"}
	rng := rand.New(rand.NewPCG(7, 7))
	layer := func() []*Entry {
		var out []string
		for range rng.IntN(8) {
			p := paths[rng.IntN(len(paths))]
			switch rng.IntN(5) {
			case 0:
				out = append(out, "d "+p)
			case 1:
				out = append(out, "w "+p)
			case 2:
				out = append(out, "o "+p)
			default:
				out = append(out, fmt.Sprintf("f %s %d", p, rng.IntN(2)))
			}
		}
		return ents(out...)
	}
	show := func(fs []FileChange) []string {
		var out []string
		for _, f := range fs {
			out = append(out, fmt.Sprintf("%s %s %v", f.Path, f.Change, f.Aspects))
		}
		return out
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "spill"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	diff := func(a, b []*Entry, run, chunk int) []string {
		sa, sb := spillEntries(f, a, run), spillEntries(f, b, run)
		fs, err := diffLayers(streamOf(0, sa), streamOf(0, sb), chunk, nil)
		if err != nil {
			t.Fatal(err)
		}
		return show(fs)
	}
	for n := range 5000 {
		if err := f.Truncate(0); err != nil {
			t.Fatal(err)
		}
		a, b := layer(), layer()
		want := diff(a, b, 1<<20, 1<<20)
		for _, c := range []struct{ run, chunk int }{{1, 1 << 20}, {2, 1 << 20}, {1 << 20, 1}, {3, 2}, {1, 3}} {
			if got := diff(a, b, c.run, c.chunk); !slices.Equal(got, want) {
				t.Fatalf("trial %d, runs of %d entries, %d paths a range:\n got %q\nwant %q", n, c.run, c.chunk, got, want)
			}
		}
	}
}

// TestTreeCompare: a directory sorts before what is under it, and that
// before any other path that starts with the directory's name.
func TestTreeCompare(t *testing.T) {
	want := []string{"/", "/a", "/a/b", "/a/b/c", "/a/c", "/a b", "/a-b", "/a.b", "/ab", "/b"}
	got := slices.Clone(want)
	rand.Shuffle(len(got), func(i, j int) { got[i], got[j] = got[j], got[i] })
	slices.SortFunc(got, treeCompare)
	if !slices.Equal(got, want) {
		t.Errorf("tree order %q, want %q", got, want)
	}
	for _, c := range []struct {
		p, dir string
		under  bool
	}{{"/a/b", "/a", true}, {"/a", "/", true}, {"/", "/", false}, {"/ab", "/a", false}, {"/a", "/a", false}, {"/../x", "/..", true}} {
		if got := isUnder(c.p, c.dir); got != c.under {
			t.Errorf("isUnder(%q, %q) = %v", c.p, c.dir, got)
		}
	}
}
