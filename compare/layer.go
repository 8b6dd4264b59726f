package compare

import (
	"cmp"
	"iter"
	"slices"
	"sort"

	"github.com/reprover/reprover/image"
)

// layerSide is one image's layer at an index, its walk and the
// instruction its history gives that index. layer and walk are nil past
// the image's last layer.
type layerSide struct {
	layer *image.Layer
	walk  *walked
	instr string
}

// sideAt returns img's side of index i.
func sideAt(img *image.Image, instrs []string, i int, ws *walkSet) (layerSide, error) {
	s := layerSide{instr: at(instrs, i)}
	if i >= len(img.Layers) {
		return s, nil
	}
	s.layer = &img.Layers[i]
	var err error
	s.walk, err = ws.get(*s.layer)
	return s, err
}

// layerResult is the comparison of the layers at one index: its report
// and what the platform's verdict needs besides.
type layerResult struct {
	report LayerReport
	// encoding is report.Encoding, plus mediaTypes when the same blob is
	// listed under two media types: not a layer difference, but the
	// platform's encoding differs.
	encoding []string
}

// differs reports whether the layers' contents differ: a layer on one
// side only, or files that differ.
func (r layerResult) differs() bool {
	return r.report.Verdict != Identical && r.report.Verdict != Equivalent
}

// compareLayer compares the layers a and b at index i; at least one of
// them is there.
func compareLayer(i int, a, b layerSide, labels *[2]string) layerResult {
	lr := LayerReport{Index: i, Instruction: cmp.Or(b.instr, a.instr), Files: []FileChange{},
		Findings: layerFindings(a.walk, b.walk)}
	if a.layer != nil {
		lr.Rebuilt = a.layer.Descriptor.Digest.String()
	}
	if b.layer != nil {
		lr.Published = b.layer.Descriptor.Digest.String()
	}
	var enc []string
	// File maps only where files may differ: identical and recompressed
	// layers (equal tar bytes) need none.
	switch {
	case a.walk == nil:
		lr.Verdict, lr.Files = Added, layerFiles(nil, b.walk, labels)
	case b.walk == nil:
		lr.Verdict, lr.Files = Removed, layerFiles(a.walk, nil, labels)
	case lr.Rebuilt == lr.Published:
		lr.Verdict = Identical
		if a.layer.Descriptor.MediaType != b.layer.Descriptor.MediaType {
			enc = []string{EncMediaTypes}
		}
	case a.walk.DiffID == b.walk.DiffID:
		lr.Verdict, lr.Encoding = Equivalent, []string{EncCompression}
		ma, mb := a.layer.Descriptor.MediaType, b.layer.Descriptor.MediaType
		// A different compression already explains different media types.
		if ma != mb && declaredCompression(ma) == declaredCompression(mb) {
			lr.Encoding = append(lr.Encoding, EncMediaTypes)
		}
	default:
		lr.Files = layerFiles(a.walk, b.walk, labels)
		if len(lr.Files) > 0 || a.walk.Trailing.Digest != b.walk.Trailing.Digest {
			// Data hidden after the end-of-archive marker is content
			// no unpacker shows: a difference there is never encoding.
			lr.Verdict = Different
			break
		}
		lr.Verdict, lr.Encoding = Equivalent, []string{EncTarHeaders}
		if a.walk.Compression != b.walk.Compression {
			lr.Encoding = append(lr.Encoding, EncCompression)
		}
	}
	return layerResult{report: lr, encoding: append(enc, lr.Encoding...)}
}

// skippedLayer is the report of a shared layer left unread: identical,
// by digest.
func skippedLayer(i int, a, b *image.Layer, instr string) layerResult {
	lr := LayerReport{Index: i, Rebuilt: a.Descriptor.Digest.String(), Published: b.Descriptor.Digest.String(),
		Instruction: instr, Verdict: Identical, Skipped: SkippedSameDigest, Files: []FileChange{}}
	var enc []string
	if a.Descriptor.MediaType != b.Descriptor.MediaType {
		enc = []string{EncMediaTypes}
	}
	return layerResult{report: lr, encoding: enc}
}

// layerFindings are B's findings then A's not among them; the walks are
// shared between images, so the findings are copied.
func layerFindings(wa, wb *walked) []Finding {
	if wb == nil {
		return append([]Finding(nil), wa.Findings...)
	}
	out := append([]Finding(nil), wb.Findings...)
	if wa != nil {
		for _, f := range wa.Findings {
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	return out
}

// layerFiles diffs the files of two layers, either of which may be nil,
// chunkPaths paths at a time (in tree order, so a path's entries and its
// whiteout are in the same range).
func layerFiles(wa, wb *walked, labels *[2]string) []FileChange {
	return diffLayers(sortedOf(wa), sortedOf(wb), chunkPaths, labels)
}

func diffLayers(a, b []rec, chunk int, labels *[2]string) []FileChange {
	out := []FileChange{}
	for len(a) > 0 || len(b) > 0 {
		// The range: chunk paths, the last whole on both sides.
		var last string
		i, j := 0, 0
		for n := 0; n < chunk && (i < len(a) || j < len(b)); n++ {
			last = leastPath(a, i, b, j)
			for i < len(a) && a[i].e.Path == last {
				i++
			}
			for j < len(b) && b[j].e.Path == last {
				j++
			}
		}
		ma, ca := layerMap(recEntries(a[:i]))
		mb, cb := layerMap(recEntries(b[:j]))
		out = append(out, diffEntries(ma, mb, ca, cb, labels)...)
		a, b = a[i:], b[j:]
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// leastPath is the lesser, in tree order, of a[i]'s and b[j]'s paths; either
// may be past its end.
func leastPath(a []rec, i int, b []rec, j int) string {
	switch {
	case i == len(a):
		return b[j].e.Path
	case j == len(b), treeCompare(a[i].e.Path, b[j].e.Path) <= 0:
		return a[i].e.Path
	}
	return b[j].e.Path
}

func recEntries(rs []rec) iter.Seq[*Entry] {
	return func(yield func(*Entry) bool) {
		for _, r := range rs {
			if !yield(r.e) {
				return
			}
		}
	}
}

// sortedOf lists w's entries in tree order; none when w is nil (no layer
// there).
func sortedOf(w *walked) []rec {
	if w == nil {
		return nil
	}
	return w.sorted(0)
}
