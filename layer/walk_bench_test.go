package layer_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/layer"
)

// BenchmarkWalk walks an uncompressed layer of 5,000 small files: its
// allocations per op over 5,000 are what a walk costs an entry (the hot
// path; compare's bench measures whole comparisons).
func BenchmarkWalk(b *testing.B) {
	var es []fixtures.Entry
	for i := range 5000 {
		es = append(es, fixtures.File(fmt.Sprintf("app/d%d/f%d", i%50, i), fmt.Sprintf("content %d\n", i)))
	}
	tb := fixtures.Tar(es...)
	open := func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tb)), nil }
	o := layer.Options{Limits: layer.DefaultLimits, Scratch: b.TempDir()}
	b.ReportAllocs()
	for b.Loop() {
		w, err := layer.WalkOpened(b.Context(), open, "bench layer", o)
		if err != nil {
			b.Fatal(err)
		}
		if w.Entries().Len() != len(es) {
			b.Fatalf("%d entries, want %d", w.Entries().Len(), len(es))
		}
		w.Remove()
	}
}
