package compare_test

import (
	"archive/tar"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"

	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/image"
)

// Large bench world: image pairs of many small files (in directories of
// 100, each with a symlink) and one large file per layer, the two sides
// compressed at different gzip levels (every layer must be read) and one
// small file changed in the top layer, at two sizes a tenth apart. What
// a comparison holds grows with the entries, never with the bytes: the
// memory per 100k entries says how much, and whether it stays flat as
// images grow.
const benchLargeVersion = "large-v1"

type largePair struct {
	name          string
	layers        int
	filesPerLayer int   // small files, 0–2 KiB of text each
	bigBytes      int64 // the one large file of each layer
}

var largePairs = []largePair{
	{"tenth", 10, 10_000, 90_000_000},
	{"full", 10, 100_000, 900_000_000},
}

const filesPerDir = 100

// entries is how many tar entries each image of the pair has.
func (p largePair) entries() int {
	dirs := p.filesPerLayer / filesPerDir
	return p.layers * (1 + dirs*2 + p.filesPerLayer + 1) // its directory; each directory and its symlink; files; the large file
}

// BenchmarkCompareLarge compares the large pairs (about 1 GB / 100k files
// and 10 GB / 1M files a side) and reports for each the time, the peak
// RSS and the RSS per 100k entries read (both images), and the growth
// from the smaller to the larger per 100k more entries: flat memory per
// entry shows as the two alike. Goal (issue 12): peak RSS < 150 MiB.
func BenchmarkCompareLarge(b *testing.B) {
	ctx := context.Background()
	var pairs [][2]*image.Resolved
	for _, p := range largePairs {
		var sides [2]*image.Resolved
		for side := range 2 {
			d := filepath.Join(benchDir(), benchLargeVersion, p.name, strconv.Itoa(side))
			if err := ensureLayout(d, p.layers, func() error { return nil }, func(i int) (v1.Descriptor, v1.Hash, error) {
				return writeLargeLayer(d, p, i, side)
			}); err != nil {
				b.Fatal(err)
			}
			r, err := image.Open(ctx, "oci:"+d, image.Options{})
			if err != nil {
				b.Fatal(err)
			}
			sides[side] = r
		}
		pairs = append(pairs, sides)
	}
	for b.Loop() {
		type result struct {
			took         time.Duration
			base, peak   int64
			entries      int
			uncompressed int64
			perHundredK  float64
		}
		var rs []result
		for i, p := range largePairs {
			debug.FreeOSMemory() // what earlier runs left is not this one's
			base := rss()
			took, peak := measure(b, func() error {
				return compareBench(ctx, pairs[i][0], pairs[i][1], compare.DecompressAuto, compare.Different)
			})
			r := result{took: took, base: base, peak: peak, entries: 2 * p.entries(),
				uncompressed: int64(p.layers) * (p.bigBytes + int64(p.filesPerLayer)*1024)}
			r.perHundredK = float64(peak-base) / (1 << 20) / (float64(r.entries) / 1e5)
			rs = append(rs, r)
			b.ReportMetric(took.Seconds(), p.name+"-s")
			b.ReportMetric(float64(peak)/(1<<20), p.name+"-peak-RSS-MiB")
			b.ReportMetric(r.perHundredK, p.name+"-MiB/100k-entries")
			fmt.Printf("\nlarge pair %-5s %d layers a side, %d entries in all, ~%.1f GB uncompressed a side: compare %v, peak RSS %d MiB (%d MiB before), %.1f MiB per 100k entries\n",
				p.name, p.layers, r.entries, float64(r.uncompressed)/1e9, took.Round(time.Millisecond), peak>>20, base>>20, r.perHundredK)
		}
		small, large := rs[0], rs[len(rs)-1]
		growth := float64(large.peak-small.peak) / (1 << 20) / (float64(large.entries-small.entries) / 1e5)
		b.ReportMetric(growth, "growth-MiB/100k-entries")
		fmt.Printf("from %s to %s: %.1f MiB more peak RSS per 100k more entries (goal: peak < 150 MiB, flat as images grow)\n",
			largePairs[0].name, largePairs[len(largePairs)-1].name, growth)
	}
}

// writeLargeLayer streams layer i of side (0 or 1) of pair p into the
// layout in dir: a directory; directories of 100 small text files and a
// symlink; a large file of a repeated block (cheap to make and to
// compress). Side 1 compresses at another level and changes the fourth
// small file of the top layer.
func writeLargeLayer(dir string, p largePair, layer, side int) (v1.Descriptor, v1.Hash, error) {
	level := gzip.DefaultCompression
	if side == 1 {
		level = gzip.BestSpeed
	}
	rng := rand.New(rand.NewPCG(uint64(layer), 7))
	words := []string{"import", "def", "return", "self", "value", "the", "for", "in", "if", "not", "None", "data", "path", "=", "(", ")", ":", "\n    "}
	var text []byte
	for len(text) < 1<<20 {
		text = append(text, words[rng.IntN(len(words))]...)
		text = append(text, ' ')
	}
	block := text[:16<<10]
	return writeLayer(dir, level, func(tw *tar.Writer) error {
		hdr := func(h *tar.Header) error {
			h.ModTime = fixtures.Epoch
			return tw.WriteHeader(h)
		}
		top := fmt.Sprintf("usr/lib/bench%d/", layer)
		if err := hdr(&tar.Header{Name: top, Mode: 0o755, Typeflag: tar.TypeDir}); err != nil {
			return err
		}
		for n := range p.filesPerLayer {
			d := fmt.Sprintf("%spkg%04d/", top, n/filesPerDir)
			if n%filesPerDir == 0 {
				if err := hdr(&tar.Header{Name: d, Mode: 0o755, Typeflag: tar.TypeDir}); err != nil {
					return err
				}
				if err := hdr(&tar.Header{Name: d + "latest.py", Linkname: fmt.Sprintf("module%07d.py", n), Mode: 0o777, Typeflag: tar.TypeSymlink}); err != nil {
					return err
				}
			}
			head := fmt.Sprintf("# module %07d of layer %d\n", n, layer)
			if side == 1 && layer == p.layers-1 && n == 3 {
				head = fmt.Sprintf("# MODULE %07d of layer %d\n", n, layer)
			}
			off, size := rng.IntN(len(text)-4096), rng.IntN(2048)
			if err := hdr(&tar.Header{Name: fmt.Sprintf("%smodule%07d.py", d, n), Mode: 0o644, Size: int64(len(head) + size), Typeflag: tar.TypeReg}); err != nil {
				return err
			}
			if _, err := tw.Write([]byte(head)); err != nil {
				return err
			}
			if _, err := tw.Write(text[off : off+size]); err != nil {
				return err
			}
		}
		if err := hdr(&tar.Header{Name: top + "big.bin", Mode: 0o644, Size: p.bigBytes, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		for left := p.bigBytes; left > 0; {
			k := min(left, int64(len(block)))
			if _, err := tw.Write(block[:k]); err != nil {
				return err
			}
			left -= k
		}
		return nil
	})
}
