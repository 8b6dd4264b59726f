package compare

import (
	"fmt"
	"math/rand/v2"
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
	for n := range 5000 {
		a, b := layer(), layer()
		want := show(diffLayers(sortedLayer(0, a), sortedLayer(0, b), 1<<20, nil))
		for _, chunk := range []int{1, 2, 3} {
			if got := show(diffLayers(sortedLayer(0, a), sortedLayer(0, b), chunk, nil)); !slices.Equal(got, want) {
				t.Fatalf("trial %d, %d paths a range:\n got %q\nwant %q", n, chunk, got, want)
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
