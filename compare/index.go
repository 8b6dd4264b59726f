package compare

import (
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"errors"
	"fmt"
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
// decompressed again for a comparison (Options.Index). It holds at most
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
// 2: entries stored field by field (the compact Entry).
const indexVersion = 2

// indexMagic starts every index file, before the sha256 of its body.
var indexMagic = []byte("reprover layer index\n")

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

// indexRecord is one layer's walk as stored.
type indexRecord struct {
	Version     int
	Digest      string // the layer's (compressed) digest
	Limits      Limits // the walk's, with defaults
	Compression Compression
	DiffID      string
	Entries     []indexEntry
	Findings    []Finding
	Trailing    trailing
}

// indexEntry is an Entry as stored: every field, exported for gob.
type indexEntry struct {
	Path, Linkname     string
	Size, UID, GID     int64
	MTime              int64
	NSec               int32
	Mode               uint32
	Digest             [32]byte
	HasDigest          bool
	Type               kind
	Typeflag           byte
	Whiteout, Opaque   bool
	Xattrs             map[string]string
	DevMajor, DevMinor int64
	Text               []byte
	HasText            bool
}

func indexEntryOf(e *Entry) indexEntry {
	major, minor := e.Dev()
	return indexEntry{Path: e.Path, Linkname: e.Linkname(), Size: e.Size, UID: e.UID(), GID: e.GID(),
		MTime: e.mtime, NSec: e.nsec, Mode: e.Mode, Digest: e.digest, HasDigest: e.hasDigest,
		Type: e.Type, Typeflag: e.typeflag, Whiteout: e.Whiteout, Opaque: e.Opaque,
		Xattrs: e.Xattrs(), DevMajor: major, DevMinor: minor, Text: e.text(), HasText: e.hasText}
}

// entry fills e in from x, sharing its strings through in.
func (x *indexEntry) entry(e *Entry, in *interner) {
	*e = Entry{Path: x.Path, Size: x.Size,
		mtime: x.MTime, nsec: x.NSec, Mode: x.Mode, digest: x.Digest, hasDigest: x.HasDigest,
		Type: x.Type, typeflag: x.Typeflag, Whiteout: x.Whiteout, Opaque: x.Opaque}
	e.setLinkname(x.Linkname)
	e.setIDs(x.UID, x.GID)
	for k, v := range x.Xattrs {
		e.setXattr(k, v)
	}
	e.setDev(x.DevMajor, x.DevMinor)
	if x.HasText {
		e.setText(x.Text)
	}
	in.share(e)
}

func (x *Index) path(d v1.Hash) string {
	return filepath.Join(x.dir, d.Algorithm, d.Hex)
}

// load returns the walk stored for d under limits lim, or nil, its
// entries' strings shared through in. What is not usable is removed: why
// is returned for the log.
func (x *Index) load(d v1.Hash, lim Limits, in *interner) (w *walked, why string) {
	p := x.path(d)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ""
	}
	discard := func(why string) (*walked, string) {
		os.Remove(p)
		return nil, why
	}
	if err != nil {
		return discard(err.Error())
	}
	rest, ok := bytes.CutPrefix(b, indexMagic)
	if !ok || len(rest) < sha256.Size {
		return discard("not an index file")
	}
	sum, body := rest[:sha256.Size], rest[sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return discard("its content does not match its sum")
	}
	var r indexRecord
	if err := gob.NewDecoder(bytes.NewReader(body)).Decode(&r); err != nil {
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
	now := time.Now()
	os.Chtimes(p, now, now) // recently used
	w = &walked{Compression: r.Compression, DiffID: r.DiffID, Findings: r.Findings, Trailing: r.Trailing}
	for i := range r.Entries {
		r.Entries[i].entry(w.Entries.new(), in)
	}
	return w, ""
}

// store keeps w, the walk of layer d under limits lim, then evicts the
// least recently used layers beyond the bound.
func (x *Index) store(d v1.Hash, lim Limits, w *walked) error {
	r := indexRecord{Version: indexVersion, Digest: d.String(), Limits: lim, Compression: w.Compression,
		DiffID: w.DiffID, Findings: w.Findings, Trailing: w.Trailing, Entries: make([]indexEntry, 0, w.Entries.len())}
	for e := range w.Entries.all() {
		r.Entries = append(r.Entries, indexEntryOf(e))
	}
	var body bytes.Buffer
	if err := gob.NewEncoder(&body).Encode(&r); err != nil {
		return err
	}
	if int64(body.Len()) > x.maxBytes/2 {
		return nil // one layer may not push out most of the others
	}
	sum := sha256.Sum256(body.Bytes())
	p := x.path(d)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".store-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	for _, b := range [][]byte{indexMagic, sum[:], body.Bytes()} {
		if _, err := tmp.Write(b); err != nil {
			tmp.Close()
			return err
		}
	}
	if err := tmp.Close(); err != nil {
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
