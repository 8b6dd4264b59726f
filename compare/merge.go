package compare

import (
	"fmt"
	"path"

	"github.com/reprover/reprover/internal/text"
)

// fsView is the merged filesystem of an image's layers, as an unpacker
// builds it: per layer, whiteouts and opaque markers remove what lower
// layers made, then the layer's entries are applied in order (a later
// duplicate wins). Hard links are resolved to their target's content.
type fsView struct {
	entries  map[string]*Entry
	children map[string]map[string]struct{}
	Findings []Finding
}

func newFSView() *fsView {
	return &fsView{entries: map[string]*Entry{}, children: map[string]map[string]struct{}{}}
}

// apply adds one layer on top of the view.
func (v *fsView) apply(layer int, es []*Entry) {
	// Whiteouts of a layer hide lower layers only, whatever their place
	// in the tar stream (OCI image spec, "Whiteouts").
	for _, e := range es {
		switch {
		case e.Opaque:
			v.checkSymlinkParent(layer, e.Path, e.Path)
			for c := range v.children[e.Path] {
				v.remove(path.Join(e.Path, c))
			}
		case e.Whiteout:
			dir, _ := splitPath(e.Path)
			v.checkSymlinkParent(layer, e.Path, dir)
			v.remove(e.Path)
		}
	}
	for _, e := range es {
		if e.Whiteout || e.Opaque {
			continue
		}
		if e.Path != "/" {
			dir, _ := splitPath(e.Path)
			v.checkSymlinkParent(layer, e.Path, dir)
		}
		if old, ok := v.entries[e.Path]; ok && old.Type == "dir" && e.Type == "dir" {
			// A directory entry over a directory updates its metadata and
			// keeps its children.
			v.entries[e.Path] = e
			continue
		}
		if e.Path != "/" {
			v.remove(e.Path)
		}
		if e.Type == "hardlink" {
			target, ok := v.entries[e.Linkname]
			// A link to a resolved link is a link to the same file (a
			// chain c → b → a); one to a dangling link is dangling too.
			resolved := ok && (target.Type == "file" || target.Type == "hardlink" && target.Digest != "")
			if !resolved {
				v.Findings = append(v.Findings, Finding{Path: e.Path, Kind: "danglingHardlink",
					Message: fmt.Sprintf("layer %d: hard link to %s, which is not a file at that point", layer+1, e.Linkname)})
			} else {
				r := *e
				r.Digest, r.Size, r.text, r.hasText = target.Digest, target.Size, target.text, target.hasText
				e = &r
			}
		}
		v.put(e)
	}
}

func (v *fsView) put(e *Entry) {
	v.entries[e.Path] = e
	if e.Path == "/" {
		return
	}
	// splitPath, not path.Split and Clean: a non-local "/../../etc/passwd"
	// must not be listed as a child of /etc.
	dir, base := splitPath(e.Path)
	if v.children[dir] == nil {
		v.children[dir] = map[string]struct{}{}
	}
	v.children[dir][base] = struct{}{}
	// Parents an unpacker would create implicitly are not entries: the
	// comparison is of what the layers say.
}

// remove deletes p and everything under it.
func (v *fsView) remove(p string) {
	if _, ok := v.entries[p]; !ok && v.children[p] == nil {
		return
	}
	for c := range v.children[p] {
		v.remove(path.Join(p, c))
	}
	delete(v.children, p)
	delete(v.entries, p)
	if p == "/" {
		return
	}
	dir, base := splitPath(p)
	if m := v.children[dir]; m != nil {
		delete(m, base)
	}
}

// checkSymlinkParent reports p when dir or one of its parents is a
// symlink in the view: unpackers such as containerd resolve it (inside the
// root) and write or delete under its target, while the merged view keeps
// link targets as data and never follows them.
func (v *fsView) checkSymlinkParent(layer int, p, dir string) {
	for d := dir; d != "/" && d != ""; d, _ = splitPath(d) {
		if e, ok := v.entries[d]; ok && e.Type == "symlink" {
			v.Findings = append(v.Findings, Finding{Path: p, Kind: "underSymlink",
				Message: fmt.Sprintf("layer %d: %s is under %s, a symlink to %q: an unpacker that resolves it acts on the link's target instead", layer+1, p, d, text.Truncate(e.Linkname, 200))})
			return
		}
	}
}
