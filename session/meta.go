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
