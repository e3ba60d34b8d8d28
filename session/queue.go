package session

import (
	"context"
	"time"
)

// Queued work lives in the head. Enqueue and claim are compare-and-swaps of
// the head that do not bump its revision; settlement happens inside the
// commit that consumes the claim, so it is atomic with it.

// EnqueueQueuedWork implements QueuedWorkStore.
func (s *Store) EnqueueQueuedWork(ctx context.Context, draft QueuedWorkBatchDraft) (QueuedWorkBatch, error) {
	sid, err := s.boundID()
	if err != nil {
		return QueuedWorkBatch{}, err
	}
	draft.SessionID = draftSession(draft.SessionID, sid)
	if draft.SessionID != sid {
		return QueuedWorkBatch{}, &SessionBindingMismatchError{Bound: sid, Attempted: draft.SessionID}
	}
	if err := checkInHead("queued work batch", len(draft.Payload)+len(draft.SourceKey)+len(draft.MergeKey)); err != nil {
		return QueuedWorkBatch{}, err
	}
	if err := checkDraft(draft); err != nil {
		return QueuedWorkBatch{}, err
	}
	draft = ownDraft(draft)
	var out QueuedWorkBatch
	_, err = s.update(ctx, sid, true, func(_ context.Context, cur snapshot) (plan, error) {
		next := liveOrFresh(sid, cur.h).clone()
		b, added := s.enqueue(next, draft, s.now())
		out = cloneBatch(b)
		if !added {
			return plan{}, nil
		}
		return plan{next: next}, nil
	})
	return out, err
}

// enqueueBatch enqueues d on h (see enqueue) and returns the batch.
func (s *Store) enqueueBatch(h *head, d QueuedWorkBatchDraft, now time.Time) QueuedWorkBatch {
	b, _ := s.enqueue(h, d, now)
	return b
}

// enqueue appends a batch for d to h's queue with a fresh id, and reports
// added. If d has a source key that an unsettled batch of h already has,
// it returns that batch (the original, not the replay) and adds nothing:
// the same rule for EnqueueQueuedWork and a commit's outbox.
func (s *Store) enqueue(h *head, d QueuedWorkBatchDraft, now time.Time) (b QueuedWorkBatch, added bool) {
	if d.SourceKey != "" {
		for _, q := range h.Queue {
			if q.SourceKey == d.SourceKey {
				return q.QueuedWorkBatch, false
			}
		}
	}
	h.QueueSeq++
	b = QueuedWorkBatch{BatchID: s.newID(), SessionID: d.SessionID, SourceKey: d.SourceKey, EnqueueSeq: h.QueueSeq,
		Payload: d.Payload, EnqueuedAt: now, AvailableAt: d.AvailableAt,
		Delivery: d.Delivery, Class: d.Class, MergeKey: d.MergeKey}.withDefaults()
	h.Queue = append(h.Queue, queuedBatch{QueuedWorkBatch: b})
	return b, true
}

// ClaimQueuedWork implements QueuedWorkStore: ClaimReadyQueuedWork at the
// idle boundary, returning the claim, or nil if it took nothing.
func (s *Store) ClaimQueuedWork(ctx context.Context, fence LeaseFence, max int) (*QueuedWorkClaim, error) {
	out, err := s.ClaimReadyQueuedWork(ctx, fence, BoundaryIdle, max)
	return out.Claim, err
}

// ListQueuedWork implements QueuedWorkStore.
func (s *Store) ListQueuedWork(ctx context.Context) ([]QueuedWorkBatch, error) {
	h, err := s.readLive(ctx)
	if err != nil || h == nil {
		return nil, err
	}
	out := make([]QueuedWorkBatch, len(h.Queue))
	for i, b := range h.Queue {
		out[i] = cloneBatch(b.QueuedWorkBatch)
	}
	return out, nil
}

// settleClaims checks every completion of c against h and settles it:
// completed batches are removed; completed inputs become tombstones
// (InputCompleted) and are returned as applications, in completion order.
func settleClaims(h *head, c *RuntimeCommit) ([]TurnInputApplication, error) {
	for _, comp := range c.CompletedQueueClaims {
		superseded := &ClaimSupersededError{Queue: true, SessionID: c.SessionID, ClaimID: comp.ClaimID}
		if comp.SessionID != c.SessionID {
			return nil, superseded
		}
		for _, id := range comp.BatchIDs {
			i := batchIndex(h.Queue, id)
			if i < 0 || h.Queue[i].ClaimID != comp.ClaimID || h.Queue[i].LeaseToken != comp.LeaseToken {
				return nil, superseded
			}
			h.Queue = append(h.Queue[:i], h.Queue[i+1:]...)
		}
	}
	var apps []TurnInputApplication
	for _, comp := range c.CompletedTurnInputClaims {
		superseded := &ClaimSupersededError{SessionID: c.SessionID, ClaimID: comp.ClaimID}
		if comp.SessionID != c.SessionID {
			return nil, superseded
		}
		for _, id := range comp.InputIDs {
			i := inputIndex(h.Inputs, id)
			if i < 0 || h.Inputs[i].State != InputClaimed || h.Inputs[i].ClaimID != comp.ClaimID || h.Inputs[i].LeaseToken != comp.LeaseToken {
				return nil, superseded
			}
			in := h.Inputs[i]
			apps = append(apps, TurnInputApplication{InputID: in.InputID, TurnID: in.ClaimTurnID, ClaimID: in.ClaimID,
				SourceKey: in.SourceKey, EnqueueSeq: in.EnqueueSeq, Payload: in.Payload})
			settleInput(h, i, InputCompleted)
		}
	}
	return apps, nil
}

func batchIndex(q []queuedBatch, id string) int {
	for i := range q {
		if q[i].BatchID == id {
			return i
		}
	}
	return -1
}
