package compare

import (
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/reprover/reprover/layer"
)

// ent is a test entry: "f /a/x" (file), "d /a" (directory), "l /a/l"
// (symlink), "h /a/h /a/x" (hard link to /a/x), "w /a/x" (whiteout of
// /a/x), "o /a" (opaque marker of /a). A file's content is its path
// unless a third field gives it.
func ent(s string) *layer.Entry {
	f := strings.Fields(s)
	e := &layer.Entry{Path: f[1]}
	switch f[0] {
	case "f":
		e.Type = layer.KindFile
		e.SetDigest(digestOf([]byte(f[len(f)-1])))
	case "d":
		e.Type = layer.KindDir
	case "l":
		e.Type = layer.KindSymlink
		e.SetLinkname("/elsewhere")
	case "h":
		e.Type = layer.KindHardlink
		e.SetLinkname(f[2])
	case "w":
		e.Type, e.Whiteout = layer.KindWhiteout, true
	case "o":
		e.Type, e.Opaque = layer.KindWhiteout, true
	default:
		panic("ent: " + s)
	}
	return e
}

func ents(ss ...string) []*layer.Entry {
	out := make([]*layer.Entry, len(ss))
	for i, s := range ss {
		out[i] = ent(s)
	}
	return out
}

// apply adds one layer on top of the view: es in their order in its tar
// (one view of everything, as the chunked comparison is checked against).
func (v *fsView) apply(li int, es iter.Seq[*layer.Entry]) {
	var rs []layer.Rec
	for e := range es {
		rs = append(rs, layer.Rec{Entry: e, Layer: li, Seq: int32(len(rs))})
	}
	v.applyRecs(li, rs)
}

// viewPaths lists the view's entries as "PATH TYPE" in order.
func viewPaths(v *fsView) []string {
	var out []string
	for _, p := range slices.Sorted(entryPaths(v.entries)) {
		e, _ := v.entries.get(p)
		out = append(out, p+" "+e.TypeName())
	}
	return out
}

func entryPaths(s *entrySet) iter.Seq[string] {
	return func(yield func(string) bool) {
		for p := range s.all() {
			if !yield(p) {
				return
			}
		}
	}
}

// checkLinks checks the view's invariant: every path linked under a
// parent has an entry or something under it, and every entry and every
// path with something under it is linked from its parent.
func checkLinks(t *testing.T, v *fsView) {
	t.Helper()
	for dir, m := range v.children {
		if len(m) == 0 {
			t.Errorf("%s: an empty children set is kept", dir)
		}
		for c := range m {
			p := layer.JoinPath(dir, c)
			if !v.entries.has(p) && len(v.children[p]) == 0 {
				t.Errorf("%s is linked under %s but is not in the view", p, dir)
			}
		}
	}
	for _, p := range slices.Concat(slices.Collect(entryPaths(v.entries)), slices.Collect(maps.Keys(v.children))) {
		if p == "/" {
			continue
		}
		dir, base := layer.SplitPath(p)
		if _, ok := v.children[dir][base]; !ok {
			t.Errorf("%s is in the view but not linked under %s", p, dir)
		}
	}
}

// TestFSView: the merged view applies layers as an unpacker does,
// parents made implicitly for an entry included.
func TestFSView(t *testing.T) {
	tests := []struct {
		name     string
		layers   [][]*layer.Entry
		want     []string
		findings []string // "KIND PATH"
	}{
		{name: "later duplicate wins",
			layers: [][]*layer.Entry{ents("d /a", "f /a/x 1"), ents("f /a/x 2")},
			want:   []string{"/a dir", "/a/x file"}},
		{name: "directory over directory keeps its children",
			layers: [][]*layer.Entry{ents("d /a", "f /a/x"), ents("d /a")},
			want:   []string{"/a dir", "/a/x file"}},
		{name: "directory over an implicit directory keeps its children",
			layers: [][]*layer.Entry{ents("f /a/x"), ents("d /a")},
			want:   []string{"/a dir", "/a/x file"}},
		{name: "file over a directory removes the tree",
			layers: [][]*layer.Entry{ents("d /a", "d /a/b", "f /a/b/x"), ents("f /a")},
			want:   []string{"/a file"}},
		{name: "file over an implicit directory removes the tree",
			layers: [][]*layer.Entry{ents("f /q/p/x"), ents("f /q")},
			want:   []string{"/q file"}},
		{name: "whiteout of an implicit directory removes the tree",
			layers: [][]*layer.Entry{ents("f /q/p/x", "f /r"), ents("w /q")},
			want:   []string{"/r file"}},
		{name: "opaque directory removes implicit children",
			layers: [][]*layer.Entry{ents("d /d", "f /d/sub/x", "f /e/y"), ents("o /d", "f /d/new")},
			want:   []string{"/d dir", "/d/new file", "/e/y file"}},
		{name: "opaque marker after its siblings hides lower layers only",
			layers: [][]*layer.Entry{ents("d /d", "f /d/old"), ents("f /d/new", "o /d")},
			want:   []string{"/d dir", "/d/new file"}},
		{name: "directory over a removed implicit parent",
			layers: [][]*layer.Entry{ents("f /a/b/x"), ents("w /a/b/x"), ents("d /a", "f /a/y")},
			want:   []string{"/a dir", "/a/y file"}},
		{name: "hard link resolves to its target's content",
			layers: [][]*layer.Entry{ents("d /a", "f /a/x"), ents("h /a/h /a/x")},
			want:   []string{"/a dir", "/a/h hardlink", "/a/x file"}},
		{name: "hard link to a whited-out target dangles",
			layers: [][]*layer.Entry{ents("d /a", "f /a/x"), ents("w /a/x", "h /a/h /a/x")},
			want:   []string{"/a dir", "/a/h hardlink"}, findings: []string{"danglingHardlink /a/h"}},
		{name: "entry under a symlinked parent",
			layers: [][]*layer.Entry{ents("l /a"), ents("f /a/x")},
			want:   []string{"/a symlink", "/a/x file"}, findings: []string{"underSymlink /a/x"}},
		{name: "non-local names never alias local paths",
			layers: [][]*layer.Entry{ents("d /etc", "f /etc/passwd", "f /../../etc/passwd"), ents("w /../../etc")},
			want:   []string{"/etc dir", "/etc/passwd file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newFSView()
			for i, l := range tt.layers {
				v.apply(i, slices.Values(l))
				checkLinks(t, v)
			}
			if got := viewPaths(v); !slices.Equal(got, tt.want) {
				t.Errorf("view:\n got  %q\n want %q", got, tt.want)
			}
			var fs []string
			for _, f := range v.Findings {
				fs = append(fs, fmt.Sprintf("%s %s", f.Kind, f.Path))
			}
			if !slices.Equal(fs, tt.findings) {
				t.Errorf("findings: got %q, want %q", fs, tt.findings)
			}
		})
	}
}
