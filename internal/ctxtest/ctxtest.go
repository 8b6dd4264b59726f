// Package ctxtest has what tests of cancellation share: a context that is
// cancelled, from another goroutine, once the code under test has checked
// it a given number of times (its work is then well under way).
package ctxtest

import (
	"context"
	"sync/atomic"
)

// CancelAfterChecks returns a context derived from parent that is
// cancelled from another goroutine once its Err has been called n times,
// and its cancel func (call it when the test ends).
func CancelAfterChecks(parent context.Context, n int64) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	c := &checked{Context: ctx, after: n, started: make(chan struct{})}
	go func() {
		select {
		case <-c.started:
			cancel()
		case <-ctx.Done():
		}
	}()
	return c, cancel
}

type checked struct {
	context.Context
	n       atomic.Int64
	after   int64
	started chan struct{}
}

func (c *checked) Err() error {
	if c.n.Add(1) == c.after {
		close(c.started)
	}
	return c.Context.Err()
}
