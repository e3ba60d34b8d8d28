package lashconf

import (
	"fmt"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/session"
)

// The queued-work redrive cases of runtime_persistence.rs: a claim whose
// holder lost its lease before settling it is reclaimed by the next lease
// generation. lash (after v0.1.0-alpha.113) journals the predecessor's
// composition and redrives it literally; stowage's claims journal no
// composition, so a reclaim decides the claim again under the successor's
// boundary and row limit (docs/contract.md, "Where stowage differs from
// lash", the redrive row). These tests pin that behaviour on the lash
// scenarios, so a composition journal, when it comes, turns them red and
// into the lash assertions.
func init() {
	cases = append(cases,
		lashCase{"QueuedWorkRedrivePreservesInterruptedBatchComposition", testRedriveComposition},
		lashCase{"QueuedWorkRedriveSelectsClaimIdentityAcrossReadyGap", testRedriveReadyGap},
		lashCase{"QueuedWorkRedriveObeysDeliveryBoundaryBeforeIdentity", testRedriveBoundary},
		lashCase{"QueuedWorkRedriveIgnoresSuccessorRowLimit", testRedriveRowLimit},
		lashCase{"QueuedWorkRedriveIgnoresAChangedDrainPolicy", testRedriveDrainPolicy},
	)
}

// keyed is a draft with a source key, a merge key and a delivery policy.
func keyed(src, mergeKey string, d session.DeliveryPolicy) session.QueuedWorkBatchDraft {
	w := work(src, d, mergeKey)
	w.SourceKey = src
	return w
}

// composition names c's batches by source key and enqueue sequence.
func composition(c *session.QueuedWorkClaim) []string {
	out := []string{}
	if c == nil {
		return out
	}
	for _, b := range c.Batches {
		out = append(out, fmt.Sprintf("%s#%d", b.SourceKey, b.EnqueueSeq))
	}
	return out
}

// interrupt releases the lease f without settling or abandoning its claims,
// as a holder that crashed after its claim escaped would leave it, and
// returns a successor lease for id.
func (e *env) interrupt(s *session.Store, f session.LeaseFence, id string) session.LeaseFence {
	e.t.Helper()
	e.must(s.ReleaseSessionExecutionLease(e.ctx, f))
	return e.lease(s, id, time.Hour).Fence()
}

// wantClaim fails unless claim c has the composition want.
func wantClaim(t *testing.T, what string, c *session.QueuedWorkClaim, want ...string) {
	t.Helper()
	if got := composition(c); !equal(got, want) {
		t.Fatalf("%s: %v, want %v", what, got, want)
	}
}

// testRedriveComposition: lash keeps a compatible row enqueued after the
// interruption out of the redriven claim; stowage's redrive, a new claim
// decision, joins it, and every generation's claim has a new claim id.
func testRedriveComposition(t *testing.T, e *env) {
	s := e.sess("interrupted-batch-redrive")
	e.enqueueDraft(s, keyed("redrive-w1", "redrive-key", session.DeliverEarliestSafeBoundary))
	e.enqueueDraft(s, keyed("redrive-w2", "redrive-key", session.DeliverEarliestSafeBoundary))
	f := e.lease(s, "redrive-owner-a", time.Hour).Fence()
	first := e.claimAt(s, f, session.BoundaryIdle, 64).Claim
	wantClaim(t, "original claim", first, "redrive-w1#1", "redrive-w2#2")
	e.must(s.ReleaseSessionExecutionLease(e.ctx, f))
	e.enqueueDraft(s, keyed("redrive-w3", "redrive-key", session.DeliverEarliestSafeBoundary))
	f = e.lease(s, "redrive-owner-b", time.Hour).Fence()
	redriven := e.claimAt(s, f, session.BoundaryIdle, 64).Claim
	wantClaim(t, "redriven claim (lash: w1, w2)", redriven, "redrive-w1#1", "redrive-w2#2", "redrive-w3#3")
	if redriven.ClaimID == first.ClaimID {
		t.Fatal("the redriven claim kept the predecessor's claim id")
	}
	f = e.interrupt(s, f, "redrive-owner-c")
	twice := e.claimAt(s, f, session.BoundaryIdle, 64).Claim
	wantClaim(t, "twice redriven claim", twice, "redrive-w1#1", "redrive-w2#2", "redrive-w3#3")
	if twice.ClaimID == redriven.ClaimID {
		t.Fatal("the second redrive kept the first redrive's claim id")
	}
	if out := e.claimAt(s, f, session.BoundaryIdle, 64); out.Claim != nil || out.Refusal != session.RefusalEmpty {
		t.Fatalf("after the redrive (lash: w3 alone): %+v", out)
	}
}

// testRedriveReadyGap: a row not yet available between two ready rows of
// one merge key is skipped by the original claim; once it is available,
// lash's redrive still takes the original two (the gap row on its own);
// stowage's takes all three.
func testRedriveReadyGap(t *testing.T, e *env) {
	s := e.sess("interrupted-batch-ready-gap")
	e.enqueueDraft(s, keyed("gap-w1", "gap-key", session.DeliverEarliestSafeBoundary))
	gap := keyed("gap-w2", "gap-key", session.DeliverEarliestSafeBoundary)
	gap.AvailableAt = e.clock.Now().Add(time.Minute)
	e.enqueueDraft(s, gap)
	e.enqueueDraft(s, keyed("gap-w3", "gap-key", session.DeliverEarliestSafeBoundary))
	f := e.lease(s, "gap-owner-a", time.Hour).Fence()
	wantClaim(t, "claim across the gap", e.claimAt(s, f, session.BoundaryIdle, 64).Claim, "gap-w1#1", "gap-w3#3")
	e.must(s.ReleaseSessionExecutionLease(e.ctx, f))
	e.clock.Advance(2 * time.Minute)
	f = e.lease(s, "gap-owner-b", time.Hour).Fence()
	wantClaim(t, "redriven claim (lash: w1, w3)", e.claimAt(s, f, session.BoundaryIdle, 64).Claim, "gap-w1#1", "gap-w2#2", "gap-w3#3")
}

// testRedriveBoundary: the delivery boundary gates a redrive before the
// claim's identity does: after-commit work claimed while idle is not
// redriven at a checkpoint (named refusal, as in lash), and the idle
// redrive takes the original composition. lash withholds the predecessor's
// rows so that fresh checkpoint work behind them is claimable at a
// checkpoint; in stowage the reclaimable rows stay at the front and block
// it (the same refusal) until the idle redrive holds them.
func testRedriveBoundary(t *testing.T, e *env) {
	s := e.sess("interrupted-batch-delivery-gate")
	e.enqueueDraft(s, keyed("gate-w1", "gate-key", session.DeliverAfterCurrentTurnCommit))
	e.enqueueDraft(s, keyed("gate-w2", "gate-key", session.DeliverAfterCurrentTurnCommit))
	f := e.lease(s, "gate-owner-a", time.Hour).Fence()
	wantClaim(t, "idle claim", e.claimAt(s, f, session.BoundaryIdle, 64).Claim, "gate-w1#1", "gate-w2#2")
	f = e.interrupt(s, f, "gate-owner-b")
	if out := e.claimAt(s, f, session.BoundaryActiveTurnCheckpoint, 64); out.Claim != nil || out.Refusal != session.RefusalDeliveryBoundaryBlocked {
		t.Fatalf("checkpoint redrive of after-commit work: %+v", out)
	}
	e.enqueueDraft(s, keyed("gate-fresh-w1", "gate-fresh-key", session.DeliverEarliestSafeBoundary))
	e.enqueueDraft(s, keyed("gate-fresh-w2", "gate-fresh-key", session.DeliverEarliestSafeBoundary))
	if out := e.claimAt(s, f, session.BoundaryActiveTurnCheckpoint, 64); out.Claim != nil || out.Refusal != session.RefusalDeliveryBoundaryBlocked {
		t.Fatalf("fresh checkpoint work behind the reclaimable rows (lash: claimed): %+v", out)
	}
	wantClaim(t, "idle redrive", e.claimAt(s, f, session.BoundaryIdle, 64).Claim, "gate-w1#1", "gate-w2#2")
	wantClaim(t, "fresh checkpoint claim", e.claimAt(s, f, session.BoundaryActiveTurnCheckpoint, 64).Claim, "gate-fresh-w1#3", "gate-fresh-w2#4")
}

// testRedriveRowLimit: lash redrives a predecessor's five-row claim whole
// under a successor limit of two; stowage's ready claim honours the
// successor's limit (two rows). An exact claim has no row limit, so the
// exact redrive of all five ids takes all five, as in lash.
func testRedriveRowLimit(t *testing.T, e *env) {
	s := e.sess("interrupted-batch-row-limit")
	var ids, want []string
	for i := 1; i <= 5; i++ {
		b := e.enqueueDraft(s, keyed(fmt.Sprintf("limit-w%d", i), "limit-key", session.DeliverEarliestSafeBoundary))
		ids = append(ids, b.BatchID)
		want = append(want, fmt.Sprintf("limit-w%d#%d", i, i))
	}
	f := e.lease(s, "limit-owner-a", time.Hour).Fence()
	wantClaim(t, "five-row claim", e.claimAt(s, f, session.BoundaryIdle, 64).Claim, want...)
	f = e.interrupt(s, f, "limit-owner-b")
	wantClaim(t, "redrive under a limit of two (lash: all five)", e.claimAt(s, f, session.BoundaryIdle, 2).Claim, want[:2]...)
	f = e.interrupt(s, f, "limit-owner-c")
	wantClaim(t, "exact redrive", e.exact(s, f, session.BoundaryIdle, ids...).Claim, want...)
}

// testRedriveDrainPolicy: stowage has no drain policy; a host draining one
// row at a time asks for one (docs/contract.md, "Where stowage differs from
// lash", the payloads row). lash redrives the predecessor's three-row
// claim whole under a successor's one-row policy; stowage's redrive takes
// the one row asked for.
func testRedriveDrainPolicy(t *testing.T, e *env) {
	s := e.sess("interrupted-batch-drain-policy")
	for _, k := range []string{"policy-w1", "policy-w2", "policy-w3"} {
		e.enqueueDraft(s, keyed(k, "policy-key", session.DeliverEarliestSafeBoundary))
	}
	want := []string{"policy-w1#1", "policy-w2#2", "policy-w3#3"}
	f := e.lease(s, "policy-owner-a", time.Hour).Fence()
	wantClaim(t, "drain-all claim", e.claimAt(s, f, session.BoundaryIdle, 64).Claim, want...)
	f = e.interrupt(s, f, "policy-owner-b")
	wantClaim(t, "one-at-a-time redrive (lash: all three)", e.claimAt(s, f, session.BoundaryIdle, 1).Claim, want[0])
}
