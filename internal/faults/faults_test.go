package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
)

type timeoutError struct{ timeout bool }

func (e timeoutError) Error() string   { return "i/o" }
func (e timeoutError) Timeout() bool   { return e.timeout }
func (e timeoutError) Temporary() bool { return false }

func TestTransient(t *testing.T) {
	dial := func(errno syscall.Errno) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}
	}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"refused", dial(syscall.ECONNREFUSED), true},
		{"reset", fmt.Errorf("GET /v2/: %w", dial(syscall.ECONNRESET)), true},
		{"host unreachable", dial(syscall.EHOSTUNREACH), true},
		{"cut short", fmt.Errorf("blob: %w", io.ErrUnexpectedEOF), true},
		{"timeout", fmt.Errorf("x: %w", timeoutError{true}), true},
		{"deadline", context.DeadlineExceeded, true},
		{"net error, no timeout", timeoutError{false}, false},
		{"permission", dial(syscall.EACCES), false},
		{"EOF", io.EOF, false},
		{"plain", errors.New("digest mismatch"), false},
		{"cancelled", context.Canceled, false},
	} {
		if got := Transient(c.err); got != c.want {
			t.Errorf("%s: Transient(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}
