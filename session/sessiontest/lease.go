package sessiontest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/session"
)

var leaseTests = []namedTest{
	{"ExpiryAndSuccession", testLeaseExpiry},
	{"FenceBeforeReceipt", testFenceBeforeReceipt},
	{"ConcurrentFirstClaims", testConcurrentFirstClaims},
	{"RenewAndRelease", testRenewAndRelease},
	{"ReentryBySameIncarnation", testLeaseReentry},
}

// testLeaseReentry: the live lease's own holder (same owner and
// incarnation) claiming again gets its lease back, same tokens, expiry
// extended; the same owner in another incarnation, or another owner, is
// Busy.
func testLeaseReentry(t *testing.T, f *fixture) {
	s := f.open("re-enter")
	first := f.acquire(s, ownerA, time.Minute)
	f.clock.Advance(10 * time.Second)
	out, err := f.open("re-enter").TryClaimSessionExecutionLease(f.ctx, ownerA, 2*time.Minute)
	if err != nil || out.Acquired == nil {
		t.Fatalf("re-entry: %+v, %v; want the existing lease", out, err)
	}
	got := out.Acquired
	if got.LeaseToken != first.LeaseToken || got.FencingToken != first.FencingToken ||
		!got.ExpiresAt.Equal(f.clock.Now().Add(2*time.Minute)) {
		t.Fatalf("re-entered lease %+v, want tokens of %+v with expiry now+2m", got, first)
	}
	// A shorter ttl never shortens the lease.
	out, err = s.TryClaimSessionExecutionLease(f.ctx, ownerA, time.Second)
	if err != nil || out.Acquired == nil || !out.Acquired.ExpiresAt.Equal(got.ExpiresAt) {
		t.Fatalf("re-entry with a short ttl: %+v, %v", out, err)
	}
	next := ownerA
	next.IncarnationID = "inc-a-next"
	for _, o := range []session.LeaseOwner{next, ownerB} {
		if out, err := s.TryClaimSessionExecutionLease(f.ctx, o, time.Minute); err != nil || out.Busy == nil ||
			out.Busy.LeaseToken != first.LeaseToken {
			t.Fatalf("claim by %+v: %+v, %v; want Busy", o, out, err)
		}
	}
	// The re-entered lease is the same fence: it still commits.
	c := appendCommit("re-enter", 0, "", "a")
	c.SessionExecutionLease = &first
	f.mustCommit(s, c)
}

func testLeaseExpiry(t *testing.T, f *fixture) {
	a, b := f.open("lx"), f.open("lx")
	f.mustCommit(a, appendCommit("lx", 0, "", "root"))
	batch := f.enqueue(a, "lx", `"job"`)
	fa := f.acquire(a, ownerA, 30*time.Second)
	if out, _ := b.TryClaimSessionExecutionLease(f.ctx, ownerB, time.Minute); out.Busy == nil || out.Busy.FencingToken != fa.FencingToken {
		t.Fatalf("lease not busy while held: %+v", out)
	}
	ca, err := a.ClaimQueuedWork(f.ctx, fa, 1)
	if err != nil || ca == nil {
		t.Fatal(ca, err)
	}
	f.clock.Advance(31 * time.Second)
	fb := f.acquire(b, ownerB, 30*time.Second)
	if fb.FencingToken != fa.FencingToken+1 {
		t.Fatalf("successor fencing token %d, want %d", fb.FencingToken, fa.FencingToken+1)
	}
	cb, err := b.ClaimQueuedWork(f.ctx, fb, 1)
	if err != nil || cb == nil || cb.Batches[0].BatchID != batch.BatchID || cb.ClaimID == ca.ClaimID || cb.LeaseToken == ca.LeaseToken {
		t.Fatalf("successor reclaim: %+v %v", cb, err)
	}
	// The stale holder is fenced first, and nothing is written.
	stale := appendCommit("lx", 1, "root", "stale")
	stale.SessionExecutionLease = &fa
	stale.CompletedQueueClaims = []session.QueuedWorkCompletion{ca.Completion()}
	_, err = a.CommitRuntimeState(f.ctx, stale)
	var le *session.LeaseExpiredError
	if !errors.As(err, &le) || le.FencingToken != fa.FencingToken {
		t.Fatalf("stale fenced commit: %v", err)
	}
	// Without a fence its claim is superseded.
	stale.SessionExecutionLease = nil
	if _, err := a.CommitRuntimeState(f.ctx, stale); !errors.Is(err, session.ErrQueuedWorkClaimSuperseded) {
		t.Fatalf("stale claim: %v", err)
	}
	if n, _ := f.open("lx").LoadNode(f.ctx, "stale"); n != nil {
		t.Fatalf("stale commit wrote its node")
	}
	// A stale holder cannot claim either.
	if _, err := a.ClaimQueuedWork(f.ctx, fa, 1); !errors.Is(err, session.ErrSessionExecutionLeaseExpired) {
		t.Fatalf("stale claim call: %v", err)
	}
	ok := appendCommit("lx", 1, "root", "succ")
	ok.SessionExecutionLease = &fb
	ok.ReleaseSessionExecutionLease = &fb
	ok.CompletedQueueClaims = []session.QueuedWorkCompletion{cb.Completion()}
	f.mustCommit(b, ok)
	if q, _ := f.open("lx").ListQueuedWork(f.ctx); len(q) != 0 {
		t.Fatalf("successor did not settle: %v", q)
	}
	if out, _ := a.TryClaimSessionExecutionLease(f.ctx, ownerA, time.Minute); out.Acquired == nil || out.Acquired.FencingToken != fb.FencingToken+1 {
		t.Fatalf("lease not released by the commit: %+v", out)
	}
}

func testFenceBeforeReceipt(t *testing.T, f *fixture) {
	s := f.open("fb")
	f0 := f.acquire(s, ownerA, 10*time.Second)
	f.clock.Advance(11 * time.Second)
	f1 := f.acquire(s, ownerB, time.Minute)
	c := appendCommit("fb", 0, "", "a")
	c.TurnCommit = stamp("fb", "t1", "h1")
	c.SessionExecutionLease = &f1
	f.mustCommit(s, c)
	// The expired holder f0 replaying the same turn and hash gets fenced,
	// not the receipt of a commit it did not make.
	c.SessionExecutionLease = &f0
	if _, err := s.CommitRuntimeState(f.ctx, c); !errors.Is(err, session.ErrSessionExecutionLeaseExpired) {
		t.Fatalf("stale holder replay: %v", err)
	}
	c.TurnCommit = stamp("fb", "t1", "other-hash")
	if _, err := s.CommitRuntimeState(f.ctx, c); !errors.Is(err, session.ErrSessionExecutionLeaseExpired) {
		t.Fatalf("stale holder with conflicting hash must be fenced first: %v", err)
	}
}

func testConcurrentFirstClaims(t *testing.T, f *fixture) {
	const n = 8
	var wg sync.WaitGroup
	outs := make([]session.LeaseClaimOutcome, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := session.LeaseOwner{OwnerID: "w" + string(rune('a'+i)), IncarnationID: "i"}
			outs[i], errs[i] = f.open("cfc").TryClaimSessionExecutionLease(f.ctx, owner, time.Minute)
		}()
	}
	wg.Wait()
	var winner *session.SessionExecutionLease
	for i := 0; i < n; i++ {
		if errs[i] != nil {
			t.Fatalf("claim %d: %v", i, errs[i])
		}
		if outs[i].Acquired != nil {
			if winner != nil {
				t.Fatalf("two winners: %+v and %+v", winner, outs[i].Acquired)
			}
			winner = outs[i].Acquired
		}
	}
	if winner == nil || winner.FencingToken != 1 {
		t.Fatalf("winner %+v", winner)
	}
	for i := 0; i < n; i++ {
		if outs[i].Acquired == nil && (outs[i].Busy == nil || outs[i].Busy.LeaseToken != winner.LeaseToken) {
			t.Fatalf("loser %d sees %+v, want the winner", i, outs[i].Busy)
		}
	}
}

func testRenewAndRelease(t *testing.T, f *fixture) {
	s := f.open("rr")
	fence := f.acquire(s, ownerA, 10*time.Second)
	f.clock.Advance(8 * time.Second)
	l, err := s.RenewSessionExecutionLease(f.ctx, fence, 10*time.Second)
	if err != nil || !l.ExpiresAt.Equal(f.clock.Now().Add(10*time.Second)) {
		t.Fatalf("renew: %+v %v", l, err)
	}
	f.clock.Advance(8 * time.Second) // past the first expiry, within the renewed one
	if out, _ := s.TryClaimSessionExecutionLease(f.ctx, ownerB, time.Minute); out.Busy == nil {
		t.Fatalf("renewed lease taken: %+v", out)
	}
	wrong := fence
	wrong.Owner.IncarnationID = "other"
	if err := s.ReleaseSessionExecutionLease(f.ctx, wrong); err != nil {
		t.Fatalf("non-matching release: %v", err)
	}
	if out, _ := s.TryClaimSessionExecutionLease(f.ctx, ownerB, time.Minute); out.Busy == nil {
		t.Fatalf("non-matching release released")
	}
	if err := s.ReleaseSessionExecutionLease(f.ctx, fence); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RenewSessionExecutionLease(f.ctx, fence, time.Second); !errors.Is(err, session.ErrSessionExecutionLeaseExpired) {
		t.Fatalf("renew after release: %v", err)
	}
	if out, _ := s.TryClaimSessionExecutionLease(f.ctx, ownerB, time.Minute); out.Acquired == nil || out.Acquired.FencingToken != 2 {
		t.Fatalf("claim after release: %+v", out)
	}
	// Huge TTLs are clamped, never overflow.
	f.clock.Advance(2 * time.Minute)
	out, err := s.TryClaimSessionExecutionLease(f.ctx, ownerA, time.Duration(1<<62))
	if err != nil || out.Acquired == nil || !out.Acquired.ExpiresAt.After(f.clock.Now()) {
		t.Fatalf("huge ttl: %+v %v", out, err)
	}
}
