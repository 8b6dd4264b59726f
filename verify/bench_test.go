package verify_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/verify"
)

// BenchmarkVerifyOverhead measures reprover's own overhead: the time of
// verify.Run against, in the same run, the same build done directly with
// buildctl plus a `reprover diff` (compare.Images) of its result with the
// published image. Goal: overhead under 10%.
func BenchmarkVerifyOverhead(b *testing.B) {
	buildctl := filepath.Join(filepath.Dir(fixtures.BuildkitdBinary()), "buildctl")
	if _, err := os.Stat(buildctl); err != nil {
		b.Fatalf("buildctl: %v (run make tools)", err)
	}
	addr := fixtures.Buildkit(b, fixtures.StartDaemon)
	c, err := builder.Connect(b.Context(), addr, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	// A release with some weight: 64 files of 256 KiB copied in, and a RUN
	// that writes 32 MiB.
	files := map[string]string{
		"Dockerfile": "FROM BASE\nCOPY data/ /data/\nRUN dd if=/dev/zero of=/blob bs=1M count=32 2>/dev/null && sha256sum /data/* > /sums\n",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 64 {
		buf := make([]byte, 256<<10)
		for j := range buf {
			buf[j] = byte(rng.Uint32())
		}
		files[fmt.Sprintf("data/f%02d", i)] = string(buf)
	}
	rel := fixtures.PublishRelease(b, fixtures.NewRegistry(b), addr, "bench/app", files)
	dir, commit, published := rel.Dir, rel.Commit, rel.Published
	ctx := b.Context()
	var direct, viaReprover []time.Duration
	for b.Loop() {
		for range 3 {
			// Direct: buildctl on a checkout, then the comparison.
			co := b.TempDir()
			if _, err := verify.ExportCommit(ctx, dir, commit, co); err != nil {
				b.Fatal(err)
			}
			out := filepath.Join(b.TempDir(), "oci")
			t0 := time.Now()
			cmd := exec.CommandContext(ctx, buildctl, "--addr", addr, "build", "--progress", "quiet",
				"--frontend", "dockerfile.v0", "--local", "context="+filepath.Join(co, "src"), "--local", "dockerfile="+filepath.Join(co, "src"),
				"--opt", "build-arg:SOURCE_DATE_EPOCH="+strconv.FormatInt(fixtures.ReleaseTime.Unix(), 10), "--opt", "force-network-mode=none", "--no-cache",
				"--output", "type=oci,dest="+out+",tar=false,rewrite-timestamp=true,oci-mediatypes=true")
			if msg, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("buildctl: %v: %s", err, msg)
			}
			reb, err := image.Open(ctx, "oci:"+out, image.Options{})
			if err != nil {
				b.Fatal(err)
			}
			pub, err := image.Open(ctx, published, image.Options{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := compare.Images(ctx, reb, pub, compare.Options{}); err != nil {
				b.Fatal(err)
			}
			direct = append(direct, time.Since(t0))

			t1 := time.Now()
			rep, err := verify.Run(ctx, verify.Request{Source: dir, Commit: commit, Image: published}, c, verify.Options{ProgressMode: "quiet"})
			if err != nil {
				b.Fatal(err)
			}
			viaReprover = append(viaReprover, time.Since(t1))
			if rep.Verdict != verify.Reproducible {
				b.Fatalf("verdict %s, want reproducible", rep.Verdict)
			}
		}
	}
	md, mv := median(direct), median(viaReprover)
	overhead := (mv.Seconds() - md.Seconds()) / md.Seconds()
	b.ReportMetric(md.Seconds(), "buildctl+diff-s")
	b.ReportMetric(mv.Seconds(), "verify-s")
	b.ReportMetric(overhead*100, "overhead-%")
	fmt.Printf("\nbuildctl build + diff: median %v of %v\nreprover verify:       median %v of %v\noverhead: %.1f%% (goal < 10%%; the verify time includes exporting the commit)\n",
		md.Round(time.Millisecond), direct, mv.Round(time.Millisecond), viaReprover, overhead*100)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
