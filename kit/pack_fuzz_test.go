package kit

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"testing"
)

// FuzzCheckPack: whatever a kit's source pack holds, checkPack returns an
// error or a count within the limit, and never reads past the limits it
// is given (a small MaxSourceBytes bounds what it inflates).
func FuzzCheckPack(f *testing.F) {
	entry := func(typ byte, size int, pre, data []byte) []byte {
		var b bytes.Buffer
		b.WriteByte(typ<<4 | byte(size&15))
		b.Write(pre)
		z := zlib.NewWriter(&b)
		z.Write(data)
		z.Close()
		return b.Bytes()
	}
	pack := func(count uint32, entries ...[]byte) []byte {
		var b bytes.Buffer
		b.WriteString("PACK")
		binary.Write(&b, binary.BigEndian, uint32(2))
		binary.Write(&b, binary.BigEndian, count)
		for _, e := range entries {
			b.Write(e)
		}
		h := sha1.Sum(b.Bytes())
		b.Write(h[:])
		return b.Bytes()
	}
	blob := entry(3, 3, nil, []byte("abc"))
	good := pack(1, blob)
	for _, s := range [][]byte{
		good,
		good[:len(good)-3],
		pack(2, blob, entry(7, 4, bytes.Repeat([]byte{1}, 20), []byte{3, 0x80, 0x80, 0x40})), // a ref delta declaring 1 TiB
		pack(2, blob, entry(6, 4, []byte{0x0c}, []byte{3, 3, 0x90, 0x03})),                   // an offset delta
		pack(0xffffffff),
		pack(1, entry(4, 3, nil, []byte("tag"))),
		append(pack(1, blob), 'x'),
		[]byte("PACK\x00\x00\x00\x02\x00\x00\x00\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"),
	} {
		f.Add(s)
	}
	lim := Limits{MaxSourceEntries: 8, MaxSourceBytes: 1 << 16}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := checkPack(bytes.NewReader(b), 20, lim)
		if err == nil && (n > 8 || n < 0) {
			t.Fatalf("accepted %d objects, the limit is 8", n)
		}
	})
}
