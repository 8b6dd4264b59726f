package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/reprover/reprover/internal/limits"
	"github.com/reprover/reprover/internal/text"
)

// The kinds of archive Read opens.
const (
	Zip   = "zip" // jar and wheel too
	Tar   = "tar"
	TarGz = "tar.gz"
	Gzip  = "gzip" // a gzip stream that is not a tar: one member
)

// Archive is an archive's members, in the order it stores them.
type Archive struct {
	Kind    string
	Members []Member
}

// Member is one member of an archive. A tar member's Header is as
// archive/tar read it; a zip member's or a gzip stream's is made up of
// what they have (name, permission bits, time; a directory or a regular
// file, and its size). Content is the member's data: nil for a zip's
// directories, empty (not nil) for a member without data.
type Member struct {
	Header  tar.Header
	Content []byte
}

// Is tells whether b starts as an archive Read opens: a zip's local
// header, gzip's magic, or a ustar header.
func Is(b []byte) bool { return isZip(b) || isGzip(b) || IsTar(b) }

// IsTar tells whether b starts with a ustar (or GNU, or PAX) header.
func IsTar(b []byte) bool { return len(b) >= 512 && string(b[257:262]) == "ustar" }

func isZip(b []byte) bool  { return bytes.HasPrefix(b, []byte("PK\x03\x04")) }
func isGzip(b []byte) bool { return bytes.HasPrefix(b, []byte{0x1f, 0x8b}) }

// Read lists the members of the archive b with their contents, spending
// from bud: an error when b is malformed, over a limit (a *limits.Error),
// or ctx is done (ctx.Err()).
func Read(ctx context.Context, b []byte, bud *Budget) (*Archive, error) {
	switch {
	case isZip(b):
		return readZip(ctx, b, bud)
	case isGzip(b):
		c, h, err := inflate(ctx, b, bud)
		if err != nil {
			return nil, err
		}
		if IsTar(c) {
			a, err := readTar(ctx, c, bud)
			if err != nil {
				return nil, err
			}
			a.Kind = TarGz
			return a, nil
		}
		if err := bud.spendMembers(1); err != nil {
			return nil, err
		}
		name := h.Name
		if name == "" {
			name = "(gzip content)"
		}
		m := Member{Header: tar.Header{Name: name, Typeflag: tar.TypeReg, Size: int64(len(c)), ModTime: h.ModTime}, Content: c}
		return &Archive{Kind: Gzip, Members: []Member{m}}, nil
	case IsTar(b):
		return readTar(ctx, b, bud)
	}
	return nil, errors.New("not a zip, tar or gzip archive")
}

// inflate decompresses the gzip stream b, every member of it as gunzip
// does, at most MaxArchiveBytes and within what is left of bud; h is its
// last member's header.
func inflate(ctx context.Context, b []byte, bud *Budget) (_ []byte, h gzip.Header, _ error) {
	g, err := newGunzip(b)
	if err != nil {
		return nil, h, err
	}
	out, err := bud.reader(ctx).readAll(make([]byte, 0, 512), g)
	if err != nil {
		return nil, h, err
	}
	return out, g.last, nil
}

// SameInflated tells whether the gzip streams a and b decompress to the
// same bytes, reading both a chunk at a time (and no further than where
// they differ) within MaxArchiveBytes each and what is left of bud.
func SameInflated(ctx context.Context, a, b []byte, bud *Budget) (bool, error) {
	ga, err := newGunzip(a)
	if err != nil {
		return false, err
	}
	gb, err := newGunzip(b)
	if err != nil {
		return false, err
	}
	ra, rb := bud.reader(ctx), bud.reader(ctx)
	ca, cb := make([]byte, 0, readChunk), make([]byte, 0, readChunk)
	for {
		var errA, errB error
		ca, errA = ra.readFull(ca[:0], ga)
		cb, errB = rb.readFull(cb[:0], gb)
		switch {
		case errA != nil && errA != io.EOF:
			return false, errA
		case errB != nil && errB != io.EOF:
			return false, errB
		case !bytes.Equal(ca, cb):
			return false, nil
		case errA == io.EOF || errB == io.EOF:
			return errA == errB, nil
		}
	}
}

// HasMembers tells whether b is an archive of members: a zip, a tar, or
// a gzip stream of a tar (the first 512 bytes it decompresses to, read
// within bud, tell).
func HasMembers(ctx context.Context, b []byte, bud *Budget) (bool, error) {
	if isZip(b) || IsTar(b) {
		return true, nil
	}
	g, err := newGunzip(b)
	if err != nil {
		return false, nil
	}
	head, err := bud.reader(ctx).readFull(make([]byte, 0, 512), g)
	if err != nil && err != io.EOF {
		return false, err
	}
	return IsTar(head), nil
}

// gunzip reads the members of a gzip stream one after another, as gunzip
// does: one member per Read at most, so that the context is checked
// between members too (thousands of empty ones are one Read of
// gzip.Reader's own multistream mode). last is the header of the last
// member read to its end.
type gunzip struct {
	br   *bytes.Reader
	zr   *gzip.Reader
	last gzip.Header
}

func newGunzip(b []byte) (*gunzip, error) {
	br := bytes.NewReader(b)
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, err
	}
	zr.Multistream(false)
	return &gunzip{br: br, zr: zr}, nil
}

func (g *gunzip) Read(p []byte) (int, error) {
	n, err := g.zr.Read(p)
	if err != io.EOF {
		return n, err
	}
	g.last = g.zr.Header
	if err := g.zr.Reset(g.br); err != nil {
		return n, err // io.EOF: no member follows
	}
	g.zr.Multistream(false) // Reset turns it back on
	return n, nil
}

func readTar(ctx context.Context, b []byte, bud *Budget) (*Archive, error) {
	r := bud.reader(ctx)
	tr := tar.NewReader(bytes.NewReader(b))
	a := &Archive{Kind: Tar}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h, err := tr.Next()
		if err == io.EOF {
			return a, nil
		}
		if err != nil {
			return nil, err
		}
		if len(a.Members) >= bud.lim.MaxArchiveMembers {
			return nil, tooManyMembers(bud, len(a.Members)+1)
		}
		if err := bud.spendMembers(1); err != nil {
			return nil, err
		}
		c, err := r.readAll(make([]byte, 0, 512), tr)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", text.Truncate(h.Name, 200), err)
		}
		a.Members = append(a.Members, Member{Header: *h, Content: c})
	}
}

// zipDirPerMember is how many bytes of a zip's central directory each
// member it may have allows: archive/zip reads the whole directory,
// however many records it holds (a count that lies is only checked
// modulo 65536), before anything can count them.
const zipDirPerMember = 1 << 10

func readZip(ctx context.Context, b []byte, bud *Budget) (*Archive, error) {
	maxDir := 64<<10 + int64(bud.lim.MaxArchiveMembers)*zipDirPerMember // and the end record's search
	dir := &boundedAt{r: bytes.NewReader(b), left: maxDir}
	zr, err := zip.NewReader(dir, int64(len(b)))
	if dir.over {
		return nil, &limits.Error{What: "zip central directory, in KiB (1 KiB a member)", Limit: "MaxArchiveMembers",
			Max: int64(bud.lim.MaxArchiveMembers), Got: (maxDir - dir.left) / zipDirPerMember}
	}
	if err != nil {
		return nil, err
	}
	dir.lifted = true // the members' data: bounded as it is decompressed
	if len(zr.File) > bud.lim.MaxArchiveMembers {
		return nil, tooManyMembers(bud, len(zr.File))
	}
	if err := bud.spendMembers(int64(len(zr.File))); err != nil {
		return nil, err
	}
	r := bud.reader(ctx)
	a := &Archive{Kind: Zip}
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m := Member{Header: tar.Header{Name: f.Name, Mode: int64(f.Mode().Perm()), ModTime: f.Modified, Typeflag: tar.TypeReg}}
		if f.FileInfo().IsDir() {
			m.Header.Typeflag = tar.TypeDir
		} else {
			rc, err := f.Open()
			if err != nil {
				return nil, fmt.Errorf("%q: %w", text.Truncate(f.Name, 200), err)
			}
			m.Content, err = r.readAll(make([]byte, 0, 512), rc)
			rc.Close()
			if err != nil {
				return nil, fmt.Errorf("%q: %w", text.Truncate(f.Name, 200), err)
			}
			m.Header.Size = int64(len(m.Content))
		}
		a.Members = append(a.Members, m)
	}
	return a, nil
}

func tooManyMembers(bud *Budget, got int) error {
	return &limits.Error{What: "members of an archive inside a file", Limit: "MaxArchiveMembers", Max: int64(bud.lim.MaxArchiveMembers), Got: int64(got)}
}

// boundedAt fails, and says it is over, once more than left bytes were
// asked of it, until the bound is lifted.
type boundedAt struct {
	r            io.ReaderAt
	left         int64
	over, lifted bool
}

var errDirTooLarge = errors.New("zip central directory too large")

func (b *boundedAt) ReadAt(p []byte, off int64) (int, error) {
	if !b.lifted {
		if b.left -= int64(len(p)); b.left < 0 {
			b.over = true
			return 0, errDirTooLarge
		}
	}
	return b.r.ReadAt(p, off)
}

// reader reads what one archive yields, for one Budget.
type reader struct {
	ctx  context.Context
	bud  *Budget
	left int64 // of MaxArchiveBytes
}

func (b *Budget) reader(ctx context.Context) *reader {
	return &reader{ctx: ctx, bud: b, left: b.lim.MaxArchiveBytes}
}

// readChunk is the most read between two checks of the context.
const readChunk = 64 << 10

// readAll appends what src yields to dst, up to its EOF: an error past
// the archive's bytes or the budget's, or once the context is done.
func (r *reader) readAll(dst []byte, src io.Reader) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		var err error
		if dst, err = r.read(dst, src); err == io.EOF {
			return dst, nil
		} else if err != nil {
			return nil, err
		}
	}
}

// readFull fills dst up to its capacity from src; io.EOF when src ended
// first (dst then holds what it had).
func (r *reader) readFull(dst []byte, src io.Reader) ([]byte, error) {
	for len(dst) < cap(dst) {
		var err error
		if dst, err = r.read(dst, src); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// read appends one Read of src, at most readChunk bytes, to dst (which
// has room): an error past the archive's bytes or the budget's, or once
// the context is done; src's io.EOF as it is.
func (r *reader) read(dst []byte, src io.Reader) ([]byte, error) {
	if err := r.ctx.Err(); err != nil {
		return nil, err
	}
	// One byte past either bound is enough to know it is over.
	n := min(int64(cap(dst)-len(dst)), readChunk, r.left+1, r.bud.left()+1)
	got, err := src.Read(dst[len(dst) : len(dst)+int(n)])
	dst = dst[:len(dst)+got]
	if got > 0 {
		r.left -= int64(got)
		total := r.bud.spendBytes(int64(got))
		if r.left < 0 {
			return nil, &limits.Error{What: "bytes of an archive inside a file", Limit: "MaxArchiveBytes",
				Max: r.bud.lim.MaxArchiveBytes, Got: r.bud.lim.MaxArchiveBytes - r.left}
		}
		if total != nil {
			return nil, total
		}
	}
	return dst, err
}
