// Package faults classifies errors as transient network faults: the ones a
// later attempt may not meet. The registry client's retry predicate and the
// service's job retries share it.
package faults

import (
	"errors"
	"io"
	"net"
	"syscall"
)

// Transient reports whether err is a network fault worth another attempt:
// a refused, reset or unreachable connection, a response cut short, or a
// timeout. It knows nothing of verdicts; callers exclude theirs first.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	for _, e := range []error{io.ErrUnexpectedEOF, syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EHOSTUNREACH} {
		if errors.Is(err, e) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
