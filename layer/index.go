package layer

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Index keeps what walks learn of layers — entries with their metadata
// and content digests, findings, diffID — in a directory, one file per
// layer named by the layer's digest, so that a layer seen once is not
// decompressed again (compare.Options.Index). It holds at most
// MaxBytes, evicting the least recently used layers first.
//
// A file is used only when it is whole (its body hashes to the sum it
// starts with), was stored for the digest asked for, and was made under
// the same Limits; otherwise it is removed and the layer read again. The
// directory is trusted as the rest of the cache is: the index guards
// against corruption and mix-ups, not against someone who can write there.
type Index struct {
	dir      string
	maxBytes int64
	mu       sync.Mutex // eviction
}

// DefaultIndexBytes bounds an Index opened with maxBytes 0.
const DefaultIndexBytes = 4 << 30

// indexVersion changes whenever indexRecord or what a walk records does.
// 2: entries stored field by field (the compact Entry). 3: entries as the
// walk's sorted runs (spill.go), after the record.
const indexVersion = 3

// indexMagic starts every index file, before the sha256 of its body.
var indexMagic = []byte("reprover layer index\n")

// maxIndexRecord bounds the record at the head of an index file.
const maxIndexRecord = 64 << 20

// OpenIndex opens (creating it) the index kept in dir, bounded to
// maxBytes (0: DefaultIndexBytes).
func OpenIndex(dir string, maxBytes int64) (*Index, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultIndexBytes
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("layer index: %w", err)
	}
	return &Index{dir: dir, maxBytes: maxBytes}, nil
}

// indexRecord is one layer's walk as stored; its entries follow it, as
// the runs of its spill file.
type indexRecord struct {
	Version     int
	Digest      string // the layer's (compressed) digest
	Limits      Limits // the walk's, with defaults
	Compression Compression
	DiffID      string
	Findings    []Finding
	Trailing    Trailing
	Runs        []span
	Count       int
	Links       []string
}

func (x *Index) path(d v1.Hash) string {
	return filepath.Join(x.dir, d.Algorithm, d.Hex)
}

// Load returns the walk stored for d under limits lim, or nil, its
// entries copied into a file in the directory scratch. What is not usable
// is removed: why is returned for the log.
func (x *Index) Load(d v1.Hash, lim Limits, scratch string) (w *Walked, why string) {
	p := x.path(d)
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ""
	}
	discard := func(why string) (*Walked, string) {
		os.Remove(p)
		return nil, why
	}
	if err != nil {
		return discard(err.Error())
	}
	defer f.Close()
	head := make([]byte, len(indexMagic)+sha256.Size)
	if _, err := io.ReadFull(f, head); err != nil || !bytes.HasPrefix(head, indexMagic) {
		return discard("not an index file")
	}
	sum := head[len(indexMagic):]
	h := sha256.New()
	br := bufio.NewReaderSize(io.TeeReader(f, h), 64<<10)
	n, err := binary.ReadUvarint(br)
	if err != nil || n > maxIndexRecord {
		return discard("not an index file")
	}
	rb := make([]byte, n)
	if _, err := io.ReadFull(br, rb); err != nil {
		return discard("cut short")
	}
	var r indexRecord
	if err := gob.NewDecoder(bytes.NewReader(rb)).Decode(&r); err != nil {
		return discard(err.Error())
	}
	switch {
	case r.Version != indexVersion:
		return discard(fmt.Sprintf("version %d", r.Version))
	case r.Digest != d.String():
		return discard(fmt.Sprintf("stored for %s", r.Digest))
	case r.Limits != lim:
		return discard("made under other limits")
	}
	// The runs, copied and hashed: the file is checked whole before any
	// of it is used.
	out, err := os.CreateTemp(scratch, "walk-*")
	if err != nil {
		return nil, err.Error()
	}
	sp := &Runs{f: out, runs: r.Runs, count: r.Count, links: r.Links}
	size, err := io.Copy(out, br)
	if err != nil {
		sp.remove()
		return nil, err.Error()
	}
	var want int64
	for _, s := range r.Runs {
		if s.Off != want || s.Size < 0 || s.N < 0 {
			want = -1
			break
		}
		want += s.Size
	}
	switch {
	case !bytes.Equal(h.Sum(nil), sum):
		sp.remove()
		return discard("its content does not match its sum")
	case want != size:
		sp.remove()
		return discard("its runs do not match its entries")
	}
	now := time.Now()
	os.Chtimes(p, now, now) // recently used
	return &Walked{Compression: r.Compression, DiffID: r.DiffID, Findings: r.Findings, Trailing: r.Trailing, entries: sp}, ""
}

// Store keeps w, the walk of layer d under limits lim, then evicts the
// least recently used layers beyond the bound.
func (x *Index) Store(d v1.Hash, lim Limits, w *Walked) error {
	r := indexRecord{Version: indexVersion, Digest: d.String(), Limits: lim, Compression: w.Compression,
		DiffID: w.DiffID, Findings: w.Findings, Trailing: w.Trailing,
		Runs: w.entries.runs, Count: w.entries.count, Links: w.entries.links}
	var rec bytes.Buffer
	if err := gob.NewEncoder(&rec).Encode(&r); err != nil {
		return err
	}
	head := binary.AppendUvarint(nil, uint64(rec.Len()))
	size := int64(len(head)+rec.Len()) + w.entries.size()
	if size > x.maxBytes/2 {
		return nil // one layer may not push out most of the others
	}
	runs := func() io.Reader { return io.NewSectionReader(w.entries.f, 0, w.entries.size()) }
	h := sha256.New()
	h.Write(head)
	h.Write(rec.Bytes())
	if _, err := io.Copy(h, runs()); err != nil {
		return err
	}
	p := x.path(d)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".store-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriterSize(tmp, 64<<10)
	for _, b := range [][]byte{indexMagic, h.Sum(nil), head, rec.Bytes()} {
		bw.Write(b)
	}
	_, err = io.Copy(bw, runs())
	if err := cmp.Or(err, bw.Flush(), tmp.Close()); err != nil {
		tmp.Close()
		return err
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return err
	}
	return x.evict()
}

// evict removes the least recently used files until the index holds at
// most maxBytes.
func (x *Index) evict() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	type file struct {
		path string
		size int64
		used time.Time
	}
	var files []file
	var total int64
	err := filepath.WalkDir(x.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".store-") {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		files = append(files, file{p, info.Size(), info.ModTime()})
		total += info.Size()
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(files, func(a, b file) int { return a.used.Compare(b.used) })
	for _, f := range files {
		if total <= x.maxBytes {
			break
		}
		if err := os.Remove(f.path); err == nil || errors.Is(err, fs.ErrNotExist) {
			total -= f.size
		}
	}
	return nil
}
