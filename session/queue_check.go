package session

import (
	"fmt"
	"slices"
)

// stateProblems checks the coordination state a live head carries (queued
// work, turn inputs, node tombstones) against the invariants the store
// keeps, for fsck (HeadInfo.StateProblems). Each problem is one sentence.
func stateProblems(h *head) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	ids, keys := map[string]bool{}, map[string]bool{}
	var seq uint64
	for _, b := range h.Queue {
		if ids[b.BatchID] || b.BatchID == "" {
			add("queued batch %q is listed twice or has no id", b.BatchID)
		}
		ids[b.BatchID] = true
		if b.SourceKey != "" && keys[b.SourceKey] {
			add("two queued batches share source key %q", b.SourceKey)
		}
		keys[b.SourceKey] = true
		if b.SessionID != h.SessionID || b.EnqueueSeq <= seq || b.EnqueueSeq > h.QueueSeq {
			add("queued batch %s: session %q, enqueue sequence %d out of order (queue sequence %d)", b.BatchID, b.SessionID, b.EnqueueSeq, h.QueueSeq)
		}
		seq = b.EnqueueSeq
		if err := checkDraft(QueuedWorkBatchDraft{SourceKey: b.SourceKey, MergeKey: b.MergeKey, Delivery: b.Delivery, Class: b.Class}); err != nil {
			add("queued batch %s: %v", b.BatchID, err)
		}
		if (b.ClaimID == "") != (b.LeaseToken == "") || (b.ClaimID == "") != (b.ClaimGen == 0) || b.ClaimGen > h.LeaseGen ||
			(b.ClaimID != "" && b.ClaimFence == 0) {
			add("queued batch %s: inconsistent claim (claim %q, generation %d of %d, claims %d)", b.BatchID, b.ClaimID, b.ClaimGen, h.LeaseGen, b.ClaimFence)
		}
	}
	out = append(out, inputProblems(h)...)
	if !slices.IsSorted(h.Tombstones) || len(slices.Compact(slices.Clone(h.Tombstones))) != len(h.Tombstones) {
		add("node tombstones are not sorted and unique")
	}
	return out
}

// inputProblems is stateProblems for the turn inputs.
func inputProblems(h *head) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	ids, keys := map[string]bool{}, map[string]bool{}
	var seq uint64
	settled := 0
	for _, in := range h.Inputs {
		if ids[in.InputID] || in.InputID == "" {
			add("turn input %q is listed twice or has no id", in.InputID)
		}
		ids[in.InputID] = true
		if in.SourceKey != "" && keys[in.SourceKey] {
			add("two turn inputs share source key %q", in.SourceKey)
		}
		keys[in.SourceKey] = true
		if in.SessionID != h.SessionID || in.EnqueueSeq <= seq || in.EnqueueSeq > h.InputSeq {
			add("turn input %s: session %q, enqueue sequence %d out of order (input sequence %d)", in.InputID, in.SessionID, in.EnqueueSeq, h.InputSeq)
		}
		seq = in.EnqueueSeq
		d := PendingTurnInputDraft{ActiveTurnID: in.ActiveTurnID, MinBoundary: in.MinBoundary}
		if err := checkMinBoundary(&d); err != nil && in.MinBoundary != "" {
			add("turn input %s: %v", in.InputID, err)
		}
		claimed := in.ClaimID != "" && in.LeaseToken != "" && in.ClaimGen > 0 && in.ClaimGen <= h.LeaseGen
		unclaimed := in.ClaimID == "" && in.LeaseToken == "" && in.ClaimGen == 0 && in.ClaimTurnID == ""
		switch in.State {
		case InputPending, InputDeferredNextTurn:
			if !unclaimed || in.ActiveTurnID != "" {
				add("turn input %s: %s with a claim or an active turn", in.InputID, in.State)
			}
		case InputPendingActive:
			if !unclaimed || in.ActiveTurnID == "" {
				add("turn input %s: pending for an active turn with a claim or no turn", in.InputID)
			}
		case InputClaimed:
			if !claimed {
				add("turn input %s: claimed without a consistent claim (generation %d of %d)", in.InputID, in.ClaimGen, h.LeaseGen)
			}
		case InputCompleted, InputCancelled:
			settled++
			if !unclaimed {
				add("turn input %s: settled but still claimed", in.InputID)
			}
		default:
			add("turn input %s: unknown state %q", in.InputID, in.State)
		}
	}
	if settled > maxInputTombstones {
		add("%d settled turn inputs, more than the %d a head keeps", settled, maxInputTombstones)
	}
	return out
}
