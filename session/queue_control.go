package session

import "context"

// The editing side of the queue: what a host may do to queued work that no
// live claim holds. A claim is live while the lease generation it pinned is
// the session's live lease; a batch held by an older generation's claim is
// as good as unclaimed (the next holder reclaims it).

// liveClaim reports whether a claim of generation gen is live on h at now.
func (s *Store) liveClaim(h *head, claimID string, gen uint64) bool {
	if claimID == "" {
		return false
	}
	live, ok := liveLeaseGen(h, s.now())
	return ok && live == gen
}

// ListPendingQueuedWork returns the unsettled batches no live claim holds,
// in enqueue order: the user-editable queue. ListQueuedWork returns every
// unsettled batch.
func (s *Store) ListPendingQueuedWork(ctx context.Context) ([]QueuedWorkBatch, error) {
	h, err := s.readLive(ctx)
	if err != nil || h == nil {
		return nil, err
	}
	var out []QueuedWorkBatch
	for _, b := range h.Queue {
		if !s.liveClaim(h, b.ClaimID, b.ClaimGen) {
			out = append(out, cloneBatch(b.QueuedWorkBatch))
		}
	}
	return out, nil
}

// CancelQueuedWorkBatch removes an unsettled batch no live claim holds and
// returns it; it returns nil (and changes nothing) if the batch is unknown
// or held by a live claim.
func (s *Store) CancelQueuedWorkBatch(ctx context.Context, batchID string) (*QueuedWorkBatch, error) {
	sid, err := s.boundID()
	if err != nil {
		return nil, err
	}
	if err := validateID("batch id", batchID); err != nil {
		return nil, err
	}
	var out *QueuedWorkBatch
	_, err = s.update(ctx, sid, true, func(_ context.Context, cur snapshot) (plan, error) {
		out = nil
		if !cur.h.live() {
			return plan{}, nil
		}
		i := batchIndex(cur.h.Queue, batchID)
		if i < 0 || s.liveClaim(cur.h, cur.h.Queue[i].ClaimID, cur.h.Queue[i].ClaimGen) {
			return plan{}, nil
		}
		next := cur.h.clone()
		b := cloneBatch(next.Queue[i].QueuedWorkBatch)
		next.Queue = append(next.Queue[:i], next.Queue[i+1:]...)
		out = &b
		return plan{next: next}, nil
	})
	return out, err
}

// AbandonQueuedWorkClaim gives the batches claim still holds (same claim
// id and token) back to the queue, unclaimed. Batches the claim no longer
// holds are left alone; abandoning twice is a no-op.
func (s *Store) AbandonQueuedWorkClaim(ctx context.Context, claim QueuedWorkClaim) error {
	sid, err := s.boundID()
	if err != nil {
		return err
	}
	if err := validateOptionalID("claim id", claim.ClaimID); err != nil {
		return err
	}
	_, err = s.update(ctx, sid, true, func(_ context.Context, cur snapshot) (plan, error) {
		if !cur.h.live() {
			return plan{}, nil
		}
		var next *head
		for i, b := range cur.h.Queue {
			if b.ClaimID == "" || b.ClaimID != claim.ClaimID || b.LeaseToken != claim.LeaseToken {
				continue
			}
			if next == nil {
				next = cur.h.clone()
			}
			q := &next.Queue[i]
			q.ClaimID, q.LeaseToken, q.ClaimGen = "", "", 0
		}
		return plan{next: next}, nil
	})
	return err
}
