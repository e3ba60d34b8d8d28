package session

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

// TestAlongside: with no writes, fn runs on the caller's own context, in
// its goroutine; with writes, every one runs and the first error is
// returned, cancelling the context of the others.
func TestAlongside(t *testing.T) {
	type key struct{}
	ctx := context.WithValue(t.Context(), key{}, "caller")
	var got context.Context
	if err := alongside(ctx, func(c context.Context) error { got = c; return nil }); err != nil || got != ctx {
		t.Fatalf("no writes: err %v; fn ran on %v, want the caller's context", err, got)
	}
	boom := errors.New("boom")
	var ran atomic.Int32
	err := alongside(ctx,
		func(c context.Context) error { ran.Add(1); <-c.Done(); return c.Err() },
		func(context.Context) error { ran.Add(1); return boom })
	if !errors.Is(err, boom) || ran.Load() != 2 {
		t.Fatalf("a failed write: err %v after %d of 2 ran, want boom after both", err, ran.Load())
	}
}
