package compare_test

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"golang.org/x/sync/errgroup"

	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/image"
)

// Bench world: two OCI layouts of ~1 GiB of files each (8 layers of
// 128 MiB), with the same files compressed at different gzip levels and a
// few files changed, so that every layer of both images must be read.
const (
	benchLayers     = 8
	benchLayerBytes = 128 << 20
	benchVersion    = "v1"
	benchParallel   = 4
)

// BenchmarkCompareVsFloor compares the two bench images and, in the same
// process, does the floor: decompressing and hashing the same layers with
// the same decompressor and parallelism. It reports both throughputs,
// their ratio (goal ≤ 1.25) and the peak RSS of each phase (goal < 150 MiB).
func BenchmarkCompareVsFloor(b *testing.B) {
	dir := os.Getenv("REPROVER_BENCH_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "reprover-bench")
	}
	dirA, dirB := filepath.Join(dir, benchVersion, "a"), filepath.Join(dir, benchVersion, "b")
	for i, d := range []string{dirA, dirB} {
		if err := ensureBenchLayout(d, i); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	a, err := image.Open(ctx, "oci:"+dirA, image.Options{})
	if err != nil {
		b.Fatal(err)
	}
	bb, err := image.Open(ctx, "oci:"+dirB, image.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var uncompressed int64 = 2 * benchLayers * benchLayerBytes
	// Both measurements read the layers from the page cache: warm it first,
	// or whichever runs first pays for the disk.
	for _, d := range []string{dirA, dirB} {
		blobs, _ := filepath.Glob(filepath.Join(d, "blobs", "sha256", "*"))
		for _, p := range blobs {
			if f, err := os.Open(p); err == nil {
				io.Copy(io.Discard, f)
				f.Close()
			}
		}
	}
	for b.Loop() {
		runtime.GC()
		floorRSS := watchRSS()
		t0 := time.Now()
		if err := floor(ctx, []*image.Resolved{a, bb}, benchParallel); err != nil {
			b.Fatal(err)
		}
		floorDur := time.Since(t0)
		floorPeak := floorRSS()

		runtime.GC()
		cmpRSS := watchRSS()
		t1 := time.Now()
		rep, err := compare.Images(ctx, a, bb, compare.Options{Parallelism: benchParallel})
		if err != nil {
			b.Fatal(err)
		}
		cmpDur := time.Since(t1)
		cmpPeak := cmpRSS()
		if rep.Verdict != compare.Different {
			b.Fatalf("bench images compare %s, want different", rep.Verdict)
		}
		mb := float64(uncompressed) / (1 << 20)
		ratio := cmpDur.Seconds() / floorDur.Seconds()
		b.ReportMetric(mb/cmpDur.Seconds(), "compare-MiB/s")
		b.ReportMetric(mb/floorDur.Seconds(), "floor-MiB/s")
		b.ReportMetric(ratio, "ratio")
		b.ReportMetric(float64(cmpPeak)/(1<<20), "compare-peak-RSS-MiB")
		b.ReportMetric(float64(floorPeak)/(1<<20), "floor-peak-RSS-MiB")
		fmt.Printf("\ncompare: %.0f MiB uncompressed in %v (%.0f MiB/s), peak RSS %d MiB\n", mb, cmpDur.Round(time.Millisecond), mb/cmpDur.Seconds(), cmpPeak>>20)
		fmt.Printf("floor:   %.0f MiB uncompressed in %v (%.0f MiB/s), peak RSS %d MiB\n", mb, floorDur.Round(time.Millisecond), mb/floorDur.Seconds(), floorPeak>>20)
		fmt.Printf("ratio:   %.3f (goal ≤ 1.25); peak RSS goal < 150 MiB\n", ratio)
	}
}

// floor reads every distinct layer of the images once: the compressed
// bytes are hashed (digest check), decompressed and hashed (diffID).
func floor(ctx context.Context, imgs []*image.Resolved, parallel int) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	seen := map[v1.Hash]bool{}
	for _, r := range imgs {
		for _, img := range r.Images {
			for _, l := range img.Layers {
				if seen[l.Descriptor.Digest] {
					continue
				}
				seen[l.Descriptor.Digest] = true
				g.Go(func() error {
					rc, err := l.Open(ctx)
					if err != nil {
						return err
					}
					defer rc.Close()
					zr, err := gzip.NewReader(bufio.NewReaderSize(rc, 64<<10))
					if err != nil {
						return err
					}
					h := sha256.New()
					if _, err := io.Copy(h, zr); err != nil {
						return err
					}
					_, err = io.Copy(io.Discard, rc)
					return err
				})
			}
		}
	}
	return g.Wait()
}

// watchRSS samples this process's resident set until the returned func is
// called, which returns the peak seen.
func watchRSS() func() int64 {
	var peak atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			if r := rss(); r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 { close(stop); <-done; return peak.Load() }
}

func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// ensureBenchLayout writes bench image `variant` (0 or 1) as an OCI layout,
// unless a complete one is already there.
func ensureBenchLayout(dir string, variant int) error {
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err == nil {
		return nil
	}
	os.RemoveAll(dir)
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		return err
	}
	var layers []v1.Descriptor
	var diffIDs []v1.Hash
	var history []v1.History
	for i := range benchLayers {
		d, diffID, err := writeBenchLayer(dir, i, variant)
		if err != nil {
			return err
		}
		layers = append(layers, d)
		diffIDs = append(diffIDs, diffID)
		history = append(history, v1.History{CreatedBy: fmt.Sprintf("COPY data%d/ /data%d/ # buildkit", i, i), Created: v1.Time{Time: fixtures.Epoch}})
	}
	cfg := v1.ConfigFile{Architecture: "amd64", OS: "linux", Created: v1.Time{Time: fixtures.Epoch},
		RootFS: v1.RootFS{Type: "layers", DiffIDs: diffIDs}, History: history}
	cfgDesc, err := writeJSONBlob(dir, cfg, types.OCIConfigJSON)
	if err != nil {
		return err
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: cfgDesc, Layers: layers}
	mDesc, err := writeJSONBlob(dir, m, types.OCIManifestSchema1)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		return err
	}
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{mDesc}}
	b, _ := json.Marshal(idx)
	return os.WriteFile(filepath.Join(dir, "index.json"), b, 0o644)
}

func writeJSONBlob(dir string, v any, mt types.MediaType) (v1.Descriptor, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return v1.Descriptor{}, err
	}
	sum := sha256.Sum256(b)
	h := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	if err := os.WriteFile(filepath.Join(dir, "blobs", "sha256", h.Hex), b, 0o644); err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Size: int64(len(b)), Digest: h}, nil
}

// writeBenchLayer streams one layer of files (sizes from 1 KiB to 8 MiB,
// half random and half text-like) through tar and gzip into the layout.
// Variant 1 compresses at another level and changes one file per layer.
func writeBenchLayer(dir string, layer, variant int) (v1.Descriptor, v1.Hash, error) {
	tmp, err := os.CreateTemp(dir, "layer")
	if err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	compHash, diffHash := sha256.New(), sha256.New()
	cw := &countWriter{w: io.MultiWriter(tmp, compHash)}
	level := gzip.DefaultCompression
	if variant == 1 {
		level = gzip.BestSpeed
	}
	zw, _ := gzip.NewWriterLevel(cw, level)
	tw := tar.NewWriter(io.MultiWriter(zw, diffHash))
	rng := rand.New(rand.NewPCG(uint64(layer), 42))
	words := []byte("the quick brown fox jumps over the lazy dog lorem ipsum dolor sit amet ")
	buf := make([]byte, 8<<20)
	var written int64
	for n := 0; written < benchLayerBytes; n++ {
		size := int64(1<<10) << rng.IntN(14) // 1 KiB … 8 MiB
		size = min(size, benchLayerBytes-written)
		body := buf[:size]
		if n%2 == 0 {
			for i := range body {
				body[i] = byte(rng.Uint32())
			}
		} else {
			for i := range body {
				body[i] = words[(i+int(rng.Uint32()%7))%len(words)]
			}
		}
		if variant == 1 && n == 3 {
			body[0] ^= 0xff
		}
		h := &tar.Header{Name: fmt.Sprintf("data%d/f%05d", layer, n), Mode: 0o644, Size: size, ModTime: fixtures.Epoch, Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(h); err != nil {
			return v1.Descriptor{}, v1.Hash{}, err
		}
		if _, err := tw.Write(body); err != nil {
			return v1.Descriptor{}, v1.Hash{}, err
		}
		written += size
	}
	if err := tw.Close(); err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	if err := zw.Close(); err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	d := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(compHash.Sum(nil))}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, "blobs", "sha256", d.Hex)); err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	return v1.Descriptor{MediaType: types.OCILayer, Size: cw.n, Digest: d},
		v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diffHash.Sum(nil))}, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
