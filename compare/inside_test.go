package compare

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/archive"
	"github.com/reprover/reprover/internal/ctxtest"
)

func zipBytes(t testing.TB, files map[string]string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: fixtures.Epoch})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.ModTime = time.Unix(0, 0)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// nest wraps b in n zips, each holding the previous as "inner.zip".
func nest(t testing.TB, b []byte, n int) []byte {
	for range n {
		b = zipBytes(t, map[string]string{"inner.zip": string(b)})
	}
	return b
}

// bombs is issue 19's time bomb: a tar.gz of n members m0.gz, m1.gz, …,
// each a gzip of mib MiB of zeros (as many gzip members of 1 MiB) whose
// header's mtime is mtime: each side's members differ from the other's,
// and every one is an archive to open.
func bombs(t testing.TB, n, mib int, mtime uint32) []byte {
	var one bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&one, gzip.BestCompression)
	zw.ModTime = time.Unix(int64(mtime), 0)
	zw.Write(make([]byte, 1<<20))
	zw.Close()
	member := bytes.Repeat(one.Bytes(), mib)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := range n {
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("m%d.gz", i), Mode: 0o644, Size: int64(len(member)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(member)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return gzipBytes(buf.Bytes())
}

// compareInside compares a and b as two versions of /app/x, as explaining
// a comparison does, with a budget of lim.
func compareInside(ctx context.Context, a, b []byte, lim Limits) (*FileChange, *inside, error) {
	in := &inside{o: Options{NameA: "A", NameB: "B"}, budget: archive.NewBudget(lim.withDefaults().archives())}
	fc := &FileChange{Path: "/app/x", Change: Modified, Aspects: []string{AspContent}}
	err := in.describe(ctx, fc, a, b, fc.Path, 1)
	return fc, in, err
}

// TestInnerChangesHostile: archives inside files are data. Names that
// climb out stay names; bombs, truncated archives and nesting beyond the
// depth bound are not descended into, and say so; a limit that stops the
// comparison is a finding of the platform, naming it with both numbers,
// and the members past it are still listed (never equal), not compared.
func TestInnerChangesHostile(t *testing.T) {
	tests := []struct {
		name        string
		a, b        []byte
		lim         Limits
		wantPaths   []string // the inner changes' paths, depth first, "!" between levels
		wantReason  string   // set when the archives are not compared
		wantFinding string   // the finding the platform gets, when one
	}{
		{name: "climbing names are data",
			a: zipBytes(t, map[string]string{"../../etc/passwd": "root::0:0"}), b: zipBytes(t, map[string]string{"../../etc/passwd": "evil::0:0"}),
			wantPaths: []string{"/../../etc/passwd"}},
		{name: "a gzip bomb is not inflated past the bound", lim: Limits{MaxArchiveBytes: 1 << 20},
			a: gzipBytes(make([]byte, 1<<20+1)), b: gzipBytes([]byte("small")),
			wantReason:  "not compared: bytes of an archive inside a file: 1048577 exceeds limit MaxArchiveBytes=1048576",
			wantFinding: "1 archive(s) inside differing files not compared, this one the first: bytes of an archive inside a file: 1048577 exceeds limit MaxArchiveBytes=1048576"},
		{name: "a truncated zip", a: zipBytes(t, map[string]string{"f": "x"})[:30], b: zipBytes(t, map[string]string{"f": "y"}),
			wantReason: "not opened: zip"},
		{name: "nesting stops at the depth bound",
			a: nest(t, []byte("one"), 5), b: nest(t, []byte("two"), 5),
			wantPaths: []string{"/inner.zip", "/inner.zip!/inner.zip", "/inner.zip!/inner.zip!/inner.zip"},
			wantFinding: "1 archive(s) inside differing files not compared, this one the first: " +
				"archives nested inside files: 4 exceeds limit MaxArchiveDepth=3"},
		// Of each member, causes reads each side's gzip to find them
		// equal (a gzip header difference), and the comparison again.
		{name: "too many members in all", lim: Limits{MaxArchiveTotalMembers: 25},
			a: bombs(t, 10, 1, 1), b: bombs(t, 10, 1, 2),
			wantPaths: []string{"/m0.gz", "/m0.gz!/(gzip content)", "/m1.gz", "/m1.gz!/(gzip content)",
				"/m2.gz", "/m3.gz", "/m4.gz", "/m5.gz", "/m6.gz", "/m7.gz", "/m8.gz", "/m9.gz"},
			wantFinding: "8 archive(s) inside differing files not compared, this one the first: members of archives inside files, in all: 26 exceeds limit MaxArchiveTotalMembers=25"},
		{name: "gzip bombs, each within the bound, over the comparison's", lim: Limits{MaxArchiveTotalBytes: 40 << 20},
			a: bombs(t, 8, 4, 1), b: bombs(t, 8, 4, 2),
			wantPaths: []string{"/m0.gz", "/m0.gz!/(gzip content)", "/m1.gz", "/m1.gz!/(gzip content)", "/m2.gz", "/m3.gz", "/m4.gz", "/m5.gz", "/m6.gz", "/m7.gz"},
			wantFinding: "6 archive(s) inside differing files not compared, this one the first: bytes read from archives inside files, in all: " +
				"41943041 exceeds limit MaxArchiveTotalBytes=41943040"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc, in, err := compareInside(t.Context(), tt.a, tt.b, tt.lim)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			var walk func(prefix string, fs []FileChange)
			walk = func(prefix string, fs []FileChange) {
				for _, f := range fs {
					if f.Change != Modified {
						t.Errorf("%s%s: %s", prefix, f.Path, f.Change)
					}
					got = append(got, prefix+f.Path)
					walk(prefix+f.Path+"!", f.Inner)
				}
			}
			walk("", fc.Inner)
			if strings.Join(got, " ") != strings.Join(tt.wantPaths, " ") {
				t.Errorf("inner changes %q, want %q", got, tt.wantPaths)
			}
			if !strings.Contains(fc.Evidence, tt.wantReason) || (tt.wantReason == "") != !strings.Contains(fc.Evidence, "; inside it") {
				t.Errorf("why not compared: %q, want %q", fc.Evidence, tt.wantReason)
			}
			var findings []string
			for _, f := range in.findings() {
				findings = append(findings, f.Message)
			}
			if want := []string{tt.wantFinding}; tt.wantFinding == "" && len(findings) > 0 || tt.wantFinding != "" && !equalStrings(findings, want) {
				t.Errorf("findings %q, want %q", findings, tt.wantFinding)
			}
			lim := in.budget.Limits()
			if got := in.budget.Spent(); got > lim.MaxArchiveTotalBytes {
				t.Errorf("%d bytes read from archives, over %d", got, lim.MaxArchiveTotalBytes)
			}
		})
	}
}

func equalStrings(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

// TestInnerChangesCancelled: issue 19's time bomb with limits too large
// to stop it, its context cancelled from another goroutine once reading
// has started: the comparison of the archive returns the context's
// error, long before it could have read them all.
func TestInnerChangesCancelled(t *testing.T) {
	huge := Limits{MaxArchiveBytes: 1 << 40, MaxArchiveTotalBytes: 1 << 40}
	a, b := bombs(t, 100, 60, 1), bombs(t, 100, 60, 2)         // 12 GB to inflate
	cc, cancel := ctxtest.CancelAfterChecks(t.Context(), 2000) // 2000 chunks of 64 KiB: well inside the first members
	defer cancel()
	start := time.Now()
	_, in, err := compareInside(cc, a, b, huge)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want %v", err, context.Canceled)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("returned %s after it started", d)
	}
	if got := in.budget.Spent(); got > 2<<30 {
		t.Errorf("%d bytes read: the cancel was not heeded", got)
	}
}

// TestArchivesNotComparedInReport: in a comparison of two images, an
// archive whose members are gzip bombs (issue 19) is compared until the
// comparison's budget is spent; its other members are listed, modified,
// and the platform's findings name the limit. The merged view and the
// layer share one explanation, and so spend the budget once.
func TestArchivesNotComparedInReport(t *testing.T) {
	img := func(mtime uint32) any {
		return fixtures.Image(fixtures.Spec{Steps: []fixtures.Step{
			{Instruction: "ADD rootfs.tar /", Entries: []fixtures.Entry{fixtures.Dir("app")}},
			{Instruction: "RUN make", Entries: []fixtures.Entry{fixtures.File("app/bundle.tar.gz", string(bombs(t, 20, 2, mtime)))}},
		}})
	}
	reg := fixtures.NewRegistry(t)
	var sides [2]*image.Resolved
	for i, x := range []any{img(1), img(2)} {
		r, err := image.Open(t.Context(), reg.MustPush(t, "inside/bombs", []string{"a", "b"}[i], x), image.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		sides[i] = r
	}
	rep, err := Images(t.Context(), sides[0], sides[1], Options{Limits: Limits{MaxArchiveTotalBytes: 16 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != Different || len(rep.Platforms) != 1 || len(rep.Platforms[0].Files) != 1 {
		t.Fatalf("verdict %s, %d platforms", rep.Verdict, len(rep.Platforms))
	}
	p := rep.Platforms[0]
	if inner := p.Files[0].Inner; len(inner) != 20 {
		t.Errorf("%d members listed, want 20", len(inner))
	}
	// The file is explained once, for the merged view and its layer: m0
	// is compared, the 19 others (m1, m10, …, m19, m2, …) are not.
	if l := rep.Platforms[0].Layers[1].Files; len(l) != 1 || l[0].Evidence != p.Files[0].Evidence || len(l[0].Inner) != 20 {
		t.Errorf("the layer's change %+v, want the merged view's", l)
	}
	var found bool
	for _, f := range p.Findings {
		found = found || f.Kind == kindArchiveNotCompared && f.Path == "/app/bundle.tar.gz!/m1.gz" &&
			f.Message == "19 archive(s) inside differing files not compared, this one the first: "+
				"bytes read from archives inside files, in all: 16777217 exceeds limit MaxArchiveTotalBytes=16777216"
	}
	if !found {
		t.Errorf("findings %+v, want the archives not compared", p.Findings)
	}
}

// FuzzInnerChanges feeds two byte strings to the archive comparison of
// files found in layers (zip, gzip, tar), seeded with archives and their
// hostile variants. It must never panic or hang, and whatever it lists is
// within the bounds.
func FuzzInnerChanges(f *testing.F) {
	z := zipBytes(f, map[string]string{"a": "1", "b/c": "2"})
	tarball := fixtures.Tar(fixtures.File("x", "1"), fixtures.Hardlink("y", "x"), fixtures.Symlink("z", "../../etc"))
	for _, seed := range [][2][]byte{
		{z, zipBytes(f, map[string]string{"a": "2"})},
		{z[:40], z},
		{gzipBytes(tarball), gzipBytes(fixtures.Tar(fixtures.File("x", "2")))},
		{tarball, tarball[:600]},
		{gzipBytes([]byte("plain")), gzipBytes([]byte("other"))},
		{fixtures.GzipBomb(1 << 20), gzipBytes(nil)},
		{nest(f, z, 5), nest(f, tarball, 5)},
		{bombs(f, 3, 1, 1), bombs(f, 3, 1, 2)},
	} {
		f.Add(seed[0], seed[1])
	}
	lim := Limits{MaxArchiveBytes: 4 << 20, MaxArchiveTotalBytes: 16 << 20, MaxArchiveMembers: 1000, MaxArchiveTotalMembers: 4000}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		fc, in, err := compareInside(t.Context(), a, b, lim)
		if err != nil {
			t.Fatal(err)
		}
		var count func([]FileChange, int) int
		count = func(fs []FileChange, depth int) int {
			if depth > DefaultLimits.MaxArchiveDepth && len(fs) > 0 {
				t.Fatalf("inner changes %d archives deep", depth)
			}
			n := len(fs)
			for _, f := range fs {
				n += count(f.Inner, depth+1)
			}
			return n
		}
		if n := count(fc.Inner, 1); n > 2*int(lim.MaxArchiveTotalMembers) {
			t.Fatalf("%d inner changes", n)
		}
		if got := in.budget.Spent(); got > lim.MaxArchiveTotalBytes+1 {
			t.Fatalf("%d bytes read", got)
		}
	})
}
