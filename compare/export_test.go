package compare

import (
	"bytes"
	"cmp"
	"context"
	"io"
	"os"
	"slices"
	"sync"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/layer"
)

// ImagesRead is Images, also returning the digests of the layers it
// read (each once, in no order). With readAll it reads the shared layers
// even when the merged views do not need them, and walks every layer it
// reads (no twins): the full read that skipping them is checked against.
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

// ImagesHashed is Images, also returning the digests of the layers it
// only decompressed and hashed (twins: each stood for by its twin's
// walk), and of those it walked without hashing their contents.
func ImagesHashed(ctx context.Context, a, b *image.Resolved, o Options) (rep *Report, hashed, bare []string, err error) {
	var mu sync.Mutex
	add := func(to *[]string) func(image.Layer) {
		return func(l image.Layer) {
			mu.Lock()
			defer mu.Unlock()
			*to = append(*to, l.Descriptor.Digest.String())
		}
	}
	rep, err = images(ctx, a, b, o, hooks{hashed: add(&hashed), bare: add(&bare)})
	return rep, hashed, bare, err
}

// WalkBytes walks b as the compressed bytes of a layer whose descriptor
// says mt, as Images reads a layer, then merges the entries into a view
// (twice, as two layers) and diffs them, as comparePair does. It returns
// the paths of the entries and every finding. For FuzzWalkLayer.
func WalkBytes(ctx context.Context, b []byte, mt string, lim Limits, decompressor string) (paths []string, findings []Finding, err error) {
	gz, err := layer.NewGunzipper(decompressor)
	if err != nil {
		return nil, nil, err
	}
	open := func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	scratch, err := os.MkdirTemp("", "walkbytes-*")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(scratch)
	w, err := layer.WalkOpened(ctx, open, "fuzz layer", layer.Options{Limits: lim.withDefaults().walk(), Gunzip: gz, Scratch: scratch})
	if err != nil {
		return nil, nil, err
	}
	defer w.Remove()
	w.Findings = append(layer.MediaTypeFinding(types.MediaType(mt), w.Compression), w.Findings...)
	st := layer.NewStream(0, w.Entries())
	for p, ok := st.Peek(); ok; p, ok = st.Peek() {
		for range st.Take(p, nil) {
			paths = append(paths, p)
		}
	}
	labels := &[2]string{"a", "b"}
	if _, err := layerFiles(w, nil, labels); err != nil {
		return nil, nil, err
	}
	d, err := diffMerged(0, []*layer.Runs{w.Entries(), w.Entries()}, []*layer.Runs{w.Entries()}, false, chunkPaths, labels)
	if err := cmp.Or(st.Err(), err); err != nil {
		return nil, nil, err
	}
	return paths, slices.Concat(w.Findings, d.findings[0], d.findings[1]), nil
}

// spillEntries writes es, one layer's entries in tar order, as a walk
// does, in runs of at most run entries, at the end of f.
func spillEntries(f *os.File, es []*layer.Entry, run int) *layer.Runs {
	sp, err := layer.WriteRuns(f, es, run)
	if err != nil {
		panic(err)
	}
	return sp
}
