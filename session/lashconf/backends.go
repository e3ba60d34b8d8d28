package lashconf

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/fsck"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/session"
)

// backendCases are the store tests of lash-sqlite-store and
// lash-postgres-store (rows tagged sq and pg in the package doc) that state
// a store behaviour stowage's API expresses and no earlier case covers.
var backendCases = []lashCase{
	{"TurnCommitStampsUseTheInjectedStoreClock", testStampClock},
	{"LeaseAndClaimDecisionsUseTheStoreClock", testLeaseDecisionClock},
	{"StaleClaimCompletionLeavesTheHeadUnmoved", testStaleCompletionHead},
	{"FactoryIsUsableAsASessionStoreFactory", testFactoryInterface},
	{"UnreadableSessionIsKeptAndTheSweepGoesOn", testUnreadableSessionKept},
}

func init() { cases = append(cases, backendCases...) }

// yearsAhead moves the suite's clock ten years (and an odd number of
// milliseconds) past the wall clock, so that a decision or stamp taken
// from the wall clock, or from the server's, cannot pass for one taken
// from the store clock.
func (e *env) yearsAhead() time.Time {
	return e.clock.Advance(10*365*24*time.Hour + 1234567*time.Millisecond)
}

// testStampClock: a final turn commit stamps the turn's attachment rows
// and the turn's receipt at the injected store clock, not the wall clock.
func testStampClock(t *testing.T, e *env) {
	const sid, turn = "injected-commit-clock", "injected-clock-turn"
	now := e.yearsAhead()
	h, err := e.st.CreateSession(e.ctx, rootMeta(sid, sid))
	e.must(err)
	ref := e.put(sid, "clock attachment", manifest.TurnOwner(turn))
	f := e.lease(h, "clock-test", time.Minute).Fence()
	c := emptyCommit(sid, 0)
	c.TurnCommit = stamp(sid, turn, "clock-hash")
	c.SessionExecutionLease, c.ReleaseSessionExecutionLease = &f, &f
	e.commit(h, c)
	row, ok, err := e.st.Manifest().Row(e.ctx, sid, ref.ID)
	if err != nil || !ok || !row.CommittedAt.Equal(now) {
		t.Fatalf("manifest stamp %v (row %v, %v), want %v", row.CommittedAt, ok, err, now)
	}
	// The receipt was committed after a millisecond before now, not after now.
	receipts := session.TurnReceipts{Store: e.objs}
	for _, at := range []time.Time{now.Add(-time.Millisecond), now} {
		after, err := receipts.LatestCommitAfter(e.ctx, sid, "another-turn", at)
		if err != nil || after != at.Before(now) {
			t.Fatalf("receipt committed after %v: %v, %v; want it stamped at %v", at, after, err, now)
		}
	}
}

// testLeaseDecisionClock: every lease-sensitive decision of the queue and
// the turn inputs (claim, list pending, cancel, reclaim) follows the store
// clock: until the lease expires by it, another owner is busy and the held
// batch and input are neither pending nor cancellable; a millisecond past
// expiry the batch is pending again and a successor reclaims both.
func testLeaseDecisionClock(t *testing.T, e *env) {
	const sid = "store-clock-decisions"
	e.yearsAhead()
	s := e.sess(sid)
	batch := e.enqueue(s, sid, "held batch", "")
	in := e.input(s, sid, "held input", "", "")
	held := e.lease(s, "holder", time.Minute)
	qc, err := s.ClaimQueuedWork(e.ctx, held.Fence(), 1)
	e.must(err)
	ic, err := s.ClaimTurnInputs(e.ctx, held.Fence(), "turn-1", 1)
	e.must(err)
	if qc == nil || ic == nil {
		t.Fatalf("claims %+v %+v", qc, ic)
	}
	e.clock.Advance(time.Minute - time.Millisecond)
	if out, err := s.TryClaimSessionExecutionLease(e.ctx, owner("successor"), time.Minute); err != nil || out.Busy == nil {
		t.Fatalf("claim before expiry: %+v, %v", out, err)
	}
	if p, err := s.ListPendingQueuedWork(e.ctx); err != nil || len(p) != 0 {
		t.Fatalf("pending before expiry: %v, %v", batchIDs(p), err)
	}
	if b, err := s.CancelQueuedWorkBatch(e.ctx, batch.BatchID); err != nil || b != nil {
		t.Fatalf("cancelled a held batch: %+v, %v", b, err)
	}
	if out, err := s.CancelPendingTurnInput(e.ctx, in.InputID); err != nil || out.Kind != session.AlreadyClaimed {
		t.Fatalf("cancel of a held input: %+v, %v", out, err)
	}
	e.clock.Advance(2 * time.Millisecond)
	if p, err := s.ListPendingQueuedWork(e.ctx); err != nil || !equal(batchIDs(p), []string{batch.BatchID}) {
		t.Fatalf("pending after expiry: %v, %v", batchIDs(p), err)
	}
	succ := e.lease(s, "successor", time.Minute)
	qc2, err := s.ClaimQueuedWork(e.ctx, succ.Fence(), 1)
	e.must(err)
	ic2, err := s.ClaimTurnInputs(e.ctx, succ.Fence(), "turn-2", 1)
	e.must(err)
	if qc2 == nil || ic2 == nil || qc2.Batches[0].BatchID != batch.BatchID || ic2.Inputs[0].InputID != in.InputID ||
		qc2.SessionLeaseGeneration <= qc.SessionLeaseGeneration || ic2.SessionLeaseGeneration <= ic.SessionLeaseGeneration {
		t.Fatalf("reclaim after expiry: %+v %+v", qc2, ic2)
	}
}

// testStaleCompletionHead: a commit completing a turn-input claim that a
// later lease generation superseded fails with the typed error naming the
// stale claim, and nothing of it applies: the head keeps its revision, the
// commit's node does not exist, and the winning claim completes. (lash's
// Postgres backend needs a row lock and a checked zero-row update for
// this; here the claim is checked inside the head's compare-and-swap.)
func testStaleCompletionHead(t *testing.T, e *env) {
	const sid = "claim-completion-fence"
	s := e.sess(sid)
	e.commit(s, appendCommit(sid, 0, "", "n0"))
	in := e.input(s, sid, "fenced input", "", "")
	a := e.lease(s, "claim-a", time.Minute)
	stale, err := s.ClaimTurnInputs(e.ctx, a.Fence(), "turn-a", 1)
	e.must(err)
	e.must(s.ReleaseSessionExecutionLease(e.ctx, a.Fence()))
	b := e.lease(s, "claim-b", time.Minute)
	winner, err := s.ClaimTurnInputs(e.ctx, b.Fence(), "turn-b", 1)
	e.must(err)
	if stale == nil || winner == nil || winner.Inputs[0].InputID != in.InputID {
		t.Fatalf("claims %+v %+v", stale, winner)
	}
	c := appendCommit(sid, 1, "n0", "stale-node")
	c.TurnCommit = stamp(sid, "turn-a", "stale-hash")
	c.CompletedTurnInputClaims = []session.TurnInputCompletion{stale.Completion()}
	_, err = s.CommitRuntimeState(e.ctx, c)
	var sup *session.ClaimSupersededError
	if !isErr(err, session.ErrTurnInputClaimSuperseded) || !asErr(err, &sup) || sup.SessionID != sid || sup.ClaimID != stale.ClaimID {
		t.Fatalf("stale completion: %v", err)
	}
	fresh := e.sess(sid)
	r, err := fresh.LoadSession(e.ctx, session.FullGraph())
	e.must(err)
	if n, err := fresh.LoadNode(e.ctx, "stale-node"); err != nil || n != nil || r.HeadRevision != 1 {
		t.Fatalf("after the rejected commit: revision %d, stale node %+v, %v", r.HeadRevision, n, err)
	}
	f := b.Fence()
	w := appendCommit(sid, 1, "n0", "winner-node")
	w.SessionExecutionLease = &f
	w.CompletedTurnInputClaims = []session.TurnInputCompletion{winner.Completion()}
	if res := e.commit(fresh, w); res.HeadRevision != 2 {
		t.Fatalf("winning commit revision %d", res.HeadRevision)
	}
	if p := e.pendingInputs(fresh); len(p) != 0 {
		t.Fatalf("inputs left after the winning completion: %v", p)
	}
}

// sessionStoreFactory is lash's SessionStoreFactory as a Go interface:
// what a host holding "some factory" calls.
type sessionStoreFactory interface {
	CreateSession(ctx context.Context, meta session.SessionMeta) (*session.Store, error)
	OpenExistingSession(ctx context.Context, id string) (*session.Store, error)
	DeleteSession(ctx context.Context, id string) error
	DurabilityTier() session.DurabilityTier
}

// sessionStore is every store trait a factory's handle serves.
type sessionStore interface {
	session.CommitStore
	session.QueuedWorkStore
	session.TurnInputStore
	session.SessionExecutionLeaseStore
}

// testFactoryInterface: the store is usable through the factory interface
// alone: a session it creates has its meta, and its handle serves every
// store trait.
func testFactoryInterface(t *testing.T, e *env) {
	var f sessionStoreFactory = e.st
	h, err := f.CreateSession(e.ctx, rootMeta("explicit", "explicit"))
	e.must(err)
	var s sessionStore = h
	if m, err := s.LoadSessionMeta(e.ctx); err != nil || m == nil || m.SessionID != "explicit" {
		t.Fatalf("meta through the factory: %+v, %v", m, err)
	}
	if got, err := f.OpenExistingSession(e.ctx, "explicit"); err != nil || got == nil {
		t.Fatalf("open through the factory: %v, %v", got, err)
	}
}

// testUnreadableSessionKept (deliberate difference, docs/contract.md,
// "Where stowage differs from lash"): a session whose head does not decode
// never counts as empty: the sweep leaves every object of it alone, as it
// does the attachment bytes it committed, reports the head as unreadable
// and needing attention, and goes on with the other sessions. lash aborts
// the whole sweep instead.
func testUnreadableSessionKept(t *testing.T, e *env) {
	e.fsck.Expect(fsck.InvHead, "head does not decode") // on purpose
	const sid, other = "unreadable-session", "readable-session"
	s := e.sess(sid)
	ref := e.put(sid, "unreadable session's attachment", manifest.Owner{})
	c := emptyCommit(sid, 0)
	c.CommittedAttachmentIDs = []string{ref.ID}
	c.Checkpoint = &session.HydratedCheckpoint{ExecutionState: bytes.Repeat([]byte("u"), 8192)}
	e.commit(s, c)
	info, err := session.ReadHead(e.ctx, e.objs, sid)
	e.must(err)
	o := e.sess(other)
	oc := emptyCommit(other, 0)
	oc.Checkpoint = &session.HydratedCheckpoint{ExecutionState: bytes.Repeat([]byte("a"), 8192)}
	e.commit(o, oc)
	superseded, err := session.ReadHead(e.ctx, e.objs, other)
	e.must(err)
	oc = emptyCommit(other, 1)
	oc.Checkpoint = &session.HydratedCheckpoint{ExecutionState: bytes.Repeat([]byte("b"), 8192)}
	e.commit(o, oc)
	live, err := session.ReadHead(e.ctx, e.objs, other)
	e.must(err)
	_, err = e.objs.Put(e.ctx, session.HeadKey(sid), []byte("not a head at all"), nil)
	e.must(err)
	e.clock.Advance(48 * time.Hour)
	rep, err := e.sweeper(-1).Run(e.ctx)
	if err != nil {
		t.Fatalf("one unreadable session stopped the sweep: %v", err)
	}
	if !slices.Contains(rep.UnreadableKeys, session.HeadKey(sid)) || !rep.NeedsAttention {
		t.Fatalf("report: unreadable %q, needs attention %v", rep.UnreadableKeys, rep.NeedsAttention)
	}
	for _, k := range info.Keys {
		if !e.exists(k) {
			t.Fatalf("object %s of the unreadable session was swept", k)
		}
	}
	e.mustRead(e.attach(sid), ref.ID, []byte("unreadable session's attachment"))
	gone := 0 // the sweep went on: the readable session was swept
	for _, k := range superseded.Keys {
		if !contains(live.Keys, k) {
			if e.exists(k) {
				t.Fatalf("superseded blob %s of the readable session kept", k)
			}
			gone++
		}
	}
	if gone == 0 {
		t.Fatal("the readable session superseded no object")
	}
}
