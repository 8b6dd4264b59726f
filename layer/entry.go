package layer

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"maps"
	"time"
	"unsafe"

	"github.com/klauspost/compress/s2"
)

// Entry is one tar entry of a layer, reduced to what an unpacker applies.
//
// A walk holds a run of entries at a time before it writes them to disk
// (spill.go), and a comparison a range of paths' (compare/chunked.go), so
// an Entry is kept small: the content digest as its 32 bytes, the type as a
// byte, the modification time as seconds and nanoseconds, owner ids as
// 32 bits when they fit, and what few entries have (a link target,
// extended attributes, device numbers, text kept for a diff) out of
// line. Its fields are read through methods and set by the walk (or, for
// entries made otherwise, such as an archive's members, by the setters).
type Entry struct {
	Path     string // absolute, cleaned; non-local names keep their "..".
	Size     int64
	mtime    int64  // ModTime: seconds since the Unix epoch …
	nsec     int32  // … and nanoseconds
	Mode     uint32 // permission bits with setuid, setgid and sticky
	uid, gid uint32 // UID and GID, unless bigIDs
	digest   [32]byte
	Type     Kind // the type an unpacker gives its typeflag
	typeflag byte // the tar typeflag of an unknown or other type
	// Whiteout marks a .wh. entry (Path is the whited-out path); Opaque
	// marks .wh..wh..opq (Path is the directory).
	Whiteout, Opaque bool
	hasDigest        bool
	hasText          bool // a text file within the text budget; extra.text is its content
	bigIDs           bool // UID or GID does not fit in 32 bits: extra has them
	extra            *entryExtra
}

// entryExtra is what few entries have.
type entryExtra struct {
	linkname           string
	xattrs             map[string]string
	devMajor, devMinor int64
	uid, gid           int64
	// text is the content kept for a text diff, within budget:
	// s2-compressed when packed. Text compresses well, and a comparison
	// keeps up to Limits.MaxTextBytes of it per layer read.
	text   []byte
	packed bool
}

// Kind is an entry's type.
type Kind uint8

const (
	KindNone Kind = iota
	KindFile
	KindDir
	KindSymlink
	KindHardlink
	KindChar
	KindBlock
	KindFifo
	KindWhiteout
	KindUnknown // a layer's entry of a tar typeflag unpackers do not know
	KindOther   // an archive member of another type than these
)

var kindNames = [...]string{KindNone: "", KindFile: "file", KindDir: "dir", KindSymlink: "symlink",
	KindHardlink: "hardlink", KindChar: "char", KindBlock: "block", KindFifo: "fifo", KindWhiteout: "whiteout"}

// TypeName is the entry's type as the report names it: file, dir,
// symlink, hardlink, char, block, fifo, whiteout, unknown('X') or
// other('X').
func (e *Entry) TypeName() string {
	switch e.Type {
	case KindUnknown:
		return fmt.Sprintf("unknown(%q)", e.typeflag)
	case KindOther:
		return fmt.Sprintf("other(%q)", e.typeflag)
	}
	return kindNames[e.Type]
}

// SameType reports whether e and o are of the same type (an unknown
// type's typeflag included).
func (e *Entry) SameType(o *Entry) bool { return e.Type == o.Type && e.typeflag == o.typeflag }

// Digest is the sha256 of the content of a file (and of a resolved hard
// link), as "sha256:<hex>"; "" when the entry has no content.
func (e *Entry) Digest() string {
	if !e.hasDigest {
		return ""
	}
	return "sha256:" + hex.EncodeToString(e.digest[:])
}

// SetDigest sets the sha256 of the entry's content.
func (e *Entry) SetDigest(sum []byte) {
	copy(e.digest[:], sum)
	e.hasDigest = true
}

// HasDigest reports whether the entry has a content digest.
func (e *Entry) HasDigest() bool { return e.hasDigest }

// SameDigest reports whether e and o have the same content digest, or
// both none.
func (e *Entry) SameDigest(o *Entry) bool { return e.hasDigest == o.hasDigest && e.digest == o.digest }

// Linkname is the entry's link target ("" when it has none).
func (e *Entry) Linkname() string {
	if e.extra == nil {
		return ""
	}
	return e.extra.linkname
}

// SetLinkname sets the entry's link target.
func (e *Entry) SetLinkname(s string) {
	if s != "" || e.extra != nil {
		e.extraFields().linkname = s
	}
}

// UID and GID are the entry's owner ids.
func (e *Entry) UID() int64 {
	if e.bigIDs {
		return e.extra.uid
	}
	return int64(e.uid)
}

func (e *Entry) GID() int64 {
	if e.bigIDs {
		return e.extra.gid
	}
	return int64(e.gid)
}

// SetIDs sets the entry's owner ids.
func (e *Entry) SetIDs(uid, gid int64) {
	if uid == int64(uint32(uid)) && gid == int64(uint32(gid)) {
		e.uid, e.gid, e.bigIDs = uint32(uid), uint32(gid), false
		return
	}
	x := e.extraFields()
	x.uid, x.gid, e.bigIDs = uid, gid, true
}

// ModTime is the entry's modification time, in UTC.
func (e *Entry) ModTime() time.Time { return time.Unix(e.mtime, int64(e.nsec)).UTC() }

// SetModTime sets the entry's modification time.
func (e *Entry) SetModTime(t time.Time) { e.mtime, e.nsec = t.Unix(), int32(t.Nanosecond()) }

// SameModTime reports whether e and o have the same modification time.
func (e *Entry) SameModTime(o *Entry) bool { return e.mtime == o.mtime && e.nsec == o.nsec }

// Xattrs are the entry's extended attributes; nil when it has none.
func (e *Entry) Xattrs() map[string]string {
	if e.extra == nil {
		return nil
	}
	return e.extra.xattrs
}

// SetXattr sets one extended attribute.
func (e *Entry) SetXattr(k, v string) {
	x := e.extraFields()
	if x.xattrs == nil {
		x.xattrs = map[string]string{}
	}
	x.xattrs[k] = v
}

// Dev is the device number of a char or block device.
func (e *Entry) Dev() (major, minor int64) {
	if e.extra == nil {
		return 0, 0
	}
	return e.extra.devMajor, e.extra.devMinor
}

// SetDev sets the device number of a char or block device.
func (e *Entry) SetDev(major, minor int64) {
	if major != 0 || minor != 0 {
		x := e.extraFields()
		x.devMajor, x.devMinor = major, minor
	}
}

// HasText reports whether the entry is a text file whose content the walk
// kept (within Limits.MaxTextFile and MaxTextBytes).
func (e *Entry) HasText() bool { return e.hasText }

// Text is the content kept for a text diff (HasText says whether it was).
func (e *Entry) Text() []byte {
	if e.extra == nil || !e.extra.packed {
		return e.extraText()
	}
	b, err := s2.Decode(nil, e.extra.text)
	if err != nil {
		// Only setText packs, from bytes in memory since.
		panic(fmt.Sprintf("layer: kept text of %s does not decode: %v", e.Path, err))
	}
	return b
}

func (e *Entry) extraText() []byte {
	if e.extra == nil {
		return nil
	}
	return e.extra.text
}

// SetText keeps b, the entry's content, for a text diff.
func (e *Entry) SetText(b []byte) {
	e.hasText = true
	if len(b) == 0 {
		return
	}
	x := e.extraFields()
	x.text, x.packed = b, false
	if c := s2.Encode(nil, b); len(c) < len(b) {
		x.text, x.packed = bytes.Clone(c), true // Encode's buffer is larger
	}
}

// WithContentOf is a copy of e, a hard link, with the content of its
// target t: digest, size and text.
func (e *Entry) WithContentOf(t *Entry) *Entry {
	r := *e
	r.Size, r.digest, r.hasDigest, r.hasText = t.Size, t.digest, t.hasDigest, t.hasText
	if len(t.extraText()) > 0 || len(e.extraText()) > 0 {
		var x entryExtra
		if e.extra != nil {
			x = *e.extra
		}
		x.text, x.packed = t.extraText(), t.extra != nil && t.extra.packed
		r.extra = &x
	}
	return &r
}

func (e *Entry) extraFields() *entryExtra {
	if e.extra == nil {
		e.extra = &entryExtra{}
	}
	return e.extra
}

// SetOther makes the entry an archive member of a type an unpacker of
// layers does not apply (KindOther), named by its typeflag.
func (e *Entry) SetOther(typeflag byte) { e.Type, e.typeflag = KindOther, typeflag }

// SameXattrs reports whether a and b have the same extended attributes.
func SameXattrs(a, b *Entry) bool { return maps.Equal(a.Xattrs(), b.Xattrs()) }

// entryArena holds the entries of one walk, in order, in chunks: an entry
// then costs its size, without a heap object or a pointer of its own.
type entryArena struct {
	chunks [][]Entry
	n      int
}

// arenaChunk fills a 32 KiB allocation (a size class: no space lost).
const arenaChunk = int(32 << 10 / unsafe.Sizeof(Entry{}))

// new appends a zero entry and returns it.
func (a *entryArena) new() *Entry {
	i := a.n / arenaChunk
	if i == len(a.chunks) {
		a.chunks = append(a.chunks, make([]Entry, 0, arenaChunk))
	}
	c := &a.chunks[i]
	*c = (*c)[:len(*c)+1]
	a.n++
	return &(*c)[len(*c)-1]
}

// reset empties the arena, keeping its memory for the entries to come.
func (a *entryArena) reset() {
	for i := range a.chunks {
		clear(a.chunks[i])
		a.chunks[i] = a.chunks[i][:0]
	}
	a.n = 0
}

func (a *entryArena) len() int { return a.n }

// at is the i-th entry new made.
func (a *entryArena) at(i int) *Entry { return &a.chunks[i/arenaChunk][i%arenaChunk] }
