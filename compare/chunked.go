package compare

import (
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/reprover/reprover/layer"
	"github.com/reprover/reprover/pkgdb"
)

// The merged views of two images are compared a range of paths at a
// time, so that what a comparison holds of them does not grow with the
// images. Paths are taken in tree order (layer.TreeCompare: a directory, then
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

// isUnder reports whether p is strictly under dir (layer.SplitPath's parents).
func isUnder(p, dir string) bool {
	if dir == "/" {
		return p != "/" && strings.HasPrefix(p, "/")
	}
	return len(p) > len(dir) && p[len(dir)] == '/' && strings.HasPrefix(p, dir)
}

// group is the entries of one path, in every layer of a side.
type group struct {
	path string
	recs []layer.Rec
}

// sideStream yields the entries of one image's layers path by path, in
// tree order, keeping the groups of the parents of the last path (stack)
// and the entries at the paths hard links name and their parents
// (targets).
type sideStream struct {
	*layer.Stream
	stack   []group
	targets map[string][]layer.Rec
}

// newSideStream streams layers, the walks of an image's layers from
// index from up.
func newSideStream(from int, layers []*layer.Runs) (*sideStream, error) {
	s := &sideStream{Stream: layer.NewStream(from, layers...), targets: map[string][]layer.Rec{}}
	want := map[string]bool{}
	for _, l := range layers {
		for _, p := range l.Links() {
			for ; !want[p]; p, _ = layer.SplitPath(p) {
				want[p] = true
				if p == "/" {
					break
				}
			}
		}
	}
	if len(want) > 0 {
		all := layer.NewStream(from, layers...)
		for p, ok := all.Peek(); ok; p, ok = all.Peek() {
			rs := all.Take(p, nil)
			if want[p] {
				s.targets[p] = rs
			}
		}
		if all.Err() != nil {
			return nil, all.Err()
		}
	}
	return s, s.Err()
}

// takeGroup returns the entries at p, the next path, and keeps them on
// the stack of parents.
func (s *sideStream) takeGroup(p string) group {
	g := group{path: p, recs: s.Take(p, nil)}
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
	// databases are the package database files (pkgdb.Wanted) of each
	// merged view, regular files, read again only when files differ.
	databases [2][]string
	// need, with an unread base, is why the comparison depends on it.
	need string
}

// diffMerged compares the merged views of the layers of a and b from
// index from up (their walks), chunk paths at a time. With overUnread,
// the views are built over an unread base, and the comparison stops at
// the first reason it needs the base (mergedDiff.need). An error is a
// scratch file that cannot be read back.
func diffMerged(from int, a, b []*layer.Runs, overUnread bool, chunk int, labels *[2]string) (*mergedDiff, error) {
	m := &merging{overUnread: overUnread, labels: labels, out: &mergedDiff{files: []FileChange{}}}
	for i, l := range [][]*layer.Runs{a, b} {
		s, err := newSideStream(from, l)
		if err != nil {
			return nil, err
		}
		m.sides[i] = s
	}
	n := 0
	for {
		p, ok := nextPath(m.sides[0].Stream, m.sides[1].Stream)
		if !ok {
			break
		}
		if n == 0 {
			m.start(p)
		}
		for i, s := range m.sides {
			if q, ok := s.Peek(); ok && q == p {
				m.groups[i] = append(m.groups[i], s.takeGroup(p))
			}
		}
		if n++; n >= chunk {
			if !m.flush(p) {
				return m.out, nil
			}
			n = 0
		}
	}
	for _, s := range m.sides {
		if s.Err() != nil {
			return nil, s.Err()
		}
	}
	if n > 0 && !m.flush("\xff") {
		return m.out, nil
	}
	return m.finish(), nil
}

// merging is a chunked comparison of merged views under way: the range
// of paths from lo taken so far (groups, and the parents of its first
// path) and the findings made, each where it was made.
type merging struct {
	sides      [2]*sideStream
	overUnread bool
	labels     *[2]string
	out        *mergedDiff
	found      [2][]placed
	parents    [2][]group
	groups     [2][]group
	lo         string
}

// placed is a finding and where a view made it.
type placed struct {
	at applyAt
	f  Finding
}

// start begins a range at p.
func (m *merging) start(p string) {
	m.lo = p
	for i, s := range m.sides {
		m.parents[i] = slices.Clone(s.parentsOf(p))
		m.groups[i] = m.groups[i][:0]
	}
}

// flush compares the range, up to hi, on views of its own, keeping its
// own paths' entries and findings; false when the comparison stops
// there, needing the unread base.
func (m *merging) flush(hi string) bool {
	in := func(p string) bool { return layer.TreeCompare(m.lo, p) <= 0 && layer.TreeCompare(p, hi) <= 0 }
	var views [2]*fsView
	var maps [2]pathMap
	for i, s := range m.sides {
		v := replay(slices.Concat(m.parents[i], m.groups[i]), s.targets, m.overUnread)
		views[i], maps[i] = v, pathMap{}
		for p, e := range v.entries.all() {
			if in(p) {
				maps[i][p] = e
				if e.Type == layer.KindFile && pkgdb.Wanted(p) {
					m.out.databases[i] = append(m.out.databases[i], p)
				}
			}
		}
		for j, f := range v.Findings {
			if in(f.Path) {
				m.found[i] = append(m.found[i], placed{v.at[j], f})
			}
		}
	}
	if m.overUnread {
		if m.out.need = baseNeededIn(views[0], views[1], in); m.out.need != "" {
			return false
		}
	}
	m.out.files = append(m.out.files, diffEntries(maps[0], maps[1], nil, nil, m.labels)...)
	return true
}

// finish sorts the files by path and puts the findings back in the order
// one view of everything would have made them.
func (m *merging) finish() *mergedDiff {
	out := m.out
	sort.Slice(out.files, func(i, j int) bool { return out.files[i].Path < out.files[j].Path })
	for i, fs := range m.found {
		slices.SortStableFunc(fs, func(x, y placed) int { return x.at.compare(y.at) })
		for _, p := range fs {
			out.findings[i] = append(out.findings[i], p.f)
		}
	}
	return out
}

// nextPath is the lesser, in tree order, of the next paths of a and b;
// false when both are at their end.
func nextPath(a, b *layer.Stream) (string, bool) {
	pa, okA := a.Peek()
	pb, okB := b.Peek()
	if !okA || okB && layer.TreeCompare(pb, pa) < 0 {
		return pb, okB
	}
	return pa, true
}

// replay builds a view of the groups' entries, with the entries at the
// paths their hard links name (and at those paths' parents) from
// targets, layer by layer in tar order.
func replay(gs []group, targets map[string][]layer.Rec, overUnread bool) *fsView {
	type key struct {
		layer int
		seq   int32
	}
	seen := map[key]bool{}
	byLayer := map[int][]layer.Rec{}
	var add func(rs []layer.Rec)
	add = func(rs []layer.Rec) {
		for _, r := range rs {
			k := key{r.Layer, r.Seq}
			if seen[k] {
				continue
			}
			seen[k] = true
			byLayer[r.Layer] = append(byLayer[r.Layer], r)
			if r.Entry.Type == layer.KindHardlink {
				for p := r.Entry.Linkname(); ; p, _ = layer.SplitPath(p) {
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
		slices.SortFunc(rs, func(a, b layer.Rec) int { return int(a.Seq) - int(b.Seq) })
		v.applyRecs(l, rs)
	}
	return v
}
