package session

import "context"

// Session meta lives in the head (it is small), so it is written by
// compare-and-swap like everything else and shares the head's fate on
// delete; saving it does not bump the head revision.

// SaveSessionMeta implements CommitStore: last write wins. An unbound
// handle is bound to meta.SessionID.
func (s *Store) SaveSessionMeta(ctx context.Context, meta SessionMeta) error {
	if err := s.bind(meta.SessionID); err != nil {
		return err
	}
	if err := checkInHead("session meta", metaBytes(&meta)); err != nil {
		return err
	}
	sid := meta.SessionID
	_, err := s.update(ctx, sid, true, func(_ context.Context, cur snapshot) (plan, error) {
		next := liveOrFresh(sid, cur.h).clone()
		m := meta
		next.Meta = &m
		return plan{next: next}, nil
	})
	return err
}

// LoadSessionMeta implements CommitStore.
func (s *Store) LoadSessionMeta(ctx context.Context) (*SessionMeta, error) {
	h, err := s.readLive(ctx)
	if err != nil || h == nil || h.Meta == nil {
		return nil, err
	}
	m := *h.Meta
	return &m, nil
}

// CreateSession makes the session exist with meta, idempotently: a session
// that exists keeps its meta (a second create changes nothing) and created
// is false. An unbound handle is bound to meta.SessionID. A session
// recreated after a delete starts clean (fencing token 1, no inputs, no
// queue), as any write after a delete does.
func (s *Store) CreateSession(ctx context.Context, meta SessionMeta) (created bool, err error) {
	if err := s.bind(meta.SessionID); err != nil {
		return false, err
	}
	if err := checkInHead("session meta", metaBytes(&meta)); err != nil {
		return false, err
	}
	sid := meta.SessionID
	_, err = s.update(ctx, sid, true, func(_ context.Context, cur snapshot) (plan, error) {
		created = false
		if cur.h.live() && cur.h.Meta != nil {
			return plan{}, nil
		}
		next := liveOrFresh(sid, cur.h).clone()
		m := meta
		next.Meta = &m
		created = true
		return plan{next: next}, nil
	})
	return created, err
}

// Exists reports whether the session exists: it has a head that is neither
// a deletion tombstone nor a sweeper's placeholder (a create, a meta save,
// a commit, an enqueue or a lease made it exist).
func (s *Store) Exists(ctx context.Context) (bool, error) {
	h, err := s.readLive(ctx)
	return h != nil, err
}
