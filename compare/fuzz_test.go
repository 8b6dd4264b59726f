package compare_test

import (
	"archive/tar"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/fixtures"
)

// fuzzMediaTypes are the media types a fuzzed layer may claim.
var fuzzMediaTypes = []types.MediaType{types.OCILayer, types.OCILayerZStd, types.OCIUncompressedLayer, types.DockerLayer, "application/octet-stream"}

// FuzzWalkLayer feeds raw bytes to the decompressor, the tar walk and the
// merged view, with small limits, seeded with the hostile layers of
// TestHostileLayers. It must never panic or hang; a limit error must
// carry the numbers that broke it; a name that climbs out of the root
// must be a finding.
func FuzzWalkLayer(f *testing.F) {
	const mib = 1 << 20
	clean := fixtures.Tar(cleanEntries...)
	body := fixtures.TarBody(cleanEntries...)
	eoa := fixtures.EndOfArchive()
	seeds := [][]byte{
		gz(clean),
		fixtures.Compress(clean, fixtures.Zstd),
		clean,
		fixtures.GzipMembers(clean, 50),
		cat(gz(clean), []byte("garbage")),
		cat(gz(clean), make([]byte, 1024)),
		cat(gz(clean), make([]byte, 5)),
		cat(gz(clean), []byte{0x1f, 0x8b, 8}),
		cat(gz(clean[:700]), gz(clean[700:])),
		reservedFlag(gz(clean)),
		cat(gz(clean[:700]), reservedFlag(gz(clean[700:]))),
		cat(fixtures.EmptyGzipMember(), reservedFlag(fixtures.EmptyGzipMember()), gz(clean)),
		gz(clean)[:len(gz(clean))/2],
		gz(clean)[:len(gz(clean))-8],
		fixtures.BadGzipCRC(gz(clean)),
		fixtures.BadZstdChecksum(fixtures.Compress(clean, fixtures.Zstd)),
		fixtures.ZstdWindowFrame(30, clean),
		fixtures.ZstdWindowFrame(20, clean),
		fixtures.GzipBomb(2 * mib),
		fixtures.ZstdBomb(2*mib, mib/2),
		cat(fixtures.Bzip2Magic, clean),
		cat(body, fixtures.PAXHeader(map[string]string{"path": "app/evil.sh"}), fixtures.RawHeader{Name: "app/harmless", Size: 5}.Data([]byte("evil\n")), eoa),
		cat(body, fixtures.PAXHeader(map[string]string{"comment": strings.Repeat("x", 64<<10)}), fixtures.RawHeader{Name: "app/x"}.Block(), eoa),
		cat(body, fixtures.GNULongName("app/"+strings.Repeat("n", 300)), fixtures.RawHeader{Name: "app/x", GNU: true}.Block(), eoa),
		cat(body, fixtures.RawHeader{Name: "app/sparse", Typeflag: tar.TypeGNUSparse, GNU: true, RealSize: math.MaxInt64}.Block(), eoa),
		cat(body, fixtures.RawHeader{Name: "app/huge", Size: math.MaxInt64}.Block(), eoa),
		cat(body, fixtures.RawHeader{Name: "app/neg", Size: -1}.Block(), eoa),
		cat(body, fixtures.RawHeader{Name: "app/dir/", Typeflag: tar.TypeDir, Size: 1000}.Block(), eoa),
		gz(fixtures.ManyEmptyFiles(1500)),
		gz(fixtures.LongPAXNames(20, 64<<10)),
		fixtures.Tar(fixtures.File("../../etc/passwd", "x"), fixtures.File("/abs", "x"), fixtures.File("a/../../b", "x"),
			fixtures.File(`..\..\x`, "x"), fixtures.Whiteout("../../etc", "passwd"), fixtures.Opaque("../../etc")),
		fixtures.Tar(fixtures.Dir("./"), fixtures.Dir("./usr/"), fixtures.File("./usr/bin/tool", "t"), fixtures.Whiteout("app", "."),
			fixtures.Whiteout("app", ".."), fixtures.Dir("app/.wh.x"), fixtures.File("etc/f", "x"), fixtures.Opaque("etc")),
		fixtures.Tar(fixtures.Symlink("app/l", "/etc"), fixtures.File("app/l/passwd", "x"), fixtures.Whiteout("app/l", "shadow"),
			fixtures.File("app/a", "x"), fixtures.Hardlink("app/b", "app/a"), fixtures.Hardlink("app/c", "app/b"),
			fixtures.Hardlink("app/d", "app/missing"), fixtures.Hardlink("app/e", "../../x"), fixtures.File("app/a", "y"), fixtures.Dir("app/a")),
		fixtures.Tar(fixtures.Entry{Name: "app/odd", Type: 'Z', Body: "data", Size: func() *int64 { n := int64(4); return &n }()},
			fixtures.Entry{Name: "app/null", Type: tar.TypeChar, DevMajor: 1, DevMinor: 3}, fixtures.Entry{Name: "app/p", Type: tar.TypeFifo},
			fixtures.Entry{Name: "app/f", Body: "x", UID: 1 << 31, Mode: 0o7755, Xattrs: map[string]string{"security.capability": "\x01"}}),
		cat(clean, fixtures.Tar(fixtures.File("app/evil.sh", "x"))),
	}
	for i, s := range seeds {
		f.Add(s, uint8(i%len(fuzzMediaTypes)))
	}
	lim := compare.Limits{MaxLayerBytes: mib, MaxTotalBytes: 2 * mib, MaxEntries: 1000, MaxHeaderBytes: mib / 2,
		MaxZstdWindow: mib / 2, MaxTextFile: 1 << 10, MaxTextBytes: 64 << 10}
	decompressors(f)
	f.Fuzz(func(t *testing.T, b []byte, mt uint8) {
		mediaType := string(fuzzMediaTypes[int(mt)%len(fuzzMediaTypes)])
		paths, findings, err := compare.WalkBytes(t.Context(), b, mediaType, lim, compare.DecompressGo)
		// igzip must reach the same outcome: the same entries and
		// findings, or an error too. Not always the same error: in a
		// stream with two faults, igzip, which decompresses ahead of the
		// walk, may meet a corrupt member before the walk meets a limit.
		ipaths, ifindings, ierr := compare.WalkBytes(t.Context(), b, mediaType, lim, compare.DecompressIgzip)
		switch {
		case (err == nil) != (ierr == nil):
			t.Fatalf("go: %v; igzip: %v", err, ierr)
		case err == nil && (!slices.Equal(paths, ipaths) || !slices.Equal(findings, ifindings)):
			t.Fatalf("go: %q %q; igzip: %q %q", paths, findings, ipaths, ifindings)
		}
		if err != nil {
			var le *compare.LimitError
			if errors.As(err, &le) && (le.Got <= le.Max || le.Limit == "") {
				t.Fatalf("limit error without the numbers that broke it: %v", err)
			}
			return
		}
		nonLocal := slices.ContainsFunc(findings, func(f compare.Finding) bool { return f.Kind == "nonLocalName" })
		for _, p := range paths {
			if !strings.HasPrefix(p, "/") {
				t.Errorf("entry path %q is not absolute", p)
			}
			if !nonLocal && slices.Contains(strings.Split(p, "/"), "..") {
				t.Errorf("entry path %q climbs out of the root without a nonLocalName finding", p)
			}
		}
	})
}
