package lashconf

import (
	"testing"
	"time"

	"github.com/stowage-dev/stowage/session"
)

// The cases of lash's store_recovery.rs: a claim taken under a lease that
// dies is recovered exactly once by the next holder, from another process.

// recoveryTTL is the lease of the owner that dies in the recovery cases.
const recoveryTTL = 30 * time.Second

// cold returns a handle on sid from another stowage.Store on the same
// bucket, as a restarted process would open it (no shared caches).
func (e *env) cold(sid string) *session.Store {
	e.t.Helper()
	s, err := e.open(storeConfig()).Session(sid)
	e.must(err)
	return s
}

// seedAndClaim enqueues one batch on sid and claims it under a lease of
// owner, returning the lease and the claim.
func (e *env) seedAndClaim(s *session.Store, sid, owner string) (session.SessionExecutionLease, *session.QueuedWorkClaim) {
	e.t.Helper()
	b := e.enqueue(s, sid, owner+" work", owner+":source")
	l := e.lease(s, owner, recoveryTTL)
	c, err := s.ClaimQueuedWork(e.ctx, l.Fence(), 64)
	if err != nil || c == nil || !equal(claimIDs(c), []string{b.BatchID}) {
		e.t.Fatalf("seed claim %+v, %v", c, err)
	}
	return l, c
}

// recoverExpired lets the predecessor's lease expire, then a successor in
// another process takes the lease and re-claims the predecessor's batches
// by id; a second claim of the same ids by it wins nothing.
func (e *env) recoverExpired(sid string, dead *session.QueuedWorkClaim) (*session.Store, session.LeaseFence, *session.QueuedWorkClaim) {
	e.t.Helper()
	e.clock.Advance(recoveryTTL + time.Second)
	s := e.cold(sid)
	f := e.lease(s, "successor", time.Hour).Fence()
	ids := claimIDs(dead)
	got := e.exact(s, f, session.BoundaryIdle, ids...)
	if !equal(claimIDs(got.Claim), ids) {
		e.t.Fatalf("recovered claim %+v, want %v", got, ids)
	}
	if again := e.exact(s, f, session.BoundaryIdle, ids...); again.Claim != nil {
		e.t.Fatalf("a live recovered claim was claimed in parallel: %+v", again.Claim)
	}
	return s, f, got.Claim
}

// settleWith commits c on s under f, releasing f and completing claim.
func (e *env) settleWith(s *session.Store, c session.RuntimeCommit, f session.LeaseFence, claim *session.QueuedWorkClaim) *session.CommitResult {
	e.t.Helper()
	c.SessionExecutionLease, c.ReleaseSessionExecutionLease = &f, &f
	c.CompletedQueueClaims = []session.QueuedWorkCompletion{claim.Completion()}
	return e.commit(s, c)
}

// assertSettledOnce: a cold reader sees no queued work left.
func (e *env) assertSettledOnce(sid string) {
	e.t.Helper()
	q, err := e.cold(sid).ListQueuedWork(e.ctx)
	e.must(err)
	if len(q) != 0 {
		e.t.Fatalf("queue after settlement: %v", batchIDs(q))
	}
}

// testExpiredClaimRecoverableOnce: the batch a dead owner claimed is
// recovered once by the next lease holder and settled once by its commit.
func testExpiredClaimRecoverableOnce(t *testing.T, e *env) {
	_, dead := e.seedAndClaim(e.sess("expiry"), "expiry", "owner-a")
	s, f, claim := e.recoverExpired("expiry", dead)
	e.settleWith(s, appendCommit("expiry", 0, "", "recovered"), f, claim)
	e.assertSettledOnce("expiry")
	// The dead owner's completion no longer settles anything.
	stale := emptyCommit("expiry", 1)
	stale.CompletedQueueClaims = []session.QueuedWorkCompletion{dead.Completion()}
	if _, err := e.cold("expiry").CommitRuntimeState(e.ctx, stale); !isErr(err, session.ErrQueuedWorkClaimSuperseded) {
		t.Fatalf("the dead owner's completion: %v", err)
	}
}

// testCheckpointSurvivesBeforeClaimSettlement: a checkpoint committed by
// the owner that later dies, before it settled its claim, survives for a
// cold reader; the successor recovers the claim and settles it on top.
func testCheckpointSurvivesBeforeClaimSettlement(t *testing.T, e *env) {
	s := e.sess("ckpt")
	_, dead := e.seedAndClaim(s, "ckpt", "owner-a")
	e.commit(s, appendCommit("ckpt", 0, "", "checkpointed"))
	r, err := e.cold("ckpt").LoadSession(e.ctx, session.FullGraph())
	if err != nil || r == nil || r.HeadRevision != 1 {
		t.Fatalf("cold read of the checkpoint: %+v, %v", r, err)
	}
	s2, f, claim := e.recoverExpired("ckpt", dead)
	e.settleWith(s2, appendCommit("ckpt", r.HeadRevision, "checkpointed", "settled"), f, claim)
	e.assertSettledOnce("ckpt")
	got, err := e.cold("ckpt").LoadSession(e.ctx, session.FullGraph())
	e.must(err)
	if got.HeadRevision != 2 || !equal(nodeIDs(got.Graph.Nodes), []string{"checkpointed", "settled"}) {
		t.Fatalf("after settlement: revision %d, nodes %v", got.HeadRevision, nodeIDs(got.Graph.Nodes))
	}
}

// testAtomicCommitSettlesClaimOnce: one commit writes the state, settles
// the claim and releases the lease; a cold reader sees both halves.
func testAtomicCommitSettlesClaimOnce(t *testing.T, e *env) {
	s := e.sess("atomic")
	l, claim := e.seedAndClaim(s, "atomic", "owner")
	e.settleWith(s, appendCommit("atomic", 0, "", "settled"), l.Fence(), claim)
	e.assertSettledOnce("atomic")
	if r, err := e.cold("atomic").LoadSession(e.ctx, session.FullGraph()); err != nil || r == nil || r.HeadRevision != 1 {
		t.Fatalf("state half of the settlement: %+v, %v", r, err)
	}
	// The commit released the lease: another owner takes it at once.
	e.lease(e.cold("atomic"), "next-owner", time.Minute)
}

// testRecordedCommitReplayIsIdempotent: a stamped commit that settled a
// claim and released the lease, replayed whole from a fresh process,
// returns the recorded result and changes nothing.
func testRecordedCommitReplayIsIdempotent(t *testing.T, e *env) {
	s := e.sess("replay")
	l, claim := e.seedAndClaim(s, "replay", "owner")
	c := appendCommit("replay", 0, "", "recorded")
	c.TurnCommit = stamp("replay", "recorded-commit", "final")
	first := e.settleWith(s, c, l.Fence(), claim)
	again := e.settleWith(e.cold("replay"), c, l.Fence(), claim)
	if again.HeadRevision != first.HeadRevision || again.CheckpointRef != first.CheckpointRef {
		t.Fatalf("replay %+v, want %+v", again, first)
	}
	r, err := e.cold("replay").LoadSession(e.ctx, session.FullGraph())
	e.must(err)
	if r.HeadRevision != 1 {
		t.Fatalf("the replay moved the head to %d", r.HeadRevision)
	}
	e.assertSettledOnce("replay")
}
