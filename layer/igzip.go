package layer

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"

	"github.com/klauspost/compress/gzip"
)

// igzipEndMarker is how many random bytes end the member appended to
// every stream given to igzip.
const igzipEndMarker = 32

// pipeSize is the capacity asked for igzip's standard input and output
// (Linux's default is 64 KiB; /proc/sys/fs/pipe-max-size, 1 MiB by
// default, bounds what a process without CAP_SYS_RESOURCE may ask): igzip
// reads and writes 1 MiB at a time, and a pipe that holds it lets each
// side run without waking the other every 64 KiB.
const pipeSize = 1 << 20

// maxIgzipStderr is what is kept of igzip's error output.
const maxIgzipStderr = 4 << 10

// igzip decompresses the gzip stream src with `igzip -dc` as a
// subprocess: src is copied to its standard input by a goroutine while
// its standard output is read, so decompression runs on another core
// than the tar walk and hashing. The process is killed when ctx ends or
// the reader is closed; its exit status is checked at the end of its
// output, and a failure is an error naming it.
//
// igzip accepts two things the Go decoder (and so the rest of this
// package) refuses, and the stream is checked for both:
//
//   - It stops, successfully, at the first bytes after a member that are
//     not a gzip header: trailing garbage, zero padding. So one more member
//     is appended to src, decompressing to random bytes, and those bytes
//     must end the output: if igzip stopped before it, or read it as part
//     of another member, they are missing and the stream is refused
//     (gzip.ErrHeader, as Go says). Being random, no layer can forge them.
//   - It accepts member headers Go refuses: reserved flag bits set (RFC
//     1952 says to refuse them), a name or comment of 512 bytes or more.
//     The first header is checked by Go's rules before igzip starts
//     (gzipHeaderErr). Later members are rare (every tool writes one),
//     and their headers are hidden in the stream: the stream is proved to
//     be read alike, or read again in Go (errNotOneMember). Alike means:
//     the trailer that ends the stream holds the CRC-32 and size of the
//     whole output, so no member before the last put out anything; and
//     wherever an empty member's trailer (eight zero bytes) is followed by
//     a gzip magic, the header there is one Go accepts (memberScan).
//     Not covered: a member before the last that puts out exactly a
//     multiple of 4 GiB crafted to keep the CRC-32 of the whole — it can
//     only hide a header Go refuses; the content is still what igzip (and
//     pigz) unpack.
type igzip struct {
	ctx    context.Context
	cmd    *exec.Cmd
	out    io.ReadCloser
	stderr *capped
	marker []byte
	fed    chan struct{} // closed when the feeder is done, feedErr set
	// feedErr is src's own error (a digest mismatch, the context, the
	// registry), or an error writing to igzip (it exited early).
	feedErr error
	once    sync.Once
	scan    *memberScan // of src, by the feeder
	crc     uint32      // CRC-32 of the output returned
	size    int64

	// buf holds output read and not yet returned, buf[start:end]: the
	// last bytes, which may be the end marker; and, for a Read into a
	// p shorter than buf, what is read for it.
	buf        []byte
	start, end int
	rerr       error // from out
	err        error // sticky: what Read returns once out has ended
}

func startIgzip(ctx context.Context, path string, src io.Reader) (*igzip, error) {
	z := &igzip{ctx: ctx, stderr: &capped{max: maxIgzipStderr}, marker: make([]byte, igzipEndMarker),
		fed: make(chan struct{}), buf: make([]byte, 4<<10), scan: &memberScan{r: src}}
	if _, err := rand.Read(z.marker); err != nil {
		return nil, err
	}
	var end bytes.Buffer
	zw := gzip.NewWriter(&end)
	zw.Write(z.marker)
	zw.Close()

	z.cmd = exec.CommandContext(ctx, path, "-dc")
	z.cmd.Stderr = z.stderr
	stdin, err := z.cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if z.out, err = z.cmd.StdoutPipe(); err != nil {
		return nil, err
	}
	for _, p := range []any{z.cmd.Stdin, z.out} {
		if f, ok := p.(*os.File); ok {
			growPipe(f)
		}
	}
	if err := z.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", path, err)
	}
	go func() {
		// The end member goes in only after src's end, which the
		// digest check of the compressed bytes passed.
		_, err := io.Copy(stdin, io.MultiReader(z.scan, bytes.NewReader(end.Bytes())))
		z.feedErr = err
		close(z.fed)
		stdin.Close()
	}()
	return z, nil
}

// Read returns igzip's output without the end marker, and at its end the
// first of: src's error, igzip's failure, a missing end marker, io.EOF.
func (z *igzip) Read(p []byte) (int, error) {
	k := len(z.marker)
	for {
		if n := z.end - z.start - k; n > 0 {
			n = copy(p, z.buf[z.start:z.start+n])
			z.start += n
			z.crc = crc32.Update(z.crc, crc32.IEEETable, p[:n])
			z.size += int64(n)
			return n, nil
		}
		if z.err != nil {
			return 0, z.err
		}
		if z.rerr != nil {
			z.err = z.finish(z.buf[z.start:z.end])
			return 0, z.err
		}
		// At most k bytes are held here now.
		if len(p) >= len(z.buf) {
			// Into p itself, after what is held; the last k bytes are
			// held back again.
			h := copy(p, z.buf[z.start:z.end])
			var n int
			n, z.rerr = z.out.Read(p[h:])
			t := h + n
			keep := min(t, k)
			z.start, z.end = 0, copy(z.buf, p[t-keep:t])
			if n := t - keep; n > 0 {
				z.crc = crc32.Update(z.crc, crc32.IEEETable, p[:n])
				z.size += int64(n)
				return n, nil
			}
			continue
		}
		if z.start > 0 {
			z.end = copy(z.buf, z.buf[z.start:z.end])
			z.start = 0
		}
		var n int
		n, z.rerr = z.out.Read(z.buf[z.end:])
		z.end += n
	}
}

// finish judges the end of igzip's output, tail being what is held back.
func (z *igzip) finish(tail []byte) error {
	var werr error
	z.once.Do(func() { werr = z.cmd.Wait() }) // the output has ended: it may now be closed
	if err := z.ctx.Err(); err != nil {
		return err
	}
	// src's own error first: igzip fails on the truncated input it leaves.
	select {
	case <-z.fed:
		if z.feedErr != nil && !errors.Is(z.feedErr, syscall.EPIPE) {
			return z.feedErr
		}
	default:
	}
	if werr != nil {
		return z.failed(werr)
	}
	if z.rerr != io.EOF {
		return fmt.Errorf("reading igzip's output: %w", z.rerr)
	}
	if !bytes.Equal(tail, z.marker) {
		return fmt.Errorf("%w: bytes after the last gzip member (igzip)", gzip.ErrHeader)
	}
	<-z.fed // igzip read the end member: src was read to its end
	if z.feedErr != nil {
		return z.feedErr
	}
	if !z.scan.alike(z.crc, z.size) {
		return errNotOneMember
	}
	return io.EOF
}

// errNotOneMember asks for the layer to be read again in Go: igzip read
// it, but is not proved to have read it as Go does (several members that
// put out bytes, or a later member's header Go may refuse).
var errNotOneMember = errors.New("igzip: not proved to read this gzip stream as Go does (several members), read again in Go")

// maxGzipHeader is the longest member header Go's reader accepts: 10
// bytes, an extra field (2 bytes of length, at most 65,535 of data), a
// name and a comment of at most 512 bytes each with their NUL (its
// buffer's size), and a header CRC.
const maxGzipHeader = 10 + 2 + 65535 + 2*512 + 2

// gzipHeaderErr is what Go's gzip reader says of the member header at the
// start of h (maxGzipHeader bytes, or fewer when the stream ends first):
// nil when it accepts it; io.EOF or io.ErrUnexpectedEOF when it ends
// first. zr is reused.
func gzipHeaderErr(zr *gzip.Reader, h []byte) error {
	return zr.Reset(bytes.NewReader(h))
}

// Bounds on the places where a member may begin after an empty one that
// memberScan checks in one stream (maxHeaderCandidates: a real layer has
// about one per 2 MB of stored data, a .gz file stored in it after its
// tar header's zero padding), and on those being checked at once, whose
// header is not whole yet (maxPendingHeaders, maxGzipHeader bytes each).
// A stream beyond either is read again in Go.
const (
	maxHeaderCandidates = 1 << 16
	maxPendingHeaders   = 8
)

// memberScan passes a gzip stream through, keeping its last bytes (the
// last member's trailer) and checking every place where a member may
// begin after an empty one: an empty member's trailer (eight zero bytes)
// followed by a gzip magic. Most such places are inside compressed data
// (a stored .gz file); there, as at a real member, the header that
// follows must be one Go accepts, or the stream is not proved alike.
type memberScan struct {
	r    io.Reader
	tail [16]byte // the last bytes read, at the end
	n    int64
	// pending are the candidate headers not whole yet: the bytes from
	// their magic on.
	pending [][]byte
	found   int  // candidates seen
	refused bool // a candidate's header is one Go refuses, or was not checked
	zr      gzip.Reader
}

// emptyThenMember is an empty member's trailer, then a gzip magic.
var emptyThenMember = []byte{0, 0, 0, 0, 0, 0, 0, 0, 0x1f, 0x8b}

func (m *memberScan) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	b := p[:n]
	if n > 0 && !m.refused {
		m.scan(b)
	}
	if err != nil && len(m.pending) > 0 {
		m.refuse() // the stream ends in a candidate header
	}
	if n >= len(m.tail) {
		copy(m.tail[:], b[n-len(m.tail):])
	} else {
		copy(m.tail[:], m.tail[n:])
		copy(m.tail[len(m.tail)-n:], b)
	}
	m.n += int64(n)
	return n, err
}

// scan checks the candidates b ends or holds.
func (m *memberScan) scan(b []byte) {
	// Headers begun in earlier reads take these bytes first.
	kept := m.pending[:0]
	for _, h := range m.pending {
		h = append(h, b[:min(len(b), maxGzipHeader-len(h))]...)
		if !m.check(h) {
			kept = append(kept, h)
		}
	}
	if m.pending = kept; m.refused {
		m.pending = nil
	}
	// Then matches that begin in the previous reads and end in b, then
	// those within b.
	const w = 10 // len(emptyThenMember)
	k := int(min(m.n, w-1))
	var edge [2 * (w - 1)]byte
	e := append(append(edge[:0], m.tail[len(m.tail)-k:]...), b[:min(len(b), w-1)]...)
	for i := range k {
		if bytes.HasPrefix(e[i:], emptyThenMember) {
			m.candidate(b[i+w-k:])
		}
	}
	for i := 0; !m.refused; i++ {
		j := bytes.Index(b[i:], emptyThenMember)
		if j < 0 {
			break
		}
		i += j
		m.candidate(b[i+w:])
	}
}

// candidate checks the header whose magic ends just before after.
func (m *memberScan) candidate(after []byte) {
	if m.refused {
		return
	}
	if m.found++; m.found > maxHeaderCandidates || len(m.pending) >= maxPendingHeaders {
		m.refuse()
		return
	}
	h := append([]byte{0x1f, 0x8b}, after[:min(len(after), maxGzipHeader-2)]...)
	if !m.check(h) {
		m.pending = append(m.pending, h)
	}
}

// check reports whether the header h is judged: accepted by Go, or
// refused (m.refuse); not when it needs more bytes.
func (m *memberScan) check(h []byte) bool {
	if m.refused {
		return true
	}
	err := gzipHeaderErr(&m.zr, h)
	if (err == io.EOF || err == io.ErrUnexpectedEOF) && len(h) < maxGzipHeader {
		return false
	}
	if err != nil {
		m.refuse()
	}
	return true
}

func (m *memberScan) refuse() { m.refused, m.pending = true, nil }

// alike reports whether igzip's output, of CRC-32 crc and size bytes, is
// proved to be what Go reads of the stream scanned: the trailer that ends
// the stream holds the CRC-32 and size of the whole output, so no member
// before the last put out anything (they were empty, or there were
// none); and every header that may follow an empty member is one Go
// accepts.
func (m *memberScan) alike(crc uint32, size int64) bool {
	t := m.tail[len(m.tail)-8:]
	return m.n >= 18 && !m.refused &&
		binary.LittleEndian.Uint32(t[:4]) == crc && binary.LittleEndian.Uint32(t[4:]) == uint32(size)
}

// failed names igzip's exit status and what it said, as an error of the
// class the Go decoder gives the same stream where igzip's message tells
// it: a stream that ends early, a header that is not gzip.
func (z *igzip) failed(werr error) error {
	msg := strings.TrimSpace(z.stderr.String())
	switch {
	case strings.Contains(msg, "does not contain a complete gzip file"):
		return fmt.Errorf("igzip -dc: %w (%s): %w", werr, msg, io.ErrUnexpectedEOF)
	case strings.Contains(msg, "invalid gzip header"):
		return fmt.Errorf("igzip -dc: %w (%s): %w", werr, msg, gzip.ErrHeader)
	case strings.Contains(msg, "while decompressing"):
		// A truncated stream reads on into the end member, so is
		// corrupt to igzip too.
		return fmt.Errorf("igzip -dc: %w: corrupt or truncated gzip stream (%s)", werr, msg)
	}
	return fmt.Errorf("igzip -dc: %w (%s)", werr, msg)
}

// Close kills igzip if it still runs. It does not wait for the feeder:
// that may be blocked reading src, which the caller closes next.
func (z *igzip) Close() error {
	z.once.Do(func() {
		if z.cmd.Process != nil {
			z.cmd.Process.Kill()
		}
		z.out.Close()
		z.cmd.Wait()
	})
	return nil
}

// capped keeps the first max bytes written to it.
type capped struct {
	mu  sync.Mutex
	max int
	b   bytes.Buffer
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - c.b.Len(); room > 0 {
		c.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b.String()
}
