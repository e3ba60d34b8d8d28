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
	q := sequenced{kind: "queued batch", plural: "queued batches", session: h.SessionID, max: h.QueueSeq, add: add}
	for _, b := range h.Queue {
		q.check(b.BatchID, b.SessionID, b.SourceKey, b.EnqueueSeq)
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
	out = append(out, writersProblems(h)...)
	return out
}

// writersProblems is stateProblems for the writers of announced turns:
// sorted by turn, each turn announced, its writers sorted, unique and at
// most maxTurnWriters.
func writersProblems(h *head) []string {
	var out []string
	for i, w := range h.AttachWriters {
		switch {
		case i > 0 && h.AttachWriters[i-1].Turn >= w.Turn:
			out = append(out, "the writers of announced turns are not sorted and unique by turn")
		case !h.announces(w.Turn) || h.AttachTurnsFull:
			out = append(out, fmt.Sprintf("turn %s has writers but is not announced by name", w.Turn))
		case len(w.Writers) == 0 || len(w.Writers) > maxTurnWriters || !slices.IsSorted(w.Writers) ||
			len(slices.Compact(slices.Clone(w.Writers))) != len(w.Writers) || slices.Contains(w.Writers, ""):
			out = append(out, fmt.Sprintf("turn %s: writers %q are not 1 to %d sorted, unique ids", w.Turn, w.Writers, maxTurnWriters))
		}
	}
	return out
}

// inputProblems is stateProblems for the turn inputs.
func inputProblems(h *head) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	q := sequenced{kind: "turn input", plural: "turn inputs", session: h.SessionID, max: h.InputSeq, add: add}
	settled := 0
	for _, in := range h.Inputs {
		q.check(in.InputID, in.SessionID, in.SourceKey, in.EnqueueSeq)
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

// sequenced checks the rules queued batches and turn inputs share: a
// unique non-empty id, a unique source key, the head's session, and
// enqueue sequences increasing in list order up to the head's counter.
type sequenced struct {
	kind, plural string
	session      string
	max          uint64 // the head's counter: no item's sequence passes it
	add          func(format string, args ...any)
	ids, keys    map[string]bool
	last         uint64
}

// check checks the next item of the list.
func (q *sequenced) check(id, sessionID, sourceKey string, seq uint64) {
	if q.ids == nil {
		q.ids, q.keys = map[string]bool{}, map[string]bool{}
	}
	if q.ids[id] || id == "" {
		q.add("%s %q is listed twice or has no id", q.kind, id)
	}
	q.ids[id] = true
	if sourceKey != "" && q.keys[sourceKey] {
		q.add("two %s share source key %q", q.plural, sourceKey)
	}
	q.keys[sourceKey] = true
	if sessionID != q.session || seq <= q.last || seq > q.max {
		q.add("%s %s: session %q, enqueue sequence %d out of order (counter %d)", q.kind, id, sessionID, seq, q.max)
	}
	q.last = seq
}
