package layer

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"slices"
)

// Trailing describes the bytes after a tar's end-of-archive marker.
type Trailing struct {
	Bytes, NonZero int64
	// Digest is the sha256 of the bytes up to the last non-zero one;
	// empty when every byte is zero.
	Digest string
}

// trailingCounter counts the bytes written to it and hashes them up to
// the last non-zero byte, holding back a run of zeros until a non-zero
// byte follows it (so Trailing zero padding of any length hashes alike).
type trailingCounter struct {
	n, nonZero, zeros int64
	h                 hash.Hash
}

func newTrailingCounter() *trailingCounter { return &trailingCounter{h: sha256.New()} }

var zeroBlock [4096]byte

func (c *trailingCounter) Write(p []byte) (int, error) {
	written := len(p)
	c.n += int64(written)
	for len(p) > 0 {
		i := slices.IndexFunc(p, func(b byte) bool { return b != 0 })
		if i < 0 {
			c.zeros += int64(len(p))
			break
		}
		c.zeros += int64(i)
		for c.zeros > 0 {
			k := min(c.zeros, int64(len(zeroBlock)))
			c.h.Write(zeroBlock[:k])
			c.zeros -= k
		}
		j := slices.IndexFunc(p[i:], func(b byte) bool { return b == 0 })
		if j < 0 {
			j = len(p) - i
		}
		c.h.Write(p[i : i+j])
		c.nonZero += int64(j)
		p = p[i+j:]
	}
	return written, nil
}

func (c *trailingCounter) result() Trailing {
	t := Trailing{Bytes: c.n, NonZero: c.nonZero}
	if c.nonZero > 0 {
		t.Digest = "sha256:" + hex.EncodeToString(c.h.Sum(nil))
	}
	return t
}
