package compare

import (
	"bytes"
	"context"
	"io"
	"sync"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprover/reprover/image"
)

// ImagesRead is Images, also returning the digests of the layers it
// read (each once, in no order). With readAll it reads the shared layers
// even when the merged views do not need them: the full read that
// skipping them is checked against.
func ImagesRead(ctx context.Context, a, b *image.Resolved, o Options, readAll bool) (*Report, []string, error) {
	var mu sync.Mutex
	var read []string
	rep, err := images(ctx, a, b, o, hooks{readAll: readAll, walked: func(l image.Layer) {
		mu.Lock()
		defer mu.Unlock()
		read = append(read, l.Descriptor.Digest.String())
	}})
	return rep, read, err
}

// WalkBytes walks b as the compressed bytes of a layer whose descriptor
// says mt, as Images reads a layer, then merges the entries into a view
// (twice, as two layers) and diffs them, as comparePair does. It returns
// the paths of the entries and every finding. For FuzzWalkLayer.
func WalkBytes(ctx context.Context, b []byte, mt string, lim Limits, decompressor string) (paths []string, findings []Finding, err error) {
	var total atomic.Int64
	gz, err := newGunzipper(decompressor)
	if err != nil {
		return nil, nil, err
	}
	open := func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	w, err := walkOpened(ctx, open, "fuzz layer", lim.withDefaults(), gz, &total, newInterner())
	if err != nil {
		return nil, nil, err
	}
	w.Findings = append(mediaTypeFinding(types.MediaType(mt), w.Compression), w.Findings...)
	for e := range w.Entries.all() {
		paths = append(paths, e.Path)
	}
	v := newFSView()
	v.apply(0, w.Entries.all())
	v.apply(1, w.Entries.all())
	m, c := layerMap(w.Entries.all())
	labels := &[2]string{"a", "b"}
	diffEntries(m, pathMap{}, c, nil, labels)
	diffEntries(v.entries, m, nil, c, labels)
	return paths, append(w.Findings, v.Findings...), nil
}
