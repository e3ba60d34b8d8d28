package manifest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// CommitRefs stamps committed (now, by the manifest clock) the rows
// (sessionID, id) that exist and are not yet stamped. It never inserts.
func (s *Store) CommitRefs(ctx context.Context, sessionID string, ids []string) error {
	return s.stamp(ctx, "commit refs", sessionID, ids, s.now())
}

// FinishCommit stamps the rows committed at the given time, like
// CommitRefs. The session head is the source of truth: if a crash skips this
// call, a later CommitRefs from the head repairs the stamps (until then the
// rows are uncommitted intents, which the sweeper keeps while their owner
// lives, and PrepareCommit's fence keeps their bytes).
func (s *Store) FinishCommit(ctx context.Context, sessionID string, ids []string, at time.Time) error {
	return s.stamp(ctx, "finish commit", sessionID, ids, at)
}

func (s *Store) stamp(ctx context.Context, op, sessionID string, ids []string, at time.Time) error {
	if err := ValidateSessionID(sessionID); err != nil {
		return wrap(op, err)
	}
	if err := validateIDs(ids); err != nil {
		return wrap(op, err)
	}
	at = ClampTime(at)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.conc)
	for _, id := range distinct(ids) {
		g.Go(func() error {
			var owner Owner
			_, wrote, err := s.updateRow(gctx, sessionID, id, func(cur *Row) (*Row, error) {
				if cur == nil || cur.Committed() {
					return nil, nil // never insert; keep the first stamp
				}
				next := *cur
				next.CommittedAt = at
				owner = cur.Owner
				return &next, nil
			})
			if err != nil {
				return err
			}
			if wrote && owner.Kind == OwnerTurn {
				// A committed row needs no turn marker; a failed delete
				// leaves a stale marker, which readers ignore.
				if err := s.obj.Delete(gctx, turnMarker(sessionID, owner.ID, id), nil); err != nil {
					s.log.DebugContext(gctx, "manifest: turn marker left", "session", sessionID, "turn", owner.ID, "id", id, "err", err)
				}
			}
			return nil
		})
	}
	return wrap(op, g.Wait())
}

// errSkip: a row PrepareCommit looked at through a turn marker is not the
// turn's to adopt.
var errSkip = errors.New("manifest: not adopted")

// PrepareCommit returns the ids a commit of sessionID will stamp: ids (each
// must have a row of this session naming readable data, else an error
// matching ErrDanglingRef) plus, if turnID is not empty, every uncommitted
// row of this session owned by that turn that names readable data. The
// result is sorted and distinct.
//
// Every returned row that is not yet committed is first stamped prepared
// (PreparedAt, by compare-and-swap) and then passes the deletion fence
// (Protect). The stamp closes the race with ForgetAgedUncommitted: a forget
// that judged the row before the stamp fails its conditional delete, one
// that deleted it first makes the stamp fail (ErrDanglingRef, nothing is
// published), and one that reads the stamp keeps the row until the stamp is
// older than its cutoff. What remains is a commit that stalls between
// PrepareCommit and its head PUT for longer than the sweeper's grace period.
//
// inc is the incarnation of the head the commit is based on: every returned
// row is bound to it (Row.Inc), a committed row of an older incarnation (or
// an unbound one) by a compare-and-swap too, so a ForgetSession of an ended
// incarnation fails its conditional removal, or removes the row first and
// the commit fails with ErrDanglingRef.
func (s *Store) PrepareCommit(ctx context.Context, sessionID string, inc uint64, turnID string, ids []string) ([]string, error) {
	if err := ValidateSessionID(sessionID); err != nil {
		return nil, wrap("prepare commit", err)
	}
	if turnID != "" {
		if err := validateSegment("turn", turnID); err != nil {
			return nil, wrap("prepare commit", err)
		}
	}
	if err := validateIDs(ids); err != nil {
		return nil, wrap("prepare commit", err)
	}
	var (
		mu  sync.Mutex
		out = distinct(ids)
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.conc)
	for _, id := range out {
		g.Go(func() error {
			_, err := s.prepare(gctx, sessionID, inc, id, "")
			return err
		})
	}
	if turnID != "" {
		named := make(map[string]bool, len(out))
		for _, id := range out {
			named[id] = true
		}
		prefix := turnMarkers(sessionID, turnID)
		for info, err := range s.obj.List(gctx, prefix, nil) {
			if err != nil {
				g.Go(func() error { return err })
				break
			}
			id := tailAfter(info.Key, prefix)
			if named[id] || ValidateAttachmentID(id) != nil {
				continue
			}
			g.Go(func() error {
				ok, err := s.prepare(gctx, sessionID, inc, id, turnID)
				if ok {
					mu.Lock()
					out = append(out, id)
					mu.Unlock()
				}
				return err
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, wrap("prepare commit", err)
	}
	slices.Sort(out)
	return out, nil
}

// prepare stamps the row (sessionID, id) prepared, binds it to incarnation
// inc and protects its data. A row named by the commit (turnID empty) must
// exist and name readable data; a row found through turn turnID's marker is
// adopted (ok) only if it is uncommitted, owned by that turn and names
// readable data.
func (s *Store) prepare(ctx context.Context, sessionID string, inc uint64, id, turnID string) (ok bool, err error) {
	adopt := turnID != ""
	now := s.Now()
	row, _, err := s.updateRow(ctx, sessionID, id, func(cur *Row) (*Row, error) {
		switch {
		case adopt && (cur == nil || cur.Data.IsZero() || cur.Committed() || cur.Owner != TurnOwner(turnID)):
			return nil, errSkip
		case cur == nil:
			return nil, fmt.Errorf("%s: session %s holds no ref: %w", id, sessionID, ErrDanglingRef)
		case cur.Data.IsZero():
			return nil, fmt.Errorf("%s: no bytes were written: %w", id, ErrDanglingRef)
		case cur.Committed() && cur.Inc >= inc:
			// Its data was protected when the row was written and has been
			// rooted by the row since; committed rows are never forgotten
			// by age. (A row bound to a later incarnation than inc: this
			// commit's base head is gone, so its PUT fails.)
			return nil, nil
		}
		next := *cur
		next.PreparedAt = now
		next.Inc = max(cur.Inc, inc)
		return &next, nil
	})
	switch {
	case errors.Is(err, errSkip):
		return false, nil
	case err != nil:
		return false, err
	case row.Committed():
		return true, nil
	}
	err = s.fence.Protect(ctx, row.Data.Key)
	switch {
	case err == nil:
		return true, nil
	case !errors.Is(err, ErrReclaimed):
		return false, err
	case adopt:
		s.log.WarnContext(ctx, "manifest: turn-owned attachment lost its bytes; not adopted",
			"session", sessionID, "turn", turnID, "id", id, "err", err)
		return false, nil
	}
	return false, fmt.Errorf("%s: %w: %w", id, ErrDanglingRef, err)
}

// distinct returns ids without duplicates, sorted.
func distinct(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}
