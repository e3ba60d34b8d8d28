package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
)

// The sweeper's side of the session protocol (docs/protocol.md, "Sweeping"):
// the head fence for session objects (W1) and for dead attachment rows (W2).

// defaultRecentWrites is the recent-write list a sweep keeps at least (the
// default Tuning.RecentWrites); a longer list is never shortened, so a
// writer tuned to remember more still finds its write after a sweep.
const defaultRecentWrites = 64

// SweepHead is the sweeper's head fence. It publishes, by compare-and-swap
// on sid's head whose ETag is etag, a copy of it with the sweep generation
// advanced and a fresh write id (the previous one joins the recent-write
// list, as with any head write, so a writer whose response was lost still
// finds its write), and returns the new head. Revision, content and
// everything else are kept; a tombstone stays a tombstone.
//
// With etag "" (a session that has objects but no head) it creates,
// create-only, a placeholder head: revision 0, no content, sweep generation
// 1. Every reader takes a placeholder for "no session" (LoadSession,
// LoadNode and LoadSessionMeta return nil, stowage lists no session), and the
// first write replaces it by compare-and-swap. A first commit stalled on its
// create-only PUT then fails it, reads the placeholder back and, its sweep
// generation having changed, writes its objects again (W1).
//
// A head that is no longer etag (or, with "", one that exists) fails with an
// error matching objstore.ErrPreconditionFailed: read it again. A head that
// cannot be decoded is a *CorruptError and is never replaced. Any other
// error leaves the outcome open: the caller must not rely on the fence.
func SweepHead(ctx context.Context, store objstore.Store, sid, etag string) (*HeadInfo, error) {
	return HeadSweeper{}.Sweep(ctx, store, sid, etag)
}

// HeadSweeper is SweepHead with the head's write id minted from Entropy
// (nil: a cryptographic source). A deterministic simulation injects a
// seeded one.
type HeadSweeper struct {
	Entropy io.Reader
}

// Sweep is SweepHead.
func (hs HeadSweeper) Sweep(ctx context.Context, store objstore.Store, sid, etag string) (*HeadInfo, error) {
	if err := ValidateSessionID(sid); err != nil {
		return nil, err
	}
	return rewriteHead(ctx, store, hs.Entropy, "sweep head", sid, etag, func(h *head) { h.SweepGen++ })
}

// rewriteHead publishes, by compare-and-swap on sid's head whose ETag is
// etag (create-only if etag is "": a placeholder head), a successor of it
// changed by change, with a fresh write id from entropy (nil: a
// cryptographic source). A lost response is resolved by reading the head
// back; a changed head matches objstore.ErrPreconditionFailed.
func rewriteHead(ctx context.Context, store objstore.Store, entropy io.Reader, op, sid, etag string, change func(*head)) (*HeadInfo, error) {
	tmp := &Store{objs: store}
	var cur snapshot
	if etag != "" {
		var err error
		if cur, _, err = tmp.fetchHead(ctx, sid, ""); err != nil {
			return nil, err
		}
		if cur.h == nil || cur.etag != etag {
			return nil, fmt.Errorf("session: %s of %q: head changed: %w", op, sid, objstore.ErrPreconditionFailed)
		}
	}
	return publishRewrite(ctx, tmp, entropy, op, sid, cur, change)
}

// publishRewrite is rewriteHead over the head cur just read (none: cur.h
// nil).
func publishRewrite(ctx context.Context, tmp *Store, entropy io.Reader, op, sid string, cur snapshot, change func(*head)) (*HeadInfo, error) {
	if entropy != nil {
		tmp.ids = newIDSource(entropy)
	}
	var next *head
	opts := &objstore.PutOptions{ContentType: "application/octet-stream"}
	if cur.h == nil {
		next = &head{SessionID: sid, Placeholder: true}
		change(next)
		tmp.stampWriteKeep(next, nil, defaultRecentWrites)
		opts.IfNoneMatch = true
	} else {
		next = cur.h.clone()
		tmp.stampWriteKeep(next, cur.h, max(defaultRecentWrites, len(cur.h.RecentWrites)))
		change(next)
		opts.IfMatch = cur.etag
	}
	data, err := encodeHead(next)
	if err != nil {
		return nil, err
	}
	info, putErr := tmp.objs.Put(ctx, HeadKey(sid), data, opts)
	if putErr == nil {
		return headInfo(sid, info.ETag, next), nil
	}
	return resolveRewrite(ctx, tmp, op, sid, next, putErr)
}

// resolveRewrite reads the head back after rewriteHead's PUT failed: a write
// whose response was lost (or that a retry layer sent twice) may have landed.
func resolveRewrite(ctx context.Context, tmp *Store, op, sid string, next *head, putErr error) (*HeadInfo, error) {
	rctx := ctx
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), readBackTimeout)
		defer cancel()
	}
	rb, _, err := tmp.fetchHead(rctx, sid, "")
	if err == nil && rb.h != nil {
		if rb.h.WriteID == next.WriteID {
			return headInfo(sid, rb.etag, next), nil
		}
		if slices.Contains(rb.h.RecentWrites, next.WriteID) {
			return headInfo(sid, "", next), nil // ours landed and others followed
		}
	}
	if errors.Is(putErr, objstore.ErrPreconditionFailed) || errors.Is(putErr, objstore.ErrConflict) {
		return nil, fmt.Errorf("session: %s of %q: %w", op, sid, putErr)
	}
	return nil, backendErr(op+" of "+sid, putErr)
}

// rewriteAttempts bounds the compare-and-swap attempts of AnnounceTurn and
// FenceSession against concurrent head writes.
const rewriteAttempts = 8

// AnnounceTurn records in sid's head, before an attachment put owned by
// turn writes its row, that turn has put attachments, and that writer (the
// manifest's writer id, "" for none) put some (docs/protocol.md,
// "One-request commits"): the commit of turn then adopts the turn's rows
// before its head PUT, and a turn commit whose base head does not announce
// its turn skips that step. It implements manifest.TurnAnnouncer.
//
// A head that already announces turn by writer is left alone (one head
// GET). Else it
// publishes a successor by compare-and-swap, retried on concurrent writes:
// over a live head, a tombstone or a placeholder (the announcement outlives
// a deletion and carries into a new incarnation), or, with no head, a
// placeholder. A head that cannot be decoded is a *CorruptError.
func (r HeadRefs) AnnounceTurn(ctx context.Context, sessionID, turn, writer string) error {
	if err := ValidateSessionID(sessionID); err != nil {
		return err
	}
	if err := validateID("turn id", turn); err != nil {
		return err
	}
	if err := validateOptionalID("writer id", writer); err != nil {
		return err
	}
	cur := r.Cache.head(sessionID)
	if cur != nil && cur.etag == "" {
		cur = nil // a compare-and-swap needs the ETag
	}
	return r.rewriteCached(ctx, "announce turn", sessionID, cur,
		func(h *head) bool { return h.announced(turn, writer) },
		func(h *head) { h.announce(turn, writer) })
}

// rewriteCached publishes, by compare-and-swap, a successor of sessionID's
// head changed by change, starting from cur (nil: the head read afresh) and
// reading the head again after a concurrent write, up to rewriteAttempts
// times; done, if not nil, says the head needs no change. The head it
// publishes is left in Cache.
func (r HeadRefs) rewriteCached(ctx context.Context, op, sessionID string, cur *snapshot, done func(*head) bool, change func(*head)) error {
	tmp := &Store{objs: r.Store}
	for attempt := 0; ; attempt++ {
		if cur == nil {
			snap, _, err := tmp.fetchHead(ctx, sessionID, "")
			if err != nil {
				return err
			}
			cur = &snap
		}
		if done != nil && done(cur.h) {
			return nil
		}
		var next *head
		info, err := publishRewrite(ctx, tmp, r.Entropy, op, sessionID, *cur, func(h *head) {
			change(h)
			next = h
		})
		if err == nil {
			if info.ETag != "" {
				r.Cache.putHead(sessionID, &snapshot{etag: info.ETag, h: next})
			}
			return nil
		}
		if !errors.Is(err, objstore.ErrPreconditionFailed) || attempt+1 >= rewriteAttempts {
			return err
		}
		cur = nil
	}
}

// CachedHead reports the head the handles of this process have cached for
// sessionID (HeadRefs.Cache), with no request: its incarnation, sweep
// generation and whether it is live. It implements manifest.HeadCache.
func (r HeadRefs) CachedHead(sessionID string) (manifest.HeadState, bool) {
	snap := r.Cache.head(sessionID)
	if snap == nil || snap.h == nil {
		return manifest.HeadState{}, false
	}
	h := snap.h
	return manifest.HeadState{Inc: h.incarnation(), SweepGen: h.SweepGen, Live: h.live()}, true
}

// FenceSession advances sessionID's sweep generation by compare-and-swap
// on the head it reads (a placeholder where there is no head), retried on
// concurrent writes, and leaves the new head in Cache. It implements
// manifest.SessionFencer: a manifest fences a session between judging a
// row and removing it (docs/protocol.md, "Turns with attachments: adoption
// without a request"). A head that cannot be decoded is a *CorruptError.
func (r HeadRefs) FenceSession(ctx context.Context, sessionID string) error {
	if err := ValidateSessionID(sessionID); err != nil {
		return err
	}
	return r.rewriteCached(ctx, "fence session", sessionID, nil, nil, func(h *head) { h.SweepGen++ })
}

// headInfo describes h, whose ETag is etag.
func headInfo(sid, etag string, h *head) *HeadInfo {
	info := &HeadInfo{SessionID: sid, ETag: etag, Revision: h.Revision, Gen: h.Gen, SweepGen: h.SweepGen,
		Incarnation: h.incarnation(), Deleted: h.Deleted, Placeholder: h.Placeholder,
		AttachTurns: slices.Clone(h.AttachTurns), AttachTurnsFull: h.AttachTurnsFull}
	info.Keys = reachableKeys(h)
	for _, d := range h.Tail {
		info.CommittedAttachmentIDs = append(info.CommittedAttachmentIDs, d.AttachmentIDs...)
		if len(d.Unbacked) > 0 {
			if info.UnbackedAttachmentIDs == nil {
				info.UnbackedAttachmentIDs = map[uint64][]string{}
			}
			info.UnbackedAttachmentIDs[d.Rev] = d.Unbacked
		}
	}
	if h.live() {
		info.StateProblems = stateProblems(h)
	}
	return info
}

// HeadRefs tells the attachment manifest which attachments a session's
// published commits named; it implements manifest.HeadRefs. It sees every
// commit of the session's current incarnation: the head's tail deltas and
// the commit records of every segment the head names (segments keep the
// commit records of all revisions, resets included), looked up through the
// segment indexes. A deleted, placeholder or missing session committed
// nothing.
//
// Each call reads the head afresh (no cache), so a caller that fenced the
// head first (the sweeper, W2 in docs/protocol.md) sees every commit that
// published before the fence.
type HeadRefs struct {
	Store objstore.Store
	// Entropy is the random source of the write ids of AnnounceTurn's head
	// writes; nil means a cryptographic source.
	Entropy io.Reader
	// Cache, if set, is the cache of the session handles of the same
	// process (Config.Segments): AnnounceTurn starts from its head, if it
	// holds one, instead of a GET, and leaves the head it wrote there, so
	// the turn's commit needs no extra round trip to learn of it.
	Cache *SegmentCache
}

// Incarnation reports the incarnation of sessionID's head and whether it is
// live (manifest.Incarnations): one head GET. A tombstone reports the
// incarnation it ended; no head, or a placeholder, reports 0, false.
func (r HeadRefs) Incarnation(ctx context.Context, sessionID string) (uint64, bool, error) {
	h, err := ReadHead(ctx, r.Store, sessionID)
	if err != nil || h == nil || h.Placeholder {
		// A placeholder is written only where there is no head (by the
		// sweeper, or by a put announcing its turn): no incarnation ended.
		return 0, false, err
	}
	return h.Incarnation, !h.Deleted, nil
}

// Committed reports whether a published commit of sessionID named
// attachment id, and the time of the newest such commit. Cost: one head GET;
// if the tail does not name id, the GETs of the segments' indexes (in
// parallel) and of the one segment that holds the id.
func (r HeadRefs) Committed(ctx context.Context, sessionID, id string) (found bool, at time.Time, err error) {
	if err := ValidateSessionID(sessionID); err != nil {
		return false, time.Time{}, err
	}
	st, err := New(Config{Store: r.Store, SessionID: sessionID})
	if err != nil {
		return false, time.Time{}, err
	}
	// Each attempt reads the head afresh; a segment superseded meanwhile
	// is found missing and the next attempt sees the head that dropped it.
	err = st.retryMissing(ctx, sessionID, func() (err error) {
		snap, err := st.revalidate(ctx, sessionID)
		if err != nil || !snap.h.live() {
			found, at = false, time.Time{}
			return err
		}
		found, at, err = st.committed(ctx, sessionID, snap.h, id)
		return err
	})
	return found, at, err
}

// committed looks id up in the commits of h.
func (st *Store) committed(ctx context.Context, sessionID string, h *head, id string) (bool, time.Time, error) {
	for i := len(h.Tail) - 1; i >= 0; i-- {
		if slices.Contains(h.Tail[i].AttachmentIDs, id) {
			return true, h.Tail[i].At, nil
		}
	}
	idxs, err := st.loadIndexes(ctx, sessionID, h.Segs)
	if err != nil {
		return false, time.Time{}, err
	}
	for i := len(h.Segs) - 1; i >= 0; i-- {
		if found, known := idxs[i].hasAttachment(id); known && !found {
			continue
		}
		foot, err := st.loadFooter(ctx, sessionID, h.Segs[i].ID, idxs[i])
		if err != nil {
			return false, time.Time{}, err
		}
		cs := foot.Commits
		for j := len(cs) - 1; j >= 0; j-- {
			if slices.Contains(cs[j].AttachmentIDs, id) {
				return true, cs[j].At, nil
			}
		}
	}
	return false, time.Time{}, nil
}
