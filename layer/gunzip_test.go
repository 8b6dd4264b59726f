package layer_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/layer"
)

// TestIgzipReadsAsGo: igzip refuses what Go refuses and reads what Go
// reads, and reads real layers once: a layer is read again in Go only
// when igzip cannot prove it read it as Go does.
func TestIgzipReadsAsGo(t *testing.T) {
	gz := func(b []byte, level int) []byte {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, level)
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	clean := fixtures.Tar(fixtures.Dir("app/"), fixtures.File("app/a", "a\n"))
	// A .gz file in a layer stored (not compressed) by the layer's gzip:
	// its header follows its tar header's zero padding.
	inner := gz([]byte(strings.Repeat("man page ", 100)), gzip.BestCompression)
	storedGz := gz(fixtures.Tar(fixtures.Dir("usr/share/man/"), fixtures.File("usr/share/man/x.1.gz", string(inner))), gzip.NoCompression)
	// A first header with a name of n bytes, as gzip -N writes one.
	named := func(n int) []byte {
		b := gz(clean, gzip.DefaultCompression)
		h := append([]byte{0x1f, 0x8b, 8, 0x08, 0, 0, 0, 0, 0, 3}, append(bytes.Repeat([]byte("n"), n), 0)...)
		return append(h, b[10:]...)
	}
	withHeaderCRC := func(crc uint16) []byte {
		b := gz(clean, gzip.DefaultCompression)
		h := []byte{0x1f, 0x8b, 8, 0x02, 0, 0, 0, 0, 0, 3, byte(crc), byte(crc >> 8)}
		return append(h, b[10:]...)
	}
	tests := []struct {
		name  string
		b     []byte
		err   string // the error both give; "" for none
		reads int    // how often the igzip walk opens the layer
	}{
		{name: "one member", b: gz(clean, gzip.DefaultCompression), reads: 1},
		{name: "a gzip file stored in the layer", b: storedGz, reads: 1},
		{name: "an empty member first", b: append(fixtures.EmptyGzipMember(), gz(clean, gzip.DefaultCompression)...), reads: 1},
		{name: "two members", b: append(gz(clean[:700], gzip.DefaultCompression), gz(clean[700:], gzip.DefaultCompression)...), reads: 2},
		{name: "a name of 511 bytes", b: named(511), reads: 1},
		// igzip accepts these headers; Go does not.
		{name: "a name of 512 bytes", b: named(512), err: "gzip: invalid header"},
		{name: "a wrong header CRC", b: withHeaderCRC(0), err: "gzip: invalid header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got [2]string
			for i, choice := range []string{layer.DecompressGo, layer.DecompressIgzip} {
				gz, err := layer.NewGunzipper(choice)
				if err != nil {
					t.Fatalf("decompressor %s: %v (make tools installs Debian's isal, which has igzip)", choice, err)
				}
				reads := 0
				open := func(context.Context) (io.ReadCloser, error) {
					reads++
					return io.NopCloser(bytes.NewReader(tt.b)), nil
				}
				w, err := layer.WalkOpened(t.Context(), open, "test layer", layer.Options{Limits: layer.DefaultLimits, Gunzip: gz, Scratch: t.TempDir()})
				if err != nil {
					got[i] = err.Error()
				} else {
					got[i] = w.DiffID
					w.Remove()
				}
				if tt.err != "" && !strings.Contains(got[i], tt.err) {
					t.Errorf("%s: %s, want an error with %q", choice, got[i], tt.err)
				}
				if choice == layer.DecompressIgzip && tt.err == "" && reads != tt.reads {
					t.Errorf("igzip: the layer read %d times, want %d", reads, tt.reads)
				}
			}
			if tt.err == "" && got[0] != got[1] {
				t.Errorf("go: %s; igzip: %s", got[0], got[1])
			}
		})
	}
}
