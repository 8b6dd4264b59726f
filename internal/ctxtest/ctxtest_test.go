package ctxtest

import (
	"context"
	"errors"
	"testing"
)

// TestCancelAfterChecks: the context is cancelled once checked n times,
// not before.
func TestCancelAfterChecks(t *testing.T) {
	ctx, cancel := CancelAfterChecks(t.Context(), 3)
	defer cancel()
	for i := range 2 {
		if err := ctx.Err(); err != nil {
			t.Fatalf("check %d: %v before the third check", i+1, err)
		}
	}
	ctx.Err() // the third: cancels from another goroutine
	<-ctx.Done()
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("after: %v", ctx.Err())
	}
}
