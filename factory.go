package stowage

import (
	"context"
	"fmt"

	"github.com/stowage-dev/stowage/session"
)

// The session store factory: lash's SessionStoreFactory over one bucket.

// CreateSession makes session meta.SessionID exist with meta and returns
// its handle. It is idempotent: a session that exists keeps its meta. A
// session recreated after DeleteSession starts clean (fencing token 1, no
// inputs, no queued work).
func (s *Store) CreateSession(ctx context.Context, meta session.SessionMeta) (*session.Store, error) {
	h, err := s.Session(meta.SessionID)
	if err != nil {
		return nil, err
	}
	if _, err := h.CreateSession(ctx, meta); err != nil {
		return nil, fmt.Errorf("stowage: create session %q: %w", meta.SessionID, err)
	}
	return h, nil
}

// OpenExistingSession returns the handle of session id if it exists, and
// (nil, nil) if it does not (never created, or deleted).
func (s *Store) OpenExistingSession(ctx context.Context, id string) (*session.Store, error) {
	h, err := s.Session(id)
	if err != nil {
		return nil, err
	}
	ok, err := h.Exists(ctx)
	if err != nil || !ok {
		return nil, err
	}
	return h, nil
}

// DurabilityTier is the tier of every session of the store: durable (state
// and coordination live in the bucket, across processes), except for a
// memory store, which is inline.
func (s *Store) DurabilityTier() session.DurabilityTier {
	if s.objs.Capabilities().Durable {
		return session.Durable
	}
	return session.Inline
}
