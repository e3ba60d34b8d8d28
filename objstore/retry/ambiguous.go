package retry

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"

	"github.com/stowage-dev/stowage/objstore"
)

// WriteTokenKey is the user-metadata key under which every conditional Put
// and Upload carries its unique write token. A caller that sets it itself
// (to a unique value) has its token used instead of a fresh one.
const WriteTokenKey = "stowage-write-token"

// AmbiguousError reports a conditional write whose outcome could not be
// determined: an attempt failed in a way that may have been applied, and the
// read-back could not prove the write ours. The write may have landed (and
// perhaps been superseded) or not. It matches objstore.ErrOutcomeUnknown and
// everything Err matches (ErrPreconditionFailed when a later attempt failed
// its condition, ErrUnavailable when attempts ran out).
type AmbiguousError struct {
	Op       string // objstore.OpPut, OpUpload or OpDelete
	Key      string
	Attempts int   // attempts made
	Cause    error // the failure after which the write may have been applied
	Err      error // the final result
}

func (e *AmbiguousError) Error() string {
	msg := fmt.Sprintf("retry: %s %q: %v after %d attempts: %v", e.Op, e.Key, objstore.ErrOutcomeUnknown, e.Attempts, e.Err)
	if e.Cause != nil && e.Cause != e.Err {
		msg += fmt.Sprintf(" (an earlier attempt may have been applied: %v)", e.Cause)
	}
	return msg
}

// Is reports that an AmbiguousError is an objstore.ErrOutcomeUnknown.
func (e *AmbiguousError) Is(target error) bool { return target == objstore.ErrOutcomeUnknown }

// Unwrap returns the final result.
func (e *AmbiguousError) Unwrap() error { return e.Err }

// maybeApplied reports whether a write that failed with err may nevertheless
// have been applied. Conservative: only explicit refusals (throttling, 409,
// failed preconditions, permanent client errors) and a context that was
// already done before the call are known not to have been applied.
func maybeApplied(err error) bool {
	for _, refused := range []error{
		objstore.ErrThrottled, objstore.ErrConflict, objstore.ErrPreconditionFailed,
		objstore.ErrNotExist, objstore.ErrPermission, objstore.ErrInvalidKey,
		objstore.ErrInvalidArgument, objstore.ErrNotSupported, objstore.ErrChecksum,
		objstore.ErrClosed, objstore.ErrNoBucket, objstore.ErrReadOnly,
	} {
		if errors.Is(err, refused) {
			return false
		}
	}
	return err != nil
}

// withToken returns a copy of md carrying a write token, and the token. If
// md already has one it is used. If adding a token would make the metadata
// invalid (too large), md is returned unchanged with no token: such a
// write's ambiguity cannot be resolved.
func withToken(md map[string]string) (map[string]string, string) {
	if t := md[WriteTokenKey]; t != "" {
		return md, t
	}
	out := make(map[string]string, len(md)+1)
	maps.Copy(out, md)
	t := rand.Text()
	out[WriteTokenKey] = t
	if objstore.ValidateMetadata(out) != nil {
		return md, ""
	}
	return out, t
}

func (s *store) putConditional(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	o := *opts
	var token string
	o.Metadata, token = withToken(opts.Metadata)
	var maybe error // the first failure that may have been applied
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil && maybe == nil {
			return objstore.ObjectInfo{}, err // nothing was sent
		}
		info, err := s.base.Put(ctx, key, data, &o)
		switch {
		case err == nil:
			return info, nil
		case errors.Is(err, objstore.ErrPreconditionFailed):
			if maybe == nil {
				// Most likely a plain lost race. But a layer below us (an
				// SDK retry, net/http resending an idempotent PUT on a
				// reused connection) may have retried a request whose
				// first copy was applied, so a 412 is never trusted
				// without reading the token back: one HEAD per lost race.
				if got, ok := s.ours(ctx, key, token); ok {
					s.resolved(objstore.OpPut, true)
					return got, nil
				}
				return info, err
			}
			return s.resolve(ctx, objstore.OpPut, key, token, attempt, maybe, err)
		case maybe == nil && maybeApplied(err):
			maybe = err
		}
		if !s.again(ctx, objstore.OpPut, key, attempt, err) {
			if maybe != nil {
				return s.resolve(ctx, objstore.OpPut, key, token, attempt, maybe, err)
			}
			return info, err
		}
	}
}

// resolved reports an ambiguous write's outcome to Options.OnResolved.
func (s *store) resolved(op string, ours bool) {
	if s.opts.OnResolved != nil {
		s.opts.OnResolved(op, ours)
	}
}

// ours reads key back and reports whether it carries token.
func (s *store) ours(ctx context.Context, key, token string) (objstore.ObjectInfo, bool) {
	if token == "" {
		return objstore.ObjectInfo{}, false
	}
	info, err := s.Head(ctx, key)
	return info, err == nil && info.Metadata[WriteTokenKey] == token
}

// resolve reads key back after an ambiguous write: if it carries token the
// write was ours and its info is returned; otherwise an *AmbiguousError.
func (s *store) resolve(ctx context.Context, op, key, token string, attempts int, cause, last error) (objstore.ObjectInfo, error) {
	if token != "" {
		info, err := s.Head(ctx, key)
		if err == nil && info.Metadata[WriteTokenKey] == token {
			s.opts.Logger.LogAttrs(ctx, slog.LevelInfo, "ambiguous write resolved: ours",
				slog.String("op", op), slog.String("key", key), slog.Int("attempts", attempts),
				slog.String("etag", info.ETag), slog.Any("cause", cause))
			s.resolved(op, true)
			return info, nil
		}
		if err != nil && !errors.Is(err, objstore.ErrNotExist) {
			last = errors.Join(last, fmt.Errorf("retry: read-back: %w", err))
		}
	}
	s.opts.Logger.LogAttrs(ctx, slog.LevelDebug, "ambiguous write unresolved",
		slog.String("op", op), slog.String("key", key), slog.Int("attempts", attempts),
		slog.Any("cause", cause), slog.Any("err", last))
	s.resolved(op, false)
	return objstore.ObjectInfo{}, &AmbiguousError{Op: op, Key: key, Attempts: attempts, Cause: cause, Err: last}
}

func (s *store) deleteConditional(ctx context.Context, key string, opts *objstore.DeleteOptions) error {
	var maybe error
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil && maybe == nil {
			return err
		}
		err := s.base.Delete(ctx, key, opts)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, objstore.ErrPreconditionFailed):
			if maybe == nil {
				return err
			}
			return &AmbiguousError{Op: objstore.OpDelete, Key: key, Attempts: attempt, Cause: maybe, Err: err}
		case maybe == nil && maybeApplied(err):
			maybe = err
		}
		if !s.again(ctx, objstore.OpDelete, key, attempt, err) {
			if maybe != nil {
				return &AmbiguousError{Op: objstore.OpDelete, Key: key, Attempts: attempt, Cause: maybe, Err: err}
			}
			return err
		}
	}
}

// Upload is not retried. A conditional Upload carries a write token; if it
// fails its precondition or fails in a way that may have been applied, the
// key is read back: our token means success; otherwise a precondition
// failure is returned as is and a maybe-applied failure as an
// *AmbiguousError.
func (s *store) Upload(ctx context.Context, key string, body io.Reader, opts *objstore.UploadOptions) (objstore.ObjectInfo, error) {
	if opts == nil || !opts.PutOptions.Conditional() {
		info, err := s.base.Upload(ctx, key, body, opts)
		return info, timedOut(objstore.OpUpload, key, 1, err)
	}
	if err := ctx.Err(); err != nil {
		return objstore.ObjectInfo{}, err
	}
	o := *opts
	var token string
	o.Metadata, token = withToken(opts.Metadata)
	info, err := s.base.Upload(ctx, key, body, &o)
	if err == nil {
		return info, nil
	}
	precondition := errors.Is(err, objstore.ErrPreconditionFailed)
	if !precondition && !maybeApplied(err) {
		return info, err
	}
	if precondition {
		// The engine below may have retried a completion whose response
		// was lost; only ours is a success.
		if got, ok := s.ours(ctx, key, token); ok {
			s.resolved(objstore.OpUpload, true)
			return got, nil
		}
		return info, err
	}
	return s.resolve(ctx, objstore.OpUpload, key, token, 1, err, err)
}
