package compare

import (
	"maps"
	"slices"
	"sort"
	"strings"
)

// The merged views of two images are compared a range of paths at a
// time, so that what a comparison holds of them does not grow with the
// images. Paths are taken in tree order (treeCompare: a directory, then
// everything under it), so what decides a path's fate in a view — the
// entries at the path and at its parents, in every layer, in order — is
// the range's own entries and those of its parents, which are few: a
// stack. The one exception, a hard link, takes its target's content at
// the time it is applied: the entries at every path a hard link names,
// and at its parents, are gathered first (their closure: a link to a
// link) and replayed with the ranges whose links need them.
//
// Each range is replayed on a view of its own (fsView, as one view of
// everything would be built: per layer, in tar order) and only its own
// paths are kept: their entries, and the findings made on them, put back
// in the order one view would have made them. Whether a directory entry
// lands on something (dirAt) can depend on what lies under it in another
// range; that changes what a view records of an unread base only, never
// its entries, and only ever toward "the base is needed" being found in
// the range that has what lies under it (unread.go, chunked_test.go).

// rec is an entry of a layer and its place in the layer's tar.
type rec struct {
	e     *Entry
	layer int
	seq   int32
}

// treeCompare orders paths so that everything under a directory follows
// it directly: byte order, with '/' before every other byte.
func treeCompare(a, b string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return treeByte(a[i]) - treeByte(b[i])
		}
	}
	return len(a) - len(b)
}

func treeByte(c byte) int {
	if c == '/' {
		return 0
	}
	return int(c) + 1
}

// isUnder reports whether p is strictly under dir (splitPath's parents).
func isUnder(p, dir string) bool {
	if dir == "/" {
		return p != "/" && strings.HasPrefix(p, "/")
	}
	return len(p) > len(dir) && p[len(dir)] == '/' && strings.HasPrefix(p, dir)
}

// group is the entries of one path, in every layer of a side.
type group struct {
	path string
	recs []rec
}

// sideStream yields the entries of one image's layers path by path, in
// tree order, keeping the groups of the parents of the last path (stack)
// and the entries at the paths hard links name and their parents
// (targets).
type sideStream struct {
	*entryStream
	stack   []group
	targets map[string][]rec
}

// newSideStream streams layers, the walks of an image's layers from
// index from up.
func newSideStream(from int, layers []*spilled) (*sideStream, error) {
	s := &sideStream{entryStream: streamOf(from, layers...), targets: map[string][]rec{}}
	want := map[string]bool{}
	for _, l := range layers {
		for _, p := range l.links {
			for ; !want[p]; p, _ = splitPath(p) {
				want[p] = true
				if p == "/" {
					break
				}
			}
		}
	}
	if len(want) > 0 {
		all := streamOf(from, layers...)
		for p, ok := all.peek(); ok; p, ok = all.peek() {
			rs := all.take(p, nil)
			if want[p] {
				s.targets[p] = rs
			}
		}
		if all.err != nil {
			return nil, all.err
		}
	}
	return s, s.err
}

// takeGroup returns the entries at p, the next path, and keeps them on
// the stack of parents.
func (s *sideStream) takeGroup(p string) group {
	g := group{path: p, recs: s.take(p, nil)}
	s.parentsOf(p)
	s.stack = append(s.stack, g)
	return g
}

// parentsOf drops from the stack what is not a parent of p, and returns
// the rest.
func (s *sideStream) parentsOf(p string) []group {
	for len(s.stack) > 0 && !isUnder(p, s.stack[len(s.stack)-1].path) {
		s.stack = s.stack[:len(s.stack)-1]
	}
	return s.stack
}

// chunkPaths is how many paths a range holds (tests make it small).
const chunkPaths = 1 << 12

// mergedDiff is the comparison of two images' merged views, a range at
// a time.
type mergedDiff struct {
	files    []FileChange
	findings [2][]Finding
	// need, with an unread base, is why the comparison depends on it.
	need string
}

// diffMerged compares the merged views of the layers of a and b from
// index from up (their walks), chunk paths at a time. With overUnread,
// the views are built over an unread base, and the comparison stops at
// the first reason it needs the base (mergedDiff.need). An error is a
// scratch file that cannot be read back.
func diffMerged(from int, a, b []*spilled, overUnread bool, chunk int, labels *[2]string) (*mergedDiff, error) {
	var sides [2]*sideStream
	for i, l := range [][]*spilled{a, b} {
		s, err := newSideStream(from, l)
		if err != nil {
			return nil, err
		}
		sides[i] = s
	}
	out := &mergedDiff{files: []FileChange{}}
	type placed struct {
		at applyAt
		f  Finding
	}
	var found [2][]placed
	var parents, groups [2][]group
	var lo string
	flush := func(hi string) bool {
		in := func(p string) bool { return treeCompare(lo, p) <= 0 && treeCompare(p, hi) <= 0 }
		var views [2]*fsView
		var maps [2]pathMap
		for i, s := range sides {
			v := replay(slices.Concat(parents[i], groups[i]), s.targets, overUnread)
			views[i], maps[i] = v, pathMap{}
			for p, e := range v.entries.all() {
				if in(p) {
					maps[i][p] = e
				}
			}
			for j, f := range v.Findings {
				if in(f.Path) {
					found[i] = append(found[i], placed{v.at[j], f})
				}
			}
		}
		if overUnread {
			if out.need = baseNeededIn(views[0], views[1], in); out.need != "" {
				return false
			}
		}
		out.files = append(out.files, diffEntries(maps[0], maps[1], nil, nil, labels)...)
		return true
	}
	n := 0
	for {
		p, ok := nextPath(sides[0].entryStream, sides[1].entryStream)
		if !ok {
			break
		}
		if n == 0 {
			lo = p
			for i, s := range sides {
				parents[i] = slices.Clone(s.parentsOf(p))
				groups[i] = groups[i][:0]
			}
		}
		for i, s := range sides {
			if q, ok := s.peek(); ok && q == p {
				groups[i] = append(groups[i], s.takeGroup(p))
			}
		}
		if n++; n >= chunk {
			if !flush(p) {
				return out, nil
			}
			n = 0
		}
	}
	for _, s := range sides {
		if s.err != nil {
			return nil, s.err
		}
	}
	if n > 0 && !flush("\xff") {
		return out, nil
	}
	sort.Slice(out.files, func(i, j int) bool { return out.files[i].Path < out.files[j].Path })
	for i, fs := range found {
		slices.SortStableFunc(fs, func(x, y placed) int { return x.at.compare(y.at) })
		for _, p := range fs {
			out.findings[i] = append(out.findings[i], p.f)
		}
	}
	return out, nil
}

// nextPath is the lesser, in tree order, of the next paths of a and b;
// false when both are at their end.
func nextPath(a, b *entryStream) (string, bool) {
	pa, okA := a.peek()
	pb, okB := b.peek()
	if !okA || okB && treeCompare(pb, pa) < 0 {
		return pb, okB
	}
	return pa, true
}

// replay builds a view of the groups' entries, with the entries at the
// paths their hard links name (and at those paths' parents) from
// targets, layer by layer in tar order.
func replay(gs []group, targets map[string][]rec, overUnread bool) *fsView {
	type key struct {
		layer int
		seq   int32
	}
	seen := map[key]bool{}
	byLayer := map[int][]rec{}
	var add func(rs []rec)
	add = func(rs []rec) {
		for _, r := range rs {
			k := key{r.layer, r.seq}
			if seen[k] {
				continue
			}
			seen[k] = true
			byLayer[r.layer] = append(byLayer[r.layer], r)
			if r.e.Type == kindHardlink {
				for p := r.e.Linkname(); ; p, _ = splitPath(p) {
					add(targets[p])
					if p == "/" {
						break
					}
				}
			}
		}
	}
	for _, g := range gs {
		add(g.recs)
	}
	v := newFSView()
	if overUnread {
		v.base = newUnread()
	}
	for _, l := range slices.Sorted(maps.Keys(byLayer)) {
		rs := byLayer[l]
		slices.SortFunc(rs, func(a, b rec) int { return int(a.seq) - int(b.seq) })
		v.applyRecs(l, rs)
	}
	return v
}
