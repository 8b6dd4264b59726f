package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// verifyingReader hashes and counts what passes through it and fails —
// instead of returning io.EOF — when the stream does not match the digest
// and size it was opened for. A stream longer than the declared size fails
// as soon as the extra byte arrives.
type verifyingReader struct {
	rc   io.ReadCloser
	what string
	want v1.Hash
	size int64 // -1: unknown
	h    hash.Hash
	n    int64
	err  error
}

func newVerifyingReader(rc io.ReadCloser, what string, want v1.Hash, size int64) *verifyingReader {
	return &verifyingReader{rc: rc, what: what, want: want, size: size, h: sha256.New()}
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	// Read at most one byte past the declared end. Written as a comparison
	// with len(p)-1, not size-n+1: a declared size of 2^63-1 made that
	// overflow to a negative bound and the slice below panic.
	if v.size >= 0 && v.size-v.n < int64(len(p))-1 {
		p = p[:v.size-v.n+1]
	}
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.size >= 0 && v.n > v.size {
		v.err = &DigestError{What: v.what, Want: v.want, WantSize: v.size, GotSize: v.n}
		return 0, v.err
	}
	if err == io.EOF {
		if v.size >= 0 && v.n != v.size {
			v.err = &DigestError{What: v.what, Want: v.want, WantSize: v.size, GotSize: v.n}
			return n, v.err
		}
		got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(v.h.Sum(nil))}
		if got != v.want {
			v.err = &DigestError{What: v.what, Want: v.want, Got: got}
			return n, v.err
		}
		v.err = io.EOF
	} else if err != nil {
		// A registry's own verifier fails at the end of a blob whose bytes
		// differ; when every declared byte has arrived, say so as a
		// DigestError, as for a layout, rather than as its untyped error.
		if v.n == v.size {
			if got := (v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(v.h.Sum(nil))}); got != v.want {
				v.err = &DigestError{What: v.what, Want: v.want, Got: got}
				return n, v.err
			}
		}
		v.err = fmt.Errorf("reading %s %s: %w", v.what, v.want, err)
		return n, v.err
	}
	return n, v.err
}

func (v *verifyingReader) Close() error { return v.rc.Close() }

// readBlobVerified reads a small document blob under a limit and checks it
// against its descriptor (Size -1: size unknown).
func readBlobVerified(ctx context.Context, s store, d v1.Descriptor, limit int64, what, limitName string) ([]byte, error) {
	if d.Size > limit {
		return nil, &LimitError{What: what + " " + d.Digest.String(), Limit: limitName, Max: limit, Got: d.Size}
	}
	rc, err := s.blob(ctx, d.Digest)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	size := d.Size
	if size < 0 {
		size = -1
	}
	return readLimited(newVerifyingReader(rc, what, d.Digest, size), limit, what+" "+d.Digest.String(), limitName)
}

// verifyBytes checks a document received whole against its descriptor.
func verifyBytes(b []byte, what string, want v1.Hash, size int64) error {
	got := v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(b))}
	if got != want {
		return &DigestError{What: what, Want: want, Got: got}
	}
	if size >= 0 && int64(len(b)) != size {
		return &DigestError{What: what, Want: want, WantSize: size, GotSize: int64(len(b))}
	}
	return nil
}
