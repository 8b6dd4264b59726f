package compare

import (
	"cmp"
	"iter"
	"slices"
	"sort"

	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/layer"
)

// layerSide is one image's layer at an index, its walk and the
// instruction its history gives that index. layer and walk are nil past
// the image's last layer.
type layerSide struct {
	layer *image.Layer
	walk  *layer.Walked
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
func compareLayer(i int, a, b layerSide, labels *[2]string) (layerResult, error) {
	lr := LayerReport{Index: i, Instruction: cmp.Or(b.instr, a.instr), Files: []FileChange{},
		Findings: layerFindings(a.walk, b.walk)}
	if a.layer != nil {
		lr.Rebuilt = a.layer.Descriptor.Digest.String()
	}
	if b.layer != nil {
		lr.Published = b.layer.Descriptor.Digest.String()
	}
	var enc []string
	var err error
	// File maps only where files may differ: identical and recompressed
	// layers (equal tar bytes) need none.
	switch {
	case a.walk == nil:
		lr.Verdict = Added
		lr.Files, err = layerFiles(nil, b.walk, labels)
	case b.walk == nil:
		lr.Verdict = Removed
		lr.Files, err = layerFiles(a.walk, nil, labels)
	case lr.Rebuilt == lr.Published:
		lr.Verdict = Identical
		if a.layer.Descriptor.MediaType != b.layer.Descriptor.MediaType {
			enc = []string{EncMediaTypes}
		}
	case a.walk.DiffID == b.walk.DiffID:
		lr.Verdict, lr.Encoding = Equivalent, []string{EncCompression}
		ma, mb := a.layer.Descriptor.MediaType, b.layer.Descriptor.MediaType
		// A different compression already explains different media types.
		if ma != mb && layer.DeclaredCompression(ma) == layer.DeclaredCompression(mb) {
			lr.Encoding = append(lr.Encoding, EncMediaTypes)
		}
	default:
		if lr.Files, err = layerFiles(a.walk, b.walk, labels); err != nil {
			break
		}
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
	return layerResult{report: lr, encoding: append(enc, lr.Encoding...)}, err
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
func layerFindings(wa, wb *layer.Walked) []Finding {
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
func layerFiles(wa, wb *layer.Walked, labels *[2]string) ([]FileChange, error) {
	return diffLayers(layer.NewStream(0, spillOf(wa)), layer.NewStream(0, spillOf(wb)), chunkPaths, labels)
}

func spillOf(w *layer.Walked) *layer.Runs {
	if w == nil {
		return nil
	}
	return w.Entries()
}

func diffLayers(a, b *layer.Stream, chunk int, labels *[2]string) ([]FileChange, error) {
	out := []FileChange{}
	var ra, rb []layer.Rec
	for {
		ra, rb = ra[:0], rb[:0]
		for range chunk {
			p, ok := nextPath(a, b)
			if !ok {
				break
			}
			ra, rb = a.Take(p, ra), b.Take(p, rb)
		}
		if len(ra) == 0 && len(rb) == 0 {
			break
		}
		ma, ca := layerMap(recEntries(ra))
		mb, cb := layerMap(recEntries(rb))
		out = append(out, diffEntries(ma, mb, ca, cb, labels)...)
	}
	if err := cmp.Or(a.Err(), b.Err()); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func recEntries(rs []layer.Rec) iter.Seq[*layer.Entry] {
	return func(yield func(*layer.Entry) bool) {
		for _, r := range rs {
			if !yield(r.Entry) {
				return
			}
		}
	}
}
