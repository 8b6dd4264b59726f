package compare_test

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"

	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/image"
)

// Real bench world: images of real files, not the synthetic bench's
// random and repeated bytes. Three layers, as a golang image has them:
// the Debian root filesystem and the Go toolchain the tests build from
// (fixtures.GoToolchainBase), and this machine's /usr/share (a mix of
// text, already compressed documentation and binaries). Three layouts:
//
//   - a: each layer gzipped at the default level;
//   - b: the same layers re-gzipped at level 9: every blob digest
//     differs, every diff_id is the same (a rebuild that differs only in
//     compression; equivalent);
//   - c: a's first two blobs, then the top layer with one file changed
//     (a rebuild over the same bases; different).
//
// The layers' tars are made once, then kept only as the layouts' blobs,
// under REPROVER_BENCH_DIR.
const realBenchVersion = "real-v1"

// realShare is the tree of this machine's files in the top layer.
const realShare = "/usr/share"

// realLayouts makes the real layouts under dir, unless they are there,
// and opens them: a, b and c.
func realLayouts(b *testing.B, dir string) (dirs [3]string, imgs [3]*image.Resolved) {
	root := filepath.Join(dir, realBenchVersion)
	for i, name := range []string{"a", "b", "c"} {
		dirs[i] = filepath.Join(root, name)
	}
	if !layoutDone(dirs[:]...) {
		if err := writeRealLayouts(b, root, dirs); err != nil {
			b.Fatalf("real bench layouts in %s: %v", root, err)
		}
	}
	for i, d := range dirs {
		r, err := image.Open(context.Background(), "oci:"+d, image.Options{})
		if err != nil {
			b.Fatal(err)
		}
		imgs[i] = r
	}
	return dirs, imgs
}

func layoutDone(dirs ...string) bool {
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "index.json")); err != nil {
			return false
		}
	}
	return true
}

// writeRealLayouts writes the layers' tars into root/tars (the same
// bytes for the three layouts, whatever changes on the machine
// meanwhile), the layouts from them, then removes the tars.
func writeRealLayouts(b *testing.B, root string, dirs [3]string) error {
	tars := filepath.Join(root, "tars")
	if err := os.MkdirAll(tars, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(tars)
	base := fixtures.GoToolchainBase(b)
	ls, err := base.Layers()
	if err != nil {
		return err
	}
	var files []string
	for i, l := range ls {
		f := filepath.Join(tars, strconv.Itoa(i)+".tar")
		rc, err := l.Uncompressed()
		if err != nil {
			return err
		}
		err = writeFile(f, func(w io.Writer) error { _, err := io.Copy(w, rc); return err })
		rc.Close()
		if err != nil {
			return err
		}
		files = append(files, f)
	}
	top := filepath.Join(tars, "top.tar")
	var change int64 // offset in top.tar of the first byte of the file c changes
	if err := writeFile(top, func(w io.Writer) error {
		change, err = writeTreeTar(w, realShare)
		return err
	}); err != nil {
		return err
	}
	files = append(files, top)
	n := len(files)
	blob := func(dir string, level int, f string, flip int64) (v1.Descriptor, v1.Hash, error) {
		return writeGzipBlob(dir, level, func(w io.Writer) error {
			src, err := os.Open(f)
			if err != nil {
				return err
			}
			defer src.Close()
			if flip >= 0 {
				w = &flipAt{w: w, at: flip}
			}
			_, err = io.Copy(w, src)
			return err
		})
	}
	for i, level := range []int{gzip.DefaultCompression, gzip.BestCompression} {
		if err := ensureLayout(dirs[i], n, func() error { return nil }, func(j int) (v1.Descriptor, v1.Hash, error) {
			return blob(dirs[i], level, files[j], -1)
		}); err != nil {
			return err
		}
	}
	var shared []image.Layer
	return ensureLayout(dirs[2], n, func() error {
		r, err := image.Open(context.Background(), "oci:"+dirs[0], image.Options{})
		if err != nil {
			return err
		}
		shared = r.Images[0].Layers[:n-1]
		return nil
	}, func(j int) (v1.Descriptor, v1.Hash, error) {
		if j < len(shared) {
			return shared[j].Descriptor, shared[j].DiffID, linkBlob(dirs[0], dirs[2], shared[j].Descriptor.Digest)
		}
		return blob(dirs[2], gzip.DefaultCompression, files[j], change)
	})
}

// writeFile writes what fill writes to a file at path, whole or not at all.
func writeFile(path string, fill func(io.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	defer f.Close()
	if err := fill(f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// writeTreeTar writes the tree at dir as a layer's tar (entries under
// dir without its leading slash, root's, at Epoch; what is neither a
// file, a directory nor a symlink left out), and returns the offset of
// the content of its first file of at least 4 KiB, the one to change.
func writeTreeTar(w io.Writer, dir string) (int64, error) {
	cw := &countWriter{w: w}
	tw := tar.NewWriter(cw)
	change := int64(-1)
	under := strings.TrimPrefix(dir, "/")
	parts := strings.Split(under, "/")
	for i := range parts[:len(parts)-1] {
		if err := tw.WriteHeader(&tar.Header{Name: strings.Join(parts[:i+1], "/") + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: fixtures.Epoch, Format: tar.FormatPAX}); err != nil {
			return 0, err
		}
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !d.Type().IsRegular() && d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if d.Type()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		h.Name = strings.TrimPrefix(p, "/")
		if d.IsDir() {
			h.Name += "/"
		}
		h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
		h.ModTime, h.AccessTime, h.ChangeTime, h.Format = fixtures.Epoch, time.Time{}, time.Time{}, tar.FormatPAX
		if !d.Type().IsRegular() {
			return tw.WriteHeader(h)
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if change < 0 && h.Size >= 4<<10 {
			change = cw.n // tar.Writer writes a header whole, at once
		}
		// The size in the header, whatever the file does meanwhile.
		if _, err := io.CopyN(tw, src, h.Size); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if change < 0 {
		return 0, fmt.Errorf("%s: no file of 4 KiB or more to change", dir)
	}
	return change, tw.Close()
}

// flipAt writes through to w, with the byte at offset at inverted.
type flipAt struct {
	w  io.Writer
	at int64
	n  int64
}

func (f *flipAt) Write(p []byte) (int, error) {
	if i := f.at - f.n; i >= 0 && i < int64(len(p)) {
		q := append([]byte(nil), p...)
		q[i] ^= 0xff
		p = q
	}
	n, err := f.w.Write(p)
	f.n += int64(n)
	return n, err
}

// cost is what one measured run took: wall time, the CPU time (user and
// system) of this process and of the children it waited for (igzip), and
// the peak RSS of this process.
type cost struct {
	wall, cpu time.Duration
	rss       int64
}

// measureCost runs f and returns what it cost.
func measureCost(b *testing.B, f func() error) cost {
	cpu0 := cpuTime()
	wall, rss := measure(b, f)
	return cost{wall: wall, cpu: cpuTime() - cpu0, rss: rss}
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

// best keeps, of several runs, the fastest wall time, the least CPU time
// and the highest peak RSS.
func (c cost) best(o cost) cost {
	if c.wall == 0 {
		return o
	}
	return cost{wall: min(c.wall, o.wall), cpu: min(c.cpu, o.cpu), rss: max(c.rss, o.rss)}
}

// benchRounds is how many times each measurement of the real pairs runs,
// interleaved with the others (REPROVER_BENCH_ROUNDS; default 3): the
// best of them is kept.
func benchRounds() int {
	if n, err := strconv.Atoi(os.Getenv("REPROVER_BENCH_ROUNDS")); err == nil && n > 0 {
		return n
	}
	return 3
}

// floorParallel is how many layers the floors read at once: one per core,
// as `xargs -P` would.
var floorParallel = runtime.NumCPU()

// BenchmarkRealPairs compares the real pairs (a with b: re-gzipped, every
// layer read; a with c: one changed file, only the top layers read) with
// each decompressor, and measures in the same process the floors of the
// same work: decompressing and hashing every layer read (Go, or igzip -dc)
// and hashing its compressed bytes, floorParallel layers at a time.
// Measurements are interleaved, each run REPROVER_BENCH_ROUNDS times, the
// best kept; the ratio of each decompressor to each floor is reported
// (goal, issue 21: igzip ≤ 1.2x the igzip floor; auto never slower than
// go), and with REPROVER_DIFFOCI, diffoci --semantic on the same pairs.
func BenchmarkRealPairs(b *testing.B) {
	igzip, err := exec.LookPath("igzip")
	if err != nil {
		b.Fatalf("igzip is not on PATH (make tools installs Debian's isal): %v", err)
	}
	ctx := context.Background()
	dirs, imgs := realLayouts(b, benchDir())
	a, regz, one := imgs[0], imgs[1], imgs[2]
	var top []image.Layer // the layers the one-changed-file pair reads
	for i, l := range a.Images[0].Layers {
		if lc := one.Images[0].Layers[i]; lc.Descriptor.Digest != l.Descriptor.Digest {
			top = append(top, l, lc)
		}
	}
	diffoci := startDiffoci(b, dirs[:])
	warmPageCache(dirs[:]...)
	pairs := []realPair{
		{name: "regzipped", what: "re-gzipped at level 9 (every layer read)", b: regz, layers: distinctLayers(a, regz), verdict: compare.Equivalent},
		{name: "one-changed", what: "one changed file in the top layer (the top layers read)", b: one, layers: top, verdict: compare.Different},
	}
	for i := range pairs {
		pairs[i].dir = dirs[1+i]
		pairs[i].mib = float64(uncompressedSize(b, pairs[i].layers)) / (1 << 20)
	}
	for b.Loop() {
		var rs []realResult
		for _, p := range pairs {
			r := p.measure(b, ctx, a, dirs[0], igzip, diffoci)
			r.report(b)
			rs = append(rs, r)
		}
		if path := os.Getenv("REPROVER_BENCH_PLOT"); path != "" {
			if err := os.WriteFile(path, []byte(realPlot(rs, diffoci != nil)), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// realPair is one pair of the real bench: a and b, and what it costs.
type realPair struct {
	name, what string
	b          *image.Resolved
	dir        string
	layers     []image.Layer // what a comparison reads
	mib        float64       // their uncompressed size
	verdict    string
}

// The measurements of a pair, in the order they run in each round.
var realRuns = []string{"floor-go", "floor-igzip", "go", "igzip", "auto", "diffoci"}

// realResult is what a pair's runs cost, the best of the rounds.
type realResult struct {
	pair, what string
	mib        float64
	rounds     int
	load       string
	costs      map[string]cost
}

// measure runs each of realRuns on the pair, the rounds interleaved.
func (p realPair) measure(b *testing.B, ctx context.Context, a *image.Resolved, dirA, igzip string, diffoci *diffociRunner) realResult {
	r := realResult{pair: p.name, what: p.what, mib: p.mib, rounds: benchRounds(), costs: map[string]cost{}}
	for range r.rounds {
		for _, run := range realRuns {
			var f func() error
			switch run {
			case "floor-go":
				f = func() error { return floor(ctx, p.layers, floorParallel, "") }
			case "floor-igzip":
				f = func() error { return floor(ctx, p.layers, floorParallel, igzip) }
			case "diffoci":
				if diffoci == nil {
					continue
				}
				syscall.Sync()
				d, err := diffoci.diff(ctx, dirA, p.dir)
				if err != nil {
					b.Fatal(err)
				}
				syscall.Sync() // its dirty pages written back before anything else is timed
				r.costs[run] = r.costs[run].best(d)
				continue
			default:
				f = func() error { return compareBench(ctx, a, p.b, run, p.verdict) }
			}
			r.costs[run] = r.costs[run].best(measureCost(b, f))
		}
	}
	r.load = loadAverage()
	return r
}

// report reports r's metrics and prints its table.
func (r realResult) report(b *testing.B) {
	ratio := func(x, y string) float64 { return r.costs[x].wall.Seconds() / r.costs[y].wall.Seconds() }
	cpuRatio := func(x, y string) float64 { return r.costs[x].cpu.Seconds() / r.costs[y].cpu.Seconds() }
	for _, run := range realRuns {
		if c, ok := r.costs[run]; ok {
			b.ReportMetric(c.wall.Seconds(), r.pair+"-"+run+"-s")
		}
	}
	b.ReportMetric(ratio("igzip", "floor-igzip"), r.pair+"-igzip/floor-igzip")
	b.ReportMetric(ratio("go", "floor-go"), r.pair+"-go/floor-go")
	b.ReportMetric(ratio("auto", "go"), r.pair+"-auto/go")
	if _, ok := r.costs["diffoci"]; ok {
		b.ReportMetric(ratio("diffoci", "auto"), r.pair+"-diffoci/auto")
	}
	fmt.Printf("\nreal pair %s, %s: %.0f MiB uncompressed read, best of %d, load after %s\n", r.pair, r.what, r.mib, r.rounds, r.load)
	fmt.Printf("| %s | wall s | CPU s | peak RSS MiB | wall / floor-go | wall / floor-igzip | CPU / floor-igzip | wall / go |\n", r.pair)
	fmt.Printf("| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, run := range realRuns {
		c, ok := r.costs[run]
		if !ok {
			continue
		}
		fmt.Printf("| %s | %.2f | %.2f | %d | %.2f | %.2f | %.2f | %.2f |\n", run, c.wall.Seconds(), c.cpu.Seconds(), c.rss>>20,
			ratio(run, "floor-go"), ratio(run, "floor-igzip"), cpuRatio(run, "floor-igzip"), ratio(run, "go"))
	}
}

// uncompressedSize is the size of the layers' uncompressed bytes.
func uncompressedSize(b *testing.B, ls []image.Layer) int64 {
	var n int64
	for _, l := range ls {
		rc, err := l.Open(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		zr, err := gzip.NewReader(rc)
		if err != nil {
			b.Fatal(err)
		}
		k, err := io.Copy(io.Discard, zr)
		rc.Close()
		if err != nil {
			b.Fatal(err)
		}
		n += k
	}
	return n
}

// loadAverage is the machine's load average over 1, 5 and 15 minutes.
func loadAverage() string {
	s, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(s))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
