package layer

import (
	"crypto/sha256"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// TestEntrySize pins the size of an Entry: a comparison holds one per tar
// entry of every layer read, of both images.
func TestEntrySize(t *testing.T) {
	if got, max := unsafe.Sizeof(Entry{}), uintptr(96); got > max {
		t.Errorf("an Entry takes %d bytes, more than %d", got, max)
	}
}

// TestEntryFields: what an Entry keeps compactly reads back as it was set.
func TestEntryFields(t *testing.T) {
	for _, tm := range []time.Time{
		{},
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 5, time.FixedZone("x", 3600)),
		time.Unix(1<<40, 0),
	} {
		var e Entry
		e.SetModTime(tm)
		if got := e.ModTime(); !got.Equal(tm) || got.Location() != time.UTC {
			t.Errorf("mtime %v reads back as %v", tm, got)
		}
	}
	for _, ids := range [][2]int64{{0, 0}, {1 << 31, 1<<32 - 1}, {1 << 32, 0}, {0, -1}, {-1 << 63, 1<<63 - 1}} {
		var e Entry
		e.SetIDs(ids[0], ids[1])
		if e.UID() != ids[0] || e.GID() != ids[1] {
			t.Errorf("ids %d:%d read back as %d:%d", ids[0], ids[1], e.UID(), e.GID())
		}
	}
	var e Entry
	if e.Digest() != "" || e.Xattrs() != nil || e.Text() != nil || e.Linkname() != "" {
		t.Errorf("a zero Entry has a digest %q, xattrs %v, text %q or link %q", e.Digest(), e.Xattrs(), e.Text(), e.Linkname())
	}
	if e.SetLinkname(""); e.extra != nil {
		t.Errorf("no link target, but extra fields %+v", e.extra)
	}
	e.SetDigest(digestOf(nil))
	if want := "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; e.Digest() != want {
		t.Errorf("digest %s, want %s", e.Digest(), want)
	}
	e.SetText(nil)
	if !e.hasText || e.extra != nil {
		t.Errorf("empty text: hasText %v, extra %+v", e.hasText, e.extra)
	}
	for _, text := range []string{"x", "abc\n", strings.Repeat("import os\n", 100)} {
		var e, link Entry
		e.SetText([]byte(text))
		link.Type = KindHardlink
		link.SetLinkname("/f")
		r := link.WithContentOf(&e)
		if string(e.Text()) != text || string(r.Text()) != text || !r.hasText || r.Linkname() != "/f" || link.extra.text != nil {
			t.Errorf("text %q reads back as %q, through a hard link %q (link %q)", text, e.Text(), r.Text(), r.Linkname())
		}
	}
	for _, tt := range []struct {
		e    Entry
		want string
	}{
		{Entry{Type: KindFile}, "file"},
		{Entry{Type: KindWhiteout}, "whiteout"},
		{Entry{Type: KindUnknown, typeflag: 'Z'}, "unknown('Z')"},
		{Entry{Type: KindOther, typeflag: 0}, `other('\x00')`},
	} {
		if got := tt.e.TypeName(); got != tt.want {
			t.Errorf("type %q, want %q", got, tt.want)
		}
	}
}

// TestEntryArena: entries are found by the order they were made, across
// chunks, and a reset arena starts again from its first.
func TestEntryArena(t *testing.T) {
	var a entryArena
	n := 3*arenaChunk + 5
	for i := range n {
		a.new().Size = int64(i)
	}
	for i := range n {
		if e := a.at(i); e.Size != int64(i) {
			t.Fatalf("entry %d has size %d", i, e.Size)
		}
	}
	if a.len() != n {
		t.Errorf("len %d, want %d", a.len(), n)
	}
	a.reset()
	if a.len() != 0 {
		t.Errorf("len %d after reset, want 0", a.len())
	}
	a.new().Size = 7
	if e := a.at(0); e.Size != 7 || a.len() != 1 {
		t.Errorf("after reset, entry 0 has size %d, len %d", e.Size, a.len())
	}
}

func digestOf(b []byte) []byte {
	sum := sha256.Sum256(b)
	return sum[:]
}
