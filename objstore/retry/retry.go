// Package retry is a Store decorator that retries transient failures with
// exponential backoff and full jitter, and resolves the ambiguous outcomes of
// conditional writes.
//
// # What is retried
//
// Only errors for which objstore.IsRetryable holds: throttling (503 SlowDown,
// 429), unavailability (5xx, resets, timeouts) and 409 conflicts. A cancelled
// context, a failed precondition, a missing object and every other permanent
// error are returned at once. Reads, unconditional puts, deletes, DeleteMany
// (only the keys that failed), AbortUpload, UploadSize and the opening of a Get are
// retried as a whole; a List is resumed after the last key it yielded; a
// ListUploads is retried only before its first result. Upload is never
// retried as a whole (its body is consumed): the engine below retries parts.
//
// # Ambiguous outcomes
//
// A conditional Put whose response was lost may have been applied. Retried,
// it then fails its own condition (the object now exists, or its ETag moved)
// and a naive retry layer would report a lost race for a write that won. To
// tell the two apart every conditional Put and Upload carries a unique write
// token in its user metadata under WriteTokenKey. When an attempt failed in a
// way that may have been applied (anything but an explicit refusal such as
// throttling, a 409 or a permanent error) and a later attempt fails its
// precondition, or the attempts run out, the key is read back with Head:
//
//   - the token is ours: the write landed; Put returns success with the
//     object's current info;
//   - otherwise: our write may have landed and been superseded, or never
//     landed; the error is an *AmbiguousError, which matches
//     objstore.ErrOutcomeUnknown (and ErrPreconditionFailed when that was
//     the final answer). Callers must not clean up after such a write.
//
// A write whose last attempt timed out (objstore.ErrTimeout: the server
// went silent) may have been applied whether or not it was conditional: its
// error is an *AmbiguousError too.
//
// A conditional Delete cannot carry a token; after a maybe-applied failure
// its precondition failure or exhaustion is likewise an *AmbiguousError.
package retry

import (
	"context"
	"errors"
	"iter"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/stowage-dev/stowage/objstore"
)

// Options configure the retry decorator. The zero value is usable.
type Options struct {
	// MaxAttempts is the number of attempts per operation, including the
	// first; 0 means 5. 1 disables retries (ambiguity is still resolved).
	MaxAttempts int
	// BaseDelay is the backoff cap of the first retry; it doubles per
	// attempt up to MaxDelay. 0 means 100ms.
	BaseDelay time.Duration
	// MaxDelay caps the backoff; 0 means 5s.
	MaxDelay time.Duration
	// Sleep waits d or until ctx is done (returning ctx.Err()). nil means a
	// real timer; tests inject one that records delays and returns at once.
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand draws the jitter. It is used under a lock. nil means a randomly
	// seeded generator.
	Rand *rand.Rand
	// Logger receives a debug record per retry and an info record per
	// resolved ambiguity. nil discards.
	Logger *slog.Logger
	// ReadWhole: a Get body of at most this many bytes is read whole
	// inside the retried attempt (see Get); 0 means DefaultReadWhole, a
	// negative value streams every body.
	ReadWhole int64
	// OnRetry, if set, is called before each backoff with the operation
	// name (objstore.Op*), the 1-based number of the attempt that failed
	// and its error.
	OnRetry func(op string, attempt int, err error)
	// OnResolved, if set, is called once per write whose outcome was
	// ambiguous (a lost response, a 5xx, or a 412 that may be our own
	// resent request) after reading the key back: ours reports whether the
	// write was found applied (else the caller gets an *AmbiguousError).
	OnResolved func(op string, ours bool)
}

// Hooks are the two observation points of Options, for a decorator
// composed with this one (e.g. metrics) to fill in.
type Hooks struct {
	OnRetry    func(op string, attempt int, err error)
	OnResolved func(op string, ours bool)
}

// Chain returns o with h's hooks called before o's own.
func (o Options) Chain(h Hooks) Options {
	if h.OnRetry != nil {
		next := o.OnRetry
		o.OnRetry = func(op string, attempt int, err error) {
			h.OnRetry(op, attempt, err)
			if next != nil {
				next(op, attempt, err)
			}
		}
	}
	if h.OnResolved != nil {
		next := o.OnResolved
		o.OnResolved = func(op string, ours bool) {
			h.OnResolved(op, ours)
			if next != nil {
				next(op, ours)
			}
		}
	}
	return o
}

// Defaults of Options.
const (
	DefaultMaxAttempts = 5
	DefaultBaseDelay   = 100 * time.Millisecond
	DefaultMaxDelay    = 5 * time.Second
	DefaultReadWhole   = 4 << 20
)

// New returns s wrapped in the retry decorator. Closing it closes s.
func New(s objstore.Store, opts Options) objstore.Store {
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.BaseDelay <= 0 {
		opts.BaseDelay = DefaultBaseDelay
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = DefaultMaxDelay
	}
	if opts.MaxDelay < opts.BaseDelay {
		opts.MaxDelay = opts.BaseDelay
	}
	if opts.ReadWhole == 0 {
		opts.ReadWhole = DefaultReadWhole
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if opts.Rand == nil {
		opts.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &store{base: s, opts: opts}
}

type store struct {
	base objstore.Store
	opts Options
	mu   sync.Mutex // guards opts.Rand
}

var _ objstore.Store = (*store)(nil)

// Unwrap returns the decorated store.
func (s *store) Unwrap() objstore.Store { return s.base }

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// backoff returns the delay before the retry that follows the given failed
// attempt: uniform in [0, min(MaxDelay, BaseDelay*2^(attempt-1))].
func (s *store) backoff(attempt int) time.Duration {
	limit := s.opts.MaxDelay
	if shift := attempt - 1; shift < 32 {
		if d := s.opts.BaseDelay << shift; d > 0 && d < limit {
			limit = d
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Duration(s.opts.Rand.Int64N(int64(limit) + 1))
}

// again decides, after attempt failed with err, whether to try once more,
// and if so reports the retry and sleeps the backoff first.
func (s *store) again(ctx context.Context, op, key string, attempt int, err error) bool {
	if err == nil || !objstore.IsRetryable(err) || attempt >= s.opts.MaxAttempts || ctx.Err() != nil {
		return false
	}
	d := s.backoff(attempt)
	s.opts.Logger.LogAttrs(ctx, slog.LevelDebug, "retrying object store operation",
		slog.String("op", op), slog.String("key", key), slog.Int("attempt", attempt),
		slog.String("delay", d.String()), slog.String("code", objstore.ErrorCode(err)), slog.Any("err", err))
	if s.opts.OnRetry != nil {
		s.opts.OnRetry(op, attempt, err)
	}
	return s.opts.Sleep(ctx, d) == nil
}

// do runs fn until it succeeds, fails for good or runs out of attempts, and
// returns its last error. fn must be idempotent.
func (s *store) do(ctx context.Context, op, key string, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if !s.again(ctx, op, key, attempt, err) {
			return err
		}
	}
}

// doWrite is do for a write: if its last attempt timed out
// (objstore.ErrTimeout), the write may have been applied, and the error is
// an *AmbiguousError.
func (s *store) doWrite(ctx context.Context, op, key string, fn func() error) error {
	attempts := 0
	err := s.do(ctx, op, key, func() error {
		attempts++
		return fn()
	})
	return timedOut(op, key, attempts, err)
}

// timedOut returns err as an *AmbiguousError (objstore.ErrOutcomeUnknown)
// if it is a timeout of a write, else as it is.
func timedOut(op, key string, attempts int, err error) error {
	if !errors.Is(err, objstore.ErrTimeout) || errors.Is(err, objstore.ErrOutcomeUnknown) {
		return err
	}
	return &AmbiguousError{Op: op, Key: key, Attempts: attempts, Cause: err, Err: err}
}

func (s *store) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	if opts.Conditional() {
		return s.putConditional(ctx, key, data, opts)
	}
	var info objstore.ObjectInfo
	err := s.doWrite(ctx, objstore.OpPut, key, func() (err error) {
		info, err = s.base.Put(ctx, key, data, opts)
		return err
	})
	return info, err
}

func (s *store) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	var info objstore.ObjectInfo
	err := s.do(ctx, objstore.OpHead, key, func() (err error) {
		info, err = s.base.Head(ctx, key)
		return err
	})
	return info, err
}

func (s *store) Delete(ctx context.Context, key string, opts *objstore.DeleteOptions) error {
	if opts != nil && opts.IfMatch != "" {
		return s.deleteConditional(ctx, key, opts)
	}
	return s.doWrite(ctx, objstore.OpDelete, key, func() error {
		return s.base.Delete(ctx, key, opts)
	})
}

// DeleteMany retries the keys whose failures are retryable; the final error
// names every key still failed.
func (s *store) DeleteMany(ctx context.Context, keys []string) error {
	var permanent map[string]error
	remaining := keys
	for attempt := 1; ; attempt++ {
		err := s.base.DeleteMany(ctx, remaining)
		if err == nil {
			return mergeFailures(permanent, nil)
		}
		var dme *objstore.DeleteManyError
		if !errors.As(err, &dme) {
			if !s.again(ctx, objstore.OpDeleteMany, "", attempt, err) {
				return mergeFailures(permanent, err)
			}
			continue
		}
		var next []string
		var retryable error
		for _, k := range remaining {
			e, failed := dme.Failed[k]
			switch {
			case !failed:
			case objstore.IsRetryable(e):
				next = append(next, k)
				retryable = e
			default:
				if permanent == nil {
					permanent = make(map[string]error)
				}
				permanent[k] = e
			}
		}
		if len(next) == 0 || !s.again(ctx, objstore.OpDeleteMany, "", attempt, retryable) {
			for _, k := range next {
				if permanent == nil {
					permanent = make(map[string]error)
				}
				permanent[k] = dme.Failed[k]
			}
			return mergeFailures(permanent, nil)
		}
		remaining = next
	}
}

// mergeFailures returns err if it is set, else a *DeleteManyError for failed,
// else nil.
func mergeFailures(failed map[string]error, err error) error {
	if err != nil {
		if len(failed) == 0 {
			return err
		}
		return errors.Join(&objstore.DeleteManyError{Failed: failed}, err)
	}
	if len(failed) == 0 {
		return nil
	}
	return &objstore.DeleteManyError{Failed: failed}
}

// List resumes a failed listing after the last key it yielded; the attempt
// count restarts whenever a listing made progress.
func (s *store) List(ctx context.Context, prefix string, opts *objstore.ListOptions) iter.Seq2[objstore.ObjectInfo, error] {
	return func(yield func(objstore.ObjectInfo, error) bool) {
		var o objstore.ListOptions
		if opts != nil {
			o = *opts
		}
		last, started := o.StartAfter, o.StartAfter != ""
		for attempt := 1; ; attempt++ {
			lo := o
			lo.StartAfter = last
			var failed error
			for info, err := range s.base.List(ctx, prefix, &lo) {
				if err != nil {
					failed = err
					break
				}
				// A resumed delimited listing repeats the common prefix
				// it stopped in; skip what was already yielded.
				if started && info.Key <= last {
					continue
				}
				if !yield(info, nil) {
					return
				}
				last, started, attempt = info.Key, true, 1
			}
			if failed == nil {
				return
			}
			if !s.again(ctx, objstore.OpList, prefix, attempt, failed) {
				yield(objstore.ObjectInfo{}, failed)
				return
			}
		}
	}
}

// ListUploads is retried only until it yields its first result: uploads
// have no resumable order.
func (s *store) ListUploads(ctx context.Context, prefix string) iter.Seq2[objstore.UploadInfo, error] {
	return func(yield func(objstore.UploadInfo, error) bool) {
		for attempt := 1; ; attempt++ {
			yielded := false
			var failed error
			for u, err := range s.base.ListUploads(ctx, prefix) {
				if err != nil && !yielded {
					failed = err
					break
				}
				if !yield(u, err) || err != nil {
					return
				}
				yielded = true
			}
			if failed == nil {
				return
			}
			if !s.again(ctx, objstore.OpListUploads, prefix, attempt, failed) {
				yield(objstore.UploadInfo{}, failed)
				return
			}
		}
	}
}

func (s *store) AbortUpload(ctx context.Context, key, uploadID string) error {
	return s.doWrite(ctx, objstore.OpAbortUpload, key, func() error {
		return s.base.AbortUpload(ctx, key, uploadID)
	})
}

// UploadSize is a read: retried as a whole.
func (s *store) UploadSize(ctx context.Context, key, uploadID string) (int64, error) {
	var size int64
	err := s.do(ctx, objstore.OpUploadSize, key, func() (err error) {
		size, err = s.base.UploadSize(ctx, key, uploadID)
		return err
	})
	return size, err
}

func (s *store) Capabilities() objstore.Capabilities { return s.base.Capabilities() }

func (s *store) Close() error { return s.base.Close() }
