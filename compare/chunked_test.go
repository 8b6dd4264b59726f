package compare

import (
	"fmt"
	"maps"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/layer"
)

// TestDiffLayersRandom: two layers compared a range of paths at a time
// compare as they do at once, whatever the ranges' size: random layers
// over a small tree, with duplicate entries and whiteouts of the paths
// they hold.
func TestDiffLayersRandom(t *testing.T) {
	paths := []string{"/a", "/a/x", "/a/b", "/a/b/y", "/a-b", "/a.b/x", "/c", "/..", "/../x"}
	rng := rand.New(rand.NewPCG(7, 7))
	oneLayer := func() []*layer.Entry {
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
	diff := func(a, b []*layer.Entry, run, chunk int) []string {
		sa, sb := spillEntries(f, a, run), spillEntries(f, b, run)
		fs, err := diffLayers(layer.NewStream(0, sa), layer.NewStream(0, sb), chunk, nil)
		if err != nil {
			t.Fatal(err)
		}
		return show(fs)
	}
	for n := range 5000 {
		if err := f.Truncate(0); err != nil {
			t.Fatal(err)
		}
		a, b := oneLayer(), oneLayer()
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
	slices.SortFunc(got, layer.TreeCompare)
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

// TestTwinLayersPlan: which layers are only hashed (twins) and which are
// walked without hashing their contents (bare), over several pairs: a
// layer needed in full anywhere is walked in full.
func TestTwinLayersPlan(t *testing.T) {
	h := func(s string) v1.Hash {
		if s == "" {
			return v1.Hash{} // no diff_id claimed
		}
		return v1.Hash{Algorithm: "sha256", Hex: strings.Repeat(s, 64/len(s))}
	}
	img := func(name string, layers ...string) *image.Image {
		im := &image.Image{Descriptor: v1.Descriptor{Digest: h(name)}}
		for i, l := range layers {
			blob, diffID, _ := strings.Cut(l, ":")
			im.Layers = append(im.Layers, image.Layer{Index: i, Descriptor: v1.Descriptor{Digest: h(blob)}, DiffID: h(diffID)})
		}
		return im
	}
	tests := []struct {
		name  string
		pairs []pair
		twins map[string]string
		bare  []string
	}{
		{name: "recompressed", pairs: []pair{{a: img("a1", "0:0", "1:1"), b: img("b1", "0:0", "2:1")}},
			twins: map[string]string{"2": "1"}, bare: []string{"1"}},
		{name: "one recompressed, one changed", pairs: []pair{{a: img("a1", "1:1", "3:3"), b: img("b1", "2:1", "4:4")}},
			twins: map[string]string{"2": "1"}},
		{name: "a twin's A layer needed by another pair", pairs: []pair{
			{a: img("a1", "1:1"), b: img("b1", "2:1")},
			{a: img("a2", "1:1", "5:5"), b: img("b2", "2:1", "6:6")}},
			twins: map[string]string{"2": "1"}},
		{name: "a B layer that is an A layer elsewhere", pairs: []pair{
			{a: img("a1", "1:1"), b: img("b1", "2:1")},
			{a: img("a2", "2:1"), b: img("b2", "7:7")}},
			twins: map[string]string{}},
		{name: "more layers on one side", pairs: []pair{{a: img("a1", "1:1"), b: img("b1", "2:1", "3:3")}},
			twins: map[string]string{"2": "1"}},
		{name: "no diff_id claimed", pairs: []pair{{a: img("a1", "1:"), b: img("b1", "2:")}},
			twins: map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			twins, bare := twinLayers(tt.pairs)
			got := map[string]string{}
			for b, a := range twins {
				got[b.Hex[:1]] = a.Hex[:1]
			}
			if !maps.Equal(got, tt.twins) {
				t.Errorf("twins %v, want %v", got, tt.twins)
			}
			var gotBare []string
			for d := range bare {
				gotBare = append(gotBare, d.Hex[:1])
			}
			slices.Sort(gotBare)
			if !slices.Equal(gotBare, tt.bare) {
				t.Errorf("bare %v, want %v", gotBare, tt.bare)
			}
		})
	}
}
