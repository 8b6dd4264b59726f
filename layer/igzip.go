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
	"os/exec"
	"strings"
	"sync"
	"syscall"

	"github.com/klauspost/compress/gzip"
)

// Decompressors: how gzip layers are decompressed (NewGunzipper).
const (
	// DecompressAuto is igzip when it is on PATH, else Go.
	DecompressAuto = "auto"
	// DecompressGo is the pure-Go decoder (klauspost/compress), always
	// there.
	DecompressGo = "go"
	// DecompressIgzip is ISA-L's igzip -dc, run as a subprocess (Debian's
	// isal package): about three times faster than Go on gzip.
	DecompressIgzip = "igzip"
)

// Gunzipper is how a walk decompresses gzip: igzip is the path of the
// igzip program, "" for the Go decoder.
type Gunzipper struct{ igzip string }

// NewGunzipper resolves a choice of decompressor: DecompressGo,
// DecompressIgzip (an error when igzip is not on PATH), or DecompressAuto
// ("" too): igzip when it is on PATH, else Go.
func NewGunzipper(choice string) (Gunzipper, error) {
	switch choice {
	case DecompressGo:
		return Gunzipper{}, nil
	case "", DecompressAuto, DecompressIgzip:
		path, err := exec.LookPath("igzip")
		if err != nil {
			if choice == DecompressIgzip {
				return Gunzipper{}, fmt.Errorf("decompressor igzip: %w (Debian's isal package has it)", err)
			}
			return Gunzipper{}, nil
		}
		return Gunzipper{igzip: path}, nil
	}
	return Gunzipper{}, fmt.Errorf("unknown decompressor %q: want %s, %s or %s", choice, DecompressAuto, DecompressGo, DecompressIgzip)
}

// igzipEndMarker is how many random bytes end the member appended to
// every stream given to igzip.
const igzipEndMarker = 32

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
//   - It ignores the reserved flag bits of a member header (RFC 1952 says
//     to refuse them; Go does). The first header is checked before igzip
//     starts (gzipHeaderOK). Later members are rare (every tool writes
//     one), and their headers are hidden in the stream: the stream is
//     proved to be one member, or read again in Go (errNotOneMember).
//     One member means: the trailer that ends the stream holds the CRC-32
//     and size of the whole output, so no member before the last put out
//     anything; and no empty member's trailer (eight zero bytes) is
//     followed by a header. Not covered: a member before the last that
//     puts out exactly a multiple of 4 GiB crafted to keep the CRC-32 of
//     the whole — it can only hide reserved flag bits of the next header;
//     the content is still what igzip (and pigz) unpack.
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

	buf        []byte // output read and not yet returned: buf[start:end]
	start, end int
	rerr       error // from out
	err        error // sticky: what Read returns once out has ended
}

func startIgzip(ctx context.Context, path string, src io.Reader) (*igzip, error) {
	z := &igzip{ctx: ctx, stderr: &capped{max: maxIgzipStderr}, marker: make([]byte, igzipEndMarker),
		fed: make(chan struct{}), buf: make([]byte, 256<<10), scan: &memberScan{r: src}}
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
	if !z.scan.oneMember(z.crc, z.size) {
		return errNotOneMember
	}
	return io.EOF
}

// errNotOneMember asks for the layer to be read again in Go: igzip read
// it, but it is not proved to be one gzip member.
var errNotOneMember = errors.New("igzip: more than one gzip member, read again in Go")

// gzipHeaderOK reports whether a member header starting with head (10
// bytes at least) has a method and flags the Go decoder accepts.
func gzipHeaderOK(head []byte) bool {
	return len(head) >= 10 && head[0] == 0x1f && head[1] == 0x8b && head[2] == 8 && head[3]&0xe0 == 0
}

// memberScan passes a gzip stream through, keeping its last bytes (the
// last member's trailer) and whether an empty member's trailer is
// followed by a gzip magic anywhere in it.
type memberScan struct {
	r         io.Reader
	tail      [16]byte // the last bytes read, at the end
	n         int64
	afterZero bool
}

var emptyThenMember = []byte{0, 0, 0, 0, 0, 0, 0, 0, 0x1f, 0x8b}

func (m *memberScan) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	b := p[:n]
	if n > 0 && !m.afterZero {
		// Across the end of the previous read, then within this one.
		k := int(min(m.n, int64(len(emptyThenMember)-1)))
		var edge [2 * 9]byte
		e := append(append(edge[:0], m.tail[len(m.tail)-k:]...), b[:min(n, len(emptyThenMember)-1)]...)
		m.afterZero = bytes.Contains(e, emptyThenMember) || bytes.Contains(b, emptyThenMember)
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

// oneMember reports whether the stream scanned is one gzip member whose
// output had CRC-32 crc and size bytes (or empty members, then one).
func (m *memberScan) oneMember(crc uint32, size int64) bool {
	t := m.tail[len(m.tail)-8:]
	return m.n >= 18 && !m.afterZero &&
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
