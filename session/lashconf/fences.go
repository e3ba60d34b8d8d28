package lashconf

import (
	"testing"
	"time"

	"github.com/stowage-dev/stowage/session"
)

func init() {
	cases = append(cases, lashCase{"DivergentClaimFencesAdvancePerRow", testDivergentClaimFences})
}

// testDivergentClaimFences: each batch counts its own claims. lash injects
// two different counters; here they diverge by use: the first batch is
// claimed and abandoned three times while the second waits, then one claim
// takes both, and each counter advances by one from its own value (the
// second batch, claimed alone afterwards, is at its second claim, not the
// first batch's fifth).
func testDivergentClaimFences(t *testing.T, e *env) {
	const sid = "fence-divergent-rows"
	s := e.sess(sid)
	first := e.enqueueDraft(s, work("first", session.DeliverAfterCurrentTurnCommit, "divergent"))
	second := e.enqueueDraft(s, work("second", session.DeliverAfterCurrentTurnCommit, "divergent"))
	f := e.lease(s, "divergent-owner", time.Hour).Fence()
	var last uint64
	for i := range 3 {
		c := e.exact(s, f, session.BoundaryIdle, first.BatchID).Claim
		if !equal(claimIDs(c), []string{first.BatchID}) || c.FencingToken <= last {
			t.Fatalf("claim %d of the first batch: %+v", i+1, c)
		}
		last = c.FencingToken
		e.must(s.AbandonQueuedWorkClaim(e.ctx, *c))
	}
	both := e.claimAt(s, f, session.BoundaryIdle, 2).Claim
	if !equal(claimIDs(both), []string{first.BatchID, second.BatchID}) || both.FencingToken != last+1 {
		t.Fatalf("joint claim %+v after the first batch's token %d", both, last)
	}
	e.must(s.AbandonQueuedWorkClaim(e.ctx, *both))
	alone := e.exact(s, f, session.BoundaryIdle, second.BatchID).Claim
	if !equal(claimIDs(alone), []string{second.BatchID}) || alone.FencingToken >= both.FencingToken {
		t.Fatalf("second batch alone %+v: its own counter, not the first batch's %d", alone, both.FencingToken)
	}
}
