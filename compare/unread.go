package compare

import (
	"fmt"
	"slices"

	"github.com/reprover/reprover/layer"
)

// Identical layers are free: the layers at the bottom of both images that
// are the same blobs (same digest and diff_id at the same index) are not
// read when the merged views do not depend on them. Whatever those
// layers hold, they hold on both sides; what the layers above them do to
// it is what can differ. Each merged view is built over them without
// them (an unread base), recording what it removes of the base and
// whether it ever needed to know what the base holds (a symlinked
// parent, a hard link's target, what a directory entry lands on). When
// neither view needed it, and both removed the same parts of the base,
// the views differ exactly where their entries differ: a proof, not a
// guess. Otherwise the base is read and the views built in full.

// unread is what a view built over an unread base knows of the base.
// Paths of the base are visible unless removed: hidden (the path and
// everything under it), below (everything under the path: an opaque
// directory), or under a conditional removal, cond: a directory entry
// was put where the view had nothing, which keeps what the base has
// under the path if the base has a directory there (or nothing), and
// removes it if the base has another kind of entry there.
type unread struct {
	hidden, below, cond map[string]bool
	// need is the first reason the view needed the base; "" if none.
	need string
}

func newUnread() *unread {
	return &unread{hidden: map[string]bool{}, below: map[string]bool{}, cond: map[string]bool{}}
}

func (u *unread) needs(format string, args ...any) {
	if u.need == "" {
		u.need = fmt.Sprintf(format, args...)
	}
}

// hiddenAt reports whether the base's entry at p, and everything under
// it, is removed unconditionally.
func (u *unread) hiddenAt(p string) bool {
	if u.hidden[p] {
		return true
	}
	for d := p; d != "/"; {
		d, _ = layer.SplitPath(d)
		if u.hidden[d] || u.below[d] {
			return true
		}
	}
	return false
}

// visibility says what decides whether the base shows through at p, or
// strictly under p (under): hidden when it never does; otherwise it does
// when the base has no non-directory entry at any of conds.
func (u *unread) visibility(p string, under bool) (hidden bool, conds []string) {
	if u.hidden[p] || under && u.below[p] {
		return true, nil
	}
	if u.cond[p] {
		conds = append(conds, p)
	}
	for d := p; d != "/"; {
		d, _ = layer.SplitPath(d)
		if u.hidden[d] || u.below[d] {
			return true, nil
		}
		if u.cond[d] {
			conds = append(conds, d)
		}
	}
	return false, conds
}

// baseNeeded says why the comparison of two views built over the same
// unread base depends on the base ("" when it does not). A path is
// compared exactly when: both views have an entry for it; or one has and
// the other removed the base there; or neither has, and the base shows
// through in both or in neither under the same conditions. The last is
// checked wherever a removal was recorded, at the path and strictly under
// it: between those paths nothing changes.
func baseNeeded(a, b *fsView) string { return baseNeededIn(a, b, nil) }

// baseNeededIn is baseNeeded for the paths in says are in a range of
// them (nil: all), over views that hold the range and what decides it
// (chunked.go).
func baseNeededIn(a, b *fsView, in func(string) bool) string {
	if in == nil {
		in = func(string) bool { return true }
	}
	for _, v := range []*fsView{a, b} {
		if v.base.need != "" {
			return v.base.need
		}
	}
	for _, s := range [2][2]*fsView{{a, b}, {b, a}} {
		for p := range s[0].entries.all() {
			if in(p) && !s[1].entries.has(p) && !s[1].base.hiddenAt(p) {
				return fmt.Sprintf("%s is in one image's layers only", p)
			}
		}
	}
	points := map[string]bool{}
	for _, v := range []*fsView{a, b} {
		for _, m := range []map[string]bool{v.base.hidden, v.base.below, v.base.cond} {
			for p := range m {
				if in(p) {
					points[p] = true
				}
			}
		}
	}
	for p := range points {
		inA, inB := a.entries.has(p), b.entries.has(p)
		if !inA && !inB && !sameVisibility(a.base, b.base, p, false) {
			return fmt.Sprintf("the layers remove the base's %s differently", p)
		}
		if !sameVisibility(a.base, b.base, p, true) {
			return fmt.Sprintf("the layers remove what the base has under %s differently", p)
		}
	}
	return ""
}

func sameVisibility(a, b *unread, p string, under bool) bool {
	ha, ca := a.visibility(p, under)
	hb, cb := b.visibility(p, under)
	return ha == hb && (ha || slices.Equal(ca, cb))
}
