package layer

import (
	"bufio"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
)

// A walk keeps the entries it reads on disk, in a scratch directory (of
// a comparison's, say), not in memory: it writes them in sorted runs
// (runEntries entries at most, each run in tree order, then tar order),
// and its caller reads them back merged, path by path (Stream); a
// comparison a range of paths at a time (compare/chunked.go). What is
// held then does not grow with the images: a run's entries while a walk
// makes it, a buffer per run while a stream reads it.

// runEntries is how many entries a walk sorts and writes at once.
const runEntries = 1 << 13

// Rec is an entry of a layer and its place in the layer's tar: Layer is
// the index NewStream gave the layer, Seq the entry's place in its tar.
type Rec struct {
	Entry *Entry
	Layer int
	Seq   int32
}

// Runs is a walk's entries, on disk, in sorted runs: read them with
// NewStream.
type Runs struct {
	f     *os.File
	runs  []span
	count int
	// links are the paths the walk's hard links name: their entries
	// are gathered apart (sideStream).
	links []string
}

// span is one run of a spill file: where it is, and how many entries.
type span struct {
	Off, Size int64
	N         int
}

// Len is how many entries there are.
func (s *Runs) Len() int { return s.count }

// Links are the paths the entries' hard links name, sorted.
func (s *Runs) Links() []string { return s.links }

// size is the bytes of every run.
func (s *Runs) size() int64 {
	var n int64
	for _, r := range s.runs {
		n += r.Size
	}
	return n
}

// remove closes and removes the spill file.
func (s *Runs) remove() {
	if s != nil && s.f != nil {
		s.f.Close()
		os.Remove(s.f.Name())
	}
}

// runWriter makes a walk's runs: entries are made in its arena (new),
// then sorted and written a run at a time.
type runWriter struct {
	out   Runs
	bw    *bufio.Writer
	off   int64
	arena entryArena
	first int32 // seq of the arena's first entry
	links map[string]bool
	buf   []byte
	err   error
	max   int // entries a run: runEntries (tests make it small)
}

func newRunWriter(dir string) (*runWriter, error) {
	f, err := os.CreateTemp(dir, "walk-*")
	if err != nil {
		return nil, fmt.Errorf("scratch: %w", err)
	}
	return newRunWriterAt(f, 0), nil
}

// newRunWriterAt writes runs into f from offset off on.
func newRunWriterAt(f *os.File, off int64) *runWriter {
	return &runWriter{out: Runs{f: f}, bw: bufio.NewWriterSize(io.NewOffsetWriter(f, off), 16<<10), off: off,
		links: map[string]bool{}, max: runEntries}
}

// WriteRuns writes es, one layer's entries in tar order, at the end of f,
// as a walk writes its entries, in runs of at most run entries: the runs
// of entries made otherwise than by a walk (tests make them).
func WriteRuns(f *os.File, es []*Entry, run int) (*Runs, error) {
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, fmt.Errorf("scratch: %w", err)
	}
	w := newRunWriterAt(f, end)
	w.max = run
	for _, e := range es {
		*w.new() = *e
	}
	return w.close()
}

// new returns a zero entry to fill in, after the last one was filled.
func (w *runWriter) new() *Entry {
	if w.arena.len() == w.max {
		w.flush()
	}
	return w.arena.new()
}

// flush writes the arena's entries as one run.
func (w *runWriter) flush() {
	n := w.arena.len()
	if n == 0 || w.err != nil {
		w.first += int32(n)
		w.arena.reset()
		return
	}
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(a, b int32) int {
		return TreeCompare(w.arena.at(int(a)).Path, w.arena.at(int(b)).Path)
	})
	start := w.off
	for _, i := range order {
		e := w.arena.at(int(i))
		if e.Type == KindHardlink {
			w.links[e.Linkname()] = true
		}
		w.buf = appendEntry(w.buf[:0], e, w.first+i)
		if _, err := w.bw.Write(w.buf); err != nil {
			w.err = fmt.Errorf("scratch: %w", err)
			return
		}
		w.off += int64(len(w.buf))
	}
	w.out.runs = append(w.out.runs, span{Off: start, Size: w.off - start, N: n})
	w.out.count += n
	w.first += int32(n)
	w.arena.reset()
}

// close writes the last run and returns the walk's entries.
func (w *runWriter) close() (*Runs, error) {
	w.flush()
	if w.err == nil {
		if err := w.bw.Flush(); err != nil {
			w.err = fmt.Errorf("scratch: %w", err)
		}
	}
	if w.err != nil {
		w.abort()
		return nil, w.err
	}
	w.out.links = slices.Sorted(maps.Keys(w.links))
	return &w.out, nil
}

// abort removes what the writer wrote.
func (w *runWriter) abort() { w.out.remove() }

// Entries are written field by field, integers as varints.
const (
	flagDigest = 1 << iota
	flagWhiteout
	flagOpaque
	flagText
	flagExtra
	flagPacked
	flagBigIDs
)

// maxSpillField bounds a string or text read back: larger than any a walk
// keeps (MaxHeaderBytes, MaxTextFile), so only a damaged file reaches it.
const maxSpillField = 64 << 20

func appendEntry(b []byte, e *Entry, seq int32) []byte {
	b = binary.AppendUvarint(b, uint64(seq))
	b = appendBytes(b, e.Path)
	b = binary.AppendVarint(b, e.Size)
	b = binary.AppendVarint(b, e.mtime)
	b = binary.AppendVarint(b, int64(e.nsec))
	b = binary.AppendUvarint(b, uint64(e.Mode))
	b = binary.AppendVarint(b, e.UID())
	b = binary.AppendVarint(b, e.GID())
	var flags byte
	for _, f := range []struct {
		on   bool
		flag byte
	}{{e.hasDigest, flagDigest}, {e.Whiteout, flagWhiteout}, {e.Opaque, flagOpaque}, {e.hasText, flagText},
		{e.extra != nil, flagExtra}, {e.extra != nil && e.extra.packed, flagPacked}, {e.bigIDs, flagBigIDs}} {
		if f.on {
			flags |= f.flag
		}
	}
	b = append(b, flags, byte(e.Type), e.typeflag)
	if e.hasDigest {
		b = append(b, e.digest[:]...)
	}
	if x := e.extra; x != nil {
		b = appendBytes(b, x.linkname)
		b = binary.AppendUvarint(b, uint64(len(x.xattrs)))
		for _, k := range slices.Sorted(maps.Keys(x.xattrs)) {
			b = appendBytes(appendBytes(b, k), x.xattrs[k])
		}
		b = binary.AppendVarint(b, x.devMajor)
		b = binary.AppendVarint(b, x.devMinor)
		b = appendBytes(b, string(x.text))
	}
	return b
}

func appendBytes(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// errSpill is a spill or index file that does not decode.
var errSpill = errors.New("damaged entry record")

// readEntry reads one entry appendEntry wrote, and its seq.
func readEntry(r *bufio.Reader) (*Entry, int32, error) {
	var err error
	uv := func() uint64 {
		if err != nil {
			return 0
		}
		var v uint64
		v, err = binary.ReadUvarint(r)
		return v
	}
	sv := func() int64 {
		if err != nil {
			return 0
		}
		var v int64
		v, err = binary.ReadVarint(r)
		return v
	}
	bs := func() []byte {
		n := uv()
		if err != nil {
			return nil
		}
		if n > maxSpillField {
			err = errSpill
			return nil
		}
		b := make([]byte, n)
		_, err = io.ReadFull(r, b)
		return b
	}
	seq := uv()
	e := &Entry{Path: string(bs()), Size: sv(), mtime: sv(), nsec: int32(sv()), Mode: uint32(uv())}
	uid, gid := sv(), sv()
	var head [3]byte
	if err == nil {
		_, err = io.ReadFull(r, head[:])
	}
	if err != nil {
		return nil, 0, spillErr(err)
	}
	flags := head[0]
	e.Type, e.typeflag = Kind(head[1]), head[2]
	e.Whiteout, e.Opaque, e.hasText = flags&flagWhiteout != 0, flags&flagOpaque != 0, flags&flagText != 0
	e.SetIDs(uid, gid)
	if flags&flagDigest != 0 {
		if _, err := io.ReadFull(r, e.digest[:]); err != nil {
			return nil, 0, spillErr(err)
		}
		e.hasDigest = true
	}
	if flags&flagExtra != 0 {
		x := e.extraFields()
		x.linkname = string(bs())
		n := uv()
		if err == nil && n > maxSpillField {
			err = errSpill
		}
		for range n {
			if err != nil {
				break
			}
			k, v := bs(), bs()
			if err == nil {
				e.SetXattr(string(k), string(v))
			}
		}
		x.devMajor, x.devMinor = sv(), sv()
		if t := bs(); len(t) > 0 {
			x.text, x.packed = t, flags&flagPacked != 0
		}
		if err != nil {
			return nil, 0, spillErr(err)
		}
	}
	if seq > 1<<31-1 {
		return nil, 0, errSpill
	}
	return e, int32(seq), nil
}

func spillErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: cut short", errSpill)
	}
	return err
}

// runCursor reads one run of a walk's runs as the layer at index layer.
type runCursor struct {
	r     *bufio.Reader
	left  int
	layer int
	head  Rec
}

// advance reads the next entry into head; false at the run's end.
func (c *runCursor) advance() (bool, error) {
	if c.left == 0 {
		return false, nil
	}
	e, seq, err := readEntry(c.r)
	if err != nil {
		return false, err
	}
	c.left--
	c.head = Rec{Entry: e, Layer: c.layer, Seq: seq}
	return true, nil
}

// Stream merges runs: their entries by path in tree order, then by
// layer, then in tar order.
type Stream struct {
	h   cursorHeap
	err error
}

// NewStream streams the runs of walks, each as the layer its index in
// layers plus from names (a nil walk: no layer there).
func NewStream(from int, layers ...*Runs) *Stream {
	s := &Stream{}
	for i, l := range layers {
		if l == nil {
			continue
		}
		for _, r := range l.runs {
			buf := int(min(max(r.Size, 16), 32<<10)) // a small run needs no more
			c := &runCursor{r: bufio.NewReaderSize(io.NewSectionReader(l.f, r.Off, r.Size), buf), left: r.N, layer: from + i}
			if s.add(c) != nil {
				return s
			}
		}
	}
	heap.Init(&s.h)
	return s
}

// Err is the error that ended the stream early: a scratch file that
// cannot be read back.
func (s *Stream) Err() error { return s.err }

func (s *Stream) add(c *runCursor) error {
	ok, err := c.advance()
	if err != nil {
		s.err = err
		return err
	}
	if ok {
		s.h = append(s.h, c)
	}
	return nil
}

// Peek is the next entry's path ("", false at the end, or on an error).
func (s *Stream) Peek() (string, bool) {
	if len(s.h) == 0 || s.err != nil {
		return "", false
	}
	return s.h[0].head.Entry.Path, true
}

// Take appends the entries at p, the next path, to rs.
func (s *Stream) Take(p string, rs []Rec) []Rec {
	for len(s.h) > 0 && s.err == nil && s.h[0].head.Entry.Path == p {
		c := s.h[0]
		rs = append(rs, c.head)
		ok, err := c.advance()
		switch {
		case err != nil:
			s.err = err
		case ok:
			heap.Fix(&s.h, 0)
		default:
			heap.Pop(&s.h)
		}
	}
	return rs
}

type cursorHeap []*runCursor

func (h cursorHeap) Len() int { return len(h) }
func (h cursorHeap) Less(i, j int) bool {
	a, b := h[i].head, h[j].head
	if c := TreeCompare(a.Entry.Path, b.Entry.Path); c != 0 {
		return c < 0
	}
	if a.Layer != b.Layer {
		return a.Layer < b.Layer
	}
	return a.Seq < b.Seq
}
func (h cursorHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)   { *h = append(*h, x.(*runCursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
