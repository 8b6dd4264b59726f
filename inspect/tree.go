package inspect

import (
	"fmt"
	"slices"
	"strings"

	"github.com/reprover/reprover/layer"
)

// node is one path of the merged view: what an unpacker would leave
// there after the layers read so far.
type node struct {
	kids   map[string]*node // a directory's entries
	layer  int              // the layer that put it there, from 1
	kind   layer.Kind
	mode   uint32
	size   int64
	digest string // a file's content
	// secrets are the indexes of the findings of secrets in this path's
	// content from this layer (their evidence says when it is hidden).
	secrets []int
}

// view is the merged view of a platform's layers, built layer by layer.
type view struct {
	root  node
	paths int64
	max   int64
	// hide is called for each file hidden by a later layer (check,
	// the node, its path, the layer hiding it, how).
	hide func(check string, n *node, p string, by int, how string)
}

func newView(max int64, hide func(string, *node, string, int, string)) *view {
	return &view{root: node{kind: layer.KindDir, kids: map[string]*node{}}, max: max, hide: hide}
}

func components(p string) []string {
	return strings.FieldsFunc(p, func(r rune) bool { return r == '/' })
}

// lookup returns the node at p and its parent, creating missing
// directories on the way when create is set (a layer may omit its
// parents' entries; an unpacker makes them).
func (v *view) lookup(p string, create bool, at int) (n, parent *node, name string, err error) {
	cs := components(p)
	n = &v.root
	if len(cs) == 0 {
		return n, nil, "", nil
	}
	for i, c := range cs {
		if n.kind != layer.KindDir {
			if !create {
				return nil, nil, "", nil
			}
			// a file where a directory must be: the unpacker replaces it
			v.removeNode(n, joinPath(cs[:i]), at, "replaced by a directory")
			*n = node{kind: layer.KindDir, layer: at, mode: 0o755}
		}
		if n.kids == nil {
			n.kids = map[string]*node{}
		}
		k := n.kids[c]
		if k == nil && i < len(cs)-1 {
			if !create {
				return nil, nil, "", nil
			}
			if k, err = v.add(n, c, node{kind: layer.KindDir, layer: at, mode: 0o755}); err != nil {
				return nil, nil, "", err
			}
		}
		if i == len(cs)-1 {
			return k, n, c, nil
		}
		n = k
	}
	panic("unreachable")
}

func (v *view) add(parent *node, name string, n node) (*node, error) {
	if v.paths++; v.paths > v.max {
		return nil, &LimitError{What: "paths of the merged view", Limit: "MaxPaths", Max: v.max, Got: v.paths}
	}
	k := &n
	parent.kids[name] = k
	return k, nil
}

func joinPath(cs []string) string { return "/" + strings.Join(cs, "/") }

// whiteout applies a whiteout marker of layer at: p and all under it go.
func (v *view) whiteout(p string, at int) error {
	n, parent, name, err := v.lookup(p, false, at)
	if err != nil || n == nil || parent == nil {
		return err
	}
	v.removeNode(n, p, at, "deleted")
	delete(parent.kids, name)
	v.paths--
	return nil
}

// opaque applies an opaque marker of layer at: what lower layers put
// under p goes.
func (v *view) opaque(p string, at int) error {
	n, _, _, err := v.lookup(p, false, at)
	if err != nil || n == nil || n.kind != layer.KindDir {
		return err
	}
	for _, name := range sortedKeys(n.kids) {
		k := n.kids[name]
		v.removeNode(k, strings.TrimSuffix(p, "/")+"/"+name, at, "deleted (opaque directory)")
		v.paths--
	}
	n.kids = map[string]*node{}
	return nil
}

// removeNode reports every file at or under n (at path p) as hidden by
// layer at, in path order.
func (v *view) removeNode(n *node, p string, at int, how string) {
	if n.kind == layer.KindFile && n.layer < at {
		v.hide(HiddenByDeletion, n, p, at, how)
	}
	for _, name := range sortedKeys(n.kids) {
		v.paths--
		v.removeNode(n.kids[name], strings.TrimSuffix(p, "/")+"/"+name, at, how)
	}
}

// put applies entry e of layer at, and returns its node.
func (v *view) put(e *layer.Entry, at int) (*node, error) {
	n, parent, name, err := v.lookup(e.Path, true, at)
	if err != nil {
		return nil, err
	}
	if parent == nil { // the root itself
		v.root.mode = e.Mode
		return &v.root, nil
	}
	nn := node{layer: at, kind: e.Type, mode: e.Mode, size: e.Size}
	if e.Type == layer.KindFile {
		nn.digest = e.Digest()
	}
	switch {
	case n == nil:
		return v.add(parent, name, nn)
	case n.kind == layer.KindDir && e.Type == layer.KindDir:
		n.layer, n.mode = at, e.Mode // the directory stays, with what is in it
		return n, nil
	case n.kind == layer.KindFile && n.layer < at && (e.Type != layer.KindFile || n.digest != nn.digest):
		how := "overwritten"
		if e.Type != layer.KindFile {
			how = fmt.Sprintf("replaced by a %s", e.TypeName())
		}
		v.hide(HiddenByOverwrite, n, e.Path, at, how)
	case n.kind == layer.KindDir:
		v.removeNode(n, e.Path, at, fmt.Sprintf("its directory replaced by a %s", e.TypeName()))
	}
	*n = nn
	return n, nil
}

// walk calls f for every path of the view, in path order.
func (v *view) walk(f func(p string, n *node)) {
	var rec func(p string, n *node)
	rec = func(p string, n *node) {
		f(p, n)
		for _, name := range sortedKeys(n.kids) {
			rec(strings.TrimSuffix(p, "/")+"/"+name, n.kids[name])
		}
	}
	rec("/", &v.root)
}

func sortedKeys(m map[string]*node) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
