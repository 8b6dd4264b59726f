package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"iter"
	"path"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/text"
)

// Finding is something hostile or odd in a layer, reported as it is.
type Finding struct {
	Path    string `json:"path,omitempty"`
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// Walked is one layer read to the end: what it was compressed with, the
// digest of its uncompressed bytes, its entries (on disk, in a scratch
// file: Entries) and what was found odd or hostile in it.
type Walked struct {
	Compression Compression
	DiffID      string
	// entries are the layer's entries, in a scratch file (spill.go).
	entries  *Runs
	Findings []Finding
	// Trailing is what follows the tar end-of-archive marker, without
	// its final run of zeros: zero padding is encoding, anything else
	// is content an unpacker never shows.
	Trailing Trailing
}

// Entries are the walk's entries, on disk; nil for a walk that only
// hashed the layer (Options.HashOnly).
func (w *Walked) Entries() *Runs { return w.entries }

// All yields the walk's entries in tree order (a directory, then what
// is under it; a path's entries in tar order) with a nil error, and
// stops with a nil entry and the error when the scratch file cannot be
// read back.
func (w *Walked) All() iter.Seq2[*Entry, error] {
	return func(yield func(*Entry, error) bool) {
		st := NewStream(0, w.entries)
		var rs []Rec
		for p, ok := st.Peek(); ok; p, ok = st.Peek() {
			rs = st.Take(p, rs[:0])
			for _, r := range rs {
				if !yield(r.Entry, nil) {
					return
				}
			}
		}
		if err := st.Err(); err != nil {
			yield(nil, err)
		}
	}
}

// Remove removes the scratch file of the walk's entries.
func (w *Walked) Remove() { w.entries.remove() }

// Borrow gives w, a walk that only hashed its layer, the entries,
// findings and trailing data of t, a walk of a layer found to have the
// same uncompressed bytes (the same DiffID). They are shared: only one of
// the two is removed.
func (w *Walked) Borrow(t *Walked) {
	w.entries, w.Findings, w.Trailing = t.entries, t.Findings, t.Trailing
}

// The names of whiteout markers (OCI image spec, "Whiteouts").
const (
	WhiteoutPrefix = ".wh."
	WhiteoutOpaque = ".wh..wh..opq"
)

// Options say how a layer is walked and what the walk keeps.
type Options struct {
	Limits Limits // with defaults
	// Gunzip is how gzip is decompressed (NewGunzipper); the zero value
	// is the Go decoder.
	Gunzip Gunzipper
	// Total counts the uncompressed bytes of every walk that shares it,
	// bounded by Limits.MaxTotalBytes; nil counts this walk's alone.
	Total *atomic.Int64
	// Scratch is the directory the entries are kept in.
	Scratch string
	// HashOnly: the layer is only decompressed and hashed; the walk has
	// its compression and diffID, no entries (Walked.Borrow).
	HashOnly bool
	// Bare: the entries without the digests of their contents, nor text
	// (for a caller that compares them with nothing but themselves).
	Bare bool
}

// Walk decompresses and walks one layer. It reads the stream to its end,
// so the digest check of the compressed bytes and the diffID cover every
// byte, including bytes after the tar end-of-archive blocks; the diffID
// found must be the one l claims. The caller removes the walk (Remove).
func Walk(ctx context.Context, l image.Layer, o Options) (*Walked, error) {
	what := fmt.Sprintf("layer %d %s", l.Index+1, l.Descriptor.Digest) // counted from 1, as people do
	o.Gunzip = o.Gunzip.forSize(l.Descriptor.Size)
	w, err := WalkOpened(ctx, l.Open, what, o)
	if err != nil {
		return nil, err
	}
	if l.DiffID.Hex != "" && w.DiffID != l.DiffID.String() {
		return nil, fmt.Errorf("%s: uncompressed content hashes to %s, the config's diff_id is %s", what, w.DiffID, l.DiffID)
	}
	return w, nil
}

// WalkOpened walks the compressed bytes open returns, as Walk walks a
// layer's (what names them in errors) but without a diffID to check. When
// igzip cannot prove it reads the stream as Go would (errNotOneMember),
// it walks it again, with Go.
func WalkOpened(ctx context.Context, open func(context.Context) (io.ReadCloser, error), what string, o Options) (*Walked, error) {
	if o.Total == nil {
		o.Total = new(atomic.Int64)
	}
	walk := func(gz Gunzipper) (*Walked, error) {
		rc, err := open(ctx)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return walkStream(ctx, rc, what, gz, o)
	}
	w, err := walk(o.Gunzip)
	if errors.Is(err, errNotOneMember) {
		w, err = walk(Gunzipper{})
	}
	return w, err
}

// walkStream walks the compressed bytes rc, reading it to its end, with
// gz for gzip.
func walkStream(ctx context.Context, rc io.Reader, what string, gz Gunzipper, o Options) (_ *Walked, err error) {
	lim, total := o.Limits, o.Total
	dec, err := newDecompressor(ctx, ctxReader{ctx, rc}, lim, gz)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer dec.Close()
	// Two stages on two cores: decompressing and hashing the tar stream
	// (diffID) ahead, walking the tar and hashing each file here.
	m := newMeter(dec, what, lim, total)
	ahead := readAhead(m)
	defer func() {
		ahead.Close() // before dec.Close, and before m is read
		if errors.Is(err, errNotOneMember) {
			total.Add(-m.n) // read again: counted then
		}
	}()
	w := &Walked{Compression: dec.Found}
	if o.HashOnly {
		if _, err := io.Copy(io.Discard, ahead); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		ahead.Close()
		if _, err := io.Copy(io.Discard, rc); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		w.DiffID = m.digest()
		return w, nil
	}
	rw, err := newRunWriter(o.Scratch)
	if err != nil {
		return nil, err
	}
	if err := w.readTar(ahead, lim, what, rw, o.Bare); err != nil {
		rw.abort()
		return nil, err
	}
	if w.entries, err = rw.close(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			w.entries.remove()
		}
	}()
	// Whatever follows the end-of-archive marker is invisible to an
	// unpacker but part of the diffID: count it and say so.
	tc := newTrailingCounter()
	if _, err := io.Copy(tc, ahead); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	ahead.Close()
	w.Trailing = tc.result()
	if w.Trailing.NonZero > 0 {
		w.Findings = append(w.Findings, Finding{Kind: "trailingData",
			Message: fmt.Sprintf("%d bytes (%d non-zero) after the tar end-of-archive marker, ignored by unpackers", w.Trailing.Bytes, w.Trailing.NonZero)})
	}
	// Drain the raw stream too: the digest check runs at its EOF.
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	w.DiffID = m.digest()
	return w, nil
}

func (w *Walked) readTar(r io.Reader, lim Limits, what string, rw *runWriter, bare bool) error {
	eof := &eofSeen{r: r}
	tr := tar.NewReader(eof)
	// One copy buffer for the walk: io.Copy would allocate one per file.
	t := &tarRead{lim: lim, what: what, buf: make([]byte, 32<<10), textBudget: lim.MaxTextBytes}
	for n := 0; ; n++ {
		h, err := tr.Next()
		if err == io.EOF {
			// archive/tar ends quietly where the stream does: it looked
			// for a header there only when the marker was not whole.
			if eof.seen {
				w.Findings = append(w.Findings, Finding{Kind: "noEndOfArchive",
					Message: "the tar stream ends without its end-of-archive marker (two zero blocks); read to its end, as unpackers do"})
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: tar entry %d: %w", what, n, err)
		}
		if err := t.header(n, h); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			// A PAX global header is not a file: unpackers (containerd,
			// Docker) skip it. Its records are shown, not applied.
			w.Findings = append(w.Findings, Finding{Kind: "paxGlobalHeader",
				Message: fmt.Sprintf("PAX global header with %d record(s), ignored as unpackers do", len(h.PAXRecords))})
			continue
		}
		e, findings := entryOf(rw.new(), h)
		w.Findings = append(w.Findings, findings...)
		regular := h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeGNUSparse || h.Typeflag == '7'
		// Data on a directory, device or FIFO is not unpacked; it is
		// hashed so two layers cannot differ there unnoticed.
		stray := !regular && h.Size != 0 && h.Typeflag != tar.TypeLink && h.Typeflag != tar.TypeSymlink
		switch {
		case bare:
			// The tar reader skips the contents.
		case regular:
			err = t.file(tr, e, h)
		case stray:
			err = t.stray(tr, e)
		}
		if err != nil {
			return err
		}
		if stray {
			w.Findings = append(w.Findings, dataOnNonFile(e, h))
		}
	}
}

// tarRead is what a walk counts and keeps as it reads a tar: the bytes
// of headers and contents, against their limits, and the text budget.
type tarRead struct {
	lim          Limits
	what         string
	buf          []byte // the copy buffer
	textBudget   int64
	contentBytes int64
	headerBytes  int64
}

// header counts the n-th entry, h, against the limits of headers.
func (t *tarRead) header(n int, h *tar.Header) error {
	if n >= t.lim.MaxEntries {
		return &LimitError{What: t.what + " tar entries", Limit: "MaxEntries", Max: int64(t.lim.MaxEntries), Got: int64(n + 1)}
	}
	// archive/tar lets every header carry up to 1 MiB of PAX records
	// and as much again of GNU long names: bound what the entries keep
	// of them, or a few MiB of gzip would hold GiBs of names.
	t.headerBytes += keptHeaderBytes(h)
	if t.headerBytes > t.lim.MaxHeaderBytes {
		return &LimitError{What: t.what + " tar header names, link targets and xattrs", Limit: "MaxHeaderBytes", Max: t.lim.MaxHeaderBytes, Got: t.headerBytes}
	}
	return nil
}

// file hashes the content of e, a regular file, and keeps it when it is
// text within the budget.
func (t *tarRead) file(tr io.Reader, e *Entry, h *tar.Header) error {
	hw := sha256.New()
	var keep *bytes.Buffer
	if h.Size <= t.lim.MaxTextFile && h.Size <= t.textBudget && !e.Whiteout && !e.Opaque {
		keep = bytes.NewBuffer(make([]byte, 0, max(h.Size, 0))) // within MaxTextFile
	}
	dst := io.Writer(hw)
	if keep != nil {
		dst = io.MultiWriter(hw, keep)
	}
	left := t.lim.MaxLayerBytes - t.contentBytes
	got, err := io.CopyBuffer(dst, io.LimitReader(tr, left+1), t.buf)
	t.contentBytes += got
	if err != nil {
		return fmt.Errorf("%s: %s: %w", t.what, e.Path, err)
	}
	if got > left {
		return &LimitError{What: t.what + " file contents", Limit: "MaxLayerBytes", Max: t.lim.MaxLayerBytes, Got: t.contentBytes}
	}
	if got != h.Size {
		return fmt.Errorf("%s: %s: read %d bytes, header says %d", t.what, e.Path, got, h.Size)
	}
	e.SetDigest(hw.Sum(nil))
	if keep != nil && isText(keep.Bytes()) {
		e.SetText(keep.Bytes())
		t.textBudget -= int64(keep.Len())
	}
	return nil
}

// stray hashes the data on e, an entry that is not a regular file.
func (t *tarRead) stray(tr io.Reader, e *Entry) error {
	hw := sha256.New()
	got, err := io.CopyBuffer(hw, io.LimitReader(tr, t.lim.MaxLayerBytes-t.contentBytes+1), t.buf)
	t.contentBytes += got
	if err != nil {
		return fmt.Errorf("%s: %s: %w", t.what, e.Path, err)
	}
	if t.contentBytes > t.lim.MaxLayerBytes {
		return &LimitError{What: t.what + " file contents", Limit: "MaxLayerBytes", Max: t.lim.MaxLayerBytes, Got: t.contentBytes}
	}
	e.SetDigest(hw.Sum(nil))
	return nil
}

// keptHeaderBytes is what an Entry keeps of h: its names and xattrs.
func keptHeaderBytes(h *tar.Header) int64 {
	n := int64(len(h.Name) + len(h.Linkname))
	for k, v := range h.PAXRecords {
		if strings.HasPrefix(k, "SCHILY.xattr.") || strings.HasPrefix(k, "LIBARCHIVE.xattr.") {
			n += int64(len(k) + len(v))
		}
	}
	return n
}

// entryOf fills e in from a tar header, with findings for hostile names.
func entryOf(e *Entry, h *tar.Header) (*Entry, []Finding) {
	var fs []Finding
	p, local := Normalize(h.Name)
	if !local {
		fs = append(fs, Finding{Path: p, Kind: "nonLocalName", Message: fmt.Sprintf("entry name %q is not local to the layer root", text.Truncate(h.Name, 200))})
	}
	if !utf8.ValidString(h.Name) {
		fs = append(fs, Finding{Path: p, Kind: "invalidUTF8", Message: "entry name is not valid UTF-8"})
	}
	if strings.ContainsRune(h.Name, 0) || strings.Contains(h.Name, `\`) {
		fs = append(fs, Finding{Path: p, Kind: "oddName", Message: "entry name contains a NUL or a backslash"})
	}
	if c := longestComponent(h.Name); c > nameMax {
		fs = append(fs, Finding{Path: p, Kind: "longName", Message: fmt.Sprintf("entry name has a %d-byte component; Linux allows %d", c, nameMax)})
	}
	*e = Entry{
		Path: p,
		Mode: uint32(h.Mode & 07777),
		Size: h.Size,
	}
	e.SetIDs(int64(h.Uid), int64(h.Gid))
	e.SetLinkname(h.Linkname)
	e.SetModTime(h.ModTime)
	e.SetDev(h.Devmajor, h.Devminor)
	e.Type = TarKind(h.Typeflag)
	switch e.Type {
	case KindHardlink:
		lp, llocal := Normalize(h.Linkname)
		e.SetLinkname(lp)
		if !llocal {
			fs = append(fs, Finding{Path: p, Kind: "nonLocalLink", Message: fmt.Sprintf("hard link target %q is not local to the layer root", text.Truncate(h.Linkname, 200))})
		}
	case KindUnknown:
		e.typeflag = h.Typeflag
		fs = append(fs, Finding{Path: p, Kind: "unknownType", Message: fmt.Sprintf("unknown tar typeflag %q", h.Typeflag)})
	}
	// Absolute targets are ordinary (they resolve inside the container's
	// root); a relative one that climbs above the root is not.
	if e.Type == KindSymlink && escapes(path.Dir(p), h.Linkname) {
		fs = append(fs, Finding{Path: p, Kind: "escapingSymlink", Message: fmt.Sprintf("symlink target %q climbs above the root; it is compared as data, never followed", text.Truncate(h.Linkname, 200))})
	}
	for k, v := range h.PAXRecords {
		switch {
		case strings.HasPrefix(k, "SCHILY.xattr."):
			e.SetXattr(strings.TrimPrefix(k, "SCHILY.xattr."), v)
		case strings.HasPrefix(k, "LIBARCHIVE.xattr."):
			val := v
			if b, err := base64.StdEncoding.DecodeString(v); err == nil {
				val = string(b)
			}
			e.SetXattr(strings.TrimPrefix(k, "LIBARCHIVE.xattr."), val)
		}
	}
	// SplitPath, not path.Dir: a non-local marker keeps its "..", so
	// "../../etc/.wh.passwd" cannot whiteout /etc/passwd in the merged
	// view (path.Dir would clean it to /etc).
	dir, base := SplitPath(p)
	switch {
	case base == WhiteoutOpaque:
		e.Opaque, e.Path = true, dir
	case strings.HasPrefix(base, WhiteoutPrefix):
		target := strings.TrimPrefix(base, WhiteoutPrefix)
		if target == "" || target == "." || target == ".." || strings.HasPrefix(target, WhiteoutPrefix) {
			fs = append(fs, Finding{Path: p, Kind: "invalidWhiteout", Message: fmt.Sprintf("whiteout %q names no valid entry; ignored as an unpacker would", base)})
			e.Type, e.typeflag = KindWhiteout, 0
			e.Whiteout, e.Path = true, p // matches nothing
			break
		}
		if e.Type != KindFile {
			fs = append(fs, Finding{Path: p, Kind: "oddWhiteout", Message: fmt.Sprintf("whiteout marker %q is a %s, not a file", base, e.TypeName())})
		}
		e.Whiteout, e.Path = true, JoinPath(dir, target)
		e.Type, e.typeflag = KindWhiteout, 0
	}
	return e, fs
}

// TarKind is the type an unpacker gives a tar typeflag: KindUnknown for
// one it does not know.
func TarKind(flag byte) Kind {
	switch flag {
	case tar.TypeReg, '\x00', '7', tar.TypeGNUSparse: // '\x00': pre-POSIX regular file
		return KindFile
	case tar.TypeDir:
		return KindDir
	case tar.TypeSymlink:
		return KindSymlink
	case tar.TypeLink:
		return KindHardlink
	case tar.TypeChar:
		return KindChar
	case tar.TypeBlock:
		return KindBlock
	case tar.TypeFifo:
		return KindFifo
	}
	return KindUnknown
}

func isText(b []byte) bool {
	return utf8.Valid(b) && !bytes.ContainsRune(b, 0)
}

// ctxReader stops a stream when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// MediaTypeFinding reports a media type whose compression is not the one
// found in the bytes. It is judged per image listing the blob (walks are
// shared by digest, media types are not).
func MediaTypeFinding(mt types.MediaType, found Compression) []Finding {
	if want := DeclaredCompression(mt); want != "" && want != found {
		return []Finding{{Kind: "mediaTypeMismatch", Message: fmt.Sprintf("media type %s claims %s, content is %s", mt, want, found)}}
	}
	return nil
}

// eofSeen tells whether a read of r met its end.
type eofSeen struct {
	r    io.Reader
	seen bool
}

func (e *eofSeen) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		e.seen = true
	}
	return n, err
}

func dataOnNonFile(e *Entry, h *tar.Header) Finding {
	return Finding{Path: e.Path, Kind: "dataOnNonFile", Message: fmt.Sprintf("%s entry carries %d bytes of data", e.TypeName(), h.Size)}
}
