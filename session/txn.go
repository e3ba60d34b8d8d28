package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/observe"
)

// snapshot is a head as read or written, with its ETag. h is nil when no
// head object exists. Published heads are shared and never modified.
type snapshot struct {
	etag string
	h    *head
}

// readBackTimeout bounds the detached read-back after a failed head write.
const readBackTimeout = 15 * time.Second

// fetchHead GETs the head. With ifNoneMatch set and unchanged, it returns
// notModified. A head that cannot be decoded is a *CorruptError; a head of
// another session is a *SessionBindingMismatchError.
func (s *Store) fetchHead(ctx context.Context, sid, ifNoneMatch string) (snap snapshot, notModified bool, err error) {
	key := HeadKey(sid)
	rc, info, err := s.objs.Get(ctx, key, &objstore.GetOptions{IfNoneMatch: ifNoneMatch})
	switch {
	case errors.Is(err, objstore.ErrNotModified):
		return snapshot{}, true, nil
	case errors.Is(err, objstore.ErrNotExist):
		return snapshot{}, false, nil
	case err != nil:
		return snapshot{}, false, backendErr("get head", err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return snapshot{}, false, backendErr("read head", err)
	}
	h, err := decodeHead(data)
	if err != nil {
		return snapshot{}, false, &CorruptError{Key: key, Err: err}
	}
	if h.SessionID != sid {
		return snapshot{}, false, &SessionBindingMismatchError{Bound: h.SessionID, Attempted: sid}
	}
	return snapshot{etag: info.ETag, h: h}, false, nil
}

// current returns the cached head if any (fresh=false), else reads it.
func (s *Store) current(ctx context.Context, sid string) (snap snapshot, fresh bool, err error) {
	if cur := s.segs.head(sid); cur != nil {
		return *cur, false, nil
	}
	snap, err = s.revalidate(ctx, sid)
	return snap, true, err
}

// revalidate returns the current head, with one conditional GET when a head
// is cached.
func (s *Store) revalidate(ctx context.Context, sid string) (snapshot, error) {
	cur := s.segs.head(sid)
	etag := ""
	if cur != nil && cur.etag != "" {
		etag = cur.etag
	}
	snap, notModified, err := s.fetchHead(ctx, sid, etag)
	if err != nil {
		return snapshot{}, err
	}
	if notModified {
		return *cur, nil
	}
	s.remember(sid, snap)
	return snap, nil
}

// remember caches snap as sid's current head. The head is kept in the
// handle's cache (shared by every handle of a stowage.Store), within its
// byte budget, not by the handle: a kept handle holds no session state.
func (s *Store) remember(sid string, snap snapshot) {
	if cur := s.segs.head(sid); cur != nil && cur.etag == snap.etag {
		return
	}
	s.segs.putHead(sid, &snap)
}

// forget drops the cached head (after a failure that may leave it stale).
func (s *Store) forget(sid string) { s.segs.dropHead(sid) }

// plan is the outcome of evaluating an operation against a head: the head
// to publish (nil: nothing to write) and the writes that must land first.
type plan struct {
	next   *head
	before func(ctx context.Context) error
	after  func(ctx context.Context, published snapshot)
}

// update runs an optimistic read-evaluate-publish loop on sid's head.
//
// eval sees the cached head first; an outcome that is not confirmed by a
// successful compare-and-swap (an error, or nothing to write) is trusted
// only when eval saw a head read in this call, so a stale cache never
// produces a wrong answer. A publication is resolved by reading the head
// back whenever its response is anything but success: ours if the head (or
// its recent-write list) holds our write id; lost (re-evaluate) if the head
// has moved past a point where ours could still land; otherwise
// ErrCommitOutcomeUnknown, and nothing is cleaned up.
func (s *Store) update(ctx context.Context, sid string, backoff bool, eval func(ctx context.Context, cur snapshot) (plan, error)) (snapshot, error) {
	cur, fresh, err := s.current(ctx, sid)
	if err != nil {
		return snapshot{}, err
	}
	for attempt := 0; attempt < s.tune.MaxAttempts; attempt++ {
		if err := ctx.Err(); err != nil {
			return snapshot{}, err
		}
		p, err := eval(ctx, cur)
		if isMissing(err) {
			// An object cur names was superseded and deleted by a
			// newer head's writer: evaluate again on the newer head.
			if cur, err = s.moved(ctx, sid, cur, err); err != nil {
				return snapshot{}, err
			}
			fresh = true
			continue
		}
		if err != nil || p.next == nil {
			if !fresh {
				if cur, err = s.revalidate(ctx, sid); err != nil {
					return snapshot{}, err
				}
				fresh = true
				continue
			}
			return cur, err
		}
		next := p.next
		s.stampWrite(next, cur.h)
		if p.before != nil {
			if err := p.before(ctx); err != nil {
				if isMissing(err) {
					if cur, err = s.moved(ctx, sid, cur, err); err != nil {
						return snapshot{}, err
					}
					fresh = true
					continue
				}
				return snapshot{}, err
			}
		}
		s.startDeleteRetired(ctx, sid)
		published, lost, err := s.publish(ctx, sid, cur, next)
		if err != nil {
			return snapshot{}, err
		}
		if !lost {
			if p.after != nil {
				p.after(ctx, published)
			}
			return published, nil
		}
		cur, fresh = published, true // the head that beat us
		observe.Event(ctx, s.obs, observe.HeadRetry)
		if backoff || attempt > 0 {
			s.sleepJitter(ctx, attempt)
		}
	}
	return snapshot{}, fmt.Errorf("%w: %d attempts on session %q", ErrContention, s.tune.MaxAttempts, sid)
}

// stampWrite gives next a fresh write id and generation following prev.
func (s *Store) stampWrite(next, prev *head) { s.stampWriteKeep(next, prev, s.tune.RecentWrites) }

// stampWriteKeep gives next a fresh write id and generation following prev,
// keeping at least keep previous write ids, and at least prev's window: the
// window is a property of the head, which a handle tuned smaller never
// shortens.
func (s *Store) stampWriteKeep(next, prev *head, keep int) {
	var gen uint64
	var recent []string
	if prev != nil {
		gen = prev.Gen
		keep = max(keep, prev.Window)
		recent = append(recent, prev.RecentWrites...)
		if prev.WriteID != "" {
			recent = append(recent, prev.WriteID)
		}
	}
	if len(recent) > keep {
		recent = recent[len(recent)-keep:]
	}
	next.Gen = gen + 1
	next.WriteID = s.newID()
	next.RecentWrites = recent
	next.Window = keep
}

// covers reports whether h's write history decides what was written at
// generation gen: h is that write, or its recent-write list (the ids of the
// generations just before h's, newest last, one per generation) reaches
// back to it. It depends only on the stored head, never on a handle's
// tuning.
func (h *head) covers(gen uint64) bool {
	return gen <= h.Gen && h.Gen-gen <= uint64(len(h.RecentWrites))
}

// publish writes next over cur with a condition and resolves any failure.
// It returns the published snapshot, or lost=true with the head that won.
func (s *Store) publish(ctx context.Context, sid string, cur snapshot, next *head) (snapshot, bool, error) {
	data, err := encodeHead(next)
	if err != nil {
		return snapshot{}, false, err
	}
	opts := &objstore.PutOptions{ContentType: "application/octet-stream"}
	if cur.etag == "" {
		opts.IfNoneMatch = true
	} else {
		opts.IfMatch = cur.etag
	}
	info, putErr := s.objs.Put(ctx, HeadKey(sid), data, opts)
	if putErr == nil {
		snap := snapshot{etag: info.ETag, h: next}
		s.remember(sid, snap)
		return snap, false, nil
	}
	snap, lost, err := s.resolve(ctx, sid, cur, next, putErr)
	s.observeResolved(ctx, putErr, lost, err)
	return snap, lost, err
}

// resolve decides the outcome of a head write that did not report success.
func (s *Store) resolve(ctx context.Context, sid string, cur snapshot, next *head, putErr error) (snapshot, bool, error) {
	rctx := ctx
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), readBackTimeout)
		defer cancel()
	}
	s.forget(sid)
	rb, _, err := s.fetchHead(rctx, sid, "")
	var corrupt *CorruptError
	if errors.As(err, &corrupt) || errors.Is(err, ErrSessionBindingMismatch) {
		// A head we cannot decode is not ours (we write decodable heads):
		// our write did not land, and will not over this one.
		return snapshot{}, false, err
	}
	if err != nil {
		return snapshot{}, false, &outcomeUnknownError{cause: fmt.Errorf("head write: %w; read-back: %w", putErr, err)}
	}
	s.remember(sid, rb)
	if rb.h != nil && (rb.h.WriteID == next.WriteID || slices.Contains(rb.h.RecentWrites, next.WriteID)) {
		if rb.h.WriteID == next.WriteID {
			return rb, false, nil
		}
		// Ours landed and others followed; report ours as published.
		return snapshot{etag: "", h: next}, false, nil
	}
	if rb.etag != cur.etag {
		// The head changed: our conditional write can never land now
		// (write ids make head contents, hence ETags, unique). Ours could
		// only have landed as generation cur.Gen+1: if the head's own
		// history covers that generation and it is not ours, ours lost.
		// Otherwise ours may have dropped off the list.
		if rb.h == nil || cur.h == nil || rb.h.covers(cur.h.Gen+1) {
			return rb, true, nil
		}
		return snapshot{}, false, &outcomeUnknownError{cause: fmt.Errorf("head moved %d writes past ours: %w", rb.h.Gen-cur.h.Gen, putErr)}
	}
	// The head is unchanged. A definite refusal or a retryable failure
	// means nothing was written: try again. Anything else may still land.
	if errors.Is(putErr, objstore.ErrPreconditionFailed) || objstore.IsRetryable(putErr) {
		return rb, true, nil
	}
	if errors.Is(putErr, objstore.ErrInvalidArgument) || errors.Is(putErr, objstore.ErrInvalidKey) ||
		errors.Is(putErr, objstore.ErrPermission) || errors.Is(putErr, objstore.ErrClosed) || errors.Is(putErr, objstore.ErrNotSupported) {
		return snapshot{}, false, backendErr("put head", putErr)
	}
	return snapshot{}, false, &outcomeUnknownError{cause: putErr}
}

// sleepJitter waits a short random time growing with attempt, to spread
// contending writers.
func (s *Store) sleepJitter(ctx context.Context, attempt int) {
	max := int64(time.Millisecond << min(attempt, 6))
	d := rand.Int64N(max)
	if s.rand != nil {
		s.mu.Lock() // a *rand.Rand is not safe for concurrent use
		d = s.rand.Int64N(max)
		s.mu.Unlock()
	}
	t := time.NewTimer(time.Duration(d + 1))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
