package session

import (
	"bytes"
	"context"
	"fmt"
	"time"
)

// EnqueuePendingTurnInput implements TurnInputStore.
func (s *Store) EnqueuePendingTurnInput(ctx context.Context, draft PendingTurnInputDraft) (PendingTurnInput, error) {
	sid, err := s.boundID()
	if err != nil {
		return PendingTurnInput{}, err
	}
	draft.SessionID = draftSession(draft.SessionID, sid)
	if draft.SessionID != sid {
		return PendingTurnInput{}, &SessionBindingMismatchError{Bound: sid, Attempted: draft.SessionID}
	}
	if err := checkInHead("turn input", len(draft.Payload)+len(draft.SourceKey)+len(draft.ActiveTurnID)); err != nil {
		return PendingTurnInput{}, err
	}
	if err := validateOptionalID("source key", draft.SourceKey); err != nil {
		return PendingTurnInput{}, err
	}
	if err := validateOptionalID("active turn id", draft.ActiveTurnID); err != nil {
		return PendingTurnInput{}, err
	}
	if err := checkMinBoundary(&draft); err != nil {
		return PendingTurnInput{}, err
	}
	if err := checkJSON("the turn input payload", draft.Payload); err != nil {
		return PendingTurnInput{}, err
	}
	draft.Payload = ownJSON(draft.Payload)
	var out PendingTurnInput
	_, err = s.update(ctx, sid, true, func(_ context.Context, cur snapshot) (plan, error) {
		base := liveOrFresh(sid, cur.h)
		if draft.SourceKey != "" {
			// Tombstones count: a replay of a settled input's key returns
			// the settled input and admits nothing.
			for _, in := range base.Inputs {
				if in.SourceKey != draft.SourceKey {
					continue
				}
				if !bytes.Equal(in.Payload, draft.Payload) || in.enqueuedFor() != draft.ActiveTurnID {
					return plan{}, &SourceKeyConflictError{SessionID: sid, SourceKey: draft.SourceKey, ExistingInputID: in.InputID}
				}
				out = cloneInput(in.PendingTurnInput)
				return plan{}, nil
			}
		}
		next := base.clone()
		next.InputSeq++
		state := InputPending
		if draft.ActiveTurnID != "" {
			state = InputPendingActive
		}
		in := PendingTurnInput{InputID: s.newID(), SessionID: sid, SourceKey: draft.SourceKey, ActiveTurnID: draft.ActiveTurnID,
			MinBoundary: draft.MinBoundary, EnqueueSeq: next.InputSeq, State: state, Payload: draft.Payload, EnqueuedAt: s.now()}
		next.Inputs = append(next.Inputs, inputRow{PendingTurnInput: in})
		out = cloneInput(in)
		return plan{next: next}, nil
	})
	return out, err
}

// ClaimTurnInputs implements TurnInputStore.
func (s *Store) ClaimTurnInputs(ctx context.Context, fence LeaseFence, turnID string, max int) (*TurnInputClaim, error) {
	sid, err := s.boundID()
	if err != nil {
		return nil, err
	}
	if err := validateID("turn id", turnID); err != nil {
		return nil, err
	}
	if max <= 0 {
		max = 1
	}
	var out *TurnInputClaim
	_, err = s.update(ctx, sid, true, func(_ context.Context, cur snapshot) (plan, error) {
		out = nil
		if err := requireLease(sid, cur.h, fence, s.now()); err != nil {
			return plan{}, err
		}
		next := cur.h.clone()
		out = s.claimInputs(next, sid, fence, turnID, max, func(in *inputRow) bool {
			switch in.State {
			case InputPending, InputDeferredNextTurn, InputClaimed:
				return true
			case InputPendingActive:
				return in.ActiveTurnID == turnID
			}
			return false
		})
		if out == nil {
			return plan{}, nil
		}
		return plan{next: next}, nil
	})
	return out, err
}

// checkMinBoundary validates a draft's min boundary and fills in its
// default for an input of an active turn.
func checkMinBoundary(d *PendingTurnInputDraft) error {
	switch {
	case d.ActiveTurnID == "" && d.MinBoundary != "":
		return fmt.Errorf("%w: a turn input's min boundary applies only to an input for an active turn (set ActiveTurnID)", ErrInvalidCommit)
	case d.ActiveTurnID == "":
	case d.MinBoundary == "":
		d.MinBoundary = InputAfterWork
	case d.MinBoundary != InputAfterWork && d.MinBoundary != InputBeforeCompletion:
		return fmt.Errorf("%w: turn input min boundary %q (use session.InputAfterWork or InputBeforeCompletion)", ErrInvalidCommit, d.MinBoundary)
	}
	return nil
}

// claimInputs stages on h (the caller's clone) a claim for turnID of up to
// max inputs that eligible admits and that are unsettled and not held by a
// claim of fence's generation or a newer one; nil if there are none.
func (s *Store) claimInputs(h *head, sid string, fence LeaseFence, turnID string, max int, eligible func(*inputRow) bool) *TurnInputClaim {
	claim := &TurnInputClaim{SessionID: sid, ClaimID: s.newID(), LeaseToken: s.newToken(), TurnID: turnID, SessionLeaseGeneration: fence.FencingToken}
	for i := range h.Inputs {
		in := &h.Inputs[i]
		if in.State.Terminal() || (in.State == InputClaimed && in.ClaimGen >= fence.FencingToken) || !eligible(in) {
			continue
		}
		in.State, in.ClaimID, in.ClaimTurnID = InputClaimed, claim.ClaimID, turnID
		in.LeaseToken, in.ClaimGen = claim.LeaseToken, fence.FencingToken
		claim.Inputs = append(claim.Inputs, cloneInput(in.PendingTurnInput))
		if len(claim.Inputs) == max {
			break
		}
	}
	if len(claim.Inputs) == 0 {
		return nil
	}
	return claim
}

// ListPendingTurnInputs implements TurnInputStore: the unsettled inputs
// in enqueue order, except those held by a live claim (a claim made under
// the generation of the live session lease). An input whose claim was made
// under an older lease generation is listed: it is claimable again.
func (s *Store) ListPendingTurnInputs(ctx context.Context) ([]PendingTurnInput, error) {
	h, err := s.readLive(ctx)
	if err != nil || h == nil {
		return nil, err
	}
	gen, live := liveLeaseGen(h, s.now())
	var out []PendingTurnInput
	for _, in := range h.Inputs {
		if in.State.Terminal() || (in.State == InputClaimed && live && in.ClaimGen == gen) {
			continue
		}
		out = append(out, cloneInput(in.PendingTurnInput))
	}
	return out, nil
}

// liveLeaseGen returns the fencing token of h's unexpired lease, if any.
func liveLeaseGen(h *head, now time.Time) (uint64, bool) {
	if h.Lease == nil || !now.Before(h.Lease.ExpiresAt) {
		return 0, false
	}
	return h.Lease.FencingToken, true
}

// deferInputs moves turnID's inputs still pending for it to the next turn:
// their state becomes InputDeferredNextTurn and their ActiveTurnID empty.
func deferInputs(h *head, turnID string) {
	for i := range h.Inputs {
		if in := &h.Inputs[i]; in.State == InputPendingActive && in.ActiveTurnID == turnID {
			in.State, in.ActiveTurnID, in.DeferredFrom, in.MinBoundary = InputDeferredNextTurn, "", turnID, ""
		}
	}
}

// maxInputTombstones bounds the settled inputs a head keeps (oldest dropped
// first), so the head stays small; within the bound a replay of a settled
// input's source key returns it.
const maxInputTombstones = 256

// settleInput makes h.Inputs[i] a tombstone in state st and drops the
// oldest tombstones beyond maxInputTombstones.
func settleInput(h *head, i int, st TurnInputState) {
	in := &h.Inputs[i]
	in.State, in.ClaimID, in.ClaimTurnID, in.LeaseToken, in.ClaimGen = st, "", "", "", 0
	n := 0
	for _, r := range h.Inputs {
		if r.State.Terminal() {
			n++
		}
	}
	if n <= maxInputTombstones {
		return
	}
	kept := h.Inputs[:0:0]
	for _, r := range h.Inputs {
		if r.State.Terminal() && n > maxInputTombstones {
			n--
			continue
		}
		kept = append(kept, r)
	}
	h.Inputs = kept
}

func inputIndex(rows []inputRow, id string) int {
	for i := range rows {
		if rows[i].InputID == id {
			return i
		}
	}
	return -1
}
