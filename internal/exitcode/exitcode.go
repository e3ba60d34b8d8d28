// Package exitcode holds the exit codes the stowage commands share and the
// one place that decides which class an error belongs to.
//
// The classes (docs/operations.md, "Exit codes"):
//
//	0    success
//	1    a transient failure: storage unavailable, some deletions failed, a
//	     lease lost; the next run resumes, retrying is right
//	2    usage or configuration: a bad flag, a malformed store URL or scheme,
//	     an unknown URL parameter, a missing bucket, access denied, no
//	     stowage store at the URL (or one of a newer format), a read-only
//	     store written to; retrying never helps, a person must fix the
//	     deployment
//	130  interrupted by SIGINT, 143 terminated by SIGTERM (128 + signal
//	     number, as restic and shells do), after the report is written
//
// Commands add their own codes above 2 (the sweeper's 3 and 4, fsck's 3).
package exitcode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/stowage-dev/stowage/marker"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/openurl"
)

// The shared exit codes.
const (
	OK         = 0
	Failure    = 1
	Config     = 2
	Interrupt  = 128 + int(syscall.SIGINT)  // 130
	Terminated = 128 + int(syscall.SIGTERM) // 143
)

// configErrors are the sentinels of the configuration class: errors.Is on
// any of them makes an error exit with Config.
var configErrors = []error{
	openurl.ErrConfig,      // malformed URL, unknown scheme or parameter, bad value
	objstore.ErrNoBucket,   // NoSuchBucket
	objstore.ErrPermission, // AccessDenied (an *objstore.AccessError names the action)
	objstore.ErrReadOnly,   // a write to a store opened read-only
	marker.ErrNoStore,      // no stowage store at the URL (a typo in the prefix)
	marker.ErrFormatTooNew, // a store written by a newer stowage
	marker.ErrBadMarker,    // something else where the marker belongs
}

// Where names the store in a configuration error about the target:
// "no stowage store at s3://bucket/prefix: ..." (the URL as openurl prints
// it, which holds no secret). Other errors are returned as they are.
func Where(storeURL string, err error) error {
	if !errors.Is(err, marker.ErrNoStore) {
		return err
	}
	where := "the given URL"
	if spec, perr := openurl.ParseURL(storeURL); perr == nil {
		where = spec.String()
	}
	return fmt.Errorf("no stowage store at %s: %w", where, err)
}

// Classify returns the exit code for err: the signal's code when ctx was
// cancelled by a signal (see NotifyContext), whatever the interrupted work
// returned; else OK for nil, Config for a configuration error, Failure
// otherwise.
func Classify(ctx context.Context, err error) int {
	if code, ok := Signalled(ctx); ok {
		return code
	}
	if err == nil {
		return OK
	}
	if IsConfig(err) {
		return Config
	}
	return Failure
}

// IsConfig reports whether err is a usage or configuration error.
func IsConfig(err error) bool {
	var ue UsageError
	if errors.As(err, &ue) {
		return true
	}
	for _, sentinel := range configErrors {
		if errors.Is(err, sentinel) {
			return true
		}
	}
	return false
}

// UsageError is a bad command line.
type UsageError struct{ Err error }

func (u UsageError) Error() string { return u.Err.Error() }
func (u UsageError) Unwrap() error { return u.Err }

// Usagef returns a UsageError.
func Usagef(format string, args ...any) error {
	return UsageError{fmt.Errorf(format, args...)}
}

// signalled is the cancellation cause NotifyContext records.
type signalled struct{ sig os.Signal }

func (s signalled) Error() string { return "received " + s.sig.String() }

// NotifyContext returns a context cancelled on SIGINT or SIGTERM with the
// signal as its cause (Signalled reads it back), and a stop function that
// releases the signal handler.
func NotifyContext(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			cancel(signalled{sig})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(context.Canceled)
	}
}

// WithSignal returns ctx cancelled as if sig had arrived (for tests).
func WithSignal(parent context.Context, sig os.Signal) context.Context {
	ctx, cancel := context.WithCancelCause(parent)
	cancel(signalled{sig})
	return ctx
}

// Signalled returns 128+signal number if ctx was cancelled by a signal.
func Signalled(ctx context.Context) (int, bool) {
	var s signalled
	if ctx == nil || !errors.As(context.Cause(ctx), &s) {
		return 0, false
	}
	if n, ok := s.sig.(syscall.Signal); ok {
		return 128 + int(n), true
	}
	return Interrupt, true
}
