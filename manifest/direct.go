package manifest

import (
	"context"
	"fmt"
)

// HeadState is what a commit's direct adoption compares: a session head's
// incarnation, sweep generation and liveness (docs/protocol.md, "Turns with
// attachments: adoption without a request").
type HeadState struct {
	Inc      uint64
	SweepGen uint64
	Live     bool
}

// HeadCache reports the head this process has cached for a session, with no
// request (session.HeadRefs implements it over the handles' cache). A stale
// head is allowed: it only makes a later comparison fail.
type HeadCache interface {
	CachedHead(sessionID string) (HeadState, bool)
}

// SessionFencer advances a session head's sweep generation by
// compare-and-swap (session.HeadRefs implements it): a Store with one calls
// it between judging a row and removing it, so that a commit that names a
// row without reading it (its base head has the generation seen before the
// row was written) either publishes before the fence or fails its PUT.
type SessionFencer interface {
	FenceSession(ctx context.Context, sessionID string) error
}

// direct reports whether this Store's commits may name rows it wrote
// without a request (HeadCache, SessionFencer and Announcer all wired).
func (s *Store) direct() bool {
	return s.headCache != nil && s.fencer != nil && s.announcer != nil
}

// fenceRemoval is the fence between judging row and removing it. Without
// a SessionFencer it is a no-op for a row no commit names without a
// request, and ErrFenceRequired for one that a commit may (Row.Fence): the
// obligation of every remover of such rows is enforced, not assumed.
func (s *Store) fenceRemoval(ctx context.Context, row *Row) error {
	switch {
	case s.fencer != nil:
		return s.fencer.FenceSession(ctx, row.SessionID)
	case row.Fence:
		return fmt.Errorf("%w: attachment %s of session %s", ErrFenceRequired, row.AttachmentID, row.SessionID)
	}
	return nil
}

// adoptsDirectly reports whether a commit whose base head is base may name
// the row (sessionID, id) without a request: this Store wrote the version
// it remembers after seeing a live head with base's incarnation and sweep
// generation, bound it to that incarnation, and protected and settled it
// (ProtectRow). A removal of the row since was fenced, so base would have
// another generation; nothing re-points a settled row.
//
// turnID, if not empty, is the turn adopting the row: the version must be
// uncommitted and owned by it, as prepare would require.
func (s *Store) adoptsDirectly(sessionID, id, turnID string, base HeadState) bool {
	if !s.direct() || !base.Live {
		return false
	}
	e, ok := s.cache.peek(RefKey(id, sessionID))
	if turnID != "" && (!ok || e.row.Committed() || e.row.Owner != TurnOwner(turnID)) {
		return false
	}
	return ok && e.seen != nil && *e.seen == base && e.protected && e.settled &&
		e.row.Inc == base.Inc && !e.row.Data.IsZero()
}
