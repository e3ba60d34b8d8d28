package session

import (
	"context"
	"errors"
	"slices"

	"github.com/stowage-dev/stowage/objstore"
)

// Superseded objects (docs/protocol.md, "Superseded objects"). A commit
// that merges segments or replaces checkpoint blobs publishes a head that
// no longer names some objects its base named. No later head can name them
// again: a head only carries forward what its base names, and every head
// published after this one is built on it or a successor. So the writer
// deletes them itself, with the handle's next head write (in the
// background, beside its PUT: no request is added to the critical path and
// the commit does not wait for them), instead of leaving
// them to the sweeper: the bucket holds little more than the live bytes
// between sweeps. A reader that finds a named object missing re-reads the
// head and retries (retryMissing): the head that dropped it is then seen.
// A crash or a failed delete leaves them to the sweeper, as before.

// supersededKeys returns the keys base names that next does not.
func supersededKeys(base, next *head) []string {
	if base == nil || next == nil {
		return nil
	}
	keep := map[string]bool{}
	for _, k := range reachableKeys(next) {
		keep[k] = true
	}
	var out []string
	for _, k := range reachableKeys(base) {
		if !keep[k] {
			out = append(out, k)
		}
	}
	return out
}

// retire queues keys for deletion with the handle's next head write.
func (s *Store) retire(keys []string) {
	if len(keys) == 0 {
		return
	}
	s.mu.Lock()
	s.retired = append(s.retired, keys...)
	s.mu.Unlock()
}

// takeRetired returns and clears the queued keys.
func (s *Store) takeRetired() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := s.retired
	s.retired = nil
	return slices.Compact(keys)
}

// startDeleteRetired deletes the queued keys in the background, beside
// the head write that is about to start: the commit does not wait for
// them (WaitCompaction does). Nothing can need them: every head from now
// on is built on one that no longer names them.
func (s *Store) startDeleteRetired(ctx context.Context, sid string) {
	retired := s.takeRetired()
	if len(retired) == 0 {
		return
	}
	s.retireWG.Add(1)
	go func() {
		defer s.retireWG.Done()
		s.deleteRetired(context.WithoutCancel(ctx), sid, retired)
	}()
}

// deleteRetired deletes keys; a failure leaves them to the sweeper.
func (s *Store) deleteRetired(ctx context.Context, sid string, keys []string) {
	if len(keys) == 0 {
		return
	}
	if err := s.objs.DeleteMany(ctx, keys); err != nil {
		s.log.Warn("session: deleting superseded objects failed; the sweeper will",
			"session_id", sid, "objects", len(keys), "err", err)
	}
}

// isMissing reports whether err is a named object found missing.
func isMissing(err error) bool {
	var ce *CorruptError
	return errors.As(err, &ce) && errors.Is(err, objstore.ErrNotExist)
}

// moved returns the current head after an operation on cur found a named
// object missing (err): the newer head if there is one, else err (the head
// still names it: corruption).
func (s *Store) moved(ctx context.Context, sid string, cur snapshot, err error) (snapshot, error) {
	snap, rerr := s.revalidate(ctx, sid)
	if rerr != nil {
		return snapshot{}, rerr
	}
	if snap.etag == cur.etag {
		return snapshot{}, err
	}
	return snap, nil
}

// retryMissing runs read, which reads the head (through revalidate) and
// then what it names. When a named object is missing and the head has
// changed since read saw it, the object was superseded meanwhile: read runs
// again on the new head. A missing object that the current head still
// names is corruption.
func (s *Store) retryMissing(ctx context.Context, sid string, read func() error) error {
	for attempt := 0; ; attempt++ {
		err := read()
		if !isMissing(err) || attempt >= 8 {
			return err
		}
		seen := ""
		if cur := s.segs.head(sid); cur != nil {
			seen = cur.etag
		}
		snap, rerr := s.revalidate(ctx, sid)
		if rerr != nil || snap.etag == seen {
			return err
		}
	}
}
