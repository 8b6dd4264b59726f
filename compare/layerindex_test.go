package compare_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/image"
)

// TestLayerIndex compares a pair, then compares it again with the layers
// kept in an index: the second comparison reads no layer and reports
// exactly what the first did. An index file that is damaged, stored for
// another layer or made under other limits is discarded: that layer is
// read again, and indexed anew.
func TestLayerIndex(t *testing.T) {
	reg := fixtures.NewRegistry(t)
	// Paths on one side only: every layer is read.
	a := over("", es(fixtures.Dir("app"), fixtures.File("app/run.sh", "#!/bin/sh\necho a\n")))
	b := over("", es(fixtures.Dir("app"), fixtures.File("app/run.sh", "#!/bin/sh\necho b\n"), fixtures.File("app/extra", "x")))
	ctx := t.Context()
	ra, err := image.Open(ctx, reg.MustPush(t, "index/a", "v", a), image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := image.Open(ctx, reg.MustPush(t, "index/b", "v", b), image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	names := layerNames(ra.Images[0], rb.Images[0])
	all := []string{"A2", "B2", "base0", "base1"}
	want, _, err := compare.ImagesRead(ctx, ra, rb, compare.Options{}, false)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, _ := json.Marshal(want)
	digestOf := func(name string) v1.Hash {
		for d, n := range names {
			if n == name {
				h, _ := v1.NewHash(d)
				return h
			}
		}
		t.Fatalf("no layer %s", name)
		return v1.Hash{}
	}
	fileOf := func(dir, name string) string {
		d := digestOf(name)
		return filepath.Join(dir, d.Algorithm, d.Hex)
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string) // after the first comparison
		limits compare.Limits                 // of the second
		read   []string                       // by the second
	}{
		{name: "whole", read: nil},
		{name: "a flipped byte", damage: func(t *testing.T, dir string) {
			p := fileOf(dir, "base0")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)-10] ^= 1
			os.WriteFile(p, b, 0o600)
		}, read: []string{"base0"}},
		{name: "cut short", damage: func(t *testing.T, dir string) {
			os.WriteFile(fileOf(dir, "A2"), []byte("reprover layer index\n"), 0o600)
		}, read: []string{"A2"}},
		{name: "another layer's file", damage: func(t *testing.T, dir string) {
			b, err := os.ReadFile(fileOf(dir, "B2"))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(fileOf(dir, "A2"), b, 0o600)
		}, read: []string{"A2"}},
		{name: "other limits", limits: compare.Limits{MaxTextFile: 1 << 10}, read: all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			idx, err := compare.OpenIndex(dir, 0)
			if err != nil {
				t.Fatal(err)
			}
			o := compare.Options{Index: idx}
			_, read, err := compare.ImagesRead(ctx, ra, rb, o, false)
			if err != nil {
				t.Fatal(err)
			}
			checkSet(t, "layers read into an empty index", mapNames(names, read), all)
			if tt.damage != nil {
				tt.damage(t, dir)
			}
			o.Limits = tt.limits
			rep, read, err := compare.ImagesRead(ctx, ra, rb, o, false)
			if err != nil {
				t.Fatal(err)
			}
			checkSet(t, "layers read again", mapNames(names, read), tt.read)
			if got, _ := json.Marshal(rep); tt.limits == (compare.Limits{}) && !bytes.Equal(got, wantJSON) {
				t.Errorf("with the index:\n%s\nwithout:\n%s", got, wantJSON)
			}
			// What was read again is indexed anew.
			_, read, err = compare.ImagesRead(ctx, ra, rb, o, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(read) > 0 {
				t.Errorf("a third comparison read %q", mapNames(names, read))
			}
		})
	}
}

// TestLayerIndexBound: the index keeps at most its bound, the least
// recently used layers going first.
func TestLayerIndexBound(t *testing.T) {
	reg := fixtures.NewRegistry(t)
	ctx := t.Context()
	// Pairs of images of one layer, the same blob on both sides (read
	// once, read all), each pair its own blob.
	var pairs [][2]*image.Resolved
	for _, body := range []string{"one", "two", "three"} {
		var pair [2]*image.Resolved
		for i, cmd := range []string{"a", "b"} {
			img := fixtures.Image(fixtures.Spec{Cmd: []string{cmd},
				Steps: []fixtures.Step{{Entries: []fixtures.Entry{fixtures.File("f", string(bytes.Repeat([]byte(body), 100)))}}}})
			r, err := image.Open(ctx, reg.MustPush(t, "bound/"+body, cmd, img), image.Options{})
			if err != nil {
				t.Fatal(err)
			}
			pair[i] = r
		}
		pairs = append(pairs, pair)
	}
	layer := func(i int) string { return pairs[i][0].Images[0].Layers[0].Descriptor.Digest.String() }
	dir := t.TempDir()
	compareWith := func(idx *compare.Index, i int) {
		if _, _, err := compare.ImagesRead(ctx, pairs[i][0], pairs[i][1], compare.Options{Index: idx}, true); err != nil {
			t.Fatal(err)
		}
	}
	// One layer's file, to bound the index to two and a half of them.
	probe, err := compare.OpenIndex(filepath.Join(dir, "probe"), 0)
	if err != nil {
		t.Fatal(err)
	}
	var size int64
	for i := range pairs {
		compareWith(probe, i)
		info, err := os.Stat(filepath.Join(dir, "probe", "sha256", layer(i)[len("sha256:"):]))
		if err != nil {
			t.Fatal(err)
		}
		size = max(size, info.Size())
	}
	idx, err := compare.OpenIndex(filepath.Join(dir, "idx"), 2*size+size/2)
	if err != nil {
		t.Fatal(err)
	}
	// Layer 0 kept, then 1, then 0 used again, then 2 kept: 1 is the
	// least recently used.
	for _, i := range []int{0, 1, 0, 2} {
		compareWith(idx, i)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "idx", "sha256", "*"))
	var got []string
	for _, f := range files {
		got = append(got, "sha256:"+filepath.Base(f))
	}
	want := []string{layer(0), layer(2)}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the index keeps %q, want %q (not %s, the least recently used)", got, want, layer(1))
	}
}
