package lashconf

import (
	"sync"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/session"
)

// The execution-lease cases of runtime_persistence.rs that lash added after
// v0.1.0-alpha.113. lash's later API has a caller-minted claim nonce and an
// executor id: the same incarnation claiming with a new nonce rotates the
// lease token at the same fencing token, and another executor of one
// incarnation is Busy. stowage keeps the published API: the same owner and
// incarnation re-enters its live lease (same tokens), and an executor that
// must not share the lease uses its own incarnation id (docs/contract.md,
// "Where stowage differs from lash", the re-entry row). Where a case only
// needs some successor lease, a release and a new claim, or a fenced
// reclaim, stands in for the rotation.
func init() {
	cases = append(cases,
		lashCase{"BorrowedSessionExecutionLeaseCommitContract", testBorrowedLeaseCommit},
		lashCase{"SameIncarnationReentryGatesNothingAndCommitsWinByHeadCAS", testSameIncarnationReentry},
		lashCase{"SameHostDistinctIncarnationsAreLaneLessWithoutRevokingHolder", testDistinctIncarnations},
		lashCase{"ConcurrentLeaseReclaimAndStaleRenewalAreLinearizable", testReclaimRenewLinearizable},
		lashCase{"SessionExecutionLeaseExpiresByTTL", testLeaseExpiresByTTL},
		lashCase{"SessionExecutionLeaseDisplacement", testLeaseDisplacement},
		lashCase{"SessionExecutionLeaseFenceAuthority", testLeaseFenceAuthority},
	)
}

// fenced returns c borrowing the lease f (checked, not released).
func fenced(c session.RuntimeCommit, f session.LeaseFence) session.RuntimeCommit {
	c.SessionExecutionLease = &f
	return c
}

// holderIs fails unless another owner's claim on s is Busy with token.
func (e *env) holderIs(s *session.Store, token string) {
	e.t.Helper()
	out, err := s.TryClaimSessionExecutionLease(e.ctx, owner("probe"), time.Minute)
	e.must(err)
	if out.Busy == nil || out.Busy.LeaseToken != token {
		e.t.Fatalf("lease holder %+v, want token %s", out, token)
	}
}

// testBorrowedLeaseCommit: a commit borrowing the held lease is accepted and
// leaves the lease live (renew keeps its tokens); a lapsed lease
// authorizes nothing; a stale fence is refused and leaves the successor
// live. Deliberate difference (docs/contract.md, "Where stowage differs
// from lash", the receipt row): once a successor holds the lease, lash
// refuses a replay of the committed turn under the old fence; stowage
// returns that turn's receipt to the fence it was committed under and
// writes nothing, so a holder whose commit released the lease, or whose
// response was lost, learns the outcome.
func testBorrowedLeaseCommit(t *testing.T, e *env) {
	const sid = "borrowed-commit-fence"
	s := e.sess(sid)
	held := e.lease(s, "borrowed-commit-owner", 2*time.Minute)
	c := emptyCommit(sid, 0)
	c.TurnCommit = stamp(sid, "borrowed-commit-replay", "h1")
	if res := e.commit(s, fenced(c, held.Fence())); res.HeadRevision != 1 {
		t.Fatalf("borrowed commit at revision %d", res.HeadRevision)
	}
	renewed, err := s.RenewSessionExecutionLease(e.ctx, held.Fence(), 2*time.Minute)
	if err != nil || renewed.LeaseToken != held.LeaseToken || renewed.FencingToken != held.FencingToken {
		t.Fatalf("renew after a borrowed commit: %+v, %v", renewed, err)
	}
	e.must(s.ReleaseSessionExecutionLease(e.ctx, held.Fence()))
	succ := e.lease(s, "borrowed-commit-owner", 2*time.Minute)
	if res, err := s.CommitRuntimeState(e.ctx, fenced(c, held.Fence())); err != nil || res.HeadRevision != 1 {
		t.Fatalf("receipt replay under the fence it committed with: %+v, %v", res, err)
	}
	e.holderIs(s, succ.LeaseToken) // the replay wrote nothing
	e.must(s.ReleaseSessionExecutionLease(e.ctx, succ.Fence()))
	lapsed := e.lease(s, "borrowed-commit-owner", time.Millisecond)
	e.clock.Advance(time.Second)
	if _, err := s.CommitRuntimeState(e.ctx, fenced(emptyCommit(sid, 1), lapsed.Fence())); !isErr(err, session.ErrSessionExecutionLeaseExpired) {
		t.Fatalf("commit under a lapsed lease: %v", err)
	}
	rotated := e.lease(s, "borrowed-commit-owner", 2*time.Minute)
	if _, err := s.CommitRuntimeState(e.ctx, fenced(emptyCommit(sid, 1), held.Fence())); !isErr(err, session.ErrSessionExecutionLeaseExpired) {
		t.Fatalf("commit under a stale fence: %v", err)
	}
	e.holderIs(s, rotated.LeaseToken)
	if r, err := e.cold(sid).LoadSession(e.ctx, session.FullGraph()); err != nil || r.HeadRevision != 1 {
		t.Fatalf("after the refused commits: %+v, %v", r, err)
	}
}

// testSameIncarnationReentry: lash's same-incarnation overlap rotates the
// lease token; in stowage the second claim re-enters the one lease (same
// tokens), a commit needs no lease and wins or loses by the head CAS alone,
// a commit that loses it releases nothing, and one that wins releases the
// lease it names. Deliberate (the re-entry row).
func testSameIncarnationReentry(t *testing.T, e *env) {
	s := e.sess("root")
	first := e.lease(s, "same-incarnation-overlap", time.Minute)
	again := e.lease(s, "same-incarnation-overlap", time.Minute)
	if again.LeaseToken != first.LeaseToken || again.FencingToken != first.FencingToken {
		t.Fatalf("re-entry %+v after %+v", again, first)
	}
	e.commit(s, emptyCommit("root", 0)) // wins by the head CAS alone
	lose := emptyCommit("root", 0)
	f := first.Fence()
	lose.ReleaseSessionExecutionLease = &f
	if _, err := s.CommitRuntimeState(e.ctx, lose); !isErr(err, session.ErrHeadRevisionConflict) {
		t.Fatalf("commit on a stale revision: %v", err)
	}
	e.holderIs(s, first.LeaseToken)
	win := emptyCommit("root", 1)
	win.ReleaseSessionExecutionLease = &f
	e.commit(s, win)
	e.lease(s, "after-release", time.Minute)
}

// testDistinctIncarnations: two executors of one host owner, told apart by
// their incarnation ids (lash: executor ids): the second is Busy, naming
// the first; the first renews with its tokens and commits under its fence;
// of two racing lane-less commits on one revision exactly one wins, the
// other is a HeadRevisionConflict{1, 2}. Deliberate (the re-entry row).
func testDistinctIncarnations(t *testing.T, e *env) {
	const sid = "fig1133-same-host-session"
	s := e.sess(sid)
	a := session.LeaseOwner{OwnerID: "fig1133-host", IncarnationID: "fig1133-boot:executor-a",
		Liveness: session.OwnerLiveness{Kind: session.LivenessOpaque}}
	b := a
	b.IncarnationID = "fig1133-boot:executor-b"
	first := e.leaseFor(s, a)
	if first.FencingToken != 1 || first.SessionID != sid {
		t.Fatalf("first lease %+v", first)
	}
	out, err := s.TryClaimSessionExecutionLease(e.ctx, b, 2*time.Minute)
	if err != nil || out.Busy == nil || out.Busy.Owner != a || out.Busy.LeaseToken != first.LeaseToken || out.Busy.FencingToken != 1 {
		t.Fatalf("second executor: %+v, %v", out, err)
	}
	renewed, err := s.RenewSessionExecutionLease(e.ctx, first.Fence(), 2*time.Minute)
	if err != nil || renewed.LeaseToken != first.LeaseToken || renewed.FencingToken != 1 || renewed.Owner != a {
		t.Fatalf("holder renew: %+v, %v", renewed, err)
	}
	if res := e.commit(s, fenced(emptyCommit(sid, 0), first.Fence())); res.HeadRevision != 1 {
		t.Fatalf("fenced commit at %d", res.HeadRevision)
	}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.sess(sid).CommitRuntimeState(e.ctx, emptyCommit(sid, 1))
		}()
	}
	wg.Wait()
	var hc *session.HeadRevisionConflictError
	if (errs[0] == nil) == (errs[1] == nil) || !(asErr(errs[0], &hc) || asErr(errs[1], &hc)) || hc.Expected == nil || *hc.Expected != 1 || hc.Actual != 2 {
		t.Fatalf("racing lane-less commits: %v", errs)
	}
}

// testReclaimRenewLinearizable: a fenced reclaim (stowage's rotation of a
// lease to a new token) races the predecessor's renewal: the reclaim wins
// either way; the renewal either linearized first (the predecessor's
// token) or is refused with ErrSessionExecutionLeaseExpired; the successor
// is the durable holder.
func testReclaimRenewLinearizable(t *testing.T, e *env) {
	const sid = "concurrent-rotation-renewal"
	s := e.sess(sid)
	pred := e.leaseFor(s, local("concurrent-rotation-owner", "host-a", "boot-a"))
	var wg sync.WaitGroup
	var claim session.LeaseClaimOutcome
	var renewed session.SessionExecutionLease
	var claimErr, renewErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		claim, claimErr = e.sess(sid).ReclaimSessionExecutionLease(e.ctx, local("successor", "host-a", "boot-a"), pred.Fence(), 2*time.Minute)
	}()
	go func() {
		defer wg.Done()
		renewed, renewErr = e.sess(sid).RenewSessionExecutionLease(e.ctx, pred.Fence(), 2*time.Minute)
	}()
	wg.Wait()
	if claimErr != nil || claim.Acquired == nil || claim.Acquired.FencingToken != pred.FencingToken+1 {
		t.Fatalf("reclaim: %+v, %v", claim, claimErr)
	}
	if renewErr == nil && renewed.LeaseToken != pred.LeaseToken || renewErr != nil && !isErr(renewErr, session.ErrSessionExecutionLeaseExpired) {
		t.Fatalf("racing renewal: %+v, %v", renewed, renewErr)
	}
	e.holderIs(s, claim.Acquired.LeaseToken)
}

// testLeaseExpiresByTTL: by the store clock a lease is Busy (naming its
// holder) until the instant of its expiry, and claimable from then on with
// a higher fencing token.
func testLeaseExpiresByTTL(t *testing.T, e *env) {
	s := e.sess("ttl-expiry")
	holder := e.lease(s, "stale-holder", 10*time.Second)
	e.clock.Advance(10*time.Second - time.Millisecond)
	out, err := s.TryClaimSessionExecutionLease(e.ctx, owner("ttl-claimant"), time.Minute)
	if err != nil || out.Busy == nil || out.Busy.LeaseToken != holder.LeaseToken {
		t.Fatalf("claim just before expiry: %+v, %v", out, err)
	}
	e.clock.Advance(time.Millisecond)
	if got := e.lease(s, "ttl-claimant", time.Minute); got.FencingToken <= holder.FencingToken {
		t.Fatalf("takeover at expiry: token %d after %d", got.FencingToken, holder.FencingToken)
	}
}

// testLeaseDisplacement: a takeover of a lapsed lease, and a claim after a
// release, mint exactly the previous fencing token plus one; re-entry
// mints nothing. lash also reports the displaced holder on the claim;
// stowage's claim outcome has no such report (partial).
func testLeaseDisplacement(t *testing.T, e *env) {
	s := e.sess("lease-displacement")
	opening := e.lease(s, "displacement-first", time.Millisecond)
	e.clock.Advance(time.Second)
	takeover := e.lease(s, "displacement-second", time.Minute)
	if takeover.FencingToken != opening.FencingToken+1 {
		t.Fatalf("takeover token %d after %d", takeover.FencingToken, opening.FencingToken)
	}
	reentry := e.lease(s, "displacement-second", time.Minute)
	if reentry.FencingToken != takeover.FencingToken || reentry.LeaseToken != takeover.LeaseToken {
		t.Fatalf("re-entry %+v after %+v", reentry, takeover)
	}
	e.must(s.ReleaseSessionExecutionLease(e.ctx, reentry.Fence()))
	if next := e.lease(s, "displacement-first", time.Minute); next.FencingToken != reentry.FencingToken+1 {
		t.Fatalf("claim after release: token %d after %d", next.FencingToken, reentry.FencingToken)
	}
}

// testLeaseFenceAuthority: the fence of a claim is checked term by term: a
// predecessor's token (same owner, released and claimed again), a stale
// incarnation and an expired lease are ErrSessionExecutionLeaseExpired and
// take nothing; the current lease claims the pending input.
func testLeaseFenceAuthority(t *testing.T, e *env) {
	const sid = "lease-fence-authority"
	s := e.sess(sid)
	in := e.input(s, sid, "lease fence input", "", "")
	pred := e.lease(s, "lease-fence-owner", time.Minute)
	e.must(s.ReleaseSessionExecutionLease(e.ctx, pred.Fence()))
	succ := e.lease(s, "lease-fence-owner", time.Minute)
	staleIncarnation := succ.Fence()
	staleIncarnation.Owner.IncarnationID += ":stale"
	for what, f := range map[string]session.LeaseFence{"predecessor token": pred.Fence(), "stale incarnation": staleIncarnation} {
		if _, err := s.ClaimTurnInputs(e.ctx, f, "turn-1", 1); !isErr(err, session.ErrSessionExecutionLeaseExpired) {
			t.Fatalf("%s: %v", what, err)
		}
	}
	e.must(s.ReleaseSessionExecutionLease(e.ctx, succ.Fence()))
	expired := e.lease(s, "lease-fence-expired", time.Millisecond)
	e.clock.Advance(time.Second)
	if _, err := s.ClaimTurnInputs(e.ctx, expired.Fence(), "turn-1", 1); !isErr(err, session.ErrSessionExecutionLeaseExpired) {
		t.Fatalf("expired lease: %v", err)
	}
	cur := e.lease(s, "lease-fence-current", time.Minute)
	c, err := s.ClaimTurnInputs(e.ctx, cur.Fence(), "turn-1", 1)
	if err != nil || c == nil || !equal(inputIDs(c.Inputs), []string{in.InputID}) {
		t.Fatalf("current lease: %+v, %v", c, err)
	}
}
