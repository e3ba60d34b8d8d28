package lashconf

import (
	"testing"
	"time"

	"github.com/stowage-dev/stowage/session"
)

func init() {
	cases = append(cases,
		lashCase{"ActiveTurnInputClaimReacquiresAfterUnrecordedCheckpoint", testActiveInputReacquires},
		lashCase{"ATurnThatCannotCommitLeavesNoInputPinnedToIt", testDeadTurnInputsDeferred},
	)
}

// testActiveInputReacquires: a predecessor claims an active turn's input
// at a checkpoint and loses its lease before recording it; the successor's
// checkpoint claim for that turn takes the input again (no queued work
// needed), at a newer lease generation; the predecessor's completion is
// superseded, the successor's settles it.
func testActiveInputReacquires(t *testing.T, e *env) {
	const sid, turn = "fig905-active-reacquire", "fig905-active-reacquire:turn"
	s := e.sess(sid)
	in := e.input(s, sid, "accepted before checkpoint outcome", "", turn)
	pred := e.lease(s, "fig905-active-predecessor", time.Minute)
	pc, err := s.ClaimActiveTurnInputs(e.ctx, pred.Fence(), turn, session.CheckpointAfterWork, 10)
	if err != nil || pc == nil || !equal(inputIDs(pc.Inputs), []string{in.InputID}) {
		t.Fatalf("predecessor claim %+v, %v", pc, err)
	}
	succ := e.interrupt(s, pred.Fence(), "fig905-active-successor")
	got, err := s.ClaimCheckpointWork(e.ctx, succ, turn, session.CheckpointAfterWork, 10, 10)
	e.must(err)
	sc := got.Inputs
	if got.Queue != nil || sc == nil || !equal(inputIDs(sc.Inputs), []string{in.InputID}) || sc.SessionLeaseGeneration <= pc.SessionLeaseGeneration {
		t.Fatalf("successor checkpoint claim %+v", got)
	}
	c := emptyCommit(sid, 0)
	c.CompletedTurnInputClaims = []session.TurnInputCompletion{pc.Completion()}
	if _, err := s.CommitRuntimeState(e.ctx, c); !isErr(err, session.ErrTurnInputClaimSuperseded) {
		t.Fatalf("predecessor completion: %v", err)
	}
	c.CompletedTurnInputClaims = []session.TurnInputCompletion{sc.Completion()}
	c.ReleaseSessionExecutionLease = &succ
	e.commit(s, c)
	if p := e.pendingInputs(e.cold(sid)); len(p) != 0 {
		t.Fatalf("pending after settlement %v", p)
	}
}

// testDeadTurnInputsDeferred: lash's standalone repair names a turn that
// cannot commit and re-defers exactly the inputs pinned to it. stowage does
// this with the commit that ends the turn (InterruptedTurnInputTurnID): the
// dead turn's input becomes next-turn work (deferred, no active turn), the
// other turn's input is untouched, a repeat changes nothing, and the
// repaired input is claimed as next-turn work. lash's lane-generation sweep
// (every orphan at once, sparing a resumable turn and its frames) has no
// API (partial).
func testDeadTurnInputsDeferred(t *testing.T, e *env) {
	const dead, other = "fig1573-dead-turn", "fig1573-other-turn"
	s := e.sess("root")
	f := e.lease(s, "fig1573-owner", time.Minute).Fence()
	orphan := e.input(s, "root", "pinned to a turn that cannot commit", "", dead)
	kept := e.input(s, "root", "pinned to a turn that can still deliver", "", other)
	for r := range uint64(2) { // the second commit is the repeat
		c := emptyCommit("root", r)
		c.InterruptedTurnInputTurnID = dead
		e.commit(s, c)
		pending, err := e.cold("root").ListPendingTurnInputs(e.ctx)
		e.must(err)
		if len(pending) != 2 || pending[0].InputID != orphan.InputID || pending[0].State != session.InputDeferredNextTurn ||
			pending[0].ActiveTurnID != "" || pending[1].InputID != kept.InputID || pending[1].State != session.InputPendingActive || pending[1].ActiveTurnID != other {
			t.Fatalf("after interrupt commit %d: %+v", r+1, pending)
		}
	}
	claim, err := s.ClaimTurnInputs(e.ctx, f, "next-turn", 10)
	if err != nil || claim == nil || !equal(inputIDs(claim.Inputs), []string{orphan.InputID}) {
		t.Fatalf("next-turn claim %+v, %v", claim, err)
	}
}
