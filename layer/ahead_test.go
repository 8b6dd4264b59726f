package layer

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"testing"
)

// TestReadAhead: what is read through a read-ahead is what the reader
// gives, its error included (after its last bytes, not instead of them),
// and nothing is read from it once Close returns.
func TestReadAhead(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		size int
		err  error // returned with the last bytes; nil: io.EOF
	}{
		{"empty", 0, nil},
		{"one byte", 1, nil},
		{"one buffer", aheadSize, nil},
		{"past the buffers", 3*aheadBuffers*aheadSize + 7, nil},
		{"an error after data", aheadSize + 3, boom},
		{"an error first", 0, boom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := make([]byte, tc.size)
			for i := range data {
				data[i] = byte(rand.Uint32())
			}
			var r io.Reader = &oddReader{data: data, err: tc.err}
			a := readAhead(r)
			defer a.Close()
			got, err := io.ReadAll(a)
			if !bytes.Equal(got, data) {
				t.Errorf("read %d bytes, want the %d given", len(got), len(data))
			}
			if err != tc.err {
				t.Errorf("error %v, want %v", err, tc.err)
			}
		})
	}
	t.Run("close mid-stream", func(t *testing.T) {
		r := &oddReader{data: make([]byte, 64*aheadSize)}
		a := readAhead(r)
		if _, err := io.ReadFull(a, make([]byte, 10)); err != nil {
			t.Fatal(err)
		}
		a.Close()
		n := r.reads.Load()
		if n > int64(aheadBuffers+2)*aheadSize {
			t.Errorf("%d bytes read ahead, at most %d buffers' worth expected", n, aheadBuffers+2)
		}
		a.Close() // again: no effect
		if r.reads.Load() != n {
			t.Error("read after Close returned")
		}
	})
}

// oddReader gives data in reads of odd sizes, then err (io.EOF if nil)
// with its last bytes.
type oddReader struct {
	data  []byte
	err   error
	reads atomic.Int64
}

func (r *oddReader) Read(p []byte) (int, error) {
	n := min(len(p), 1+len(r.data)%7919, len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	r.reads.Add(int64(n))
	if len(r.data) == 0 {
		if r.err != nil {
			return n, r.err
		}
		return n, io.EOF
	}
	return n, nil
}
