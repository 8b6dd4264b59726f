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
// published image. Goal: overhead under 10%. Two releases: a busybox one
// of 48 MiB copied and written, offline; and a Debian one that installs
// jq with apt through the proxy network (as a release job does), with 64
// MiB of files copied in: ~200 MiB of image.
func BenchmarkVerifyOverhead(b *testing.B) {
	buildctl := filepath.Join(filepath.Dir(fixtures.BuildkitdBinary()), "buildctl")
	if _, err := os.Stat(buildctl); err != nil {
		b.Fatalf("buildctl: %v (run make tools)", err)
	}
	w := newWorld(b)
	addr := fixtures.Buildkit(b, fixtures.StartDaemon)
	data := func(n int) map[string]string {
		files := map[string]string{}
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range n {
			buf := make([]byte, 256<<10)
			for j := range buf {
				buf[j] = byte(rng.Uint32())
			}
			files[fmt.Sprintf("data/f%03d", i)] = string(buf)
		}
		return files
	}
	b.Run("busybox-offline", func(b *testing.B) {
		files := data(64)
		files["Dockerfile"] = "FROM BASE\nCOPY data/ /data/\nRUN dd if=/dev/zero of=/blob bs=1M count=32 2>/dev/null && sha256sum /data/* > /sums\n"
		rel := fixtures.PublishRelease(b, fixtures.NewRegistry(b), addr, "bench/app", files)
		overhead(b, w, buildctl, addr, verify.Request{Source: rel.Dir, Commit: rel.Commit, Image: rel.Published})
	})
	b.Run("debian-apt-proxy", func(b *testing.B) {
		rel := publishApt(b, w, "jq", "bench/apt", nil, data(256))
		overhead(b, w, buildctl, addr, verify.Request{Source: rel.dir, Commit: rel.commit, Image: rel.ref, Network: builder.NetworkProxy, AllowDownloadHosts: []string{rel.host}})
	})
}

// overhead times req verified against buildctl plus a comparison, three
// times each, interleaved, and reports the medians and their ratio.
func overhead(b *testing.B, w *world, buildctl, addr string, req verify.Request) {
	ctx := b.Context()
	var direct, viaReprover []time.Duration
	for b.Loop() {
		for range 3 {
			// Direct: buildctl on a checkout, then the comparison.
			co := b.TempDir()
			if _, err := verify.ExportCommit(ctx, req.Source, req.Commit, co); err != nil {
				b.Fatal(err)
			}
			out := filepath.Join(b.TempDir(), "oci")
			t0 := time.Now()
			args := []string{"--addr", addr, "build", "--progress", "quiet",
				"--frontend", "dockerfile.v0", "--local", "context=" + filepath.Join(co, "src"), "--local", "dockerfile=" + filepath.Join(co, "src"),
				"--opt", "build-arg:SOURCE_DATE_EPOCH=" + strconv.FormatInt(fixtures.ReleaseTime.Unix(), 10), "--no-cache",
				"--output", "type=oci,dest=" + out + ",tar=false,rewrite-timestamp=true,oci-mediatypes=true"}
			if req.Network == builder.NetworkProxy {
				args = append(args, "--proxy-network")
			} else {
				args = append(args, "--opt", "force-network-mode=none")
			}
			if msg, err := exec.CommandContext(ctx, buildctl, args...).CombinedOutput(); err != nil {
				b.Fatalf("buildctl: %v: %s", err, msg)
			}
			reb, err := image.Open(ctx, "oci:"+out, image.Options{})
			if err != nil {
				b.Fatal(err)
			}
			pub, err := image.Open(ctx, req.Image, image.Options{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := compare.Images(ctx, reb, pub, compare.Options{}); err != nil {
				b.Fatal(err)
			}
			direct = append(direct, time.Since(t0))

			t1 := time.Now()
			rep, err := verify.Run(ctx, req, w.bk, verify.Options{ProgressMode: "quiet"})
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
	ratio := mv.Seconds() / md.Seconds()
	b.ReportMetric(md.Seconds(), "buildctl+diff-s")
	b.ReportMetric(mv.Seconds(), "verify-s")
	b.ReportMetric(ratio, "verify/direct")
	fmt.Printf("\n%s: buildctl build + diff: median %v of %v\nreprover verify:       median %v of %v\nratio %.2f (goal <= 1.10; the verify time includes exporting the commit)\n",
		b.Name(), md.Round(time.Millisecond), direct, mv.Round(time.Millisecond), viaReprover, ratio)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
