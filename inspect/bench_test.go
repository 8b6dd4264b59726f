package inspect_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/inspect"
	"github.com/reprover/reprover/layer"
)

// BenchmarkInspectVsWalk inspects the real bench image (compare's
// realbench_test.go makes it under REPROVER_BENCH_DIR: a Debian root,
// the Go toolchain and /usr/share, ~1 GB of files) and reads the same
// layers once as a comparison does (layer.Walk, default limits, the same
// parallelism) in the same process: the ratio is what inspecting costs
// beyond one decompression pass (goal ≤ 1.3), with the peak heap.
func BenchmarkInspectVsWalk(b *testing.B) {
	dir := filepath.Join(os.Getenv("REPROVER_BENCH_DIR"), "real-v1", "a")
	if _, err := os.Stat(dir); err != nil {
		b.Skipf("no real bench image at %s (go test ./compare -bench Real makes it): %v", dir, err)
	}
	ctx := context.Background()
	r, err := image.Open(ctx, "oci:"+dir, image.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	for range b.N {
		start := time.Now()
		if err := walkAll(ctx, r, b.TempDir()); err != nil {
			b.Fatal(err)
		}
		floor := time.Since(start)
		start = time.Now()
		var peak atomic.Uint64
		stop := watchHeap(&peak)
		rep, err := inspect.Image(ctx, r, inspect.Options{Scratch: b.TempDir(), Decompressor: inspect.DecompressGo})
		stop()
		if err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		files := 0
		for _, l := range rep.Platforms[0].Layers {
			files += l.Files
		}
		b.ReportMetric(took.Seconds()/floor.Seconds(), "ratio")
		b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
		b.Logf("inspect %v, one walk %v, %d files, %d findings, scanned %+v", took, floor, files, len(rep.Platforms[0].Findings), rep.Platforms[0].Scanned)
	}
}

// walkAll reads every layer of r once, as compare does.
func walkAll(ctx context.Context, r *image.Resolved, scratch string) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	total := new(atomic.Int64)
	for _, l := range r.Images[0].Layers {
		g.Go(func() error {
			w, err := layer.Walk(gctx, l, layer.Options{Limits: layer.DefaultLimits, Total: total, Scratch: scratch})
			if err == nil {
				w.Remove()
			}
			return err
		})
	}
	return g.Wait()
}

// watchHeap records the peak heap in use until stopped.
func watchHeap(peak *atomic.Uint64) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done) }
}
