package session

import (
	"context"
	"fmt"
	"iter"
	"strings"

	"github.com/stowage-dev/stowage/objstore"
)

// HeadInfo is what a session's current head names, for the sweeper and for
// operators. It is decoded from the head alone (one GET).
type HeadInfo struct {
	SessionID string
	ETag      string
	Revision  uint64
	Gen       uint64
	// SweepGen is the head's sweep generation (see SweepHead).
	SweepGen uint64
	// Incarnation is the session's incarnation: of a live head, the one it
	// belongs to; of a tombstone, the one it ended (see manifest.Row.Inc).
	Incarnation uint64
	Deleted     bool
	// Placeholder: the head is a sweeper's placeholder for a session that
	// has objects but never had a head; readers treat it as no session.
	Placeholder bool
	// Keys are the immutable objects the head names (segments, their
	// indexes, checkpoint blobs). The head key itself is not included.
	Keys []string
	// CommittedAttachmentIDs are the attachment ids of the commits still in
	// the head's tail. Older ones are in the segments' commit records.
	CommittedAttachmentIDs []string
	// UnbackedAttachmentIDs are the ids the commits still in the tail named
	// without bytes (neither stamped nor roots), by revision.
	UnbackedAttachmentIDs map[uint64][]string
	// StateProblems are the violated invariants of the head's coordination
	// state (queued work, turn inputs, node tombstones) of a live head, one
	// sentence each; fsck reports them.
	StateProblems []string
	// AttachTurns are the turns whose attachment puts the head announces
	// (see HeadRefs.AnnounceTurn); AttachTurnsFull stands for every turn.
	AttachTurns     []string
	AttachTurnsFull bool
}

// ReadHead decodes sid's head from store. It returns (nil, nil) if there is
// no head; a head that cannot be decoded is a *CorruptError (the sweeper
// must then treat every object of the session as live).
func ReadHead(ctx context.Context, store objstore.Store, sid string) (*HeadInfo, error) {
	if err := ValidateSessionID(sid); err != nil {
		return nil, err
	}
	tmp := &Store{objs: store}
	snap, _, err := tmp.fetchHead(ctx, sid, "")
	if err != nil || snap.h == nil {
		return nil, err
	}
	return headInfo(sid, snap.etag, snap.h), nil
}

// segmentKeys returns the objects of the segment ref names: its object,
// and its index object unless the segment is packed.
func segmentKeys(sid string, ref segRef) []string {
	if ref.Index != nil {
		return []string{segKey(sid, ref.ID)}
	}
	return []string{segKey(sid, ref.ID), idxKey(sid, ref.ID)}
}

func reachableKeys(h *head) []string {
	var keys []string
	for _, r := range h.Segs {
		keys = append(keys, segmentKeys(h.SessionID, r)...)
	}
	for _, r := range h.Dirs {
		keys = append(keys, dirKey(h.SessionID, r.ID))
	}
	for _, loc := range h.Blobs {
		if loc.Key != "" {
			keys = append(keys, loc.Key)
		}
	}
	return keys
}

// ListSessionIDs yields the ids of the sessions that have a key prefix in
// store, in ascending order, whether or not they have a live head. Use
// ReadHead to tell live, deleted and headless ones apart.
func ListSessionIDs(ctx context.Context, store objstore.Store) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for info, err := range store.List(ctx, SessionsPrefix, &objstore.ListOptions{Delimiter: "/"}) {
			if err != nil {
				yield("", backendErr("list sessions", err))
				return
			}
			if !info.IsPrefix {
				continue
			}
			sid := strings.TrimSuffix(strings.TrimPrefix(info.Key, SessionsPrefix), "/")
			if ValidateSessionID(sid) != nil {
				continue
			}
			if !yield(sid, nil) {
				return
			}
		}
	}
}

// Delete deletes the session: it replaces the head by a tombstone (so
// concurrent writers fail their compare-and-swap and a recreated session
// starts clean, with fencing token 1 and no inputs), then deletes the
// objects the old head named. Objects the old head did not name (of
// abandoned commits) are left to the sweeper: deleting by listing could
// destroy the objects of a concurrent recreation. Deleting a missing
// session succeeds.
//
// The tombstone is kept for good: it carries the sweep generation. Were
// the head key ever absent again, a first commit stalled since before a
// sweep could land its create-only PUT and publish objects that sweep
// deleted (docs/protocol.md, "Deletion").
func (s *Store) Delete(ctx context.Context) error {
	sid, err := s.boundID()
	if err != nil {
		return err
	}
	var old *head
	_, err = s.update(ctx, sid, true, func(_ context.Context, cur snapshot) (plan, error) {
		old = nil
		if !cur.h.live() {
			return plan{}, nil
		}
		old = cur.h
		next := freshHead(sid, cur.h)
		next.Deleted = true
		next.LeaseGen = 0
		return plan{next: next}, nil
	})
	if err != nil {
		return err
	}
	if old != nil {
		if err := s.objs.DeleteMany(ctx, reachableKeys(old)); err != nil {
			return backendErr("delete session objects", err)
		}
	}
	return nil
}

// String describes the head for logs.
func (i *HeadInfo) String() string {
	return fmt.Sprintf("session %s revision %d gen %d sweep %d deleted=%v placeholder=%v objects=%d",
		i.SessionID, i.Revision, i.Gen, i.SweepGen, i.Deleted, i.Placeholder, len(i.Keys))
}
