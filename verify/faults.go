package verify

import (
	"errors"
	"io"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/faults"
)

// Transient reports whether a verification's error is a fault a later
// attempt may not meet: a BuildKit daemon or a registry that did not
// answer. A verdict, a refused input or a failed build step is never
// transient, whatever it wraps; nor is a stream cut short, which the
// registry client has already retried and a truncated blob would repeat.
func Transient(err error) bool {
	var be *builder.BuildError
	switch {
	case errors.As(err, &be), errors.Is(err, ErrUnpinned), errors.Is(err, ErrUnknownCommit), errors.Is(err, image.ErrNotFound):
		return false
	case errors.Is(err, ErrBuilderUnreachable):
		return true
	case errors.Is(err, io.ErrUnexpectedEOF):
		return false
	}
	return faults.Transient(err)
}
