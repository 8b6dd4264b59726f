package verify_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/verify"
)

// TestTransient: a verification's network faults are retried (the full
// table of network faults is internal/faults'), verdicts never, whatever
// they wrap.
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
		{"refused", fmt.Errorf("GET https://r.example/v2/: %w", dial(syscall.ECONNREFUSED)), true},
		{"cut short: the registry client retried already", fmt.Errorf("layer: %w", io.ErrUnexpectedEOF), false},
		{"builder unreachable", fmt.Errorf("%w: unix:///run/b.sock: %w", verify.ErrBuilderUnreachable, errors.New("rpc error: code = Unavailable")), true},
		{"build step failed", &builder.BuildError{Err: dial(syscall.ECONNRESET), ExitCode: 1}, false},
		{"unpinned", fmt.Errorf("%w: FROM alpine: %w", verify.ErrUnpinned, dial(syscall.ECONNREFUSED)), false},
		{"unknown commit", fmt.Errorf("%w: %w", verify.ErrUnknownCommit, io.ErrUnexpectedEOF), false},
		{"image not found", fmt.Errorf("%w: %w", image.ErrNotFound, dial(syscall.ECONNRESET)), false},
		{"digest mismatch", errors.New("digest mismatch"), false},
	} {
		if got := verify.Transient(c.err); got != c.want {
			t.Errorf("%s: Transient(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}
