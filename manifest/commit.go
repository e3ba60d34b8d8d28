package manifest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/stowage-dev/stowage/ids"
)

// CommitRefs stamps committed (now, by the manifest clock) the rows
// (sessionID, id) that exist and are not yet stamped. It never inserts.
func (s *Store) CommitRefs(ctx context.Context, sessionID string, ids []string) error {
	return s.stamp(ctx, "commit refs", sessionID, ids, s.now(), false)
}

// FinishCommit stamps the rows committed at the given time, like
// CommitRefs. The session head is the source of truth: if a crash skips this
// call, a later CommitRefs from the head repairs the stamps (until then the
// rows are uncommitted intents, which the sweeper keeps while their owner
// lives, and PrepareCommit's fence keeps their bytes).
//
// A published head names the ids already, so no turn's commit needs their
// turn markers any more (a turn's later commits replay its receipt): the
// markers of the owner this Store remembers are deleted while the rows
// are stamped, not after, which saves the commit a round trip.
func (s *Store) FinishCommit(ctx context.Context, sessionID string, ids []string, at time.Time) error {
	return s.stamp(ctx, "finish commit", sessionID, ids, at, true)
}

// stamp stamps the rows committed at at and deletes the turn markers of
// the rows it stamps. published says a published head names the rows: the
// markers of their remembered owner are then deleted concurrently with the
// stamp (and those of an owner found otherwise after it); else only after
// the stamp wrote, since until then the owner's commit may still need them.
func (s *Store) stamp(ctx context.Context, op, sessionID string, ids []string, at time.Time, published bool) error {
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
			var (
				early Owner
				drops sync.WaitGroup
			)
			if c, ok := s.cache.peek(RefKey(id, sessionID)); published && ok && !c.row.Committed() && c.row.Owner.Kind == OwnerTurn {
				early = c.row.Owner
				drops.Go(func() { s.dropTurnMarkers(gctx, sessionID, early.ID, id) })
			}
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
			drops.Wait()
			if err == nil && wrote && owner.Kind == OwnerTurn && owner != early {
				s.dropTurnMarkers(gctx, sessionID, owner.ID, id)
			}
			return err
		})
	}
	return wrap(op, g.Wait())
}

// dropTurnMarkers deletes the turn markers of id for turnID (a committed
// row needs none); a failed delete leaves a stale marker, which readers
// ignore.
func (s *Store) dropTurnMarkers(ctx context.Context, sessionID, turnID, id string) {
	var keys []string
	for _, prefix := range turnMarkerPrefixes(sessionID, turnID) {
		keys = append(keys, prefix+id)
	}
	if err := s.obj.DeleteMany(ctx, keys); err != nil {
		s.log.DebugContext(ctx, "manifest: turn marker left", "session_id", sessionID, "turn_id", turnID, "attachment_id", id, "err", err)
	}
}

// errSkip: a row PrepareCommit looked at through a turn marker is not the
// turn's to adopt.
var errSkip = errors.New("manifest: not adopted")

// prepOutcome is what PrepareCommit decided for one row.
type prepOutcome int

const (
	prepSkip     prepOutcome = iota // a turn marker's row that is not the turn's
	prepStamp                       // stamp it
	prepUnbacked                    // no bytes: report it, stamp nothing
)

// PrepareCommit returns what a commit of sessionID will stamp: each of ids
// that has a row of this session naming readable data, plus, if turnID is
// not empty, every uncommitted row of this session owned by that turn that
// names readable data. An id without readable data (no row, no bytes
// written, bytes reclaimed) lands in Unbacked and is not stamped: a commit
// is never refused for an attachment, and never records a ref that
// protects nothing.
//
// Every row returned to stamp that is not yet committed is first stamped
// prepared (PreparedAt, by compare-and-swap) and then passes the deletion
// fence (Protect), unless the version the compare-and-swap replaced was
// protected by this Store (ProtectRow). The stamp closes the race with ForgetAgedUncommitted: a
// forget that judged the row before the stamp fails its conditional
// delete, one that deleted it first makes the row unbacked (the commit
// records nothing for it), and one that reads the stamp keeps the row
// until the stamp is older than its cutoff. What remains is a commit that
// stalls between PrepareCommit and its head PUT for longer than the
// sweeper's grace period, which the sweeper's head fence closes.
//
// inc is the incarnation of the head the commit is based on: every row
// returned to stamp is bound to it (Row.Inc), a committed row of an older
// incarnation (or an unbound one) by a compare-and-swap too, so a
// ForgetSession of an ended incarnation fails its conditional removal, or
// removes the row first and the id comes back unbacked.
func (s *Store) PrepareCommit(ctx context.Context, sessionID string, inc uint64, turnID string, attachmentIDs []string) (Prepared, error) {
	return s.PrepareTurnCommit(ctx, sessionID, HeadState{Inc: inc}, turnID, nil, attachmentIDs)
}

// PrepareTurnCommit is PrepareCommit for a commit whose base head is base
// (base.Inc: the incarnation the commit publishes; base.Live: the base is
// a live head of it) and knows the writers of turnID (the manifests that
// announced it: docs/protocol.md, "One-request commits"). If this Store is
// the only one, the turn's rows are the ones it remembers making the
// turn's, and it adopts those without listing the turn's markers;
// otherwise (nil writers: unknown) it lists them.
//
// A row this Store put after seeing base's incarnation and sweep
// generation, and settled, is stamped with no request at all (no prepare,
// no Protect: adoptsDirectly and docs/protocol.md, "Turns with
// attachments: adoption without a request"); every other row is prepared
// as PrepareCommit does.
func (s *Store) PrepareTurnCommit(ctx context.Context, sessionID string, base HeadState, turnID string, writers, attachmentIDs []string) (Prepared, error) {
	if err := ValidateSessionID(sessionID); err != nil {
		return Prepared{}, wrap("prepare commit", err)
	}
	if turnID != "" {
		if err := ids.Turn(turnID); err != nil {
			return Prepared{}, wrap("prepare commit", err)
		}
	}
	if err := validateIDs(attachmentIDs); err != nil {
		return Prepared{}, wrap("prepare commit", err)
	}
	var (
		mu  sync.Mutex
		out Prepared
	)
	record := func(id string, o prepOutcome) {
		mu.Lock()
		defer mu.Unlock()
		switch o {
		case prepStamp:
			out.Stamp = append(out.Stamp, id)
		case prepUnbacked:
			out.Unbacked = append(out.Unbacked, id)
		}
	}
	named := distinct(attachmentIDs)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.conc)
	prep := func(id, turnID string) {
		if s.adoptsDirectly(sessionID, id, turnID, base) {
			record(id, prepStamp)
			return
		}
		g.Go(func() error {
			o, err := s.prepare(gctx, sessionID, base.Inc, id, turnID)
			record(id, o)
			return err
		})
	}
	for _, id := range named {
		prep(id, "")
	}
	if turnID != "" {
		seen := make(map[string]bool, len(named))
		for _, id := range named {
			seen[id] = true
		}
		marked, err := s.turnRows(gctx, sessionID, turnID, writers)
		if err != nil {
			g.Go(func() error { return err })
			marked = nil
		}
		for _, id := range marked {
			if seen[id] {
				continue
			}
			seen[id] = true
			prep(id, turnID)
		}
	}
	if err := g.Wait(); err != nil {
		return Prepared{}, wrap("prepare commit", err)
	}
	slices.Sort(out.Stamp)
	slices.Sort(out.Unbacked)
	return out, nil
}

// turnRows returns the ids of the rows a commit of turnID adopts if it
// still owns them: the rows this Store remembers making the turn's, if the
// turn's writers in the commit's base head are this Store alone; else the
// turn's markers.
func (s *Store) turnRows(ctx context.Context, sessionID, turnID string, writers []string) ([]string, error) {
	if ids, ok := s.announced.rows(sessionID, turnID, writers); ok {
		return ids, nil
	}
	return s.turnMarked(ctx, sessionID, turnID)
}

// turnMarked returns the attachment ids of the turn markers of turnID in
// sessionID, listing the current and the legacy marker prefix (see
// legacyTurnMarkers) concurrently, so a turn costs one round trip.
func (s *Store) turnMarked(ctx context.Context, sessionID, turnID string) ([]string, error) {
	prefixes := turnMarkerPrefixes(sessionID, turnID)
	found := make([][]string, len(prefixes))
	g, gctx := errgroup.WithContext(ctx)
	for i, prefix := range prefixes {
		g.Go(func() error {
			for info, err := range s.obj.List(gctx, prefix, nil) {
				if err != nil {
					return err
				}
				if id := tailAfter(info.Key, prefix); ValidateAttachmentID(id) == nil {
					found[i] = append(found[i], id)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return slices.Concat(found...), nil
}

// prepare stamps the row (sessionID, id) prepared and protects its data. A
// row named by the commit (turnID empty) is stamped if it names readable
// data and unbacked otherwise; a row found through turn turnID's marker is
// considered only if it is uncommitted and owned by that turn. A row
// stamped is bound to incarnation inc.
func (s *Store) prepare(ctx context.Context, sessionID string, inc uint64, id, turnID string) (prepOutcome, error) {
	adopt := turnID != ""
	now := s.Now()
	unbacked := false
	row, _, err := s.updateRow(ctx, sessionID, id, func(cur *Row) (*Row, error) {
		unbacked = false
		switch {
		case adopt && (cur == nil || cur.Committed() || cur.Owner != TurnOwner(turnID)):
			return nil, errSkip
		case cur == nil || cur.Data.IsZero():
			unbacked = true
			return nil, nil
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
		return prepSkip, nil
	case err != nil:
		return prepSkip, err
	case unbacked:
		s.log.DebugContext(ctx, "manifest: commit names an attachment without bytes; not stamped",
			"session_id", sessionID, "turn_id", turnID, "attachment_id", id, "err", ErrDanglingRef)
		return prepUnbacked, nil
	case row.Committed(), s.cache.protected(RefKey(id, sessionID), row.Rev):
		// A committed row's data has been rooted since it was protected;
		// so has a row prepared over a version whose data this Store
		// protected (ProtectRow).
		return prepStamp, nil
	}
	err = s.fence.Protect(ctx, row.Data.Key)
	switch {
	case err == nil:
		return prepStamp, nil
	case errors.Is(err, ErrReclaimed):
		s.log.WarnContext(ctx, "manifest: attachment lost its bytes; not stamped",
			"session_id", sessionID, "turn_id", turnID, "attachment_id", id, "err", fmt.Errorf("%w: %w", ErrDanglingRef, err))
		return prepUnbacked, nil
	}
	return prepSkip, err
}

// distinct returns ids without duplicates, sorted.
func distinct(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}
