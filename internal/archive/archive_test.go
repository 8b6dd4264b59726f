package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/reprover/reprover/internal/ctxtest"
	"github.com/reprover/reprover/internal/limits"
)

type file struct{ name, body string }

func zipOf(t testing.TB, fs ...file) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range fs {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(f.body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func tarOf(t testing.TB, fs ...file) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range fs {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(f.body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// zeros is a gzip stream of n MiB of zeros, made of n copies of one
// member (a gzip stream may hold many): cheap to make at any size.
func zeros(n int) []byte { return bytes.Repeat(gz(make([]byte, 1<<20)), n) }

// many is n members named m0, m1, … with body "x".
func many(n int) []file {
	fs := make([]file, n)
	for i := range fs {
		fs[i] = file{fmt.Sprintf("m%d", i), "x"}
	}
	return fs
}

// nested is b inside n zips, each holding the previous as "inner.zip".
func nested(t testing.TB, b []byte, n int) []byte {
	for range n {
		b = zipOf(t, file{"inner.zip", string(b)})
	}
	return b
}

// lyingZip is a zip of one stored member "a" ("hello") whose central
// directory claims another uncompressed size than its data has.
func lyingZip(t testing.TB) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "a", Method: zip.Store})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("hello"))
	zw.Close()
	b := buf.Bytes()
	dir := bytes.LastIndex(b, []byte("PK\x01\x02"))
	binary.LittleEndian.PutUint32(b[dir+24:], 2) // uncompressed size
	return b
}

// openAll reads b and every archive among its members, as compare does,
// down to MaxArchiveDepth; the names of every member read.
func openAll(ctx context.Context, b []byte, bud *Budget, depth int) ([]string, error) {
	if err := bud.Depth(depth); err != nil {
		return nil, err
	}
	a, err := Read(ctx, b, bud)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, m := range a.Members {
		names = append(names, m.Header.Name)
		if Is(m.Content) {
			inner, err := openAll(ctx, m.Content, bud, depth+1)
			if err != nil {
				return nil, err
			}
			for _, n := range inner {
				names = append(names, m.Header.Name+"!"+n)
			}
		}
	}
	return names, nil
}

// TestReadHostile: archives inside files are data. Names that climb out
// stay names; every bound is named when passed, with both numbers; what
// is malformed is an error.
func TestReadHostile(t *testing.T) {
	small := Limits{MaxArchiveBytes: 4 << 20, MaxArchiveMembers: 100, MaxArchiveTotalBytes: 8 << 20, MaxArchiveTotalMembers: 300}
	tests := []struct {
		name   string
		b      []byte
		lim    Limits
		times  int      // reads of b with one budget (0: 1)
		names  []string // the members read, when it is read
		limit  string   // the limit it passes
		errHas string   // what its error says otherwise
	}{
		{name: "zip slip names are data", b: zipOf(t, file{"../../etc/passwd", "x"}, file{"/abs", "y"}, file{`..\..\w`, "z"}),
			names: []string{"../../etc/passwd", "/abs", `..\..\w`}},
		{name: "tar slip names are data", b: tarOf(t, file{"../../etc/passwd", "x"}, file{"a/../../b", "y"}),
			names: []string{"../../etc/passwd", "a/../../b"}},
		{name: "a tar.gz", b: gz(tarOf(t, file{"a", "1"}, file{"b", "2"})), names: []string{"a", "b"}},
		{name: "a gzip that is not a tar is one member", b: gz([]byte("text")), names: []string{"(gzip content)"}},
		{name: "thousands of empty gzip members", b: bytes.Repeat(gz(nil), 5000), names: []string{"(gzip content)"}},
		{name: "a gzip bomb", b: zeros(5), lim: small, limit: "MaxArchiveBytes"},
		{name: "a gzip bomb in a zip", b: zipOf(t, file{"z", string(make([]byte, 5<<20))}), lim: small, limit: "MaxArchiveBytes"},
		{name: "bombs that each fit, read over and over", b: zeros(3), lim: small, times: 3, limit: "MaxArchiveTotalBytes"},
		{name: "too many members in a tar", b: tarOf(t, many(101)...), lim: small, limit: "MaxArchiveMembers"},
		{name: "too many members in a zip", b: zipOf(t, many(101)...), lim: small, limit: "MaxArchiveMembers"},
		{name: "a zip directory larger than its member limit allows", b: zipOf(t, many(2000)...), lim: small, limit: "MaxArchiveMembers"},
		{name: "members that each fit, read over and over", b: zipOf(t, many(100)...), lim: small, times: 4, limit: "MaxArchiveTotalMembers"},
		{name: "nested 20 deep", b: nested(t, []byte("x"), 20), limit: "MaxArchiveDepth"},
		{name: "a zip whose central directory lies about a size", b: lyingZip(t), errHas: "zip"},
		{name: "a truncated zip", b: zipOf(t, file{"f", "x"})[:30], errHas: "zip"},
		{name: "a truncated tar.gz", b: gz(tarOf(t, file{"f", "x"}))[:20], errHas: "EOF"},
		{name: "trailing garbage after a gzip member", b: append(gz([]byte("x")), "garbage"...), errHas: "EOF"},
		{name: "claims to be a zip and is not", b: []byte("PK\x03\x04 not a zip at all"), errHas: "zip"},
		{name: "not an archive", b: []byte("plain text"), errHas: "not a zip, tar or gzip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bud := NewBudget(tt.lim)
			var names []string
			var err error
			for range max(tt.times, 1) {
				if names, err = openAll(t.Context(), tt.b, bud, 1); err != nil {
					break
				}
			}
			var le *limits.Error
			switch {
			case tt.limit != "":
				if !errors.As(err, &le) || le.Limit != tt.limit || le.Got <= le.Max {
					t.Fatalf("error %v, want limit %s passed", err, tt.limit)
				}
				if !strings.Contains(err.Error(), fmt.Sprint(le.Max)) || !strings.Contains(err.Error(), fmt.Sprint(le.Got)) {
					t.Errorf("%q does not name both numbers", err)
				}
			case tt.errHas != "":
				if err == nil || !strings.Contains(err.Error(), tt.errHas) || errors.As(err, &le) {
					t.Fatalf("error %v, want one saying %q", err, tt.errHas)
				}
			case err != nil:
				t.Fatal(err)
			case strings.Join(names, " ") != strings.Join(tt.names, " "):
				t.Errorf("members %q, want %q", names, tt.names)
			}
			l := bud.Limits()
			if got := bud.bytes.Load(); got > l.MaxArchiveTotalBytes+1 {
				t.Errorf("read %d bytes, %d past the total", got, got-l.MaxArchiveTotalBytes)
			}
		})
	}
}

// TestReadKeepsWhatCallersCompare: a member's metadata and content as
// compare and causes compare them (zip directories have no content; an
// empty file has an empty one).
func TestReadKeepsWhatCallersCompare(t *testing.T) {
	mtime := time.Date(2026, 11, 30, 2, 33, 42, 0, time.UTC)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, h := range []*zip.FileHeader{{Name: "d/", Modified: mtime}, {Name: "d/empty", Modified: mtime}} {
		h.SetMode(0o750)
		if _, err := zw.CreateHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	zw.Close()
	a, err := Read(t.Context(), buf.Bytes(), NewBudget(Limits{}))
	if err != nil {
		t.Fatal(err)
	}
	d, f := a.Members[0], a.Members[1]
	if a.Kind != Zip || d.Header.Typeflag != tar.TypeDir || d.Content != nil || f.Header.Typeflag != tar.TypeReg ||
		f.Content == nil || len(f.Content) != 0 || f.Header.Mode != 0o750 || !f.Header.ModTime.Equal(mtime) {
		t.Errorf("read %+v", a)
	}
}

// TestSameInflated: two gzip streams are compared a chunk at a time, as
// far as they agree, within the limits.
func TestSameInflated(t *testing.T) {
	named := func(name string, b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Name = name
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 20_000) // past one chunk
	tests := []struct {
		name  string
		a, b  []byte
		lim   Limits
		same  bool
		limit string
	}{
		{name: "the same data under other headers", a: named("a", big), b: named("b", big), same: true},
		{name: "as gunzip reads members", a: append(gz(big[:1000]), gz(big[1000:])...), b: gz(big), same: true},
		{name: "other data", a: gz(big), b: gz(append(big[:len(big)-1:len(big)-1], 'x'))},
		{name: "one a prefix of the other", a: gz(big), b: gz(big[:len(big)-1])},
		{name: "empty both", a: gz(nil), b: bytes.Repeat(gz(nil), 3), same: true},
		{name: "bombs alike past the bound", a: zeros(2), b: zeros(2), lim: Limits{MaxArchiveBytes: 1 << 20}, limit: "MaxArchiveBytes"},
		{name: "bombs that differ early", a: zeros(2), b: gz(big), lim: Limits{MaxArchiveBytes: 1 << 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			same, err := SameInflated(t.Context(), tt.a, tt.b, NewBudget(tt.lim))
			var le *limits.Error
			if tt.limit != "" {
				if !errors.As(err, &le) || le.Limit != tt.limit {
					t.Fatalf("error %v, want limit %s", err, tt.limit)
				}
				return
			}
			if err != nil || same != tt.same {
				t.Errorf("same %v, error %v; want %v", same, err, tt.same)
			}
		})
	}
}

// TestHasMembers: what holds members, not a single stream.
func TestHasMembers(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"zip", zipOf(t, file{"a", "1"}), true},
		{"tar", tarOf(t, file{"a", "1"}), true},
		{"tar.gz", gz(tarOf(t, file{"a", "1"})), true},
		{"tar.gz after empty gzip members", append(bytes.Repeat(gz(nil), 100), gz(tarOf(t, file{"a", "1"}))...), true},
		{"gzip of text", gz([]byte("text")), false},
		{"truncated gzip", gz(tarOf(t, file{"a", "1"}))[:12], false},
		{"text", []byte("text"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, _ := HasMembers(t.Context(), tc.b, NewBudget(Limits{})); got != tc.want {
				t.Errorf("HasMembers = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestReadCancelled: a context cancelled (from another goroutine) while
// an archive is read stops the read: ctx.Err() comes back, long before
// it could have finished.
func TestReadCancelled(t *testing.T) {
	huge := Limits{MaxArchiveBytes: 1 << 40, MaxArchiveMembers: 1 << 30, MaxArchiveTotalBytes: 1 << 40, MaxArchiveTotalMembers: 1 << 40}
	bomb := zeros(4 << 10) // 4 GiB, in 4 MiB
	members := tarOf(t, many(50_000)...)
	emptyMembers := bytes.Repeat(gz(nil), 100_000)
	tests := []struct {
		name string
		read func(context.Context, *Budget) error
	}{
		{"a gzip bomb", func(ctx context.Context, bud *Budget) error { _, _, err := inflate(ctx, bomb, bud); return err }},
		{"a tar.gz bomb", func(ctx context.Context, bud *Budget) error { _, err := Read(ctx, bomb, bud); return err }},
		{"a tar of many members", func(ctx context.Context, bud *Budget) error { _, err := Read(ctx, members, bud); return err }},
		{"two gzip bombs alike", func(ctx context.Context, bud *Budget) error { _, err := SameInflated(ctx, bomb, bomb, bud); return err }},
		{"thousands of empty gzip members", func(ctx context.Context, bud *Budget) error {
			_, _, err := inflate(ctx, emptyMembers, bud)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc, cancel := ctxtest.CancelAfterChecks(t.Context(), 100)
			defer cancel()
			bud := NewBudget(huge)
			start := time.Now()
			err := tt.read(cc, bud)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("error %v, want %v", err, context.Canceled)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("cancelled after %s", d)
			}
			if bud.bytes.Load() >= 1<<30 {
				t.Errorf("%d bytes read after the cancel", bud.bytes.Load())
			}
		})
	}
}

// FuzzRead opens any bytes as an archive, and the archives among its
// members, seeded with the hostile cases. It must never panic nor pass
// its limits.
func FuzzRead(f *testing.F) {
	for _, seed := range [][]byte{
		zipOf(f, file{"../../etc/passwd", "x"}, file{"a/b", "y"}),
		tarOf(f, file{"../../etc/passwd", "x"}, file{"/abs", "y"}),
		gz(tarOf(f, file{"a", "1"})),
		nested(f, gz(tarOf(f, file{"deep", "x"})), 20),
		zeros(2),
		zipOf(f, file{"z", string(make([]byte, 2<<20))}),
		lyingZip(f),
		zipOf(f, file{"f", "x"})[:30],
		bytes.Repeat(gz(nil), 100),
		zipOf(f, many(300)...),
	} {
		f.Add(seed)
	}
	lim := Limits{MaxArchiveBytes: 1 << 20, MaxArchiveMembers: 100, MaxArchiveTotalBytes: 3 << 20, MaxArchiveTotalMembers: 250}
	f.Fuzz(func(t *testing.T, b []byte) {
		bud := NewBudget(lim)
		names, err := openAll(t.Context(), b, bud, 1)
		if err == nil && len(names) > int(lim.MaxArchiveTotalMembers) {
			t.Fatalf("%d members listed", len(names))
		}
		if got := bud.bytes.Load(); got > lim.MaxArchiveTotalBytes+1 {
			t.Fatalf("%d bytes read", got)
		}
	})
}
