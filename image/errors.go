package image

import (
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The errors callers branch on. A document or blob over a limit is a
// *limits.Error (internal/limits), whatever the package.

// ErrNotFound: a manifest, blob or tag does not exist in the registry or
// layout (wrapped, naming the reference or digest). As containerd's
// errdefs.ErrNotFound, it is a class: what was not found is in the wrap.
var ErrNotFound = errors.New("not found")

// DigestError reports bytes that do not match the digest or size that
// named them.
type DigestError struct {
	What     string
	Want     v1.Hash
	Got      v1.Hash // zero when the size was wrong
	WantSize int64
	GotSize  int64
}

func (e *DigestError) Error() string {
	if e.Got.Hex == "" {
		return fmt.Sprintf("%s %s: size mismatch: descriptor says %d bytes, got %d", e.What, e.Want, e.WantSize, e.GotSize)
	}
	return fmt.Sprintf("%s %s: digest mismatch: content hashes to %s", e.What, e.Want, e.Got)
}
