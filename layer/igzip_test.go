package layer

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os/exec"
	"testing"

	"github.com/klauspost/compress/gzip"
)

func gzipOf(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// TestMemberScan: a stream is proved to be read alike by igzip and Go
// only when it is, whatever the reads that split it: one member, or empty
// members and then one, each later header one Go accepts. Where the
// bytes of a header follow eight zeros inside compressed data (a .gz file
// stored in a layer), the header is judged as if it began a member.
func TestMemberScan(t *testing.T) {
	data := bytes.Repeat([]byte("reprover "), 1000)
	one, empty := gzipOf(data), gzipOf(nil)
	stored := func(b []byte) []byte { // a member of stored blocks: its bytes show
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.NoCompression)
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	// A member header: flags, then what they announce.
	header := func(flags byte, rest ...byte) []byte {
		return append([]byte{0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 3}, rest...)
	}
	named := func(n int) []byte { return header(0x08, append(bytes.Repeat([]byte("n"), n), 0)...) }
	zeros := make([]byte, 8)
	inData := func(parts ...[]byte) []byte { return bytes.Join(append([][]byte{data[:100], zeros}, parts...), nil) }
	// Nine stored headers announcing 64 KiB of extra field, none whole.
	var extras []byte
	for range maxPendingHeaders + 1 {
		extras = append(append(extras, zeros...), header(0x04, 0xff, 0xff)...)
	}
	extras = append(extras, data[:100]...)
	tests := []struct {
		name   string
		stream []byte
		output []byte
		want   bool
	}{
		{name: "one member", stream: one, output: data, want: true},
		{name: "one empty member", stream: empty, want: true},
		{name: "two members", stream: append(gzipOf(data[:100]), gzipOf(data[100:])...), output: data},
		{name: "an empty member first", stream: append(slicesOf(empty), one...), output: data, want: true},
		{name: "an empty member last", stream: append(slicesOf(one), empty...), output: data},
		{name: "an empty member, then reserved flag bits", stream: append(slicesOf(empty), reserved(one)...), output: data},
		{name: "an empty member, then a name of 512 bytes", stream: bytes.Join([][]byte{empty, named(512), one[10:]}, nil), output: data},
		{name: "an empty member, then a name of 511 bytes", stream: bytes.Join([][]byte{empty, named(511), one[10:]}, nil), output: data, want: true},
		{name: "a gzip file stored in the data", stream: stored(inData(one)), output: inData(one), want: true},
		{name: "a named gzip file stored in the data", stream: stored(inData(named(20), data)), output: inData(named(20), data), want: true},
		{name: "a header with reserved flag bits stored in the data", stream: stored(inData(reserved(one))), output: inData(reserved(one))},
		{name: "a header with a bad CRC stored in the data", stream: stored(inData(header(0x02, 0, 0), data)), output: inData(header(0x02, 0, 0), data)},
		{name: "more headers than maxPendingHeaders not whole at once", stream: stored(extras), output: extras},
		{name: "trailer of another output", stream: one, output: data[1:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, split := range []int{1, 3, 9, 10, 11, 4096} {
				m := &memberScan{r: &chunked{b: tt.stream, n: split}}
				if _, err := io.Copy(io.Discard, m); err != nil {
					t.Fatal(err)
				}
				if got := m.alike(crc32.ChecksumIEEE(tt.output), int64(len(tt.output))); got != tt.want {
					t.Errorf("reads of %d bytes: alike = %v, want %v", split, got, tt.want)
				}
			}
		})
	}
}

// reserved is the gzip stream b with a reserved flag bit set in its first
// header.
func reserved(b []byte) []byte {
	b = slicesOf(b)
	b[3] |= 0x20
	return b
}

func slicesOf(b []byte) []byte { return append([]byte(nil), b...) }

// chunked reads b at most n bytes at a time.
type chunked struct {
	b []byte
	n int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), c.n)], c.b)
	c.b = c.b[k:]
	return k, nil
}

// TestIgzipReadSizes: igzip's output comes out whole and without its end
// marker whatever the sizes of the reads, into p or through the buffer,
// and a stream igzip stops short of is refused at its end.
func TestIgzipReadSizes(t *testing.T) {
	igzipPath, err := exec.LookPath("igzip")
	if err != nil {
		t.Fatalf("igzip is not on PATH (make tools installs Debian's isal): %v", err)
	}
	data := make([]byte, 300<<10)
	for i := range data {
		data[i] = byte(i*7 + i/1000)
	}
	tests := []struct {
		name   string
		stream []byte
		out    []byte
		err    error
	}{
		{name: "one member", stream: gzipOf(data), out: data},
		{name: "empty", stream: gzipOf(nil)},
		{name: "trailing garbage", stream: append(gzipOf(data), "garbage"...), err: gzip.ErrHeader},
	}
	for _, tt := range tests {
		for _, size := range []int{1, igzipEndMarker - 1, igzipEndMarker, igzipEndMarker + 1, 4<<10 - 1, 4 << 10, 64 << 10, 1 << 20} {
			t.Run(fmt.Sprintf("%s/reads of %d", tt.name, size), func(t *testing.T) {
				z, err := startIgzip(t.Context(), igzipPath, bytes.NewReader(tt.stream))
				if err != nil {
					t.Fatal(err)
				}
				defer z.Close()
				var got []byte
				p := make([]byte, size)
				for range 10 * len(data) { // bounded: a read returns a byte or an error
					n, err := z.Read(p)
					got = append(got, p[:n]...)
					if err == io.EOF {
						break
					}
					if err != nil {
						if !errors.Is(err, tt.err) || tt.err == nil {
							t.Fatalf("error %v, want %v", err, tt.err)
						}
						return
					}
				}
				if tt.err != nil {
					t.Fatalf("no error, want %v", tt.err)
				}
				if !bytes.Equal(got, tt.out) {
					t.Fatalf("%d bytes, not the %d written", len(got), len(tt.out))
				}
			})
		}
	}
}

// TestGunzipperForSize: auto gives igzip the layers of autoIgzipMin
// compressed bytes or more, and those of unknown size; igzip takes every
// layer; go none.
func TestGunzipperForSize(t *testing.T) {
	tests := []struct {
		choice string
		size   int64
		igzip  bool
	}{
		{DecompressAuto, 0, false},
		{DecompressAuto, autoIgzipMin - 1, false},
		{DecompressAuto, autoIgzipMin, true},
		{DecompressAuto, -1, true},
		{"", autoIgzipMin - 1, false},
		{"", autoIgzipMin, true},
		{DecompressIgzip, 1, true},
		{DecompressIgzip, autoIgzipMin, true},
		{DecompressGo, autoIgzipMin, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.choice, tt.size), func(t *testing.T) {
			g, err := NewGunzipper(tt.choice)
			if err != nil {
				t.Fatalf("%v (make tools installs Debian's isal, which has igzip)", err)
			}
			if got := g.forSize(tt.size).igzip != ""; got != tt.igzip {
				t.Errorf("igzip = %v, want %v", got, tt.igzip)
			}
		})
	}
}
