package layer

import (
	"bytes"
	"hash/crc32"
	"io"
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

// TestMemberScan: a stream is proved to be one gzip member only when it
// is, whatever the reads that split it.
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
	tests := []struct {
		name   string
		stream []byte
		output []byte
		want   bool
	}{
		{name: "one member", stream: one, output: data, want: true},
		{name: "one empty member", stream: empty, want: true},
		{name: "two members", stream: append(gzipOf(data[:100]), gzipOf(data[100:])...), output: data},
		{name: "an empty member first", stream: append(slicesOf(empty), one...), output: data},
		{name: "an empty member last", stream: append(slicesOf(one), empty...), output: data},
		{name: "eight zeros and a magic inside the data", stream: stored(append(make([]byte, 8), 0x1f, 0x8b)), output: append(make([]byte, 8), 0x1f, 0x8b)},
		{name: "trailer of another output", stream: one, output: data[1:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, split := range []int{1, 3, 9, 10, 11, 4096} {
				m := &memberScan{r: &chunked{b: tt.stream, n: split}}
				if _, err := io.Copy(io.Discard, m); err != nil {
					t.Fatal(err)
				}
				if got := m.oneMember(crc32.ChecksumIEEE(tt.output), int64(len(tt.output))); got != tt.want {
					t.Errorf("reads of %d bytes: one member = %v, want %v", split, got, tt.want)
				}
			}
		})
	}
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
