package layer

import (
	"io"
	"sync"
)

// aheadReader reads r in a goroutine of its own, up to aheadBuffers
// buffers ahead of its reader: what produces the bytes (a decompressor)
// and what consumes them then run at once. Close stops the goroutine and
// waits for it: r is not read after Close returns.
type aheadReader struct {
	full     chan aheadChunk
	free     chan []byte
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	buf, cur []byte
	err      error
}

type aheadChunk struct {
	b   []byte
	err error
}

const (
	aheadBuffers = 4
	aheadSize    = 256 << 10
)

func readAhead(r io.Reader) *aheadReader {
	a := &aheadReader{full: make(chan aheadChunk, aheadBuffers), free: make(chan []byte, aheadBuffers),
		stop: make(chan struct{}), done: make(chan struct{})}
	for range aheadBuffers {
		a.free <- make([]byte, aheadSize)
	}
	go a.fill(r)
	return a
}

func (a *aheadReader) fill(r io.Reader) {
	defer close(a.done)
	for {
		var b []byte
		select {
		case b = <-a.free:
		case <-a.stop:
			return
		}
		n, err := 0, error(nil)
		for n < len(b) && err == nil {
			var k int
			k, err = r.Read(b[n:])
			n += k
		}
		select {
		case a.full <- aheadChunk{b[:n], err}:
		case <-a.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

func (a *aheadReader) Read(p []byte) (int, error) {
	for len(a.cur) == 0 {
		if a.err != nil {
			return 0, a.err
		}
		if a.buf != nil {
			a.free <- a.buf[:cap(a.buf)] // never blocks: as many slots as buffers
			a.buf = nil
		}
		c := <-a.full
		a.buf, a.cur, a.err = c.b, c.b, c.err
	}
	n := copy(p, a.cur)
	a.cur = a.cur[n:]
	return n, nil
}

// Close stops reading ahead; it may be called more than once.
func (a *aheadReader) Close() {
	a.stopOnce.Do(func() { close(a.stop) })
	<-a.done
}
