package lashconf

import (
	"sync"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/session"
)

// testLeaseContract: re-entry by the same incarnation returns the lease;
// another incarnation or owner is Busy; renew keeps the token; a stale
// renew fails; stale and old releases are fenced no-ops; successors
// advance the fencing token; expired leases are reclaimable; a commit
// needs no lease but a fenced one must hold it; queue claims need a live
// lease.
func testLeaseContract(t *testing.T, e *env) {
	s := e.sess("root")
	first := e.lease(s, "owner-a", time.Minute)
	out, err := s.TryClaimSessionExecutionLease(e.ctx, owner("owner-a"), 2*time.Minute)
	if err != nil || out.Acquired == nil || out.Acquired.LeaseToken != first.LeaseToken ||
		out.Acquired.FencingToken != first.FencingToken || out.Acquired.ExpiresAt.Before(first.ExpiresAt) {
		t.Fatalf("re-entry: %+v, %v", out, err)
	}
	reentered := *out.Acquired
	next := owner("owner-a")
	next.IncarnationID = "owner-a:next-incarnation"
	for _, o := range []session.LeaseOwner{next, owner("owner-b")} {
		if out, _ := s.TryClaimSessionExecutionLease(e.ctx, o, time.Minute); out.Busy == nil {
			t.Fatalf("claim by %s while held: %+v", o.IncarnationID, out)
		}
	}
	renewed, err := s.RenewSessionExecutionLease(e.ctx, reentered.Fence(), 2*time.Minute)
	if err != nil || renewed.LeaseToken != first.LeaseToken {
		t.Fatalf("renew: %+v, %v", renewed, err)
	}
	stale := reentered.Fence()
	stale.LeaseToken += ":stale"
	if _, err := s.RenewSessionExecutionLease(e.ctx, stale, time.Minute); !isErr(err, session.ErrSessionExecutionLeaseExpired) {
		t.Fatalf("stale renew: %v", err)
	}
	e.must(s.ReleaseSessionExecutionLease(e.ctx, stale))
	if out, _ := s.TryClaimSessionExecutionLease(e.ctx, owner("owner-b"), time.Minute); out.Busy == nil {
		t.Fatal("a stale release cleared the live lease")
	}
	e.must(s.ReleaseSessionExecutionLease(e.ctx, renewed.Fence()))
	second := e.lease(s, "owner-b", time.Minute)
	if second.FencingToken <= first.FencingToken {
		t.Fatalf("successor fencing token %d <= %d", second.FencingToken, first.FencingToken)
	}
	e.must(s.ReleaseSessionExecutionLease(e.ctx, first.Fence()))
	if out, _ := s.TryClaimSessionExecutionLease(e.ctx, owner("owner-c"), time.Minute); out.Busy == nil {
		t.Fatal("an old release cleared a newer lease")
	}
	e.must(s.ReleaseSessionExecutionLease(e.ctx, second.Fence()))
	expired := e.lease(s, "owner-expired", time.Millisecond)
	e.clock.Advance(time.Second)
	if got := e.lease(s, "owner-reclaim", time.Minute); got.FencingToken <= expired.FencingToken {
		t.Fatalf("reclaim of an expired lease: token %d", got.FencingToken)
	} else {
		e.must(s.ReleaseSessionExecutionLease(e.ctx, got.Fence()))
	}
	e.commit(s, emptyCommit("root", 0)) // the head CAS authorizes a lease-free commit
	cl := e.lease(s, "commit-owner", time.Minute)
	c := emptyCommit("root", 1)
	f := cl.Fence()
	c.SessionExecutionLease, c.ReleaseSessionExecutionLease = &f, &f
	e.commit(s, c)
	e.lease(s, "after-commit", time.Minute) // the commit released it
	e.enqueue(s, "root", "fenced queue", "")
	if _, err := s.ClaimQueuedWork(e.ctx, f, 1); !isErr(err, session.ErrSessionExecutionLeaseExpired) {
		t.Fatalf("queue claim with a released lease: %v", err)
	}
}

// local is a local-process lease owner on host h, boot b.
func local(id, host, boot string) session.LeaseOwner {
	return session.LeaseOwner{OwnerID: id, IncarnationID: id + ":incarnation", Liveness: session.OwnerLiveness{
		Kind: session.LivenessLocalProcess, Host: host, Boot: boot, PID: 4242, Start: 1}}
}

// testLeaseReclaim: fenced reclaim of a dead local holder advances the
// fencing token; a stale observed holder does not clear the newer lease;
// of two racing reclaims exactly one wins; holders on another host or boot,
// and opaque ones, are not reclaimable (Busy). Deliberate difference
// (docs/contract.md, "Where stowage differs from lash"): the caller judges
// that the holder's process is gone; the store checks the observed lease
// and that death is provable (same host and boot).
func testLeaseReclaim(t *testing.T, e *env) {
	dead := local("dead-holder", "host-a", "boot-a")
	claimant := local("claimant", "host-a", "boot-a")
	s := e.sess("reclaim-dead")
	holder := e.leaseFor(s, dead)
	if out, _ := s.TryClaimSessionExecutionLease(e.ctx, claimant, time.Minute); out.Busy == nil {
		t.Fatal("a plain claim must be Busy before a fenced reclaim")
	}
	out, err := s.ReclaimSessionExecutionLease(e.ctx, claimant, holder.Fence(), time.Minute)
	if err != nil || out.Acquired == nil || out.Acquired.FencingToken <= holder.FencingToken {
		t.Fatalf("reclaim: %+v, %v", out, err)
	}
	if out, _ := s.ReclaimSessionExecutionLease(e.ctx, local("late", "host-a", "boot-a"), holder.Fence(), time.Minute); out.Busy == nil {
		t.Fatal("a stale observed holder cleared the newer lease")
	}
	race := e.sess("reclaim-race")
	rh := e.leaseFor(race, dead)
	var wg sync.WaitGroup
	outs := make([]session.LeaseClaimOutcome, 2)
	for i, id := range []string{"race-left", "race-right"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], _ = e.sess("reclaim-race").ReclaimSessionExecutionLease(e.ctx, local(id, "host-a", "boot-a"), rh.Fence(), time.Minute)
		}()
	}
	wg.Wait()
	if (outs[0].Acquired == nil) == (outs[1].Acquired == nil) {
		t.Fatalf("reclaim race: %+v", outs)
	}
	for sid, c := range map[string]session.LeaseOwner{"cross-host": local("x", "host-b", "boot-a"),
		"different-boot": local("y", "host-a", "boot-b"), "opaque": owner("z")} {
		s := e.sess(sid)
		h := e.leaseFor(s, dead)
		if sid == "opaque" {
			e.must(s.ReleaseSessionExecutionLease(e.ctx, h.Fence()))
			h = e.leaseFor(s, owner("opaque-holder"))
			c = claimant
		}
		if out, _ := s.ReclaimSessionExecutionLease(e.ctx, c, h.Fence(), time.Minute); out.Busy == nil {
			t.Fatalf("%s: reclaimed without proof of death: %+v", sid, out)
		}
	}
}

// leaseFor claims s's lease for o.
func (e *env) leaseFor(s *session.Store, o session.LeaseOwner) session.SessionExecutionLease {
	e.t.Helper()
	out, err := s.TryClaimSessionExecutionLease(e.ctx, o, time.Minute)
	if err != nil || out.Acquired == nil {
		e.t.Fatalf("lease for %s: %+v, %v", o.OwnerID, out, err)
	}
	return *out.Acquired
}

// testFirstClaimExcludesReopen: two processes (two stowage.Stores on one
// bucket) claim a fresh session's lease at once: exactly one acquires.
func testFirstClaimExcludesReopen(t *testing.T, e *env) {
	other := e.open(storeConfig())
	var wg sync.WaitGroup
	outs := make([]session.LeaseClaimOutcome, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := e.st
			if i == 1 {
				st = other
			}
			s, err := st.Session("first-claim-race")
			if err != nil {
				errs[i] = err
				return
			}
			outs[i], errs[i] = s.TryClaimSessionExecutionLease(e.ctx, owner([]string{"owner-a", "owner-b"}[i]), time.Minute)
		}()
	}
	wg.Wait()
	n := 0
	for i := range 2 {
		e.must(errs[i])
		if outs[i].Acquired != nil {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d first claims acquired: %+v", n, outs)
	}
}

// testClockExpiry: lease and claim expiry follow the injected store clock:
// after the ttl the successor claims, reclaims the dead generation's queue
// and input claims (new claim tokens); the stale holder's commit fails.
func testClockExpiry(t *testing.T, e *env) {
	s := e.sess("clock-expiry")
	batch := e.enqueue(s, "clock-expiry", "clock expiry queued work", "")
	in := e.input(s, "clock-expiry", "clock expiry turn input", "", "")
	stale := e.lease(s, "stale", time.Second)
	qc, err := s.ClaimQueuedWork(e.ctx, stale.Fence(), 1)
	e.must(err)
	ic, err := s.ClaimTurnInputs(e.ctx, stale.Fence(), "turn-1", 1)
	e.must(err)
	e.clock.Advance(time.Second + time.Millisecond)
	succ := e.lease(s, "successor", time.Second)
	if succ.FencingToken <= stale.FencingToken {
		t.Fatal("successor did not advance the fencing token")
	}
	qc2, err := s.ClaimQueuedWork(e.ctx, succ.Fence(), 1)
	e.must(err)
	ic2, err := s.ClaimTurnInputs(e.ctx, succ.Fence(), "turn-1", 1)
	e.must(err)
	if qc2 == nil || ic2 == nil || qc2.SessionLeaseGeneration <= qc.SessionLeaseGeneration || ic2.SessionLeaseGeneration <= ic.SessionLeaseGeneration {
		t.Fatalf("dead-generation claims not reclaimed: %+v %+v", qc2, ic2)
	}
	c := emptyCommit("clock-expiry", 0)
	c.CompletedQueueClaims = []session.QueuedWorkCompletion{qc.Completion()}
	c.CompletedTurnInputClaims = []session.TurnInputCompletion{ic.Completion()}
	if _, err := s.CommitRuntimeState(e.ctx, c); !isErr(err, session.ErrQueuedWorkClaimSuperseded) {
		t.Fatalf("stale completion: %v", err)
	}
	f := succ.Fence()
	c.SessionExecutionLease, c.ReleaseSessionExecutionLease = &f, &f
	c.CompletedQueueClaims = []session.QueuedWorkCompletion{qc2.Completion()}
	c.CompletedTurnInputClaims = []session.TurnInputCompletion{ic2.Completion()}
	e.commit(s, c)
	if qc.Batches[0].BatchID != batch.BatchID || ic.Inputs[0].InputID != in.InputID {
		t.Fatal("the stale claims named other work")
	}
}

// testLeaseAcrossHandles: lease expiry and fencing hold across independent
// handles (processes): a second process sees the lease Busy, claims it after
// expiry with a higher token, and the first process's fence is refused.
func testLeaseAcrossHandles(t *testing.T, e *env) {
	other := e.open(storeConfig())
	a := e.sess("multi")
	b, err := other.Session("multi")
	e.must(err)
	la := e.lease(a, "a", 10*time.Second)
	if out, _ := b.TryClaimSessionExecutionLease(e.ctx, owner("b"), time.Minute); out.Busy == nil || out.Busy.LeaseToken != la.LeaseToken {
		t.Fatalf("other process: %+v", out)
	}
	e.clock.Advance(11 * time.Second)
	lb := e.lease(b, "b", time.Minute)
	if lb.FencingToken != la.FencingToken+1 {
		t.Fatalf("token %d after %d", lb.FencingToken, la.FencingToken)
	}
	if _, err := a.RenewSessionExecutionLease(e.ctx, la.Fence(), time.Minute); !isErr(err, session.ErrSessionExecutionLeaseExpired) {
		t.Fatalf("the first process's renew: %v", err)
	}
}
