package layer_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/layer"
)

// walk walks b, the compressed bytes of a layer, with the decompressor
// named choice.
func walk(t testing.TB, b []byte, lim layer.Limits, choice string) (*layer.Walked, error) {
	gz, err := layer.NewGunzipper(choice)
	if err != nil {
		t.Fatalf("decompressor %s: %v (make tools installs Debian's isal, which has igzip)", choice, err)
	}
	open := func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	w, err := layer.WalkOpened(t.Context(), open, "test layer", layer.Options{Limits: lim.WithDefaults(), Gunzip: gz, Scratch: t.TempDir()})
	if err == nil {
		t.Cleanup(w.Remove)
	}
	return w, err
}

// show is an entry as a line: what inspect needs of it.
func show(e *layer.Entry) string {
	s := fmt.Sprintf("%s %s %04o %d:%d", e.Path, e.TypeName(), e.Mode, e.UID(), e.GID())
	if e.Digest() != "" {
		s += fmt.Sprintf(" %d %s", e.Size, e.Digest()[:15])
	}
	if l := e.Linkname(); l != "" {
		s += " → " + l
	}
	for k, v := range e.Xattrs() {
		s += fmt.Sprintf(" %s=%q", k, v)
	}
	switch {
	case e.Whiteout:
		s += " (whiteout)"
	case e.Opaque:
		s += " (opaque)"
	}
	return s
}

// TestWalkEntries: a walk yields every entry of a layer, whatever its
// compression, with what an unpacker applies of it, in tree order, and
// names what is odd in it as findings.
func TestWalkEntries(t *testing.T) {
	tarball := fixtures.Tar(
		fixtures.Dir("app/"),
		fixtures.Entry{Name: "app/run", Body: "#!/bin/sh\n", Mode: 0o4755, UID: 1000, GID: 1000,
			Xattrs: map[string]string{"security.capability": "x"}},
		fixtures.Symlink("app/link", "/etc/passwd"),
		fixtures.Hardlink("app/hard", "app/run"),
		fixtures.Whiteout("etc", "shadow"),
		fixtures.Opaque("var"),
		fixtures.File("../../escape", "x"),
	)
	want := []string{
		"/../../escape file 0644 0:0 1 sha256:2d711642",
		"/app dir 0755 0:0",
		"/app/hard hardlink 0644 0:0 → /app/run",
		"/app/link symlink 0777 0:0 → /etc/passwd",
		`/app/run file 4755 1000:1000 10 sha256:a8076d3d security.capability="x"`,
		"/etc/shadow whiteout 0600 0:0 0 sha256:e3b0c442 (whiteout)",
		"/var file 0600 0:0 0 sha256:e3b0c442 (opaque)",
	}
	for _, tc := range []struct {
		name, decompressor string
		bytes              []byte
		compression        layer.Compression
	}{
		{"none", layer.DecompressGo, tarball, layer.Uncompressed},
		{"gzip in Go", layer.DecompressGo, fixtures.Compress(tarball, fixtures.Gzip), layer.Gzip},
		{"gzip by igzip", layer.DecompressIgzip, fixtures.Compress(tarball, fixtures.Gzip), layer.Gzip},
		{"zstd", layer.DecompressGo, fixtures.Compress(tarball, fixtures.Zstd), layer.Zstd},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := walk(t, tc.bytes, layer.Limits{}, tc.decompressor)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for e, err := range w.All() {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, show(e))
			}
			if !slices.Equal(got, want) {
				t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if w.Compression != tc.compression || !strings.HasPrefix(w.DiffID, "sha256:") {
				t.Errorf("compression %q, diffID %q; want %q", w.Compression, w.DiffID, tc.compression)
			}
			if len(w.Findings) != 1 || w.Findings[0].Kind != "nonLocalName" {
				t.Errorf("findings %v, want one nonLocalName", w.Findings)
			}
		})
	}
}

// FuzzWalk feeds raw bytes to the decompressors and the tar walk, with
// small limits. It must never panic or hang; Go and igzip must reach the
// same entries and findings, or both an error; a limit error must carry
// the numbers that broke it. (compare's FuzzWalkLayer also merges the
// entries into views.)
func FuzzWalk(f *testing.F) {
	clean := fixtures.Tar(fixtures.Dir("app/"), fixtures.File("app/a", "a\n"), fixtures.Symlink("app/l", "a"), fixtures.Whiteout("app", "b"))
	gz := fixtures.Compress(clean, fixtures.Gzip)
	for _, s := range [][]byte{
		clean, gz, fixtures.Compress(clean, fixtures.Zstd), fixtures.GzipMembers(clean, 3),
		append(slices.Clone(gz), "garbage"...), append(slices.Clone(gz), make([]byte, 1024)...),
		gz[:len(gz)/2], fixtures.GzipBomb(2 << 20), fixtures.ZstdBomb(2<<20, 1<<19), fixtures.ManyEmptyFiles(300),
		fixtures.Tar(fixtures.Entry{Name: "odd", Type: 'Z', Body: "data", Size: func() *int64 { n := int64(4); return &n }()}, fixtures.Entry{Name: "dev", Type: tar.TypeChar, DevMajor: 1}),
	} {
		f.Add(s)
	}
	lim := layer.Limits{MaxLayerBytes: 1 << 20, MaxTotalBytes: 2 << 20, MaxEntries: 200, MaxHeaderBytes: 1 << 19,
		MaxZstdWindow: 1 << 19, MaxTextFile: 1 << 10, MaxTextBytes: 64 << 10}
	entries := func(t *testing.T, b []byte, choice string) ([]string, []layer.Finding, error) {
		w, err := walk(t, b, lim, choice)
		if err != nil {
			return nil, nil, err
		}
		var out []string
		for e, err := range w.All() {
			if err != nil {
				return nil, nil, err
			}
			out = append(out, show(e))
		}
		return out, w.Findings, nil
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, findings, err := entries(t, b, layer.DecompressGo)
		igot, ifindings, ierr := entries(t, b, layer.DecompressIgzip)
		switch {
		case (err == nil) != (ierr == nil):
			t.Fatalf("go: %v; igzip: %v", err, ierr)
		case err == nil && (!slices.Equal(got, igot) || !slices.Equal(findings, ifindings)):
			t.Fatalf("go: %q %q; igzip: %q %q", got, findings, igot, ifindings)
		}
		var le *layer.LimitError
		if errors.As(err, &le) && (le.Got <= le.Max || le.Limit == "") {
			t.Fatalf("limit error without the numbers that broke it: %v", err)
		}
	})
}
