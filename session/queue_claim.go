package session

import (
	"context"
	"fmt"
	"time"
)

// The claim laws of queued work (docs/contract.md, "Queued work"). A batch
// is a candidate for a claim under lease generation gen if it is available
// (AvailableAt has passed) and no claim of generation gen or newer holds
// it. Candidates are taken in enqueue order, and only from the front:
//
//   - a claim of turn work never skips a session command at the front
//     (RefusalCommandAtHead), and ClaimLeadingSessionCommand takes a
//     command only from the front: neither class overtakes the other;
//   - at a checkpoint of a running turn the front batch must be
//     DeliverEarliestSafeBoundary (else RefusalDeliveryBoundaryBlocked);
//   - a batch without a merge key, and a session command, is claimed
//     alone (exclusive); one with a merge key takes the following
//     candidates of the same class, delivery policy and merge key with it
//     (join), up to the claim's maximum.

// checkDraft validates a queued-work draft before any I/O.
func checkDraft(d QueuedWorkBatchDraft) error {
	if err := validateOptionalID("source key", d.SourceKey); err != nil {
		return err
	}
	if err := validateOptionalID("merge key", d.MergeKey); err != nil {
		return err
	}
	switch d.Delivery {
	case "", DeliverAfterCurrentTurnCommit, DeliverEarliestSafeBoundary:
	default:
		return fmt.Errorf("%w: queued work delivery policy %q (use session.DeliverAfterCurrentTurnCommit or DeliverEarliestSafeBoundary)", ErrInvalidCommit, d.Delivery)
	}
	switch d.Class {
	case "", ClassTurnWork, ClassSessionCommand:
	default:
		return fmt.Errorf("%w: queued work class %q (use session.ClassTurnWork or ClassSessionCommand)", ErrInvalidCommit, d.Class)
	}
	return checkJSON("the queued work payload", d.Payload)
}

// withDefaults returns b with the draft defaults filled in (batches stored
// before these fields existed read as the defaults).
func (b QueuedWorkBatch) withDefaults() QueuedWorkBatch {
	if b.Delivery == "" {
		b.Delivery = DeliverAfterCurrentTurnCommit
	}
	if b.Class == "" {
		b.Class = ClassTurnWork
	}
	return b
}

// candidates returns the indexes of h's batches a claim of generation gen
// may take at now, in enqueue order, and whether some batch waits only for
// its AvailableAt.
func candidates(h *head, gen uint64, now time.Time) (idx []int, later bool) {
	for i := range h.Queue {
		b := &h.Queue[i]
		if b.ClaimID != "" && b.ClaimGen >= gen {
			continue
		}
		if now.Before(b.AvailableAt) {
			later = true
			continue
		}
		idx = append(idx, i)
	}
	return idx, later
}

// selectTurnWork applies the claim laws to the candidate batches cand (in
// enqueue order) at boundary and returns how many of the front ones one
// claim of at most max batches takes, or why it takes none.
func selectTurnWork(q []queuedBatch, cand []int, boundary QueuedWorkClaimBoundary, max int) (int, QueuedWorkClaimRefusal) {
	if len(cand) == 0 {
		return 0, RefusalEmpty
	}
	first := q[cand[0]].withDefaults()
	if first.Class != ClassTurnWork {
		return 0, RefusalCommandAtHead
	}
	if boundary == BoundaryActiveTurnCheckpoint && first.Delivery != DeliverEarliestSafeBoundary {
		return 0, RefusalDeliveryBoundaryBlocked
	}
	n := 1
	if first.MergeKey == "" {
		return n, ""
	}
	for _, i := range cand[1:] {
		b := q[i].withDefaults()
		if n >= max || b.Class != ClassTurnWork || b.Delivery != first.Delivery || b.MergeKey != first.MergeKey {
			break
		}
		n++
	}
	return n, ""
}

// claimRows claims h's batches at idx (h is the caller's clone) for a new
// claim under fence and returns it.
func (s *Store) claimRows(h *head, sid string, fence LeaseFence, idx []int) *QueuedWorkClaim {
	claim := &QueuedWorkClaim{SessionID: sid, ClaimID: s.newID(), LeaseToken: s.newToken(), SessionLeaseGeneration: fence.FencingToken}
	for k, i := range idx {
		b := &h.Queue[i]
		b.ClaimID, b.LeaseToken, b.ClaimGen = claim.ClaimID, claim.LeaseToken, fence.FencingToken
		b.ClaimFence++
		if k == 0 {
			claim.FencingToken = b.ClaimFence
		}
		claim.Batches = append(claim.Batches, cloneBatch(b.QueuedWorkBatch.withDefaults()))
	}
	return claim
}

// claimTurnWork stages on h (the caller's clone) a claim of turn work at
// boundary under the claim laws; a nil claim comes with its refusal.
func (s *Store) claimTurnWork(h *head, sid string, fence LeaseFence, boundary QueuedWorkClaimBoundary, max int, now time.Time) QueuedWorkClaimOutcome {
	cand, later := candidates(h, fence.FencingToken, now)
	n, refusal := selectTurnWork(h.Queue, cand, boundary, max)
	if n == 0 {
		if refusal == RefusalEmpty && later {
			refusal = RefusalNotYetAvailable
		}
		return QueuedWorkClaimOutcome{Refusal: refusal}
	}
	return QueuedWorkClaimOutcome{Claim: s.claimRows(h, sid, fence, cand[:n])}
}

// ClaimReadyQueuedWork claims turn work for the holder of fence (the live
// lease) at boundary, under the claim laws above, at most maxBatches
// batches (0 or less counts as 1). A batch held by a claim of an older lease generation
// is reclaimed, which supersedes that claim. When it claims nothing the
// outcome names the refusal, and nothing is written.
func (s *Store) ClaimReadyQueuedWork(ctx context.Context, fence LeaseFence, boundary QueuedWorkClaimBoundary, maxBatches int) (QueuedWorkClaimOutcome, error) {
	sid, err := s.boundID()
	if err != nil {
		return QueuedWorkClaimOutcome{}, err
	}
	if err := checkBoundary(boundary); err != nil {
		return QueuedWorkClaimOutcome{}, err
	}
	var out QueuedWorkClaimOutcome
	_, err = s.update(ctx, sid, true, func(_ context.Context, cur snapshot) (plan, error) {
		out = QueuedWorkClaimOutcome{}
		if err := requireLease(sid, cur.h, fence, s.now()); err != nil {
			return plan{}, err
		}
		next := cur.h.clone()
		out = s.claimTurnWork(next, sid, fence, boundary, max(maxBatches, 1), s.now())
		if out.Claim == nil {
			return plan{}, nil
		}
		return plan{next: next}, nil
	})
	return out, err
}

// ClaimLeadingSessionCommand claims the first candidate batch if it is a
// session command (alone), for the holder of fence; (nil, nil) if the
// queue's first candidate is turn work or there is none: a command never
// overtakes earlier turn work.
func (s *Store) ClaimLeadingSessionCommand(ctx context.Context, fence LeaseFence) (*QueuedWorkClaim, error) {
	sid, err := s.boundID()
	if err != nil {
		return nil, err
	}
	var out *QueuedWorkClaim
	_, err = s.update(ctx, sid, true, func(_ context.Context, cur snapshot) (plan, error) {
		out = nil
		if err := requireLease(sid, cur.h, fence, s.now()); err != nil {
			return plan{}, err
		}
		cand, _ := candidates(cur.h, fence.FencingToken, s.now())
		if len(cand) == 0 || cur.h.Queue[cand[0]].withDefaults().Class != ClassSessionCommand {
			return plan{}, nil
		}
		next := cur.h.clone()
		out = s.claimRows(next, sid, fence, cand[:1])
		return plan{next: next}, nil
	})
	return out, err
}

// ClaimQueuedWorkByIDs claims batches the host selected by id, for the
// holder of fence, at boundary. Every id is validated first (a malformed
// one is ErrInvalidID, before any I/O). Named ids no unsettled batch has are
// reported AlreadySatisfied, once each in the order named; the work is
// linear in the ids and the queue. The named batches still queued must all be
// turn work and candidates (available, not held by a claim of the caller's
// generation or a newer one), else nothing is claimed. The claim laws then
// apply to the run of named batches that starts at the first of them and
// continues through the following candidates while they are named: the
// boundary gates it, and it joins only as far as their merge keys allow (a
// batch without one is claimed alone), with no row limit. So an exact
// claim never reorders the queue; what it leaves is claimed by later
// calls.
func (s *Store) ClaimQueuedWorkByIDs(ctx context.Context, fence LeaseFence, boundary QueuedWorkClaimBoundary, batchIDs []string) (SelectedQueuedWorkClaim, error) {
	sid, err := s.boundID()
	if err != nil {
		return SelectedQueuedWorkClaim{}, err
	}
	if err := checkBoundary(boundary); err != nil {
		return SelectedQueuedWorkClaim{}, err
	}
	named := make(map[string]bool, len(batchIDs))
	for _, id := range batchIDs {
		if err := validateID("batch id", id); err != nil {
			return SelectedQueuedWorkClaim{}, err
		}
		named[id] = true
	}
	if len(batchIDs) == 0 {
		return SelectedQueuedWorkClaim{}, nil
	}
	var out SelectedQueuedWorkClaim
	_, err = s.update(ctx, sid, true, func(_ context.Context, cur snapshot) (plan, error) {
		out = SelectedQueuedWorkClaim{}
		if err := requireLease(sid, cur.h, fence, s.now()); err != nil {
			return plan{}, err
		}
		out.AlreadySatisfied = unqueued(cur.h.Queue, batchIDs)
		run := exactRun(cur.h, named, fence.FencingToken, s.now())
		if len(run) == 0 {
			return plan{}, nil
		}
		n, _ := selectTurnWork(cur.h.Queue, run, boundary, len(run))
		if n == 0 {
			return plan{}, nil
		}
		next := cur.h.clone()
		out.Claim = s.claimRows(next, sid, fence, run[:n])
		return plan{next: next}, nil
	})
	return out, err
}

// unqueued returns the ids, in order and once each, that no batch of q
// has: a set of q's ids, so time linear in len(q) and len(ids).
func unqueued(q []queuedBatch, ids []string) []string {
	queued := make(map[string]bool, len(q))
	for i := range q {
		queued[q[i].BatchID] = true
	}
	var out []string
	for _, id := range ids {
		step("claim ids", 1)
		if !queued[id] {
			queued[id] = true // reported once
			out = append(out, id)
		}
	}
	return out
}

// exactRun returns the candidate run an exact claim of the ids in set may
// take (see ClaimQueuedWorkByIDs), or nil if a named batch still queued is
// not a candidate or not turn work.
func exactRun(h *head, set map[string]bool, gen uint64, now time.Time) []int {
	cand, _ := candidates(h, gen, now)
	named := func(i int) bool { step("claim ids", 1); return set[h.Queue[i].BatchID] }
	present := 0
	for i := range h.Queue {
		if named(i) {
			present++
		}
	}
	start, inCand := -1, 0
	for k, i := range cand {
		if !named(i) {
			continue
		}
		inCand++
		if h.Queue[i].withDefaults().Class != ClassTurnWork {
			return nil
		}
		if start < 0 {
			start = k
		}
	}
	if present == 0 || inCand != present {
		return nil
	}
	end := start
	for end < len(cand) && named(cand[end]) {
		end++
	}
	return cand[start:end]
}

// checkBoundary validates a claim boundary.
func checkBoundary(b QueuedWorkClaimBoundary) error {
	switch b {
	case BoundaryIdle, BoundaryActiveTurnCheckpoint:
		return nil
	}
	return fmt.Errorf("%w: claim boundary %q (use session.BoundaryIdle or BoundaryActiveTurnCheckpoint)", ErrInvalidCommit, b)
}
