package lashconf

import (
	"testing"
	"time"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
	"github.com/stowage-dev/stowage/session/sessiontest"
)

// work is a turn-work draft with a delivery policy and a merge key.
func work(text string, d session.DeliveryPolicy, mergeKey string) session.QueuedWorkBatchDraft {
	return session.QueuedWorkBatchDraft{Payload: text2json(text), Delivery: d, MergeKey: mergeKey}
}

// command is a session-command draft.
func command(reason string) session.QueuedWorkBatchDraft {
	return session.QueuedWorkBatchDraft{Payload: text2json(reason), Class: session.ClassSessionCommand}
}

// claimAt claims turn work at boundary and fails on an error.
func (e *env) claimAt(s *session.Store, f session.LeaseFence, b session.QueuedWorkClaimBoundary, max int) session.QueuedWorkClaimOutcome {
	e.t.Helper()
	out, err := s.ClaimReadyQueuedWork(e.ctx, f, b, max)
	e.must(err)
	return out
}

// exact claims batches by id and fails on an error.
func (e *env) exact(s *session.Store, f session.LeaseFence, b session.QueuedWorkClaimBoundary, ids ...string) session.SelectedQueuedWorkClaim {
	e.t.Helper()
	out, err := s.ClaimQueuedWorkByIDs(e.ctx, f, b, ids)
	e.must(err)
	return out
}

// claimIDs returns the batch ids of c ([] if c is nil).
func claimIDs(c *session.QueuedWorkClaim) []string {
	if c == nil {
		return []string{}
	}
	return batchIDs(c.Batches)
}

// testExactClaim: an exact claim keeps the delivery boundary, takes only
// the longest valid run of the selection in queue order (a batch without a
// merge key alone), reports settled ids as already satisfied, and leaves
// the rest pending.
func testExactClaim(t *testing.T, e *env) {
	s := e.sess("root")
	first := e.enqueueDraft(s, work("first", session.DeliverAfterCurrentTurnCommit, ""))
	second := e.enqueueDraft(s, work("second", session.DeliverAfterCurrentTurnCommit, ""))
	f := e.lease(s, "owner", time.Hour).Fence()
	if got := e.exact(s, f, session.BoundaryActiveTurnCheckpoint, second.BatchID); got.Claim != nil {
		t.Fatalf("an exact claim crossed the delivery boundary: %v", claimIDs(got.Claim))
	}
	prefix := e.exact(s, f, session.BoundaryIdle, first.BatchID, second.BatchID)
	if !equal(claimIDs(prefix.Claim), []string{first.BatchID}) {
		t.Fatalf("exclusive exact prefix %v, want only the first", claimIDs(prefix.Claim))
	}
	e.must(s.AbandonQueuedWorkClaim(e.ctx, *prefix.Claim))
	sel := e.exact(s, f, session.BoundaryIdle, second.BatchID)
	if !equal(claimIDs(sel.Claim), []string{second.BatchID}) {
		t.Fatalf("out-of-order exact claim %v", claimIDs(sel.Claim))
	}
	if p, _ := s.ListPendingQueuedWork(e.ctx); !equal(batchIDs(p), []string{first.BatchID}) {
		t.Fatalf("pending %v", batchIDs(p))
	}
	c := emptyCommit("root", 0)
	c.SessionExecutionLease, c.ReleaseSessionExecutionLease = &f, &f
	c.CompletedQueueClaims = []session.QueuedWorkCompletion{sel.Claim.Completion()}
	e.commit(s, c)
	f2 := e.lease(s, "owner", time.Hour).Fence()
	done := e.exact(s, f2, session.BoundaryIdle, second.BatchID, "01JUNKNOWNBATCH")
	if done.Claim != nil || !equal(done.AlreadySatisfied, []string{second.BatchID, "01JUNKNOWNBATCH"}) {
		t.Fatalf("settled selection: %+v", done)
	}
	rest := e.exact(s, f2, session.BoundaryIdle, first.BatchID)
	if !equal(claimIDs(rest.Claim), []string{first.BatchID}) || len(rest.AlreadySatisfied) != 0 {
		t.Fatalf("claim of the rest %+v", rest)
	}
	if p, _ := s.ListPendingQueuedWork(e.ctx); len(p) != 0 {
		t.Fatalf("pending after both %v", batchIDs(p))
	}
}

// testQueueClasses: turn work never skips a session command at the front
// (the refusal says so); the command is claimed alone by its own claim; a
// command never overtakes earlier turn work.
func testQueueClasses(t *testing.T, e *env) {
	s := e.sess("root")
	cmd := e.enqueueDraft(s, command("refresh before turn"))
	turn := e.enqueueDraft(s, work("user turn", session.DeliverAfterCurrentTurnCommit, ""))
	f := e.lease(s, "turn-owner", time.Hour).Fence()
	if out := e.claimAt(s, f, session.BoundaryIdle, 10); out.Claim != nil || out.Refusal != session.RefusalCommandAtHead {
		t.Fatalf("turn claim behind a command: %+v", out)
	}
	e.must(s.ReleaseSessionExecutionLease(e.ctx, f))
	fc := e.lease(s, "command-owner", time.Hour).Fence()
	cc, err := s.ClaimLeadingSessionCommand(e.ctx, fc)
	if err != nil || !equal(claimIDs(cc), []string{cmd.BatchID}) {
		t.Fatalf("command claim %v, %v", claimIDs(cc), err)
	}
	c := emptyCommit("root", 0)
	c.SessionExecutionLease, c.ReleaseSessionExecutionLease = &fc, &fc
	c.CompletedQueueClaims = []session.QueuedWorkCompletion{cc.Completion()}
	e.commit(s, c)
	ft := e.lease(s, "turn-owner", time.Hour).Fence()
	sel := e.exact(s, ft, session.BoundaryIdle, cmd.BatchID, turn.BatchID)
	if !equal(sel.AlreadySatisfied, []string{cmd.BatchID}) || !equal(claimIDs(sel.Claim), []string{turn.BatchID}) {
		t.Fatalf("mixed selection after the command: %+v", sel)
	}
	e.must(s.ReleaseSessionExecutionLease(e.ctx, ft))

	tf := e.sess("turn-first")
	first := e.enqueueDraft(tf, work("first turn", session.DeliverAfterCurrentTurnCommit, ""))
	later := e.enqueueDraft(tf, command("later refresh"))
	f2 := e.lease(tf, "command-owner", time.Hour).Fence()
	if cc, err := tf.ClaimLeadingSessionCommand(e.ctx, f2); err != nil || cc != nil {
		t.Fatalf("a command overtook turn work: %v, %v", claimIDs(cc), err)
	}
	tc := e.claimAt(tf, f2, session.BoundaryIdle, 10)
	if !equal(claimIDs(tc.Claim), []string{first.BatchID}) {
		t.Fatalf("turn claim before the command %+v", tc)
	}
	e.must(tf.AbandonQueuedWorkClaim(e.ctx, *tc.Claim))
	e.must(tf.ReleaseSessionExecutionLease(e.ctx, f2))
	if q, _ := tf.ListQueuedWork(e.ctx); !equal(batchIDs(q), []string{first.BatchID, later.BatchID}) {
		t.Fatalf("queue %v", batchIDs(q))
	}
}

// testQueueBoundaries: after-commit work at the front blocks a checkpoint
// claim (named refusal); the idle claim takes it; with it held, the
// checkpoint claim takes the earliest-boundary batch behind it. Abandoned
// and claimed again, its fencing token grows, and the abandoned claim's
// completion is superseded and removes nothing.
func testQueueBoundaries(t *testing.T, e *env) {
	s := e.sess("root")
	after := e.enqueueDraft(s, work("after current commit", session.DeliverAfterCurrentTurnCommit, ""))
	earliest := e.enqueueDraft(s, work("earliest", session.DeliverEarliestSafeBoundary, ""))
	f := e.lease(s, "owner-a", time.Hour).Fence()
	if out := e.claimAt(s, f, session.BoundaryActiveTurnCheckpoint, 10); out.Claim != nil || out.Refusal != session.RefusalDeliveryBoundaryBlocked {
		t.Fatalf("checkpoint claim over after-commit work: %+v", out)
	}
	idle := e.claimAt(s, f, session.BoundaryIdle, 10).Claim
	if !equal(claimIDs(idle), []string{after.BatchID}) {
		t.Fatalf("idle claim %v", claimIDs(idle))
	}
	if cp := e.claimAt(s, f, session.BoundaryActiveTurnCheckpoint, 10).Claim; !equal(claimIDs(cp), []string{earliest.BatchID}) {
		t.Fatalf("checkpoint claim behind a held head %v", claimIDs(cp))
	}
	e.must(s.AbandonQueuedWorkClaim(e.ctx, *idle))
	again := e.claimAt(s, f, session.BoundaryIdle, 10).Claim
	if !equal(claimIDs(again), []string{after.BatchID}) || again.FencingToken <= idle.FencingToken {
		t.Fatalf("reclaim %+v after %+v", again, idle)
	}
	e.must(s.ReleaseSessionExecutionLease(e.ctx, f))
	fd := e.lease(s, "owner-d", time.Hour).Fence()
	c := emptyCommit("root", 0)
	c.SessionExecutionLease = &fd
	c.CompletedQueueClaims = []session.QueuedWorkCompletion{idle.Completion()}
	if _, err := s.CommitRuntimeState(e.ctx, c); !isErr(err, session.ErrQueuedWorkClaimSuperseded) {
		t.Fatalf("stale pre-abandon completion: %v", err)
	}
	if q, _ := s.ListQueuedWork(e.ctx); len(q) != 2 {
		t.Fatalf("the refused completion changed the queue: %v", batchIDs(q))
	}
	c.CompletedQueueClaims = []session.QueuedWorkCompletion{again.Completion()}
	e.commit(s, c)
	if q, _ := s.ListQueuedWork(e.ctx); !equal(batchIDs(q), []string{earliest.BatchID}) {
		t.Fatalf("after the current completion: %v", batchIDs(q))
	}
}

// testQueueMembership: a claim skips work not yet available, takes an
// exclusive batch alone, never another session's work; a new lease
// generation reclaims with a greater fencing token; the row limit caps a
// join.
func testQueueMembership(t *testing.T, e *env) {
	s := e.sess("root")
	notReady := work("not ready", session.DeliverEarliestSafeBoundary, "")
	notReady.AvailableAt = e.clock.Now().Add(24 * time.Hour)
	e.enqueueDraft(s, notReady)
	exclusive := e.enqueueDraft(s, work("exclusive", session.DeliverEarliestSafeBoundary, ""))
	joined := e.enqueueDraft(s, work("joined", session.DeliverEarliestSafeBoundary, "root"))
	other := e.enqueueDraft(e.sess("other"), work("other session", session.DeliverEarliestSafeBoundary, ""))
	f := e.lease(s, "owner-a", time.Hour).Fence()
	if c, _ := s.ClaimQueuedWork(e.ctx, f, 10); !equal(claimIDs(c), []string{exclusive.BatchID}) {
		t.Fatalf("first claim %v, want the exclusive batch alone", claimIDs(c))
	}
	if c, _ := s.ClaimQueuedWork(e.ctx, f, 10); !equal(claimIDs(c), []string{joined.BatchID}) {
		t.Fatalf("second claim %v", claimIDs(c))
	}
	e.must(s.ReleaseSessionExecutionLease(e.ctx, f))
	os := e.sess("other")
	fo := e.lease(os, "owner-c", time.Hour).Fence()
	if c, _ := os.ClaimQueuedWork(e.ctx, fo, 10); !equal(claimIDs(c), []string{other.BatchID}) {
		t.Fatalf("other session's claim %v", claimIDs(c))
	}

	rs := e.sess("reclaim")
	src := e.enqueueDraft(rs, work("superseded claim", session.DeliverEarliestSafeBoundary, ""))
	f1 := e.lease(rs, "owner-a", time.Hour).Fence()
	c1, err := rs.ClaimQueuedWork(e.ctx, f1, 1)
	e.must(err)
	e.must(rs.ReleaseSessionExecutionLease(e.ctx, f1))
	f2 := e.lease(rs, "owner-b", time.Hour).Fence()
	c2, err := rs.ClaimQueuedWork(e.ctx, f2, 1)
	if err != nil || !equal(claimIDs(c2), []string{src.BatchID}) || c2.FencingToken <= c1.FencingToken {
		t.Fatalf("reclaim across generations %+v after %+v, %v", c2, c1, err)
	}

	ls := e.sess("limited")
	var lim []string
	for _, text := range []string{"one", "two", "three"} {
		lim = append(lim, e.enqueueDraft(ls, work(text, session.DeliverEarliestSafeBoundary, "limited")).BatchID)
	}
	fl := e.lease(ls, "owner", time.Hour).Fence()
	if c, _ := ls.ClaimQueuedWork(e.ctx, fl, 2); !equal(claimIDs(c), lim[:2]) {
		t.Fatalf("capped join %v", claimIDs(c))
	}
	if c, _ := ls.ClaimQueuedWork(e.ctx, fl, 10); !equal(claimIDs(c), lim[2:]) {
		t.Fatalf("the rest %v", claimIDs(c))
	}
}

// testQueueJoin: a join claim groups only adjacent batches with the same
// delivery policy and merge key.
func testQueueJoin(t *testing.T, e *env) {
	s := e.sess("root")
	a1 := e.enqueueDraft(s, work("group a one", session.DeliverEarliestSafeBoundary, "a"))
	a2 := e.enqueueDraft(s, work("group a two", session.DeliverEarliestSafeBoundary, "a"))
	b := e.enqueueDraft(s, work("group b", session.DeliverEarliestSafeBoundary, "b"))
	late := e.enqueueDraft(s, work("after commit", session.DeliverAfterCurrentTurnCommit, "a"))
	f := e.lease(s, "owner-a", time.Hour).Fence()
	for _, want := range [][]string{{a1.BatchID, a2.BatchID}, {b.BatchID}, {late.BatchID}} {
		if c, _ := s.ClaimQueuedWork(e.ctx, f, 10); !equal(claimIDs(c), want) {
			t.Fatalf("group claim %v, want %v", claimIDs(c), want)
		}
	}
}

// testCheckpointBothFamilies: one checkpoint claim takes the active turn's
// input and the earliest-boundary batch, both pinned to the lease
// generation; under the same generation it grants nothing again.
func testCheckpointBothFamilies(t *testing.T, e *env) {
	const sid, turn = "checkpoint-work", "checkpoint-turn"
	s := e.sess(sid)
	in := e.input(s, sid, "checkpoint input", "", turn)
	e.input(s, sid, "next-turn input", "", "") // waits for the next turn
	b := e.enqueueDraft(s, work("checkpoint queued work", session.DeliverEarliestSafeBoundary, ""))
	l := e.lease(s, "checkpoint-owner", time.Minute)
	got, err := s.ClaimCheckpointWork(e.ctx, l.Fence(), turn, session.CheckpointAfterWork, 10, 10)
	e.must(err)
	if got.Inputs == nil || got.Queue == nil || !equal(inputIDs(got.Inputs.Inputs), []string{in.InputID}) ||
		!equal(claimIDs(got.Queue), []string{b.BatchID}) {
		t.Fatalf("checkpoint claim %+v", got)
	}
	if got.Inputs.SessionLeaseGeneration != l.FencingToken || got.Queue.SessionLeaseGeneration != l.FencingToken {
		t.Fatalf("generations %d, %d, want %d", got.Inputs.SessionLeaseGeneration, got.Queue.SessionLeaseGeneration, l.FencingToken)
	}
	again, err := s.ClaimCheckpointWork(e.ctx, l.Fence(), turn, session.CheckpointAfterWork, 10, 10)
	if err != nil || again.Inputs != nil || again.Queue != nil {
		t.Fatalf("second checkpoint claim under one generation: %+v, %v", again, err)
	}
}

// testCheckpointProbeCounts: a checkpoint claim with nothing to take (an
// empty queue; a queue whose head waits for the idle boundary) is one
// request and writes nothing; the deferred head is still claimable at the
// idle boundary; a claim of both families is one head write.
func testCheckpointProbeCounts(t *testing.T, e *env) {
	const sid, turn = "probe", "probe:counter-turn"
	cs := sessiontest.NewCountingStore(e.objs)
	cfg := storeConfig()
	cfg.Now = e.clock.Now
	st, err := stowage.OpenStore(e.ctx, cs, cfg)
	e.must(err)
	s, err := st.Session(sid)
	e.must(err)
	f := e.lease(s, "probe-owner", time.Hour).Fence()
	probe := func(what string, wantClaims bool) {
		t.Helper()
		cs.Reset()
		got, err := s.ClaimCheckpointWork(e.ctx, f, turn, session.CheckpointAfterWork, 64, 64)
		e.must(err)
		if (got.Inputs != nil && got.Queue != nil) != wantClaims || (!wantClaims && (got.Inputs != nil || got.Queue != nil)) {
			t.Fatalf("%s: claims %+v", what, got)
		}
		if cs.Total() != 1 || cs.Count(objstore.OpPut) != map[bool]int{false: 0, true: 1}[wantClaims] {
			t.Fatalf("%s: %d requests, %d PUTs", what, cs.Total(), cs.Count(objstore.OpPut))
		}
	}
	probe("empty queue", false)
	deferred := e.enqueueDraft(s, work("deferred checkpoint head", session.DeliverAfterCurrentTurnCommit, ""))
	probe("deferred head", false)
	if c := e.claimAt(s, f, session.BoundaryIdle, 64).Claim; !equal(claimIDs(c), []string{deferred.BatchID}) {
		t.Fatalf("deferred work at the idle boundary: %v", claimIDs(c))
	}
	e.input(s, sid, "pending checkpoint input", "", turn)
	e.enqueueDraft(s, work("pending checkpoint work", session.DeliverEarliestSafeBoundary, ""))
	probe("pending work", true)
}

// testExactKeyBreak: an exact claim keeps enqueue order and stops at a
// batch it does not name: of A1, B1, A2 (merge keys a, b, a), a selection
// of A2 and A1 claims A1 alone; B1 and A2 stay queued in order.
func testExactKeyBreak(t *testing.T, e *env) {
	s := e.sess("exact-key-break")
	draft := func(text, key string) session.QueuedWorkBatchDraft {
		d := work(text, session.DeliverEarliestSafeBoundary, key)
		d.SourceKey = "exact-" + text
		return d
	}
	a1 := e.enqueueDraft(s, draft("a1", "a"))
	b1 := e.enqueueDraft(s, draft("b1", "b"))
	a2 := e.enqueueDraft(s, draft("a2", "a"))
	f := e.lease(s, "exact-key-break-owner", time.Hour).Fence()
	got := e.exact(s, f, session.BoundaryIdle, a2.BatchID, a1.BatchID)
	if !equal(claimIDs(got.Claim), []string{a1.BatchID}) {
		t.Fatalf("exact claim %v, want A1 alone", claimIDs(got.Claim))
	}
	if p, _ := s.ListPendingQueuedWork(e.ctx); !equal(batchIDs(p), []string{b1.BatchID, a2.BatchID}) {
		t.Fatalf("remainder %v", batchIDs(p))
	}
}

// testDeferredVsExhausted: a claim that takes nothing names why: an empty
// queue is exhausted; one whose work is not available yet is deferred;
// once that work is cancelled it is exhausted again.
func testDeferredVsExhausted(t *testing.T, e *env) {
	s := e.sess("deferred-versus-exhausted")
	f := e.lease(s, "deferred-owner", time.Hour).Fence()
	if out := e.claimAt(s, f, session.BoundaryIdle, 10); out.Claim != nil || out.Refusal != session.RefusalEmpty {
		t.Fatalf("empty lane: %+v", out)
	}
	d := work("deferred", session.DeliverEarliestSafeBoundary, "")
	d.SourceKey, d.AvailableAt = "deferred-row", e.clock.Now().Add(time.Minute)
	b := e.enqueueDraft(s, d)
	if out := e.claimAt(s, f, session.BoundaryIdle, 10); out.Claim != nil || out.Refusal != session.RefusalNotYetAvailable {
		t.Fatalf("deferred lane: %+v", out)
	}
	if got, err := s.CancelQueuedWorkBatch(e.ctx, b.BatchID); err != nil || got == nil {
		t.Fatalf("cancel: %+v, %v", got, err)
	}
	if out := e.claimAt(s, f, session.BoundaryIdle, 10); out.Claim != nil || out.Refusal != session.RefusalEmpty {
		t.Fatalf("drained lane: %+v", out)
	}
}

// activeInput enqueues an input for the active turn with min boundary b.
func (e *env) activeInput(s *session.Store, text, turn string, b session.TurnInputCheckpointBoundary) session.PendingTurnInput {
	e.t.Helper()
	in, err := s.EnqueuePendingTurnInput(e.ctx, session.PendingTurnInputDraft{ActiveTurnID: turn, MinBoundary: b, Payload: text2json(text)})
	e.must(err)
	return in
}

// testCheckpointMinBoundary: an input's min boundary holds at every
// checkpoint, on the checkpoint claim and on the direct claim of active
// inputs: a before-completion input is skipped (not waited for) at the
// after-work checkpoint and taken at before-completion; an after-work
// input is taken at both.
func testCheckpointMinBoundary(t *testing.T, e *env) {
	const sid, turn = "checkpoint-min-boundary", "checkpoint-min-boundary:turn"
	s := e.sess(sid)
	before := e.activeInput(s, "withheld until before-completion", turn, session.InputBeforeCompletion)
	f := e.lease(s, "checkpoint-min-boundary-owner", time.Hour).Fence()
	if got, err := s.ClaimCheckpointWork(e.ctx, f, turn, session.CheckpointAfterWork, 10, 10); err != nil || got.Inputs != nil || got.Queue != nil {
		t.Fatalf("after-work checkpoint with only before-completion input: %+v, %v", got, err)
	}
	if c, err := s.ClaimActiveTurnInputs(e.ctx, f, turn, session.CheckpointAfterWork, 10); err != nil || c != nil {
		t.Fatalf("direct after-work claim with only before-completion input: %+v, %v", c, err)
	}
	first := e.activeInput(s, "admitted at after-work", turn, "")
	second := e.activeInput(s, "admitted through the direct claim path", turn, session.InputAfterWork)
	third := e.activeInput(s, "still pending at before-completion", turn, session.InputAfterWork)
	got, err := s.ClaimCheckpointWork(e.ctx, f, turn, session.CheckpointAfterWork, 1, 10)
	if err != nil || got.Queue != nil || got.Inputs == nil || !equal(inputIDs(got.Inputs.Inputs), []string{first.InputID}) {
		t.Fatalf("after-work checkpoint: %+v, %v", got, err)
	}
	direct, err := s.ClaimActiveTurnInputs(e.ctx, f, turn, session.CheckpointAfterWork, 1)
	if err != nil || direct == nil || !equal(inputIDs(direct.Inputs), []string{second.InputID}) {
		t.Fatalf("direct after-work claim: %+v, %v", direct, err)
	}
	last, err := s.ClaimCheckpointWork(e.ctx, f, turn, session.CheckpointBeforeCompletion, 10, 10)
	if err != nil || last.Queue != nil || last.Inputs == nil || !equal(inputIDs(last.Inputs.Inputs), []string{before.InputID, third.InputID}) {
		t.Fatalf("before-completion checkpoint: %+v, %v", last, err)
	}
	if _, err := s.EnqueuePendingTurnInput(e.ctx, session.PendingTurnInputDraft{MinBoundary: session.InputAfterWork}); !isErr(err, session.ErrInvalidCommit) {
		t.Fatalf("a min boundary without an active turn: %v", err)
	}
}
