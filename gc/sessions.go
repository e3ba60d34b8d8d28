package gc

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

// ErrNoHeadFence is returned by a Heads whose session layer cannot advance a
// head's sweep generation; the sweeper then leaves session objects (and dead
// rows) alone and reports them deferred.
var ErrNoHeadFence = errors.New("gc: session layer has no head fence")

// Heads is the session layer's side of the sweep protocol for session
// objects (docs/protocol.md, "Sweeping").
type Heads interface {
	// Read decodes sid's head: nil if there is none.
	Read(ctx context.Context, store objstore.Store, sid string) (*session.HeadInfo, error)
	// Sweep publishes, by compare-and-swap on the head whose ETag is etag
	// (create-only if etag is empty: a placeholder head for a headless
	// session, which readers take for no session), a successor naming the
	// same objects with the head's sweep generation advanced, and returns
	// it. The writer's obligation that makes this a fence: an object
	// written for a commit attempt is published only by a head whose base
	// has the sweep generation the attempt started from. A changed head
	// fails with an error matching objstore.ErrPreconditionFailed.
	Sweep(ctx context.Context, store objstore.Store, sid, etag string) (*session.HeadInfo, error)
}

// SessionHeads is the Heads of package session: Read is session.ReadHead
// and Sweep is SweepFunc, or session.SweepHead when SweepFunc is nil. A
// SweepFunc that returns ErrNoHeadFence makes the sweeper leave session
// objects alone (reported deferred), never delete them on the strength of
// their age.
type SessionHeads struct {
	SweepFunc func(ctx context.Context, store objstore.Store, sid, etag string) (*session.HeadInfo, error)
}

// Read implements Heads with session.ReadHead.
func (h SessionHeads) Read(ctx context.Context, store objstore.Store, sid string) (*session.HeadInfo, error) {
	return session.ReadHead(ctx, store, sid)
}

// Sweep implements Heads.
func (h SessionHeads) Sweep(ctx context.Context, store objstore.Store, sid, etag string) (*session.HeadInfo, error) {
	if h.SweepFunc == nil {
		return session.SweepHead(ctx, store, sid, etag)
	}
	return h.SweepFunc(ctx, store, sid, etag)
}

// sessionBatch bounds the unnamed objects one head fence covers.
const sessionBatch = objstore.MaxDeleteBatch

// sweepSessions sweeps every session of the shard: those with objects
// under sessions/ and, when dead rows are forgotten through the head fence,
// those that only have rows in the manifest (an attachment recorded for a
// session that never committed), whose dead rows would otherwise stay.
func (r *run) sweepSessions(ctx context.Context) error {
	var rowSessions iter.Seq2[string, error]
	if l, ok := r.manifest.(SessionLister); ok && r.rows != nil && r.ForgetDeadIntents {
		rowSessions = l.SessionIDs(ctx)
	}
	for s, err := range mergeSessions(r.sessionPrefixes(ctx), rowSessions) {
		if err != nil {
			return err
		}
		if !r.shard.ownsKey(s.id) {
			continue
		}
		if err := r.sweepSession(ctx, s.id, s.objects); err != nil {
			if errors.Is(err, ErrLeaseLost) || ctx.Err() != nil {
				return err
			}
			var corrupt *session.CorruptError
			if errors.As(err, &corrupt) {
				r.unreadable(ctx, corrupt.Key, err) // its objects' status is unknown: all kept
				continue
			}
			r.log.WarnContext(ctx, "gc: session skipped", "session_id", s.id, "err", err)
			r.tally.failed(err, session.SessionPrefix(s.id))
		}
	}
	return nil
}

// sessionPrefixes yields, in listing order, the valid session ids that have
// a key prefix under sessions/, reporting the keys there that do not fit
// the layout.
func (r *run) sessionPrefixes(ctx context.Context) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		opts := &objstore.ListOptions{Delimiter: "/"}
		for info, err := range r.store.List(ctx, session.SessionsPrefix, opts) {
			if err != nil {
				yield("", err)
				return
			}
			if !info.IsPrefix {
				r.scanned(1)
				r.tally.unknown(info.Key)
				continue
			}
			sid := info.Key[len(session.SessionsPrefix) : len(info.Key)-1]
			if session.ValidateSessionID(sid) != nil {
				r.tally.unknown(info.Key)
				continue
			}
			if !yield(sid, nil) {
				return
			}
		}
	}
}

// sweepSession deletes the objects of sid that its head does not name and
// that are past grace, in batches: for each batch it lists the objects
// first, then advances the head's sweep generation by compare-and-swap on
// the head whose names it used, then deletes. An object listed before that
// publication was written for an attempt based on an earlier sweep
// generation, so no later head can name it (the writer's obligation), and
// the head it was checked against does not.
//
// objects is false for a session known only from the manifest: it has no
// key under sessions/ to list.
func (r *run) sweepSession(ctx context.Context, sid string, objects bool) error {
	if err := r.forgetSessionRows(ctx, sid); err != nil {
		return err
	}
	if !objects {
		return nil
	}
	var batch []objstore.ObjectInfo
	for info, err := range r.store.List(ctx, session.SessionPrefix(sid), nil) {
		if err != nil {
			return err
		}
		r.scanned(1)
		_, kind, ok := session.ParseKey(info.Key)
		switch {
		case !ok:
			r.tally.unknown(info.Key)
			continue
		case kind == session.KeyHead:
			r.tally.roots(1)
			continue
		case !r.aged(info.ModTime):
			r.tally.skip(SkipYoung, 1)
			continue
		}
		batch = append(batch, info)
		if len(batch) == sessionBatch {
			if err := r.sweepSessionBatch(ctx, sid, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		return r.sweepSessionBatch(ctx, sid, batch)
	}
	return nil
}

// sweepSessionBatch fences and deletes the objects of batch that sid's head
// does not name.
func (r *run) sweepSessionBatch(ctx context.Context, sid string, batch []objstore.ObjectInfo) error {
	const maxAttempts = 4
	for attempt := 0; ; attempt++ {
		h, err := r.heads.Read(ctx, r.store, sid)
		if err != nil {
			return err
		}
		garbage := unnamed(h, batch)
		r.tally.skip(SkipReferenced, int64(len(batch)-len(garbage)))
		if len(garbage) == 0 {
			return nil
		}
		if r.DryRun {
			r.reclaimedSession(garbage)
			return nil
		}
		n := r.take(len(garbage))
		r.tally.deferred(int64(len(garbage) - n))
		garbage = garbage[:n]
		if n == 0 {
			return nil
		}
		if err := r.checkLease(ctx); err != nil {
			r.refund(n)
			return err
		}
		if err := r.at("session-fence"); err != nil {
			r.refund(n)
			return err
		}
		etag := ""
		if h != nil {
			etag = h.ETag
		}
		_, err = r.heads.Sweep(ctx, r.store, sid, etag)
		switch {
		case errors.Is(err, ErrNoHeadFence):
			r.refund(n)
			r.tally.deferred(int64(n))
			r.log.DebugContext(ctx, "gc: session objects left: no head fence", "session_id", sid, "objects", n)
			return nil
		case errors.Is(err, objstore.ErrPreconditionFailed) || errors.Is(err, objstore.ErrConflict):
			r.refund(n)
			if attempt+1 < maxAttempts {
				continue // the head moved: judge the batch against the new one
			}
			r.tally.deferred(int64(n))
			return nil
		case err != nil:
			// Unknown outcome included: without a confirmed fence we must
			// not delete.
			r.refund(n)
			return fmt.Errorf("fence head of %s: %w", sid, err)
		}
		if err := r.at("session-delete"); err != nil {
			return err
		}
		keys := make([]string, len(garbage))
		for i, o := range garbage {
			keys[i] = o.Key
		}
		del, err := r.deleteKeys(ctx, keys)
		r.tally.failed(del.cause, del.failed...)
		r.tally.deferred(int64(len(del.undone)))
		r.reclaimedSession(without(garbage, del.notGone()))
		return err
	}
}

// unnamed returns the objects of batch that head h does not name (all of
// them if there is no head).
func unnamed(h *session.HeadInfo, batch []objstore.ObjectInfo) []objstore.ObjectInfo {
	named := map[string]bool{}
	if h != nil {
		for _, k := range h.Keys {
			named[k] = true
		}
	}
	var out []objstore.ObjectInfo
	for _, o := range batch {
		if !named[o.Key] {
			out = append(out, o)
		}
	}
	return out
}

func (r *run) reclaimedSession(objs []objstore.ObjectInfo) {
	var bytes int64
	for _, o := range objs {
		bytes += o.Size
	}
	r.tally.reclaimed(KindSessionObject, int64(len(objs)), bytes)
}

// without returns objs minus those whose key is in keys.
func without(objs []objstore.ObjectInfo, keys []string) []objstore.ObjectInfo {
	if len(keys) == 0 {
		return objs
	}
	drop := make(map[string]bool, len(keys))
	for _, k := range keys {
		drop[k] = true
	}
	var out []objstore.ObjectInfo
	for _, o := range objs {
		if !drop[o.Key] {
			out = append(out, o)
		}
	}
	return out
}
