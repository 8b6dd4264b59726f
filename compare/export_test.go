package compare

import (
	"bytes"
	"context"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

// WalkBytes walks b as the compressed bytes of a layer whose descriptor
// says mt, as Images reads a layer, then merges the entries into a view
// (twice, as two layers) and diffs them, as comparePair does. It returns
// the paths of the entries and every finding. For FuzzWalkLayer.
func WalkBytes(ctx context.Context, b []byte, mt string, lim Limits) (paths []string, findings []Finding, err error) {
	var total atomic.Int64
	w, err := walkStream(ctx, bytes.NewReader(b), "fuzz layer", lim.withDefaults(), &total)
	if err != nil {
		return nil, nil, err
	}
	w.Findings = append(mediaTypeFinding(types.MediaType(mt), w.Compression), w.Findings...)
	for _, e := range w.Entries {
		paths = append(paths, e.Path)
	}
	v := newFSView()
	v.apply(0, w.Entries)
	v.apply(1, w.Entries)
	m, c := layerMap(w.Entries)
	labels := &[2]string{"a", "b"}
	diffEntries(m, map[string]*Entry{}, c, nil, labels)
	diffEntries(v.entries, m, nil, c, labels)
	return paths, append(w.Findings, v.Findings...), nil
}
