package compare

import (
	"cmp"
	"fmt"

	"github.com/reprover/reprover/internal/text"
	"github.com/reprover/reprover/layer"
)

// fsView is the merged filesystem of an image's layers, as an unpacker
// builds it: per layer, whiteouts and opaque markers remove what lower
// layers made, then the layer's entries are applied in order (a later
// duplicate wins). Hard links are resolved to their target's content.
type fsView struct {
	entries *entrySet
	// children names what is directly under each path that has
	// something under it: entries, and the parents an unpacker creates
	// for them without an entry of their own. A path is in the view when
	// it has an entry or children.
	children map[string]map[string]struct{}
	Findings []Finding
	// at is where each finding was made (cur, when it was): the views
	// of a chunked comparison (chunked.go) are put back in the order of
	// one view.
	at  []applyAt
	cur applyAt
	// base is set when the view is built over lower layers left unread
	// (unread.go): what the view knows and needs of them.
	base *unread
}

func newFSView() *fsView {
	return &fsView{entries: newEntrySet(), children: map[string]map[string]struct{}{}}
}

// applyAt is when a view applied an entry: its layer, whether with the
// layer's whiteouts (phase 0) or its other entries (1), and its place in
// the layer's tar.
type applyAt struct {
	layer int
	phase int8
	seq   int32
}

func (a applyAt) compare(b applyAt) int {
	return cmp.Or(cmp.Compare(a.layer, b.layer), cmp.Compare(a.phase, b.phase), cmp.Compare(a.seq, b.seq))
}

// applyRecs adds entries of one layer, in their order in its tar, on top
// of the view: all of them, or (chunked.go) those of some paths.
func (v *fsView) applyRecs(li int, rs []layer.Rec) {
	// Whiteouts of a layer hide lower layers only, whatever their place
	// in the tar stream (OCI image spec, "Whiteouts").
	for _, r := range rs {
		e := r.Entry
		v.cur = applyAt{li, 0, r.Seq}
		switch {
		case e.Opaque:
			v.checkSymlinkParent(li, e.Path, e.Path)
			v.removeUnder(e.Path)
		case e.Whiteout:
			dir, _ := layer.SplitPath(e.Path)
			v.checkSymlinkParent(li, e.Path, dir)
			v.remove(e.Path)
		}
	}
	for _, r := range rs {
		e := r.Entry
		v.cur = applyAt{li, 1, r.Seq}
		if e.Whiteout || e.Opaque {
			continue
		}
		if e.Path != "/" {
			dir, _ := layer.SplitPath(e.Path)
			v.checkSymlinkParent(li, e.Path, dir)
		}
		if e.Type == layer.KindDir && e.Path != "/" {
			switch v.dirAt(li, e.Path) {
			case yes:
				// A directory entry over a directory, named or made
				// implicitly for what is under it, updates its metadata
				// and keeps its children, as unpackers do.
				v.entries.put(e)
				continue
			case unknown:
				// Over the unread base only: it keeps what the base has
				// there if that is a directory, removes it if not.
				v.base.cond[e.Path] = true
				v.put(e)
				continue
			}
		}
		if e.Path != "/" {
			v.remove(e.Path)
		}
		if e.Type == layer.KindHardlink {
			link := e.Linkname()
			target, ok := v.entries.get(link)
			if !ok && v.base != nil && !v.base.hiddenAt(link) {
				v.base.needs("layer %d: %s is a hard link to %s, which the unread layers may hold", li+1, e.Path, link)
			}
			// A link to a resolved link is a link to the same file (a
			// chain c → b → a); one to a dangling link is dangling too.
			resolved := ok && (target.Type == layer.KindFile || target.Type == layer.KindHardlink && target.HasDigest())
			if !resolved {
				v.addFinding(Finding{Path: e.Path, Kind: "danglingHardlink",
					Message: fmt.Sprintf("layer %d: hard link to %s, which is not a file at that point", li+1, link)})
			} else {
				e = e.WithContentOf(target)
			}
		}
		v.put(e)
	}
}

// addFinding adds f, made where the view is (cur).
func (v *fsView) addFinding(f Finding) {
	v.Findings = append(v.Findings, f)
	v.at = append(v.at, v.cur)
}

type tristate int

const (
	no tristate = iota
	yes
	unknown
)

// dirAt says whether the view has a directory at p: a directory entry, or
// no entry and something under p. Over an unread base that still shows
// at p, it is unknown when the view has nothing at or under p, and needs
// the base when the view has something under p (the base decides whether
// it is kept).
func (v *fsView) dirAt(li int, p string) tristate {
	if e, ok := v.entries.get(p); ok {
		if e.Type == layer.KindDir {
			return yes
		}
		return no
	}
	under := len(v.children[p]) > 0
	if v.base != nil && !v.base.hiddenAt(p) {
		if !under {
			return unknown
		}
		v.base.needs("layer %d: a directory entry at %s, over what the unread layers hold there", li+1, p)
	}
	if under {
		return yes
	}
	return no
}

// put sets e at its path, and links the path and its parents in.
func (v *fsView) put(e *layer.Entry) {
	v.entries.put(e)
	// layer.SplitPath, not path.Split and Clean: a non-local "/../../etc/passwd"
	// must not be listed under /etc. Parents an unpacker would create
	// implicitly are linked but are not entries: the comparison is of
	// what the layers say.
	for p := e.Path; p != "/"; {
		dir, base := layer.SplitPath(p)
		m := v.children[dir]
		if m == nil {
			m = map[string]struct{}{}
			v.children[dir] = m
		}
		if _, ok := m[base]; ok {
			return // linked already, and so are its parents
		}
		m[base] = struct{}{}
		p = dir
	}
}

// remove deletes p and everything under it, named or not, as an unpacker
// replacing p removes the whole tree.
func (v *fsView) remove(p string) {
	if v.base != nil {
		v.base.hidden[p] = true
	}
	if !v.entries.has(p) && v.children[p] == nil {
		return
	}
	v.removeTree(p)
	// Unlink p, and the implicit parents left with nothing under them.
	for p != "/" {
		dir, base := layer.SplitPath(p)
		m := v.children[dir]
		delete(m, base)
		if len(m) > 0 {
			return
		}
		delete(v.children, dir)
		if v.entries.has(dir) {
			return
		}
		p = dir
	}
}

// removeUnder deletes everything under dir (an opaque marker), not dir.
func (v *fsView) removeUnder(dir string) {
	if v.base != nil {
		v.base.below[dir] = true
	}
	for c := range v.children[dir] {
		v.remove(layer.JoinPath(dir, c))
	}
}

func (v *fsView) removeTree(p string) {
	for c := range v.children[p] {
		v.removeTree(layer.JoinPath(p, c))
	}
	delete(v.children, p)
	if p != "/" {
		v.entries.delete(p)
	}
}

// checkSymlinkParent reports p when dir or one of its parents is a
// symlink in the view: unpackers such as containerd resolve it (inside the
// root) and write or delete under its target, while the merged view keeps
// link targets as data and never follows them.
func (v *fsView) checkSymlinkParent(li int, p, dir string) {
	for d := dir; d != "/" && d != ""; d, _ = layer.SplitPath(d) {
		e, ok := v.entries.get(d)
		if ok && e.Type == layer.KindSymlink {
			v.addFinding(Finding{Path: p, Kind: "underSymlink",
				Message: fmt.Sprintf("layer %d: %s is under %s, a symlink to %q: an unpacker that resolves it acts on the link's target instead", li+1, p, d, text.Truncate(e.Linkname(), 200))})
			return
		}
		if !ok && v.base != nil && !v.base.hiddenAt(d) {
			v.base.needs("layer %d: %s is under %s, which the unread layers may make a symlink", li+1, p, d)
			return
		}
	}
}
