package compare_test

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/image"
)

// Bench world: two OCI layouts of ~1 GiB of files each (8 layers of
// 128 MiB), with the same files compressed at different gzip levels and a
// few files changed, so that every layer of both images must be read; and
// a third, the first's layers but the last (the same blobs), then a last
// layer with one file changed: a rebuild over the same bases; a fourth,
// the first's files compressed at another level: a rebuild that differs
// only in compression.
const (
	benchLayers     = 8
	benchLayerBytes = 128 << 20
	benchVersion    = "v2" // v2: each layer has its directory entry
	benchParallel   = 4
)

// BenchmarkCompareVsFloor measures, in one run, the comparison of two
// bench image pairs against floors measured in the same process:
//
//   - the recompressed pair (every layer must be read), compared with the
//     Go and the igzip decompressor, each against its floor: decompressing
//     and hashing the same layers the same way, at the same parallelism
//     (goal ≤ 1.25), and peak RSS (goal < 150 MiB);
//   - the one-changed-file pair (the first layers the same blobs), compared
//     as by default, against the floor of reading only the layers that
//     differ (goal ≤ 1.5).
//
// Only ratios from one run mean something: the machine is shared.
func BenchmarkCompareVsFloor(b *testing.B) {
	dir := benchDir()
	igzip, err := exec.LookPath("igzip")
	if err != nil {
		b.Fatalf("igzip is not on PATH (make tools installs Debian's isal): %v", err)
	}
	ctx := context.Background()
	dirs, imgs := benchLayouts(b, dir)
	a, bb, c, same := imgs[0], imgs[1], imgs[2], imgs[3]
	recompressed := distinctLayers(a, bb)
	// The layers that differ in the one-changed-file pair: after the
	// blobs both have at the same index.
	var differing []image.Layer
	la, lc := a.Images[0].Layers, c.Images[0].Layers
	for i := range la {
		if la[i].Descriptor.Digest != lc[i].Descriptor.Digest {
			differing = append(differing, la[i], lc[i])
		}
	}
	warmPageCache(dirs[:]...)
	mib := float64(2*benchLayers*benchLayerBytes) / (1 << 20)
	for b.Loop() {
		goFloor, goFloorRSS := measure(b, func() error { return floor(ctx, recompressed, benchParallel, "") })
		igzFloor, igzFloorRSS := measure(b, func() error { return floor(ctx, recompressed, benchParallel, igzip) })
		goCmp, goCmpRSS := measure(b, func() error { return compareBench(ctx, a, bb, compare.DecompressGo, compare.Different) })
		igzCmp, igzCmpRSS := measure(b, func() error { return compareBench(ctx, a, bb, compare.DecompressIgzip, compare.Different) })
		onlyDiff, _ := measure(b, func() error { return floor(ctx, differing, benchParallel, igzip) })
		oneCmp, oneCmpRSS := measure(b, func() error { return compareBench(ctx, a, c, compare.DecompressAuto, compare.Different) })
		sameFloor, _ := measure(b, func() error { return floor(ctx, distinctLayers(a, same), benchParallel, igzip) })
		sameCmp, sameCmpRSS := measure(b, func() error { return compareBench(ctx, a, same, compare.DecompressAuto, compare.Equivalent) })

		ratio := func(x, y time.Duration) float64 { return x.Seconds() / y.Seconds() }
		b.ReportMetric(ratio(goCmp, goFloor), "go-ratio")
		b.ReportMetric(ratio(igzCmp, igzFloor), "igzip-ratio")
		b.ReportMetric(ratio(goCmp, igzCmp), "igzip-speedup")
		b.ReportMetric(ratio(oneCmp, onlyDiff), "one-changed-ratio")
		b.ReportMetric(ratio(goCmp, oneCmp), "one-changed-speedup")
		b.ReportMetric(ratio(sameCmp, sameFloor), "recompressed-same-ratio")
		b.ReportMetric(float64(max(goCmpRSS, igzCmpRSS))/(1<<20), "compare-peak-RSS-MiB")
		fmt.Printf("\nrecompressed, a file changed in each layer (every layer read), %.0f MiB uncompressed, %d layers a side, parallelism %d:\n", mib, benchLayers, benchParallel)
		for _, m := range []struct {
			name             string
			cmp, floor       time.Duration
			cmpRSS, floorRSS int64
		}{{"go", goCmp, goFloor, goCmpRSS, goFloorRSS}, {"igzip", igzCmp, igzFloor, igzCmpRSS, igzFloorRSS}} {
			fmt.Printf("  %-5s compare %6v (%4.0f MiB/s, peak RSS %3d MiB)  floor %6v (peak RSS %3d MiB)  ratio %.2f (goal ≤ 1.25)\n",
				m.name, m.cmp.Round(time.Millisecond), mib/m.cmp.Seconds(), m.cmpRSS>>20, m.floor.Round(time.Millisecond), m.floorRSS>>20, ratio(m.cmp, m.floor))
		}
		fmt.Printf("  igzip compare is %.2fx the go compare's speed; igzip floor %.2fx the go floor's\n", ratio(goCmp, igzCmp), ratio(goFloor, igzFloor))
		fmt.Printf("the same files, every layer recompressed (B's layers only hashed, A's walks stand for them):\n")
		fmt.Printf("  compare %v (peak RSS %d MiB)  igzip floor of reading every layer %v  ratio %.2f (goal ≤ 1.25)\n",
			sameCmp.Round(time.Millisecond), sameCmpRSS>>20, sameFloor.Round(time.Millisecond), ratio(sameCmp, sameFloor))
		fmt.Printf("one changed file, first %d of %d layers the same blobs:\n", benchLayers-1, benchLayers)
		fmt.Printf("  compare %v (peak RSS %d MiB)  reading only the differing layers (igzip) %v  ratio %.2f (goal ≤ 1.5); %.1fx faster than the first pair's go compare\n",
			oneCmp.Round(time.Millisecond), oneCmpRSS>>20, onlyDiff.Round(time.Millisecond), ratio(oneCmp, onlyDiff), ratio(goCmp, oneCmp))
	}
}

// benchLayouts makes the bench layouts in dir (ensureBenchLayout's
// variants 0 to 3) and opens them.
func benchLayouts(b *testing.B, dir string) (dirs [4]string, imgs [4]*image.Resolved) {
	for i, name := range []string{"a", "b", "one-changed", "recompressed"} {
		dirs[i] = filepath.Join(dir, benchVersion, name)
		if err := ensureBenchLayout(dirs[i], i, dirs[0]); err != nil {
			b.Fatal(err)
		}
		r, err := image.Open(context.Background(), "oci:"+dirs[i], image.Options{})
		if err != nil {
			b.Fatal(err)
		}
		imgs[i] = r
	}
	return dirs, imgs
}

// warmPageCache reads the blobs of the layouts: every measurement reads
// them from the page cache, or whichever runs first pays for the disk.
func warmPageCache(dirs ...string) {
	for _, d := range dirs {
		blobs, _ := filepath.Glob(filepath.Join(d, "blobs", "sha256", "*"))
		for _, p := range blobs {
			if f, err := os.Open(p); err == nil {
				io.Copy(io.Discard, f)
				f.Close()
			}
		}
	}
}

// benchDir is where bench data is kept between runs.
func benchDir() string {
	if dir := os.Getenv("REPROVER_BENCH_DIR"); dir != "" {
		return dir
	}
	return filepath.Join(os.TempDir(), "reprover-bench")
}

// measure runs f and returns how long it took and the peak RSS meanwhile.
func measure(b *testing.B, f func() error) (time.Duration, int64) {
	debug.FreeOSMemory() // what was freed before is not this measurement's
	peak := watchRSS()
	t := time.Now()
	if err := f(); err != nil {
		b.Fatal(err)
	}
	return time.Since(t), peak()
}

func compareBench(ctx context.Context, a, b *image.Resolved, dec, want string) error {
	rep, err := compare.Images(ctx, a, b, compare.Options{Parallelism: benchParallel, Decompressor: dec})
	if err != nil {
		return err
	}
	if rep.Verdict != want {
		return fmt.Errorf("bench images compare %s, want %s", rep.Verdict, want)
	}
	return nil
}

// distinctLayers lists the layers of the images, each blob once.
func distinctLayers(imgs ...*image.Resolved) []image.Layer {
	seen := map[v1.Hash]bool{}
	var out []image.Layer
	for _, r := range imgs {
		for _, img := range r.Images {
			for _, l := range img.Layers {
				if !seen[l.Descriptor.Digest] {
					seen[l.Descriptor.Digest] = true
					out = append(out, l)
				}
			}
		}
	}
	return out
}

// floor reads layers: the compressed bytes are hashed (digest check),
// decompressed (in Go, or by igzip -dc when igzip is its path) and
// hashed (diffID).
func floor(ctx context.Context, layers []image.Layer, parallel int, igzip string) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for _, l := range layers {
		g.Go(func() error {
			rc, err := l.Open(ctx)
			if err != nil {
				return err
			}
			defer rc.Close()
			h := sha256.New()
			if igzip != "" {
				return igzipFloor(ctx, igzip, rc, h)
			}
			zr, err := gzip.NewReader(bufio.NewReaderSize(rc, 64<<10))
			if err != nil {
				return err
			}
			if _, err := io.Copy(h, zr); err != nil {
				return err
			}
			_, err = io.Copy(io.Discard, rc)
			return err
		})
	}
	return g.Wait()
}

// igzipFloor runs igzip -dc from src to dst through pipes of 1 MiB, as
// layer's igzip path has them (with Linux's default of 64 KiB, as a shell
// pipeline has them, the floor is slower than that path).
func igzipFloor(ctx context.Context, igzip string, src io.Reader, dst io.Writer) error {
	inR, inW, err := os.Pipe()
	if err != nil {
		return err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return err
	}
	for _, f := range []*os.File{inR, outR} {
		unix.FcntlInt(f.Fd(), unix.F_SETPIPE_SZ, 1<<20)
	}
	cmd := exec.CommandContext(ctx, igzip, "-dc")
	cmd.Stdin, cmd.Stdout = inR, outW
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return err
	}
	fed := make(chan error, 1)
	go func() {
		_, err := io.Copy(inW, src)
		inW.Close()
		fed <- err
	}()
	_, rerr := io.Copy(dst, outR)
	outR.Close()
	werr := cmd.Wait()
	ferr := <-fed
	return errors.Join(ferr, werr, rerr)
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

// ensureBenchLayout writes bench image `variant` as an OCI layout, unless
// a complete one is already there: 0; 1, every layer compressed at another
// level and one file changed in each; 2, the layers of the image at base
// but the last, linked, and a last layer with one file changed; 3, every
// layer compressed at another level, the content the same.
func ensureBenchLayout(dir string, variant int, base string) error {
	var shared []image.Layer
	return ensureLayout(dir, benchLayers, func() error {
		if variant != 2 {
			return nil
		}
		r, err := image.Open(context.Background(), "oci:"+base, image.Options{})
		if err != nil {
			return err
		}
		shared = r.Images[0].Layers[:benchLayers-1]
		return nil
	}, func(i int) (v1.Descriptor, v1.Hash, error) {
		if i < len(shared) {
			return shared[i].Descriptor, shared[i].DiffID, linkBlob(base, dir, shared[i].Descriptor.Digest)
		}
		return writeBenchLayer(dir, i, variant)
	})
}

// ensureLayout writes an OCI layout of n layers into dir, unless a
// complete one is already there (its index.json is written last): first
// prepare, then layer(i) for each layer, which puts the blob in place.
func ensureLayout(dir string, n int, prepare func() error, layer func(i int) (v1.Descriptor, v1.Hash, error)) error {
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err == nil {
		return nil
	}
	os.RemoveAll(dir)
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		return err
	}
	if err := prepare(); err != nil {
		return err
	}
	var layers []v1.Descriptor
	var diffIDs []v1.Hash
	var history []v1.History
	for i := range n {
		d, diffID, err := layer(i)
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

// linkBlob puts blob d of the layout at from into the layout at to.
func linkBlob(from, to string, d v1.Hash) error {
	src, dst := filepath.Join(from, "blobs", d.Algorithm, d.Hex), filepath.Join(to, "blobs", d.Algorithm, d.Hex)
	if os.Link(src, dst) == nil {
		return nil
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
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
// Variants 1 and 3 compress at another level; variants 1 and 2 change one
// file.
func writeBenchLayer(dir string, layer, variant int) (v1.Descriptor, v1.Hash, error) {
	level := gzip.DefaultCompression
	if variant == 1 || variant == 3 {
		level = gzip.BestSpeed
	}
	return writeLayer(dir, level, func(tw *tar.Writer) error {
		// The directory first, as BuildKit writes the parents of what a
		// layer changes.
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("data%d/", layer), Mode: 0o755, ModTime: fixtures.Epoch, Typeflag: tar.TypeDir}); err != nil {
			return err
		}
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
			if (variant == 1 || variant == 2) && n == 3 {
				body[0] ^= 0xff
			}
			h := &tar.Header{Name: fmt.Sprintf("data%d/f%05d", layer, n), Mode: 0o644, Size: size, ModTime: fixtures.Epoch, Typeflag: tar.TypeReg}
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			if _, err := tw.Write(body); err != nil {
				return err
			}
			written += size
		}
		return nil
	})
}

// writeLayer streams the tar that fill writes through gzip at level into
// a blob of the layout in dir, hashing as it goes: a layer is never held
// in memory.
func writeLayer(dir string, level int, fill func(*tar.Writer) error) (v1.Descriptor, v1.Hash, error) {
	return writeGzipBlob(dir, level, func(w io.Writer) error {
		tw := tar.NewWriter(w)
		if err := fill(tw); err != nil {
			return err
		}
		return tw.Close()
	})
}

// writeGzipBlob streams what fill writes (a layer's uncompressed bytes)
// through gzip at level into a blob of the layout in dir, and returns its
// descriptor and diffID.
func writeGzipBlob(dir string, level int, fill func(io.Writer) error) (v1.Descriptor, v1.Hash, error) {
	tmp, err := os.CreateTemp(dir, "layer")
	if err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	compHash, diffHash := sha256.New(), sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(tmp, compHash), 1<<20)
	cw := &countWriter{w: bw}
	zw, _ := gzip.NewWriterLevel(cw, level)
	if err := fill(io.MultiWriter(zw, diffHash)); err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	if err := zw.Close(); err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	if err := bw.Flush(); err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	if err := tmp.Close(); err != nil {
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
