package compare

import (
	"fmt"
	"iter"
	"sort"
	"strings"

	"github.com/reprover/reprover/layer"
	"github.com/reprover/reprover/render"
)

// Aspects of a file that the comparison checks, in report order.
const (
	AspContent  = "content"
	AspSize     = "size"
	AspMode     = "mode"
	AspUID      = "uid"
	AspGID      = "gid"
	AspType     = "type"
	AspLinkname = "linkname"
	AspXattrs   = "xattrs"
	AspMtime    = "mtime"
	AspDevnum   = "devnum"
	AspCount    = "occurrences"
)

// aspects lists how a and b differ; nil when they are the same in every
// aspect.
func aspects(a, b *layer.Entry) []string {
	var d []string
	if !a.SameDigest(b) {
		d = append(d, AspContent)
	}
	if a.Size != b.Size {
		d = append(d, AspSize)
	}
	if a.Mode != b.Mode {
		d = append(d, AspMode)
	}
	if a.UID() != b.UID() {
		d = append(d, AspUID)
	}
	if a.GID() != b.GID() {
		d = append(d, AspGID)
	}
	if !a.SameType(b) {
		d = append(d, AspType)
	}
	if a.Linkname() != b.Linkname() {
		d = append(d, AspLinkname)
	}
	if !layer.SameXattrs(a, b) {
		d = append(d, AspXattrs)
	}
	if !a.SameModTime(b) {
		d = append(d, AspMtime)
	}
	if amaj, amin := a.Dev(); !sameDev(b, amaj, amin) {
		d = append(d, AspDevnum)
	}
	return d
}

func sameDev(e *layer.Entry, major, minor int64) bool {
	emaj, emin := e.Dev()
	return emaj == major && emin == minor
}

func meta(e *layer.Entry, occurrences int) *FileMeta {
	if e == nil {
		return nil
	}
	major, minor := e.Dev()
	m := &FileMeta{Type: e.TypeName(), Mode: fmt.Sprintf("%04o", e.Mode), UID: e.UID(), GID: e.GID(), Size: e.Size,
		Digest: e.Digest(), Linkname: e.Linkname(), Xattrs: e.Xattrs(), ModTime: e.ModTime(),
		DevMajor: major, DevMinor: minor}
	if occurrences > 1 {
		m.Occurrences = occurrences
	}
	return m
}

// diffEntries compares two path → entry maps (A = rebuilt, B = published).
// With labels, small text files that differ get a unified diff whose
// headers are labels[0]+path and labels[1]+path.
func diffEntries(a, b entryMap, countA, countB map[string]int, labels *[2]string) []FileChange {
	out := []FileChange{}
	for p, ea := range a.all() {
		eb, ok := b.get(p)
		if !ok {
			out = append(out, FileChange{Path: p, Change: Removed, Aspects: []string{}, Rebuilt: meta(ea, countA[p])})
			continue
		}
		asp := aspects(ea, eb)
		if countA[p] != countB[p] {
			asp = append(asp, AspCount)
		}
		if len(asp) == 0 {
			continue
		}
		fc := FileChange{Path: p, Change: Modified, Aspects: asp, Rebuilt: meta(ea, countA[p]), Published: meta(eb, countB[p])}
		if labels != nil && ea.HasText() && eb.HasText() && !ea.SameDigest(eb) {
			fc.TextDiff = render.UnifiedDiff(labels[0]+p, labels[1]+p, string(ea.Text()), string(eb.Text()))
		}
		out = append(out, fc)
	}
	for p, eb := range b.all() {
		if _, ok := a.get(p); !ok {
			fc := FileChange{Path: p, Change: Added, Aspects: []string{}, Published: meta(eb, countB[p])}
			if labels != nil && eb.HasText() {
				fc.TextDiff = render.UnifiedDiff("/dev/null", labels[1]+p, "", string(eb.Text()))
			}
			out = append(out, fc)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// layerMap keys a layer's entries by path: the last occurrence of a path
// stands for it (as an unpacker leaves it) and the count of occurrences is
// compared too. Whiteouts are keyed apart from the path they hide.
func layerMap(es iter.Seq[*layer.Entry]) (pathMap, map[string]int) {
	m := pathMap{}
	count := map[string]int{}
	for e := range es {
		k := e.Path
		switch {
		case e.Whiteout:
			k = whiteoutKey(e.Path)
		case e.Opaque:
			k = opaqueKey(e.Path)
		}
		m[k] = e
		count[k]++
	}
	return m, count
}

func whiteoutKey(p string) string {
	dir, base := layer.SplitPath(p)
	if strings.HasPrefix(base, layer.WhiteoutPrefix) {
		// An invalid marker (".wh..", ".wh..."), kept at its own name:
		// a valid one never hides a name that starts with ".wh.".
		return p
	}
	return layer.JoinPath(dir, layer.WhiteoutPrefix+base)
}

func opaqueKey(p string) string { return layer.JoinPath(p, layer.WhiteoutOpaque) }
