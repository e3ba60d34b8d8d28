package lashconf

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/session"
)

// testQueueSourceKeys: a source-key replay returns the original batch (its
// payload, not the replay's); the list is per session, in enqueue order.
func testQueueSourceKeys(t *testing.T, e *env) {
	s := e.sess("root")
	first := e.enqueue(s, "root", "first", "source:first")
	replay := e.enqueue(s, "root", "different replay payload", "source:first")
	second := e.enqueue(s, "root", "second", "")
	e.enqueue(e.sess("other"), "other", "other session", "")
	if replay.BatchID != first.BatchID || jsonText(replay.Payload) != "first" {
		t.Fatalf("replay %+v, want the original batch", replay)
	}
	q, err := s.ListQueuedWork(e.ctx)
	e.must(err)
	if !equal(batchIDs(q), []string{first.BatchID, second.BatchID}) || q[0].EnqueueSeq >= q[1].EnqueueSeq {
		t.Fatalf("queue %+v", q)
	}
}

// testConcurrentClaimsOneOwner: two concurrent claims of one batch, and of
// one input, under the same lease: exactly one wins each.
func testConcurrentClaimsOneOwner(t *testing.T, e *env) {
	const sid = "concurrent-claim-races"
	s := e.sess(sid)
	batch := e.enqueue(s, sid, "race batch", "")
	in := e.input(s, sid, "race input", "", "")
	f := e.lease(s, "claim-race-lease", time.Hour).Fence()
	var wg sync.WaitGroup
	qs := make([]*session.QueuedWorkClaim, 2)
	is := make([]*session.TurnInputClaim, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if qs[i], err = e.sess(sid).ClaimQueuedWork(e.ctx, f, 1); err != nil {
				t.Error(err)
			}
			if is[i], err = e.sess(sid).ClaimTurnInputs(e.ctx, f, "turn-1", 1); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if (qs[0] == nil) == (qs[1] == nil) || (is[0] == nil) == (is[1] == nil) {
		t.Fatalf("claims: queue %+v, inputs %+v; want one winner each", qs, is)
	}
	q, i := qs[0], is[0]
	if q == nil {
		q = qs[1]
	}
	if i == nil {
		i = is[1]
	}
	if q.Batches[0].BatchID != batch.BatchID || i.Inputs[0].InputID != in.InputID {
		t.Fatal("the winners claimed other work")
	}
}

// testQueueCancel: an unclaimed batch is cancelled and returned; a live
// claim's batch is hidden from the pending list, kept durable and not
// cancellable; after the claim is abandoned it is pending and cancellable.
func testQueueCancel(t *testing.T, e *env) {
	s := e.sess("root")
	a := e.enqueue(s, "root", "cancel me", "")
	got, err := s.CancelQueuedWorkBatch(e.ctx, a.BatchID)
	if err != nil || got == nil || jsonText(got.Payload) != "cancel me" {
		t.Fatalf("cancel: %+v, %v", got, err)
	}
	if q, _ := s.ListQueuedWork(e.ctx); len(q) != 0 {
		t.Fatalf("cancelled batch still queued: %+v", q)
	}
	b := e.enqueue(s, "root", "claimed", "")
	l := e.lease(s, "owner", time.Minute)
	claim, err := s.ClaimQueuedWork(e.ctx, l.Fence(), 1)
	if err != nil || claim == nil || claim.Batches[0].BatchID != b.BatchID {
		t.Fatalf("claim: %+v, %v", claim, err)
	}
	if p, _ := s.ListPendingQueuedWork(e.ctx); len(p) != 0 {
		t.Fatalf("pending during a live claim: %+v", p)
	}
	if q, _ := s.ListQueuedWork(e.ctx); len(q) != 1 {
		t.Fatalf("claimed batch not durable: %+v", q)
	}
	if got, _ := s.CancelQueuedWorkBatch(e.ctx, b.BatchID); got != nil {
		t.Fatal("a live claim's batch was cancelled")
	}
	e.must(s.AbandonQueuedWorkClaim(e.ctx, *claim))
	e.must(s.ReleaseSessionExecutionLease(e.ctx, l.Fence()))
	if p, _ := s.ListPendingQueuedWork(e.ctx); len(p) != 1 {
		t.Fatalf("pending after abandon: %+v", p)
	}
	if got, _ := s.CancelQueuedWorkBatch(e.ctx, b.BatchID); got == nil {
		t.Fatal("an abandoned batch is not cancellable")
	}
}

// testQueueSupersede: a live claim cannot be re-claimed under its own
// generation; a new lease generation reclaims it and supersedes the old
// completion, also after a dead-owner takeover.
func testQueueSupersede(t *testing.T, e *env) {
	s := e.sess("root")
	b := e.enqueue(s, "root", "generation work", "")
	la := e.lease(s, "gen-owner-a", time.Minute)
	ca, err := s.ClaimQueuedWork(e.ctx, la.Fence(), 1)
	if err != nil || ca == nil || ca.Batches[0].BatchID != b.BatchID || ca.SessionLeaseGeneration != la.FencingToken {
		t.Fatalf("first claim %+v, %v", ca, err)
	}
	if again, _ := s.ClaimQueuedWork(e.ctx, la.Fence(), 1); again != nil {
		t.Fatal("a live claim was re-claimed under its own generation")
	}
	e.must(s.ReleaseSessionExecutionLease(e.ctx, la.Fence()))
	lb := e.lease(s, "gen-owner-b", time.Minute)
	cb, err := s.ClaimQueuedWork(e.ctx, lb.Fence(), 1)
	if err != nil || cb == nil || cb.SessionLeaseGeneration <= ca.SessionLeaseGeneration {
		t.Fatalf("next-generation reclaim %+v, %v", cb, err)
	}
	c := emptyCommit("root", 0)
	c.CompletedQueueClaims = []session.QueuedWorkCompletion{ca.Completion()}
	if _, err := s.CommitRuntimeState(e.ctx, c); !isErr(err, session.ErrQueuedWorkClaimSuperseded) {
		t.Fatalf("superseded completion: %v", err)
	}
	// A dead-owner takeover (fenced reclaim) supersedes the same way.
	dead := local("gen-dead", "host-a", "boot-a")
	e.must(s.ReleaseSessionExecutionLease(e.ctx, lb.Fence()))
	ld := e.leaseFor(s, dead)
	cd, err := s.ClaimQueuedWork(e.ctx, ld.Fence(), 1)
	e.must(err)
	out, err := s.ReclaimSessionExecutionLease(e.ctx, local("gen-taker", "host-a", "boot-a"), ld.Fence(), time.Minute)
	if err != nil || out.Acquired == nil {
		t.Fatalf("takeover: %+v, %v", out, err)
	}
	ct, err := s.ClaimQueuedWork(e.ctx, out.Acquired.Fence(), 1)
	if err != nil || ct == nil || ct.SessionLeaseGeneration <= cd.SessionLeaseGeneration {
		t.Fatalf("claim after takeover %+v, %v", ct, err)
	}
	c.CompletedQueueClaims = []session.QueuedWorkCompletion{cd.Completion()}
	if _, err := s.CommitRuntimeState(e.ctx, c); !isErr(err, session.ErrQueuedWorkClaimSuperseded) {
		t.Fatalf("pre-takeover completion: %v", err)
	}
}

// testClaimLiveness: for lease-less readers a claim is live exactly while
// the generation it pinned holds the lease: hidden from the pending lists
// while it does, visible again once the lease is released or expires.
func testClaimLiveness(t *testing.T, e *env) {
	s := e.sess("root")
	b := e.enqueue(s, "root", "work", "")
	in := e.input(s, "root", "input", "", "")
	l := e.lease(s, "owner", time.Minute)
	_, err := s.ClaimQueuedWork(e.ctx, l.Fence(), 1)
	e.must(err)
	_, err = s.ClaimTurnInputs(e.ctx, l.Fence(), "turn-1", 1)
	e.must(err)
	p, _ := s.ListPendingQueuedWork(e.ctx)
	if len(p) != 0 || len(e.pendingInputs(s)) != 0 {
		t.Fatalf("live claims listed: %+v %v", p, e.pendingInputs(s))
	}
	e.must(s.ReleaseSessionExecutionLease(e.ctx, l.Fence()))
	p, _ = s.ListPendingQueuedWork(e.ctx)
	if !equal(batchIDs(p), []string{b.BatchID}) || !equal(e.pendingInputs(s), []string{in.InputID}) {
		t.Fatalf("after release: %+v %v", p, e.pendingInputs(s))
	}
	l2 := e.lease(s, "owner-2", time.Minute)
	_, err = s.ClaimQueuedWork(e.ctx, l2.Fence(), 1)
	e.must(err)
	e.clock.Advance(2 * time.Minute)
	if p, _ = s.ListPendingQueuedWork(e.ctx); len(p) != 1 {
		t.Fatalf("after expiry: %+v", p)
	}
}

// testScanSurplus: claims under one generation reach every row, however
// many the same generation already holds: 34 batches, 34 session commands
// and 34 inputs are each claimed one claim at a time, in enqueue order.
func testScanSurplus(t *testing.T, e *env) {
	const n = 34
	for _, fam := range []string{"queue", "command", "input"} {
		sid := "bounded-scan-" + fam
		s := e.sess(sid)
		var want []string
		for i := range n {
			switch fam {
			case "queue":
				want = append(want, e.enqueue(s, sid, fmt.Sprint("bounded queue ", i), "").BatchID)
			case "command":
				want = append(want, e.enqueueDraft(s, session.QueuedWorkBatchDraft{Class: session.ClassSessionCommand, Payload: text2json(fmt.Sprint("bounded command ", i))}).BatchID)
			default:
				want = append(want, e.input(s, sid, fmt.Sprint("bounded input ", i), "", "").InputID)
			}
		}
		f := e.lease(s, sid+"-owner", time.Hour).Fence()
		for _, id := range want {
			var got string
			switch fam {
			case "queue":
				c, err := s.ClaimQueuedWork(e.ctx, f, 1)
				e.must(err)
				got = c.Batches[0].BatchID
			case "command":
				c, err := s.ClaimLeadingSessionCommand(e.ctx, f)
				e.must(err)
				got = c.Batches[0].BatchID
			default:
				c, err := s.ClaimTurnInputs(e.ctx, f, "turn-1", 1)
				e.must(err)
				got = c.Inputs[0].InputID
			}
			if got != id {
				t.Fatalf("%s: claimed %s, want %s", fam, got, id)
			}
		}
		e.must(s.ReleaseSessionExecutionLease(e.ctx, f))
	}
}

// testQueueCompletionLeaseGuarded: a completion with a stale claim token
// fails and keeps the work; the real one settles it. Deliberate difference
// (docs/contract.md, "Where stowage differs from lash"): the lease fence is
// checked before the claims, so a commit under a fence that is no longer
// the lease fails with SessionExecutionLeaseExpired even if its claims
// are current.
func testQueueCompletionLeaseGuarded(t *testing.T, e *env) {
	s := e.sess("root")
	for _, text := range []string{"join one", "join two"} {
		e.enqueueDraft(s, session.QueuedWorkBatchDraft{Payload: text2json(text), Delivery: session.DeliverEarliestSafeBoundary, MergeKey: "joined"})
	}
	l := e.lease(s, "owner-a", time.Minute)
	f := l.Fence()
	claim, err := s.ClaimQueuedWork(e.ctx, f, 10)
	if err != nil || claim == nil || len(claim.Batches) != 2 {
		t.Fatalf("claim %+v, %v", claim, err)
	}
	stale := claim.Completion()
	stale.LeaseToken += ":stale"
	c := emptyCommit("root", 0)
	c.SessionExecutionLease = &f
	c.CompletedQueueClaims = []session.QueuedWorkCompletion{stale}
	if _, err := s.CommitRuntimeState(e.ctx, c); !isErr(err, session.ErrQueuedWorkClaimSuperseded) {
		t.Fatalf("stale completion: %v", err)
	}
	if q, _ := s.ListQueuedWork(e.ctx); len(q) != 2 {
		t.Fatalf("stale completion lost work: %+v", q)
	}
	// stowage: a fence that is not the live lease fails first.
	e.clock.Advance(2 * time.Minute)
	c.CompletedQueueClaims = []session.QueuedWorkCompletion{claim.Completion()}
	if _, err := s.CommitRuntimeState(e.ctx, c); !isErr(err, session.ErrSessionExecutionLeaseExpired) {
		t.Fatalf("expired fence: %v", err)
	}
	l2 := e.lease(s, "owner-a", time.Minute)
	f2 := l2.Fence()
	c.SessionExecutionLease, c.ReleaseSessionExecutionLease = &f2, &f2
	c.CompletedQueueClaims = nil
	reclaimed, err := s.ClaimQueuedWork(e.ctx, f2, 10)
	e.must(err)
	c.CompletedQueueClaims = []session.QueuedWorkCompletion{reclaimed.Completion()}
	e.commit(s, c)
	if q, _ := s.ListQueuedWork(e.ctx); len(q) != 0 {
		t.Fatalf("valid completion left work: %+v", q)
	}
}

// testWakeClaimedOnce: a wake delivered twice under one source key is one
// batch, claimed once; settled, the queue is empty.
func testWakeClaimedOnce(t *testing.T, e *env) {
	s := e.sess("wake")
	a := e.enqueue(s, "wake", "process wake", "process-wake:p1:1")
	b := e.enqueue(e.sess("wake"), "wake", "process wake", "process-wake:p1:1")
	if a.BatchID != b.BatchID {
		t.Fatal("a redelivered wake became a second batch")
	}
	f := e.lease(s, "owner", time.Hour).Fence()
	c1, err := s.ClaimQueuedWork(e.ctx, f, 10)
	if err != nil || c1 == nil || len(c1.Batches) != 1 {
		t.Fatalf("claim %+v, %v", c1, err)
	}
	if c2, _ := s.ClaimQueuedWork(e.ctx, f, 10); c2 != nil {
		t.Fatal("the wake was claimed twice")
	}
	c := emptyCommit("wake", 0)
	c.CompletedQueueClaims = []session.QueuedWorkCompletion{c1.Completion()}
	e.commit(s, c)
	if q, _ := s.ListQueuedWork(e.ctx); len(q) != 0 {
		t.Fatalf("queue %+v", q)
	}
}

// testQueueStampAtomic: a final commit that completes a queue claim and an
// input claim, enqueues an outbox batch and carries a turn stamp applies
// all or nothing: a stale queue completion or a cross-session outbox batch
// rolls everything back; the valid commit applies all, and a retry with the
// same stamp returns the same result.
func testQueueStampAtomic(t *testing.T, e *env) {
	s := e.sess("root")
	e.enqueue(s, "root", "atomic queue", "")
	e.input(s, "root", "atomic pending input", "", "")
	f := e.lease(s, "queue-owner", time.Hour).Fence()
	qc, err := s.ClaimQueuedWork(e.ctx, f, 1)
	e.must(err)
	ic, err := s.ClaimTurnInputs(e.ctx, f, "turn-atomic", 1)
	e.must(err)
	c := appendCommit("root", 0, "", "n1")
	c.SessionExecutionLease = &f
	c.TurnCommit = stamp("root", "turn-atomic", "hash")
	c.CompletedTurnInputClaims = []session.TurnInputCompletion{ic.Completion()}
	c.EnqueuedQueueBatches = []session.QueuedWorkBatchDraft{{SessionID: "root", SourceKey: "agent-frame-handoff:turn-atomic", Payload: text2json("follow-on task")}}
	stale := qc.Completion()
	stale.LeaseToken += ":stale"
	c.CompletedQueueClaims = []session.QueuedWorkCompletion{stale}
	if _, err := s.CommitRuntimeState(e.ctx, c); !isErr(err, session.ErrQueuedWorkClaimSuperseded) {
		t.Fatalf("stale completion: %v", err)
	}
	c.CompletedQueueClaims = []session.QueuedWorkCompletion{qc.Completion()}
	bad := c
	bad.EnqueuedQueueBatches = []session.QueuedWorkBatchDraft{{SessionID: "other-session"}}
	if _, err := s.CommitRuntimeState(e.ctx, bad); !isErr(err, session.ErrSessionBindingMismatch) {
		t.Fatalf("cross-session outbox: %v", err)
	}
	if r, _ := e.sess("root").LoadSession(e.ctx, session.FullGraph()); r != nil {
		t.Fatalf("a rejected commit persisted state: revision %d", r.HeadRevision)
	}
	if q, _ := s.ListQueuedWork(e.ctx); len(q) != 1 {
		t.Fatalf("a rejected commit changed the queue: %+v", q)
	}
	first := e.commit(s, c)
	q, _ := s.ListQueuedWork(e.ctx)
	if len(q) != 1 || q[0].BatchID != first.EnqueuedQueueBatches[0].BatchID || len(first.TurnInputApplications) != 1 {
		t.Fatalf("after the final commit: queue %+v, result %+v", q, first)
	}
	retry := e.commit(e.sess("root"), c)
	if retry.HeadRevision != first.HeadRevision || retry.CheckpointRef != first.CheckpointRef {
		t.Fatalf("retry %+v, want %+v", retry, first)
	}
}
