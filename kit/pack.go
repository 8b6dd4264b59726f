package kit

import (
	"bufio"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/reprover/reprover/internal/limits"
)

// Git's pack object types (gitformat-pack(5)). A commit's objects are a
// commit, trees and blobs; a tag, or type 5, is refused.
const (
	objCommit   = 1
	objTree     = 2
	objBlob     = 3
	objOfsDelta = 6
	objRefDelta = 7
)

// checkPack reads a git packfile (version 2 or 3, object ids of idLen
// bytes) to its end, before git reads it, so that what git is given is
// bounded: at most lim.MaxSourceEntries objects, each object's size (a
// delta's result size) and their sum at most lim.MaxSourceBytes, each
// entry inflating to exactly the size its header declares, nothing after
// the trailing checksum. git index-pack allocates from the header's count
// and an object's declared size, and a delta of a few bytes can declare a
// result of gigabytes: those numbers are judged here first. The checksum
// and the object ids are git's to compute.
func checkPack(r io.Reader, idLen int, lim Limits) (int, error) {
	cr := &countingReader{r: bufio.NewReaderSize(r, 64<<10)}
	var hdr [12]byte
	if _, err := io.ReadFull(cr, hdr[:]); err != nil {
		return 0, fmt.Errorf("pack header: %w", unexpected(err))
	}
	if string(hdr[:4]) != "PACK" {
		return 0, fmt.Errorf("not a git pack: it starts %q", hdr[:4])
	}
	if v := binary.BigEndian.Uint32(hdr[4:8]); v != 2 && v != 3 {
		return 0, fmt.Errorf("git pack version %d (git writes 2 or 3)", v)
	}
	count := int64(binary.BigEndian.Uint32(hdr[8:12]))
	if count > int64(lim.MaxSourceEntries) {
		return 0, &limits.Error{What: "source objects (the pack's header)", Limit: "MaxSourceEntries", Max: int64(lim.MaxSourceEntries), Got: count}
	}
	var total int64
	var zr io.ReadCloser
	for i := range count {
		at := cr.n
		typ, size, err := entryHeader(cr)
		if err != nil {
			return 0, fmt.Errorf("pack object %d at offset %d: %w", i, at, err)
		}
		switch typ {
		case objCommit, objTree, objBlob:
		case objOfsDelta:
			if err := skipOffset(cr); err != nil {
				return 0, fmt.Errorf("pack object %d at offset %d: %w", i, at, err)
			}
		case objRefDelta:
			if _, err := io.CopyN(io.Discard, cr, int64(idLen)); err != nil {
				return 0, fmt.Errorf("pack object %d at offset %d: %w", i, at, unexpected(err))
			}
		default:
			return 0, fmt.Errorf("pack object %d at offset %d: type %d: a commit's objects are a commit, trees and blobs", i, at, typ)
		}
		if size > lim.MaxSourceBytes {
			return 0, fmt.Errorf("pack object %d at offset %d: %w", i, at, &limits.Error{What: "source object bytes", Limit: "MaxSourceBytes", Max: lim.MaxSourceBytes, Got: size})
		}
		if zr == nil {
			zr, err = zlib.NewReader(cr)
		} else {
			err = zr.(zlib.Resetter).Reset(cr, nil)
		}
		if err != nil {
			return 0, fmt.Errorf("pack object %d at offset %d: %w", i, at, unexpected(err))
		}
		body := &countingReader{r: bufio.NewReaderSize(io.LimitReader(zr, size+1), 64)}
		result := size
		if typ == objOfsDelta || typ == objRefDelta {
			// A delta starts with its base's size and its result's.
			if _, err := deltaSize(body); err != nil {
				return 0, fmt.Errorf("pack object %d at offset %d: delta: %w", i, at, err)
			}
			if result, err = deltaSize(body); err != nil {
				return 0, fmt.Errorf("pack object %d at offset %d: delta: %w", i, at, err)
			}
			if result > lim.MaxSourceBytes {
				return 0, fmt.Errorf("pack object %d at offset %d: a delta's result: %w", i, at, &limits.Error{What: "source object bytes", Limit: "MaxSourceBytes", Max: lim.MaxSourceBytes, Got: result})
			}
		}
		if total += max(size, result); total > lim.MaxSourceBytes {
			return 0, fmt.Errorf("pack object %d at offset %d: %w", i, at, &limits.Error{What: "source bytes (objects 0.." + fmt.Sprint(i) + ")", Limit: "MaxSourceBytes", Max: lim.MaxSourceBytes, Got: total})
		}
		if _, err := io.Copy(io.Discard, body); err != nil {
			return 0, fmt.Errorf("pack object %d at offset %d: %w", i, at, unexpected(err))
		}
		if body.n != size {
			return 0, fmt.Errorf("pack object %d at offset %d: inflates to %s bytes, its header says %d", i, at, moreThan(body.n, size), size)
		}
		// The zlib stream's end and checksum: the next entry starts after.
		if _, err := zr.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("pack object %d at offset %d: its zlib stream does not end after %d bytes: %w", i, at, size, unexpected(err))
		}
	}
	if _, err := io.CopyN(io.Discard, cr, int64(idLen)); err != nil {
		return 0, fmt.Errorf("the pack's checksum: %w", unexpected(err))
	}
	if n, err := io.Copy(io.Discard, cr); err != nil {
		return 0, err // the blob's own digest or size check, at its end
	} else if n > 0 {
		return 0, fmt.Errorf("%d bytes after the pack's checksum", n)
	}
	return int(count), nil
}

// entryHeader reads an entry's type and (inflated) size.
func entryHeader(r io.ByteReader) (int, int64, error) {
	b, err := r.ReadByte()
	if err != nil {
		return 0, 0, unexpected(err)
	}
	typ, size, shift := int(b>>4&7), int64(b&15), 4
	for b&0x80 != 0 {
		if b, err = r.ReadByte(); err != nil {
			return 0, 0, unexpected(err)
		}
		if shift > 56 {
			return 0, 0, fmt.Errorf("a size of more than 63 bits")
		}
		size |= int64(b&0x7f) << shift
		shift += 7
	}
	return typ, size, nil
}

// skipOffset reads an OFS_DELTA's base offset (git checks where it points).
func skipOffset(r io.ByteReader) error {
	for i := 0; ; i++ {
		b, err := r.ReadByte()
		if err != nil {
			return unexpected(err)
		}
		if b&0x80 == 0 {
			return nil
		}
		if i > 9 {
			return fmt.Errorf("a delta base offset of more than 64 bits")
		}
	}
}

// deltaSize reads one of a delta's leading sizes.
func deltaSize(r io.ByteReader) (int64, error) {
	var size int64
	for shift := 0; ; shift += 7 {
		b, err := r.ReadByte()
		if err != nil {
			return 0, unexpected(err)
		}
		if shift > 56 {
			return 0, fmt.Errorf("a size of more than 63 bits")
		}
		size |= int64(b&0x7f) << shift
		if b&0x80 == 0 {
			return size, nil
		}
	}
}

// countingReader counts what it reads; it is an io.ByteReader, so
// compress/flate reads no further than its stream's end.
type countingReader struct {
	r *bufio.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func moreThan(n, size int64) string {
	if n > size {
		return fmt.Sprintf("more than %d", size)
	}
	return fmt.Sprint(n)
}
