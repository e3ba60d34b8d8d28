package session

import (
	"context"
	"time"

	"github.com/stowage-dev/stowage/objstore"
)

// TurnReceipts answers the attachment manifest's question about turn-owner
// death from session heads: whether a session has a receipt of another turn
// committed after a time. It implements manifest.TurnReceipts.
type TurnReceipts struct {
	Store objstore.Store
}

// LatestCommitAfter reports whether sessionID has a receipt of a turn other
// than turnID committed strictly after t. Receipts are kept newest last in
// the head and at most one receipt exists per turn, so the two newest decide
// it: one head GET. A deleted or missing session has no receipts.
func (r TurnReceipts) LatestCommitAfter(ctx context.Context, sessionID, turnID string, t time.Time) (bool, error) {
	if err := ValidateSessionID(sessionID); err != nil {
		return false, err
	}
	tmp := &Store{objs: r.Store}
	snap, _, err := tmp.fetchHead(ctx, sessionID, "")
	if err != nil || !snap.h.live() {
		return false, err
	}
	rs := snap.h.Receipts
	for i := len(rs) - 1; i >= 0 && i >= len(rs)-2; i-- {
		if rs[i].TurnID != turnID && rs[i].CommittedAt.After(t) {
			return true, nil
		}
	}
	return false, nil
}
