package layer

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compression is the encoding found in a layer's bytes (not the one its
// media type claims).
type Compression string

const (
	Gzip         Compression = "gzip"
	Zstd         Compression = "zstd"
	Uncompressed Compression = "none"
)

var (
	magicGzip  = []byte{0x1f, 0x8b}
	magicZstd  = []byte{0x28, 0xb5, 0x2f, 0xfd}
	magicBzip2 = []byte("BZh")
	magicXz    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
)

// DeclaredCompression is what a layer media type claims ("" when it
// claims none this package knows).
func DeclaredCompression(mt types.MediaType) Compression {
	s := string(mt)
	switch {
	case strings.HasSuffix(s, "+zstd") || strings.HasSuffix(s, ".zstd"):
		return Zstd
	case strings.HasSuffix(s, "+gzip") || strings.HasSuffix(s, ".gzip") || mt == types.DockerLayer || mt == types.DockerForeignLayer:
		return Gzip
	case mt == types.OCIUncompressedLayer || mt == types.OCIUncompressedRestrictedLayer || strings.HasSuffix(s, ".tar"):
		return Uncompressed
	}
	return ""
}

// decompressor sniffs the magic of a compressed stream and decodes it.
// Closing it releases the decoder; the caller closes the source.
type decompressor struct {
	io.Reader
	Found Compression
	close func()
}

func (d *decompressor) Close() error {
	if d.close != nil {
		d.close()
	}
	return nil
}

// newDecompressor sniffs r's magic and decodes it; gzip with gz (Go or
// igzip), killed when ctx ends.
func newDecompressor(ctx context.Context, r io.Reader, lim Limits, gz Gunzipper) (*decompressor, error) {
	br := bufio.NewReaderSize(r, 128<<10) // a gzip header whole (maxGzipHeader)
	head, err := br.Peek(6)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, err
	}
	switch {
	case bytes.HasPrefix(head, magicGzip) && gz.igzip != "":
		// A header igzip would accept and Go refuse is refused here, as
		// Go does.
		h, _ := br.Peek(maxGzipHeader)
		if err := gzipHeaderErr(new(gzip.Reader), h); err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		z, err := startIgzip(ctx, gz.igzip, br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return &decompressor{Reader: z, Found: Gzip, close: func() { z.Close() }}, nil
	case bytes.HasPrefix(head, magicGzip):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		zr.Multistream(false)
		return &decompressor{Reader: &gzipMembers{br: br, zr: zr}, Found: Gzip, close: func() { zr.Close() }}, nil
	case bytes.HasPrefix(head, magicZstd):
		zr, err := zstd.NewReader(br,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(lim.MaxZstdWindow),
			zstd.WithDecoderMaxMemory(uint64(lim.MaxLayerBytes)))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return &decompressor{Reader: &zstdLimits{r: zr, first: firstZstdWindow(br), lim: lim}, Found: Zstd, close: zr.Close}, nil
	case bytes.HasPrefix(head, magicBzip2), bytes.HasPrefix(head, magicXz):
		return nil, fmt.Errorf("unsupported compression (bzip2/xz magic %x)", head[:3])
	}
	return &decompressor{Reader: br, Found: Uncompressed}, nil
}

// gzipMembers reads every gzip member of br in turn, and fails on bytes
// after a member that are not a whole member. gzip.Reader's multistream
// mode does so too, except that it ends quietly when a later member's
// header is cut short in its name or comment (its readString returns
// io.EOF): data hidden there was ignored.
type gzipMembers struct {
	br *bufio.Reader
	zr *gzip.Reader
}

func (g *gzipMembers) Read(p []byte) (int, error) {
	for {
		n, err := g.zr.Read(p)
		if err != io.EOF {
			return n, err
		}
		if n > 0 {
			return n, nil // io.EOF again on the next call
		}
		if _, err := g.br.Peek(1); err != nil {
			return 0, err // io.EOF, or the stream's own error (a digest mismatch)
		}
		// More bytes: they must be a whole member.
		if err := g.zr.Reset(g.br); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		g.zr.Multistream(false)
	}
}

// zstdLimits turns the decoder's refusal of a frame's window into a
// LimitError that names the limit and the window asked for: the decoder
// says only "window size exceeded" or, when the window is larger than
// WithDecoderMaxMemory (MaxLayerBytes), "decompressed size exceeds
// configured limit", before decoding a byte of the frame.
type zstdLimits struct {
	r     io.Reader
	first uint64 // window of the first frame, 0 if unknown
	lim   Limits
}

func (z *zstdLimits) Read(p []byte) (int, error) {
	n, err := z.r.Read(p)
	if errors.Is(err, zstd.ErrWindowSizeExceeded) || errors.Is(err, zstd.ErrDecoderSizeExceeded) {
		limit, max := "MaxZstdWindow", int64(z.lim.MaxZstdWindow)
		if z.lim.MaxLayerBytes < max {
			limit, max = "MaxLayerBytes", z.lim.MaxLayerBytes
		}
		// Usually the first frame is the one refused; if not, its window
		// is known only to exceed max.
		got := max + 1
		if z.first > uint64(max) && z.first < 1<<63 {
			got = int64(z.first)
		}
		err = &LimitError{What: "zstd frame window", Limit: limit, Max: max, Got: got}
	}
	return n, err
}

// firstZstdWindow is the window the first zstd frame of br declares.
func firstZstdWindow(br *bufio.Reader) uint64 {
	head, _ := br.Peek(zstd.HeaderMaxSize)
	var h zstd.Header
	if h.Decode(head) != nil {
		return 0
	}
	if h.SingleSegment {
		return h.FrameContentSize
	}
	return h.WindowSize
}

// meter hashes and counts the uncompressed stream (the diffID) and enforces
// the per-layer and per-comparison byte limits as it goes.
type meter struct {
	r     io.Reader
	h     hash.Hash
	n     int64
	max   int64
	total *atomic.Int64
	maxT  int64
	what  string
}

func newMeter(r io.Reader, what string, lim Limits, total *atomic.Int64) *meter {
	return &meter{r: r, h: sha256.New(), max: lim.MaxLayerBytes, total: total, maxT: lim.MaxTotalBytes, what: what}
}

func (m *meter) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.h.Write(p[:n])
	m.n += int64(n)
	if m.n > m.max {
		return n, &LimitError{What: m.what + " uncompressed", Limit: "MaxLayerBytes", Max: m.max, Got: m.n}
	}
	if t := m.total.Add(int64(n)); t > m.maxT {
		return n, &LimitError{What: "uncompressed bytes of this comparison", Limit: "MaxTotalBytes", Max: m.maxT, Got: t}
	}
	return n, err
}

func (m *meter) digest() string { return fmt.Sprintf("sha256:%x", m.h.Sum(nil)) }
