package lashconf

import (
	"strings"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/session"
)

// testCheckpointRefusalPreservesActiveInput: lash refuses a checkpoint
// claim whose queued row exceeds the model's context window, and the input
// half of that claim rolls back. stowage has no context-window budget
// (docs/contract.md, "Where stowage differs from lash"): the oversized row
// is claimed with the input in one claim. What lash protects holds: a
// refused checkpoint claim (here under a fence that is no longer the
// lease) takes nothing, and the active input stays pending for its turn.
func testCheckpointRefusalPreservesActiveInput(t *testing.T, e *env) {
	const sid, turn = "checkpoint-budget", "checkpoint-budget:turn"
	s := e.sess(sid)
	in := e.input(s, sid, "input that must survive a refused claim", "", turn)
	b := e.enqueueDraft(s, work(strings.Repeat("oversized queued work", 64), session.DeliverEarliestSafeBoundary, ""))
	stale := e.lease(s, "budget-owner", time.Minute).Fence()
	e.must(s.ReleaseSessionExecutionLease(e.ctx, stale))
	if got, err := s.ClaimCheckpointWork(e.ctx, stale, turn, session.CheckpointAfterWork, 10, 10); err == nil {
		t.Fatalf("checkpoint claim under a released lease: %+v", got)
	}
	pending, err := e.cold(sid).ListPendingTurnInputs(e.ctx)
	e.must(err)
	if len(pending) != 1 || pending[0].InputID != in.InputID || pending[0].State != session.InputPendingActive {
		t.Fatalf("inputs after a refused checkpoint claim: %+v", pending)
	}
	f := e.lease(s, "budget-owner", time.Minute).Fence()
	got, err := s.ClaimCheckpointWork(e.ctx, f, turn, session.CheckpointAfterWork, 10, 10)
	e.must(err)
	if got.Inputs == nil || !equal(inputIDs(got.Inputs.Inputs), []string{in.InputID}) || !equal(claimIDs(got.Queue), []string{b.BatchID}) {
		t.Fatalf("checkpoint claim with an oversized row: %+v", got)
	}
}

// testInputMintUniqueAcrossHandles: two processes enqueueing on one
// session at the same instant mint distinct input ids, and both inputs are
// kept.
func testInputMintUniqueAcrossHandles(t *testing.T, e *env) {
	const sid = "multi-store-mint"
	first := e.input(e.sess(sid), sid, "first independent-store input", "", "")
	second := e.input(e.cold(sid), sid, "second independent-store input", "", "")
	if first.InputID == second.InputID {
		t.Fatalf("both handles minted %s", first.InputID)
	}
	if got := e.pendingInputs(e.cold(sid)); len(got) != 2 || !contains(got, first.InputID) || !contains(got, second.InputID) {
		t.Fatalf("pending %v, want both", got)
	}
}

// testAppendRejectsDuplicateBatchNodeIDs: one append naming a node id twice
// is refused before any write.
func testAppendRejectsDuplicateBatchNodeIDs(t *testing.T, e *env) {
	s := e.sess("root")
	c := appendCommit("root", 0, "", "duplicate")
	c.Graph.Nodes = append(c.Graph.Nodes, node("duplicate", ""))
	if _, err := s.CommitRuntimeState(e.ctx, c); !isErr(err, session.ErrInvalidCommit) {
		t.Fatalf("duplicate node ids in one append: %v", err)
	}
	if r, err := e.cold("root").LoadSession(e.ctx, session.FullGraph()); err != nil || r != nil {
		t.Fatalf("after a refused duplicate append: %+v, %v", r, err)
	}
}
