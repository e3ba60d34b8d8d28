package sessiontest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/session"
)

var queueTests = []namedTest{
	{"StaleTokenSuperseded", testStaleQueueToken},
	{"CrossSessionOutboxRollsBack", testCrossSessionOutbox},
	{"SettleAndOutbox", testSettleAndOutbox},
	{"InterruptedDeferral", testInterruptedDeferral},
	{"SourceKey", testSourceKey},
	{"ConcurrentEnqueue", testConcurrentEnqueue},
	{"ListHidesLiveClaims", testListHidesLiveClaims},
	{"CompletedSourceKeyIsTombstone", testCompletedSourceKeyTombstone},
}

// testListHidesLiveClaims: ListPendingTurnInputs hides the inputs held by a
// claim of the live lease; once that lease expires the claim is no longer
// live and they are listed again (claimable by the next holder).
func testListHidesLiveClaims(t *testing.T, f *fixture) {
	s := f.open("lh")
	a := f.input(s, "lh", "", `"a"`)
	fence := f.acquire(s, ownerA, time.Minute)
	claim, err := s.ClaimTurnInputs(f.ctx, fence, "turn-1", 1)
	if err != nil || claim == nil || claim.Inputs[0].InputID != a.InputID {
		t.Fatalf("claim: %+v %v", claim, err)
	}
	b := f.input(s, "lh", "", `"b"`)
	f.wantInputs(f.open("lh"), b.InputID)
	f.clock.Advance(2 * time.Minute)
	f.wantInputs(f.open("lh"), a.InputID, b.InputID)
}

// testCompletedSourceKeyTombstone: replaying the source key of an input a
// commit completed returns the completed input (a tombstone) and admits
// nothing; a different payload under that key conflicts and names it.
func testCompletedSourceKeyTombstone(t *testing.T, f *fixture) {
	s := f.open("tomb")
	d := session.PendingTurnInputDraft{SessionID: "tomb", SourceKey: "msg-1", Payload: json.RawMessage(`"a"`)}
	in, err := s.EnqueuePendingTurnInput(f.ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	fence := f.acquire(s, ownerA, time.Minute)
	claim, err := s.ClaimTurnInputs(f.ctx, fence, "turn-1", 10)
	if err != nil || claim == nil {
		t.Fatal(claim, err)
	}
	c := appendCommit("tomb", 0, "", "a")
	c.CompletedTurnInputClaims = []session.TurnInputCompletion{claim.Completion()}
	f.mustCommit(s, c)
	replay, err := f.open("tomb").EnqueuePendingTurnInput(f.ctx, d)
	if err != nil || replay.InputID != in.InputID || replay.State != session.InputCompleted {
		t.Fatalf("replay of a completed input's key: %+v, %v; want %s completed", replay, err, in.InputID)
	}
	f.wantInputs(f.open("tomb"))
	if again, err := s.ClaimTurnInputs(f.ctx, fence, "turn-2", 10); err != nil || again != nil {
		t.Fatalf("the replay admitted a claimable input: %+v %v", again, err)
	}
	d.Payload = json.RawMessage(`"changed"`)
	_, err = s.EnqueuePendingTurnInput(f.ctx, d)
	var sk *session.SourceKeyConflictError
	if !errors.As(err, &sk) || sk.ExistingInputID != in.InputID {
		t.Fatalf("changed payload under a completed key: %v", err)
	}
}

// input enqueues a turn input for activeTurn ("" = next turn).
func (f *fixture) input(s *session.Store, sid, activeTurn, payload string) session.PendingTurnInput {
	f.t.Helper()
	in, err := s.EnqueuePendingTurnInput(f.ctx, session.PendingTurnInputDraft{SessionID: sid, ActiveTurnID: activeTurn, Payload: json.RawMessage(payload)})
	if err != nil {
		f.t.Fatalf("enqueue input: %v", err)
	}
	return in
}

// wantInputs fails unless ListPendingTurnInputs returns exactly ids, in
// order.
func (f *fixture) wantInputs(s *session.Store, ids ...string) {
	f.t.Helper()
	ins, err := s.ListPendingTurnInputs(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	var got []string
	for _, in := range ins {
		got = append(got, in.InputID)
	}
	f.wantIDs("pending turn inputs", got, ids)
}

var ownerA = session.LeaseOwner{OwnerID: "worker-a", IncarnationID: "inc-a",
	Liveness: session.OwnerLiveness{Kind: session.LivenessLocalProcess, Host: "h", Boot: "b", PID: 1, Start: 1}}
var ownerB = session.LeaseOwner{OwnerID: "worker-b", IncarnationID: "inc-b", Liveness: session.OwnerLiveness{Kind: session.LivenessOpaque}}

func (f *fixture) acquire(s *session.Store, owner session.LeaseOwner, ttl time.Duration) session.LeaseFence {
	f.t.Helper()
	out, err := s.TryClaimSessionExecutionLease(f.ctx, owner, ttl)
	if err != nil || out.Acquired == nil {
		f.t.Fatalf("acquire lease for %s: %+v %v", owner.OwnerID, out, err)
	}
	return out.Acquired.Fence()
}

func (f *fixture) enqueue(s *session.Store, sid string, payload string) session.QueuedWorkBatch {
	f.t.Helper()
	b, err := s.EnqueueQueuedWork(f.ctx, session.QueuedWorkBatchDraft{SessionID: sid, Payload: json.RawMessage(payload)})
	if err != nil {
		f.t.Fatalf("enqueue: %v", err)
	}
	return b
}

func testStaleQueueToken(t *testing.T, f *fixture) {
	s := f.open("stale")
	f.mustCommit(s, appendCommit("stale", 0, "", "a"))
	f.enqueue(s, "stale", `1`)
	fence := f.acquire(s, ownerA, time.Minute)
	claim, err := s.ClaimQueuedWork(f.ctx, fence, 10)
	if err != nil || claim == nil || len(claim.Batches) != 1 {
		t.Fatalf("claim: %+v %v", claim, err)
	}
	comp := claim.Completion()
	comp.LeaseToken = "stale-token"
	c := appendCommit("stale", 1, "a", "b")
	c.CompletedQueueClaims = []session.QueuedWorkCompletion{comp}
	_, err = s.CommitRuntimeState(f.ctx, c)
	var cs *session.ClaimSupersededError
	if !errors.As(err, &cs) || !cs.Queue || !errors.Is(err, session.ErrQueuedWorkClaimSuperseded) || errors.Is(err, session.ErrTurnInputClaimSuperseded) {
		t.Fatalf("stale token: %v", err)
	}
	fresh := f.open("stale")
	if r := f.load(fresh, session.FullGraph()); r.HeadRevision != 1 {
		t.Fatalf("something was written: revision %d", r.HeadRevision)
	}
	if q, _ := fresh.ListQueuedWork(f.ctx); len(q) != 1 {
		t.Fatalf("queue not intact: %v", q)
	}
	// The real completion still settles it.
	c.CompletedQueueClaims = []session.QueuedWorkCompletion{claim.Completion()}
	f.mustCommit(s, c)
	if q, _ := fresh.ListQueuedWork(f.ctx); len(q) != 0 {
		t.Fatalf("queue not settled: %v", q)
	}
}

func testCrossSessionOutbox(t *testing.T, f *fixture) {
	s := f.open("ob")
	f.mustCommit(s, appendCommit("ob", 0, "", "a"))
	c := appendCommit("ob", 1, "a", "b")
	c.EnqueuedQueueBatches = []session.QueuedWorkBatchDraft{{SessionID: "ob"}, {SessionID: "elsewhere"}}
	c.Checkpoint = &session.HydratedCheckpoint{ExecutionState: bigBytes(9000, 9)}
	if _, err := s.CommitRuntimeState(f.ctx, c); !errors.Is(err, session.ErrSessionBindingMismatch) {
		t.Fatalf("cross-session outbox: %v", err)
	}
	r := f.load(f.open("ob"), session.FullGraph())
	if r.HeadRevision != 1 || r.Checkpoint != nil {
		t.Fatalf("not rolled back: %+v", r)
	}
	if q, _ := s.ListQueuedWork(f.ctx); len(q) != 0 {
		t.Fatalf("outbox partly applied: %v", q)
	}
}

func testSettleAndOutbox(t *testing.T, f *fixture) {
	s := f.open("set")
	b1 := f.enqueue(s, "set", `"work"`)
	in, err := s.EnqueuePendingTurnInput(f.ctx, session.PendingTurnInputDraft{SessionID: "set", Payload: json.RawMessage(`"input"`)})
	if err != nil {
		t.Fatal(err)
	}
	fence := f.acquire(s, ownerA, time.Minute)
	qc, err := s.ClaimQueuedWork(f.ctx, fence, 10)
	if err != nil || qc == nil {
		t.Fatal(qc, err)
	}
	ic, err := s.ClaimTurnInputs(f.ctx, fence, "turn-1", 10)
	if err != nil || ic == nil || ic.Inputs[0].InputID != in.InputID {
		t.Fatal(ic, err)
	}
	c := appendCommit("set", 0, "", "a")
	c.SessionExecutionLease = &fence
	c.TurnCommit = stamp("set", "turn-1", "h")
	c.CompletedQueueClaims = []session.QueuedWorkCompletion{qc.Completion()}
	c.CompletedTurnInputClaims = []session.TurnInputCompletion{ic.Completion()}
	c.EnqueuedQueueBatches = []session.QueuedWorkBatchDraft{{SessionID: "set", Payload: json.RawMessage(`"next"`)}}
	res := f.mustCommit(s, c)
	if len(res.EnqueuedQueueBatches) != 1 || res.EnqueuedQueueBatches[0].BatchID == "" || res.EnqueuedQueueBatches[0].BatchID == b1.BatchID {
		t.Fatalf("outbox ids %+v", res.EnqueuedQueueBatches)
	}
	if len(res.TurnInputApplications) != 1 || res.TurnInputApplications[0].InputID != in.InputID || res.TurnInputApplications[0].TurnID != "turn-1" {
		t.Fatalf("applications %+v", res.TurnInputApplications)
	}
	fresh := f.open("set")
	q, _ := fresh.ListQueuedWork(f.ctx)
	if len(q) != 1 || q[0].BatchID != res.EnqueuedQueueBatches[0].BatchID {
		t.Fatalf("queue after commit %+v", q)
	}
	if ins, _ := fresh.ListPendingTurnInputs(f.ctx); len(ins) != 0 {
		t.Fatalf("inputs not settled %+v", ins)
	}
	again := f.mustCommit(fresh, c)
	if again.EnqueuedQueueBatches[0].BatchID != res.EnqueuedQueueBatches[0].BatchID {
		t.Fatalf("retry outbox id %q, want %q", again.EnqueuedQueueBatches[0].BatchID, res.EnqueuedQueueBatches[0].BatchID)
	}
}

func testInterruptedDeferral(t *testing.T, f *fixture) {
	s := f.open("int")
	active, err := s.EnqueuePendingTurnInput(f.ctx, session.PendingTurnInputDraft{SessionID: "int", ActiveTurnID: "turn-1", Payload: json.RawMessage(`"steer"`)})
	if err != nil || active.State != session.InputPendingActive {
		t.Fatalf("enqueue active: %+v %v", active, err)
	}
	other, _ := s.EnqueuePendingTurnInput(f.ctx, session.PendingTurnInputDraft{SessionID: "int", ActiveTurnID: "turn-9"})
	c := appendCommit("int", 0, "", "a")
	c.InterruptedTurnInputTurnID = "turn-1"
	f.mustCommit(s, c)
	ins, _ := f.open("int").ListPendingTurnInputs(f.ctx)
	states := map[string]session.TurnInputState{}
	turns := map[string]string{}
	for _, in := range ins {
		states[in.InputID], turns[in.InputID] = in.State, in.ActiveTurnID
	}
	if states[active.InputID] != session.InputDeferredNextTurn || states[other.InputID] != session.InputPendingActive {
		t.Fatalf("states after interruption: %v", states)
	}
	// Deferred inputs are for the next turn now.
	if turns[active.InputID] != "" || turns[other.InputID] != "turn-9" {
		t.Fatalf("active turns after interruption: %v", turns)
	}
	fence := f.acquire(s, ownerA, time.Minute)
	claim, err := s.ClaimTurnInputs(f.ctx, fence, "turn-2", 10)
	if err != nil || claim == nil || len(claim.Inputs) != 1 || claim.Inputs[0].InputID != active.InputID {
		t.Fatalf("deferred input not claimable by the next turn: %+v %v", claim, err)
	}
}

func testSourceKey(t *testing.T, f *fixture) {
	s := f.open("sk")
	d := session.PendingTurnInputDraft{SessionID: "sk", SourceKey: "msg-1", Payload: json.RawMessage(`"a"`)}
	first, err := s.EnqueuePendingTurnInput(f.ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.open("sk").EnqueuePendingTurnInput(f.ctx, d)
	if err != nil || again.InputID != first.InputID {
		t.Fatalf("idempotent enqueue: %+v %v", again, err)
	}
	d.Payload = json.RawMessage(`"b"`)
	_, err = s.EnqueuePendingTurnInput(f.ctx, d)
	var sk *session.SourceKeyConflictError
	if !errors.As(err, &sk) || sk.SourceKey != "msg-1" || !errors.Is(err, session.ErrPendingTurnInputSourceKeyConflict) {
		t.Fatalf("source key conflict: %v", err)
	}
	if ins, _ := s.ListPendingTurnInputs(f.ctx); len(ins) != 1 {
		t.Fatalf("inputs %v", ins)
	}
}

func testConcurrentEnqueue(t *testing.T, f *fixture) {
	const writers, each = 8, 4
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := f.open("ce")
			for i := 0; i < each; i++ {
				if _, err := s.EnqueueQueuedWork(f.ctx, session.QueuedWorkBatchDraft{SessionID: "ce", Payload: json.RawMessage(fmt.Sprintf(`"%d-%d"`, w, i))}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("enqueue: %v", err)
	}
	q, err := f.open("ce").ListQueuedWork(f.ctx)
	if err != nil || len(q) != writers*each {
		t.Fatalf("queue has %d batches, want %d (%v)", len(q), writers*each, err)
	}
	seen := map[string]bool{}
	for i, b := range q {
		if seen[string(b.Payload)] || b.EnqueueSeq != uint64(i+1) {
			t.Fatalf("batch %d: %+v (duplicate or bad seq)", i, b)
		}
		seen[string(b.Payload)] = true
	}
}
