package session

import (
	"cmp"
	"context"
	"slices"
)

// CancelPendingTurnInput cancels one input by id. See
// CancelPendingTurnInputs.
func (s *Store) CancelPendingTurnInput(ctx context.Context, inputID string) (CancelOutcome, error) {
	res, err := s.CancelPendingTurnInputs(ctx, []CancelTarget{{InputID: inputID}})
	if err != nil {
		return CancelOutcome{}, err
	}
	return res[0].Outcome, nil
}

// CancelPendingTurnInputs cancels each target in one head write: an input
// that is pending, deferred, or held by a claim that is no longer live
// becomes a cancelled tombstone (a later replay of its source key returns
// it); one held by a live claim, completed or cancelled is reported as
// such and left alone.
func (s *Store) CancelPendingTurnInputs(ctx context.Context, targets []CancelTarget) ([]CancelResult, error) {
	sid, err := s.boundID()
	if err != nil {
		return nil, err
	}
	for _, tg := range targets {
		if err := tg.validate(); err != nil {
			return nil, err
		}
	}
	var out []CancelResult
	_, err = s.update(ctx, sid, true, func(_ context.Context, cur snapshot) (plan, error) {
		out = out[:0]
		base := liveOrFresh(sid, cur.h)
		next := base.clone()
		changed := false
		for _, tg := range targets {
			o, ch := s.cancelOne(next, tg)
			out = append(out, CancelResult{Target: tg, Outcome: o})
			changed = changed || ch
		}
		if !changed {
			return plan{}, nil
		}
		return plan{next: next}, nil
	})
	return out, err
}

// CancelPendingTurnInputSuffix cancels the anchor input and every input
// enqueued after it (by enqueue sequence), with one outcome each, in one
// head write. An unknown anchor changes nothing.
func (s *Store) CancelPendingTurnInputSuffix(ctx context.Context, anchor CancelTarget) (SuffixCancelOutcome, error) {
	sid, err := s.boundID()
	if err != nil {
		return SuffixCancelOutcome{}, err
	}
	if err := anchor.validate(); err != nil {
		return SuffixCancelOutcome{}, err
	}
	var out SuffixCancelOutcome
	_, err = s.update(ctx, sid, true, func(_ context.Context, cur snapshot) (plan, error) {
		out = SuffixCancelOutcome{}
		base := liveOrFresh(sid, cur.h)
		i := findInput(base.Inputs, anchor)
		if i < 0 {
			return plan{}, nil
		}
		out.AnchorFound = true
		from := base.Inputs[i].EnqueueSeq
		next := base.clone()
		var ids []string
		for _, in := range next.Inputs {
			if in.EnqueueSeq >= from {
				ids = append(ids, in.InputID)
			}
		}
		changed := false
		for _, id := range ids {
			o, ch := s.cancelOne(next, CancelTarget{InputID: id})
			out.Outcomes = append(out.Outcomes, o)
			changed = changed || ch
		}
		if !changed {
			return plan{}, nil
		}
		return plan{next: next}, nil
	})
	return out, err
}

// cancelOne cancels target in h (which the caller owns) and reports the
// outcome and whether h changed.
func (s *Store) cancelOne(h *head, tg CancelTarget) (CancelOutcome, bool) {
	i := findInput(h.Inputs, tg)
	if i < 0 {
		return CancelOutcome{Kind: NotFound}, false
	}
	in := h.Inputs[i]
	kind := Cancelled
	switch {
	case in.State == InputCompleted:
		kind = AlreadyCompleted
	case in.State == InputCancelled:
		kind = AlreadyCancelled
	case in.State == InputClaimed && s.liveClaim(h, in.ClaimID, in.ClaimGen):
		kind = AlreadyClaimed
	}
	if kind == Cancelled {
		settleInput(h, i, InputCancelled)
		i = inputIndex(h.Inputs, in.InputID)
	}
	got := cloneInput(h.Inputs[i].PendingTurnInput)
	return CancelOutcome{Kind: kind, Input: &got}, kind == Cancelled
}

// findInput returns the index of the row tg names, or -1.
func findInput(rows []inputRow, tg CancelTarget) int {
	if tg.InputID != "" {
		return inputIndex(rows, tg.InputID)
	}
	return slices.IndexFunc(rows, func(r inputRow) bool { return r.SourceKey == tg.SourceKey })
}

// AbandonTurnInputClaim gives the inputs claim still holds (same claim id
// and token) back: each returns to the state it was claimed from (pending
// for its active turn, or pending for the next turn). Abandoning twice is a
// no-op.
func (s *Store) AbandonTurnInputClaim(ctx context.Context, claim TurnInputClaim) error {
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
		for i, in := range cur.h.Inputs {
			if in.State != InputClaimed || in.ClaimID != claim.ClaimID || in.LeaseToken != claim.LeaseToken {
				continue
			}
			if next == nil {
				next = cur.h.clone()
			}
			r := &next.Inputs[i]
			r.State = unclaimedState(*r)
			r.ClaimID, r.ClaimTurnID, r.LeaseToken, r.ClaimGen = "", "", "", 0
		}
		return plan{next: next}, nil
	})
	return err
}

// unclaimedState is the state an input returns to when its claim is
// abandoned.
func unclaimedState(r inputRow) TurnInputState {
	switch {
	case r.DeferredFrom != "":
		return InputDeferredNextTurn
	case r.ActiveTurnID != "":
		return InputPendingActive
	}
	return InputPending
}

// ListTurnInputApplications returns the turn-input applications of every
// turn commit of the session (its receipts), in commit order: the durable
// record of which input each turn applied, which outlives the inputs'
// tombstones.
func (s *Store) ListTurnInputApplications(ctx context.Context) ([]TurnInputApplication, error) {
	sid, err := s.boundID()
	if err != nil {
		return nil, err
	}
	h, err := s.readLive(ctx)
	if err != nil || h == nil {
		return nil, err
	}
	var ids []string
	for _, r := range h.Segs {
		if r.Turns > 0 {
			ids = append(ids, r.ID)
		}
	}
	var rs []receipt
	if len(ids) > 0 {
		segs, err := s.loadSegments(ctx, sid, ids)
		if err != nil {
			return nil, err
		}
		for _, sg := range segs {
			rs = append(rs, sg.Receipts...)
		}
	}
	rs = append(rs, h.Receipts...)
	slices.SortStableFunc(rs, func(a, b receipt) int { return cmp.Compare(a.Revision, b.Revision) })
	var out []TurnInputApplication
	var last uint64
	for i, r := range rs {
		if i > 0 && r.Revision == last {
			continue // a receipt both in a segment and in the head
		}
		last = r.Revision
		for _, a := range r.Result.TurnInputApplications {
			a.Payload = cloneRaw(a.Payload)
			out = append(out, a)
		}
	}
	return out, nil
}
