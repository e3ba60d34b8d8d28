package session

import (
	"context"
	"fmt"
	"time"
)

// ClaimCheckpointWork claims, at checkpoint of the running turn turnID,
// the work of both families that may join it, for the holder of fence (the
// live lease), in one head write: up to maxInputs turn inputs pending for
// turnID itself that the checkpoint admits (see ClaimActiveTurnInputs;
// next-turn inputs wait for the next turn), and queued turn work at
// BoundaryActiveTurnCheckpoint (see ClaimReadyQueuedWork), up to
// maxBatches batches. Either claim, or both, may be nil; both are made or
// neither. Inputs and batches held by a live claim are not claimed again,
// so each is granted once per lease generation. When there is nothing to
// claim (an empty queue, or a queue whose first batch waits for the idle
// boundary) it writes nothing.
func (s *Store) ClaimCheckpointWork(ctx context.Context, fence LeaseFence, turnID string, checkpoint CheckpointKind, maxInputs, maxBatches int) (CheckpointWorkClaim, error) {
	var out CheckpointWorkClaim
	err := s.checkpointClaim(ctx, fence, turnID, checkpoint, func(next *head, sid string, now time.Time) bool {
		out = CheckpointWorkClaim{}
		out.Inputs = s.claimActiveInputs(next, sid, fence, turnID, checkpoint, max(maxInputs, 1))
		out.Queue = s.claimTurnWork(next, sid, fence, BoundaryActiveTurnCheckpoint, max(maxBatches, 1), now).Claim
		return out.Inputs != nil || out.Queue != nil
	})
	return out, err
}

// ClaimActiveTurnInputs claims, at checkpoint of the running turn turnID,
// up to max inputs pending for that turn which the checkpoint admits
// (CheckpointAfterWork admits InputAfterWork inputs, skipping the others;
// CheckpointBeforeCompletion admits all), in enqueue order, for the holder
// of fence. (nil, nil) when there is none.
func (s *Store) ClaimActiveTurnInputs(ctx context.Context, fence LeaseFence, turnID string, checkpoint CheckpointKind, max int) (*TurnInputClaim, error) {
	var out *TurnInputClaim
	err := s.checkpointClaim(ctx, fence, turnID, checkpoint, func(next *head, sid string, _ time.Time) bool {
		out = s.claimActiveInputs(next, sid, fence, turnID, checkpoint, maxOne(max))
		return out != nil
	})
	return out, err
}

// checkpointClaim validates a checkpoint claim and runs stage on a clone
// of the head under the live lease; the clone is written if stage reports
// that it claimed something.
func (s *Store) checkpointClaim(ctx context.Context, fence LeaseFence, turnID string, checkpoint CheckpointKind, stage func(next *head, sid string, now time.Time) bool) error {
	sid, err := s.boundID()
	if err != nil {
		return err
	}
	if err := validateID("turn id", turnID); err != nil {
		return err
	}
	if checkpoint != CheckpointAfterWork && checkpoint != CheckpointBeforeCompletion {
		return fmt.Errorf("%w: checkpoint %q (use session.CheckpointAfterWork or CheckpointBeforeCompletion)", ErrInvalidCommit, checkpoint)
	}
	_, err = s.update(ctx, sid, true, func(_ context.Context, cur snapshot) (plan, error) {
		now := s.now()
		if err := requireLease(sid, cur.h, fence, now); err != nil {
			return plan{}, err
		}
		next := cur.h.clone()
		if !stage(next, sid, now) {
			return plan{}, nil
		}
		return plan{next: next}, nil
	})
	return err
}

// claimActiveInputs stages on h a claim of the inputs pending for turnID
// (or held for it by an older generation's claim) that checkpoint admits.
func (s *Store) claimActiveInputs(h *head, sid string, fence LeaseFence, turnID string, checkpoint CheckpointKind, max int) *TurnInputClaim {
	return s.claimInputs(h, sid, fence, turnID, max, func(in *inputRow) bool {
		return in.ActiveTurnID == turnID && (in.State == InputPendingActive || in.State == InputClaimed) &&
			checkpoint.admits(in.MinBoundary)
	})
}

// maxOne returns n, or 1 if n is smaller.
func maxOne(n int) int { return max(n, 1) }
