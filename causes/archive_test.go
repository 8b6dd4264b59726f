package causes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/reprover/reprover/internal/archive"
	"github.com/reprover/reprover/internal/ctxtest"
)

// many is n members named m0, m1, …, each "x" with mtime t.
func many(n int, t file) []file {
	fs := make([]file, n)
	for i := range fs {
		fs[i] = file{fmt.Sprintf("m%d", i), "x", t.mtime}
	}
	return fs
}

// TestClassifyArchiveBounds: causes reads archives inside files with
// compare's reader, under the comparison's limits and budget: an archive
// over them is not judged by its members, and the evidence names the
// limit, with both numbers.
func TestClassifyArchiveBounds(t *testing.T) {
	zeros := func(name string) []byte { return gz(t, name, built1, string(make([]byte, 3<<20))) }
	tests := []struct {
		name     string
		a, b     []byte
		lim      archive.Limits
		times    int // classified with one budget (0: once)
		want     string
		evidence string
	}{
		{name: "a zip of more members than an archive may have", // 20,000 members were all read
			a: zipOf(t, many(20_000, file{mtime: built1})...), b: zipOf(t, many(20_000, file{mtime: built2})...),
			want: Unknown.ID, evidence: "exceeds limit MaxArchiveMembers=10000"},
		{name: "a gzip bomb", a: zeros("a"), b: zeros("b"), lim: archive.Limits{MaxArchiveBytes: 1 << 20},
			want: Unknown.ID, evidence: "exceeds limit MaxArchiveBytes=1048576"},
		{name: "gzip files that each fit, with one budget", a: zeros("a"), b: zeros("b"),
			lim: archive.Limits{MaxArchiveTotalBytes: 20 << 20}, times: 4, want: Unknown.ID, evidence: "exceeds limit MaxArchiveTotalBytes=20971520"},
		{name: "zips that each fit, with one budget",
			a: zipOf(t, many(100, file{mtime: built1})...), b: zipOf(t, many(100, file{mtime: built2})...),
			lim: archive.Limits{MaxArchiveTotalMembers: 500}, times: 3, want: Unknown.ID, evidence: "exceeds limit MaxArchiveTotalMembers=500"},
		{name: "within the budget", a: zeros("a"), b: zeros("b"), lim: archive.Limits{MaxArchiveTotalBytes: 20 << 20}, times: 3,
			want: GzipHeader.ID, evidence: "header name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Input{Path: "/app/x", ContentDiffers: true, A: tt.a, B: tt.b, Archives: archive.NewBudget(tt.lim)}
			var got Finding
			for range max(tt.times, 1) {
				var err error
				if got, err = Classify(t.Context(), in); err != nil {
					t.Fatal(err)
				}
			}
			if got.Cause != tt.want || !strings.Contains(got.Evidence, tt.evidence) {
				t.Errorf("%s (%s), want %s naming %q", got.Cause, got.Evidence, tt.want, tt.evidence)
			}
		})
	}
}

// TestClassifyCancelled: a context cancelled while Classify works (from
// another goroutine, once it has checked the context a hundred times)
// stops it with the context's error: inflating a bomb, or searching a
// large text for times (seconds per megabyte).
func TestClassifyCancelled(t *testing.T) {
	one := gz(t, "", built1, string(make([]byte, 1<<20)))
	bomb := bytes.Repeat(one, 2<<10) // 2 GiB of zeros in 2 MiB
	line := built1.Format(time.RFC3339) + " INFO id=0b2d6f0e-6d1c-4c5e-9a65-2a3f1c7e9b10 " + built1.Format(time.UnixDate) + "\n"
	log := []byte(strings.Repeat(line, (16<<20)/len(line)))
	log2 := append(bytes.Clone(log[:len(log)-2]), "x\n"...)
	lim := archive.Limits{MaxArchiveBytes: 1 << 40, MaxArchiveTotalBytes: 1 << 40}
	for _, tc := range []struct {
		name string
		in   Input
	}{
		{"a gzip bomb", Input{Path: "/app/x.gz", ContentDiffers: true, A: bomb, B: bomb, Archives: archive.NewBudget(lim)}},
		{"a large text", Input{Path: "/app/x.log", ContentDiffers: true, A: log, B: log2, Window: window}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc, cancel := ctxtest.CancelAfterChecks(t.Context(), 100)
			defer cancel()
			start := time.Now()
			if _, err := Classify(cc, tc.in); !errors.Is(err, context.Canceled) {
				t.Fatalf("error %v, want %v", err, context.Canceled)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("returned %s after it started", d)
			}
		})
	}
}
