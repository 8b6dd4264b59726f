package layer_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/layer"
)

// BenchmarkGunzipSizes measures what sets auto's choice (autoIgzipMin):
// layers of about 64 KiB to 16 MiB compressed, cut from the real bench
// layers (compare's BenchmarkRealPairs makes them under
// REPROVER_BENCH_DIR: the Debian root filesystem, the Go toolchain,
// /usr/share), each walked alone with Go and with igzip, interleaved,
// best of 5 to 200 walks. It reports igzip's wall and CPU time (its own
// included) as a ratio of Go's, per layer and size.
func BenchmarkGunzipSizes(b *testing.B) {
	dir := os.Getenv("REPROVER_BENCH_DIR")
	if dir == "" {
		b.Skip("REPROVER_BENCH_DIR is not set: no real layers to cut")
	}
	r, err := image.Open(b.Context(), "oci:"+filepath.Join(dir, "real-v1", "a"), image.Options{})
	if err != nil {
		b.Fatalf("%v (compare's BenchmarkRealPairs makes the real layouts)", err)
	}
	var gz [2]layer.Gunzipper
	for i, choice := range []string{layer.DecompressGo, layer.DecompressIgzip} {
		if gz[i], err = layer.NewGunzipper(choice); err != nil {
			b.Fatalf("%v (make tools installs Debian's isal, which has igzip)", err)
		}
	}
	names := []string{"debian", "go", "share"}
	scratch := b.TempDir()
	for b.Loop() {
		fmt.Printf("\n| layer | compressed | uncompressed | walks | Go wall | igzip wall | igzip/Go wall | igzip/Go CPU |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
		for li, l := range r.Images[0].Layers {
			layers, err := cutLayers(b.Context(), l)
			if err != nil {
				b.Fatal(err)
			}
			for _, c := range layers {
				walks := max(5, min(200, (64<<20)/len(c.gz)))
				var wall, cpu [2]time.Duration
				for range walks {
					for i := range gz {
						w, u := timeWalk(b, c.gz, gz[i], scratch)
						if wall[i] == 0 || w < wall[i] {
							wall[i] = w
						}
						if cpu[i] == 0 || u < cpu[i] {
							cpu[i] = u
						}
					}
				}
				name := names[min(li, len(names)-1)]
				rw, rc := wall[1].Seconds()/wall[0].Seconds(), cpu[1].Seconds()/cpu[0].Seconds()
				b.ReportMetric(rw, fmt.Sprintf("%s-%dKiB-igzip/go-wall", name, len(c.gz)>>10))
				fmt.Printf("| %s | %d KiB | %d KiB | %d | %.2f ms | %.2f ms | %.2f | %.2f |\n", name, len(c.gz)>>10, c.size>>10, walks,
					float64(wall[0].Microseconds())/1000, float64(wall[1].Microseconds())/1000, rw, rc)
			}
		}
	}
}

type cutLayer struct {
	gz   []byte
	size int // uncompressed
}

// cutLayers cuts l's entries into layers of about 64 KiB, 256 KiB, 1
// MiB, 4 MiB and 16 MiB compressed, one after the other.
func cutLayers(ctx context.Context, l image.Layer) ([]cutLayer, error) {
	rc, err := l.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	var out []cutLayer
	for size := 64 << 10; size <= 16<<20; size *= 4 {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		cw := &counter{w: zw}
		tw := tar.NewWriter(cw)
		for buf.Len() < size {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
			if err := tw.WriteHeader(h); err != nil {
				return nil, err
			}
			if _, err := io.Copy(tw, tr); err != nil {
				return nil, err
			}
		}
		if err := tw.Close(); err != nil {
			return nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
		out = append(out, cutLayer{gz: buf.Bytes(), size: cw.n})
	}
	return out, nil
}

// timeWalk walks the layer b with gz, its entries kept in scratch, and
// returns its wall time and CPU time (this process's and igzip's).
func timeWalk(tb testing.TB, b []byte, gz layer.Gunzipper, scratch string) (time.Duration, time.Duration) {
	open := func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	c0, t0 := cpuTime(), time.Now()
	w, err := layer.WalkOpened(tb.Context(), open, "cut layer", layer.Options{Limits: layer.DefaultLimits, Gunzip: gz, Scratch: scratch})
	if err != nil {
		tb.Fatal(err)
	}
	wall, cpu := time.Since(t0), cpuTime()-c0
	w.Remove()
	return wall, cpu
}

// cpuTime is the user and system time of this process and of its
// children waited for.
func cpuTime() time.Duration {
	var t time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			t += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return t
}

type counter struct {
	w io.Writer
	n int
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += n
	return n, err
}
