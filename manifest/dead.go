package manifest

import (
	"context"
	"time"
)

// Judge applies the rule that decides which uncommitted intents are dead
// (docs/contract.md, "Owner death"), for the manifest's own forgetting and
// for anyone who must agree with it (fsck). It is the only copy of the
// rule. A nil source never declares death.
type Judge struct {
	// Turns decides the death of turn owners.
	Turns TurnReceipts
	// Processes decides the death of process owners.
	Processes ProcessRegistry
}

// Judge returns the judge the store forgets by.
func (s *Store) Judge() Judge { return Judge{Turns: s.turns, Processes: s.procs} }

// OwnerDead reports whether owner o of an intent of sessionID recorded at
// intentAt is dead: an ownerless intent is; a turn owner is once the
// session has a receipt of another turn committed after the intent; a
// process owner only if the registry lacks it. An unknown kind never is.
func (j Judge) OwnerDead(ctx context.Context, sessionID string, o Owner, intentAt time.Time) (bool, error) {
	switch o.Kind {
	case OwnerNone:
		return true, nil
	case OwnerTurn:
		if j.Turns == nil {
			return false, nil
		}
		return j.Turns.LatestCommitAfter(ctx, sessionID, o.ID, intentAt)
	case OwnerProcess:
		if j.Processes == nil {
			return false, nil
		}
		ok, err := j.Processes.HasProcess(ctx, o.ID)
		return !ok && err == nil, err
	}
	return false, nil
}

// RowDead reports whether row may be forgotten at cutoff: uncommitted,
// intent at or before cutoff, not prepared for a commit after cutoff (see
// PrepareCommit), and owner dead. Age alone never proves death.
func (j Judge) RowDead(ctx context.Context, row *Row, cutoff time.Time) (bool, error) {
	if row.Committed() || row.IntentAt.After(cutoff) || row.PreparedAt.After(cutoff) {
		return false, nil
	}
	return j.OwnerDead(ctx, row.SessionID, row.Owner, row.IntentAt)
}

// UploadDead reports whether upload intent u may be forgotten at cutoff:
// AgedAt at or before cutoff (the grant's expiry for a direct upload), and
// aborted, granted (its client is past the expiry) or owner dead.
func (j Judge) UploadDead(ctx context.Context, u *Upload, cutoff time.Time) (bool, error) {
	if u.AgedAt().After(cutoff) {
		return false, nil
	}
	if u.Abandoned() {
		return true, nil
	}
	return j.OwnerDead(ctx, u.SessionID, u.Owner, u.IntentAt)
}
