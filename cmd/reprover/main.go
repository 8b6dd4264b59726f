// Command reprover rebuilds container images from source and tells whether
// the published image is what the source produces. docs/cli.md is its
// reference (generated from these commands); docs/architecture.md maps the code.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/reprover/reprover/internal/text"
	"github.com/reprover/reprover/verify"
)

// Exit codes are part of the contract: 0 verified/same, 1 mismatch/different,
// 2 could not verify.
const (
	exitOK        = 0
	exitDifferent = 1
	exitError     = 2
)

// exitCode carries a non-zero exit without an error message of its own.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }

func main() {
	// BuildKit's client logs through logrus; its warnings (e.g. no fsverity
	// on the output filesystem) are not the user's business.
	logrus.SetLevel(logrus.ErrorLevel)
	verify.Version = version
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdin *os.File, stdout, stderr *os.File) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	var ec exitCode
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ec):
		return int(ec)
	default:
		// An error can quote an image's file names or a Dockerfile's
		// words: shown visible (text.VisibleLines), not acted on. The
		// parameters it names are said as flags (say).
		fmt.Fprintf(stderr, "reprover: %s\n", text.VisibleLines(say(err)))
		return exitError
	}
}
