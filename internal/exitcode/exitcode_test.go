package exitcode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/openurl"
)

func TestClassify(t *testing.T) {
	bg := context.Background()
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, OK},
		{errors.New("boom"), Failure},
		{fmt.Errorf("open: %w", objstore.ErrUnavailable), Failure},
		{fmt.Errorf("open: %w", openurl.ErrConfig), Config},
		{fmt.Errorf("open: %w", objstore.ErrNoBucket), Config},
		{&objstore.AccessError{Operation: "GetObject", Action: "s3:GetObject", Err: errors.New("AccessDenied")}, Config},
		{fmt.Errorf("put: %w", objstore.ErrReadOnly), Config},
		{Usagef("--grace: bad"), Config},
	} {
		if got := Classify(bg, c.err); got != c.want {
			t.Errorf("Classify(%v) = %d, want %d", c.err, got, c.want)
		}
	}
	ctx := WithSignal(bg, syscall.SIGTERM)
	if got := Classify(ctx, context.Canceled); got != Terminated {
		t.Errorf("after SIGTERM: %d, want %d", got, Terminated)
	}
	// After a signal the exit code is the signal's, whatever error the
	// interrupted work returned.
	if got := Classify(WithSignal(bg, syscall.SIGINT), errors.New("boom")); got != Interrupt {
		t.Errorf("after SIGINT: %d, want %d", got, Interrupt)
	}
}

// TestNotifyContext delivers a real SIGINT to the test process: the
// context is cancelled with the signal as its cause, and Signalled says 130.
func TestNotifyContext(t *testing.T) {
	ctx, stop := NotifyContext(context.Background())
	defer stop()
	if _, ok := Signalled(ctx); ok {
		t.Fatal("signalled before any signal")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-ctx.Done()
	if code, ok := Signalled(ctx); !ok || code != Interrupt {
		t.Fatalf("Signalled = %d, %v; want %d", code, ok, Interrupt)
	}
}
