package session

import "context"

// ClaimCheckpointWork claims, at a checkpoint of the running turn turnID,
// the work of both families that may join it, for the holder of fence (the
// live lease), in one head write: up to maxInputs turn inputs pending for
// turnID itself (next-turn inputs wait for the next turn), and queued turn
// work at BoundaryActiveTurnCheckpoint (see ClaimReadyQueuedWork), up to
// maxBatches batches. Either claim, or both, may be nil; both are made or
// neither. Inputs and batches held by a live claim are not claimed again,
// so each is granted once per lease generation. When there is nothing to
// claim (an empty queue, or a queue whose first batch waits for the idle
// boundary) it writes nothing.
func (s *Store) ClaimCheckpointWork(ctx context.Context, fence LeaseFence, turnID string, maxInputs, maxBatches int) (CheckpointWorkClaim, error) {
	sid, err := s.boundID()
	if err != nil {
		return CheckpointWorkClaim{}, err
	}
	if err := validateID("turn id", turnID); err != nil {
		return CheckpointWorkClaim{}, err
	}
	var out CheckpointWorkClaim
	_, err = s.update(ctx, sid, true, func(_ context.Context, cur snapshot) (plan, error) {
		out = CheckpointWorkClaim{}
		now := s.now()
		if err := requireLease(sid, cur.h, fence, now); err != nil {
			return plan{}, err
		}
		next := cur.h.clone()
		out.Inputs = s.claimInputs(next, sid, fence, turnID, max(maxInputs, 1), func(in *inputRow) bool {
			return in.ActiveTurnID == turnID && (in.State == InputPendingActive || in.State == InputClaimed)
		})
		out.Queue = s.claimTurnWork(next, sid, fence, BoundaryActiveTurnCheckpoint, max(maxBatches, 1), now).Claim
		if out.Inputs == nil && out.Queue == nil {
			return plan{}, nil
		}
		return plan{next: next}, nil
	})
	return out, err
}
