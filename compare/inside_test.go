package compare

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
	"time"

	"github.com/reprover/reprover/fixtures"
)

func zipBytes(t *testing.T, files map[string]string) []byte {
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
func nest(t *testing.T, b []byte, n int) []byte {
	for range n {
		b = zipBytes(t, map[string]string{"inner.zip": string(b)})
	}
	return b
}

// TestInnerChangesHostile: archives inside files are data. Names that
// climb out stay names; bombs, truncated archives and nesting beyond the
// depth bound are not descended into, and say so.
func TestInnerChangesHostile(t *testing.T) {
	bomb := gzipBytes(bytes.Repeat([]byte{0}, maxInnerBytes+1))
	tests := []struct {
		name       string
		a, b       []byte
		wantPaths  []string // the inner changes' paths, depth first, "!" between levels
		wantReason string   // set when the archives are not compared
	}{
		{name: "climbing names are data",
			a: zipBytes(t, map[string]string{"../../etc/passwd": "root::0:0"}), b: zipBytes(t, map[string]string{"../../etc/passwd": "evil::0:0"}),
			wantPaths: []string{"/../../etc/passwd"}},
		{name: "a gzip bomb is not inflated past the bound",
			a: bomb, b: gzipBytes([]byte("small")), wantReason: "decompressed bytes"},
		{name: "a truncated zip", a: zipBytes(t, map[string]string{"f": "x"})[:30], b: zipBytes(t, map[string]string{"f": "y"}),
			wantReason: "zip"},
		{name: "nesting stops at the depth bound",
			a: nest(t, []byte("one"), maxArchiveDepth+2), b: nest(t, []byte("two"), maxArchiveDepth+2),
			wantPaths: []string{"/inner.zip", "/inner.zip!/inner.zip", "/inner.zip!/inner.zip!/inner.zip"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc := &FileChange{Path: "/app/x", Change: Modified, Aspects: []string{AspContent}}
			fc.Inner, fc.Evidence = innerChanges(tt.a, tt.b, Options{NameA: "A", NameB: "B"}, 1)
			var got []string
			var walk func(prefix string, fs []FileChange)
			walk = func(prefix string, fs []FileChange) {
				for _, f := range fs {
					got = append(got, prefix+f.Path)
					walk(prefix+f.Path+"!", f.Inner)
				}
			}
			walk("", fc.Inner)
			if strings.Join(got, " ") != strings.Join(tt.wantPaths, " ") {
				t.Errorf("inner changes %q, want %q", got, tt.wantPaths)
			}
			if !strings.Contains(fc.Evidence, tt.wantReason) || (tt.wantReason == "") != (fc.Evidence == "") {
				t.Errorf("why not compared: %q, want %q", fc.Evidence, tt.wantReason)
			}
		})
	}
}

// FuzzInnerChanges feeds two byte strings to the archive comparison of
// files found in layers (zip, gzip, tar), seeded with archives and their
// hostile variants. It must never panic or hang, and whatever it lists is
// within the bounds.
func FuzzInnerChanges(f *testing.F) {
	z := zipBytes(&testing.T{}, map[string]string{"a": "1", "b/c": "2"})
	tarball := fixtures.Tar(fixtures.File("x", "1"), fixtures.Hardlink("y", "x"), fixtures.Symlink("z", "../../etc"))
	for _, seed := range [][2][]byte{
		{z, zipBytes(&testing.T{}, map[string]string{"a": "2"})},
		{z[:40], z},
		{gzipBytes(tarball), gzipBytes(fixtures.Tar(fixtures.File("x", "2")))},
		{tarball, tarball[:600]},
		{gzipBytes([]byte("plain")), gzipBytes([]byte("other"))},
		{fixtures.GzipBomb(1 << 20), gzipBytes(nil)},
		{nest(&testing.T{}, z, 5), nest(&testing.T{}, tarball, 5)},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		fcs, _ := innerChanges(a, b, Options{NameA: "A", NameB: "B"}, 1)
		var count func([]FileChange, int) int
		count = func(fs []FileChange, depth int) int {
			if depth > maxArchiveDepth && len(fs) > 0 {
				t.Fatalf("inner changes %d archives deep", depth)
			}
			n := len(fs)
			for _, f := range fs {
				n += count(f.Inner, depth+1)
			}
			return n
		}
		if n := count(fcs, 1); n > 4*maxInnerEntries {
			t.Fatalf("%d inner changes", n)
		}
	})
}
