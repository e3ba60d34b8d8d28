package sessiontest

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/session"
)

// The host-side controls of queued work, turn inputs, the lease and the
// session's existence (lash's queue and turn-input editing, fenced reclaim
// and session factory).
var controlTests = []namedTest{
	{"QueueSourceKeyReplay", testQueueSourceKey},
	{"QueueCancelAndAbandon", testQueueCancelAndAbandon},
	{"InputCancel", testInputCancel},
	{"InputCancelSuffixAndAbandon", testInputCancelSuffix},
	{"ApplicationsInCommitOrder", testApplicationsOrder},
	{"LeaseReclaimFromDeadHolder", testLeaseReclaim},
	{"CreateOpenDelete", testCreateOpenDelete},
	{"TombstoneNodes", testTombstoneNodes},
	{"Vacuum", testVacuum},
	{"QueueAvailableAt", testQueueAvailableAt},
}

// testQueueAvailableAt: a batch with AvailableAt in the future is listed
// but not claimable (by either claim) until the store clock reaches it.
func testQueueAvailableAt(t *testing.T, f *fixture) {
	s := f.open("later")
	b, err := s.EnqueueQueuedWork(f.ctx, session.QueuedWorkBatchDraft{SessionID: "later",
		Payload: json.RawMessage(`"later"`), AvailableAt: f.clock.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	fence := f.acquire(s, ownerA, time.Hour)
	if q, _ := s.ListQueuedWork(f.ctx); len(q) != 1 || !q[0].AvailableAt.Equal(b.AvailableAt) {
		t.Fatalf("queue %+v", q)
	}
	if c, err := s.ClaimQueuedWork(f.ctx, fence, 10); err != nil || c != nil {
		t.Fatalf("claim before available: %+v, %v", c, err)
	}
	if c, err := s.ClaimQueuedWorkByIDs(f.ctx, fence, session.BoundaryIdle, []string{b.BatchID}); err != nil || c.Claim != nil {
		t.Fatalf("exact claim before available: %+v, %v", c, err)
	}
	f.clock.Advance(time.Minute)
	if c, err := s.ClaimQueuedWork(f.ctx, fence, 10); err != nil || c == nil || c.Batches[0].BatchID != b.BatchID {
		t.Fatalf("claim when available: %+v, %v", c, err)
	}
}

// testTombstoneNodes: tombstoning nodes hides them from LoadNode and both
// read scopes without replacing the graph or moving the revision, also for
// nodes already in segments; an Append of the id revives it; a
// ReplaceFull clears the tombstones.
func testTombstoneNodes(t *testing.T, f *fixture) {
	f.tuning.FlushDeltas = 2
	s := f.open("tomb-graph")
	ids := f.chain(s, "tomb-graph", 0, "n", 5, "") // n0 <- n1 <- ... <- n4
	if err := s.TombstoneNodes(f.ctx, []string{"n1", "absent"}); err != nil {
		t.Fatal(err)
	}
	// A cold handle's first active path reads no decoded graph: it walks
	// the tail and the segment indexes, and must be cut at n1 too.
	f.wantIDs("cold active path", nodeIDs(f.load(f.open("tomb-graph"), session.ActivePath("")).Graph), []string{"n2", "n3", "n4"})
	fresh := f.open("tomb-graph")
	if n, err := fresh.LoadNode(f.ctx, "n1"); err != nil || n != nil {
		t.Fatalf("tombstoned node loads: %+v, %v", n, err)
	}
	full := f.load(fresh, session.FullGraph())
	f.wantIDs("full graph", nodeIDs(full.Graph), []string{"n0", "n2", "n3", "n4"})
	if full.HeadRevision != uint64(len(ids)) {
		t.Fatalf("revision %d, want %d", full.HeadRevision, len(ids))
	}
	f.wantIDs("active path", nodeIDs(f.load(fresh, session.ActivePath("")).Graph), []string{"n2", "n3", "n4"})
	c := appendCommit("tomb-graph", uint64(len(ids)), "n0", "n1")
	f.mustCommit(s, c)
	if n, _ := f.open("tomb-graph").LoadNode(f.ctx, "n1"); n == nil {
		t.Fatal("an Append did not revive the tombstoned id")
	}
	if err := s.TombstoneNodes(f.ctx, []string{"n3"}); err != nil {
		t.Fatal(err)
	}
	r := session.RuntimeCommit{SessionID: "tomb-graph", ExpectedHeadRevision: rev(uint64(len(ids)) + 1),
		Graph: session.GraphDelta{Kind: session.DeltaReplaceFull, Nodes: []session.NodeRecord{node("n3", "")}, Leaf: "n3"}}
	f.mustCommit(s, r)
	f.wantIDs("after ReplaceFull", nodeIDs(f.load(f.open("tomb-graph"), session.FullGraph()).Graph), []string{"n3"})
}

// testVacuum: Vacuum removes tombstoned nodes from segments and the tail,
// and settled inputs, once; a handle that cached the old segments reads
// the new ones; a commit racing the vacuum lands (the vacuum does not move
// the revision) and neither loses the other's change.
func testVacuum(t *testing.T, f *fixture) {
	f.tuning.FlushDeltas = 2
	s := f.open("vac")
	f.chain(s, "vac", 0, "n", 5, "") // in segments and the tail, wherever the flushes left them
	in, err := s.EnqueuePendingTurnInput(f.ctx, session.PendingTurnInputDraft{Payload: json.RawMessage(`"x"`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CancelPendingTurnInput(f.ctx, in.InputID); err != nil {
		t.Fatal(err)
	}
	cached := f.open("vac")
	f.wantIDs("before", nodeIDs(f.load(cached, session.FullGraph()).Graph), []string{"n0", "n1", "n2", "n3", "n4"})
	if err := s.TombstoneNodes(f.ctx, []string{"n1", "n4"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var v session.VacuumReport
	var verr error
	wg.Add(1)
	go func() { defer wg.Done(); v, verr = f.open("vac").Vacuum(f.ctx) }()
	f.mustCommit(f.open("vac"), appendCommit("vac", 5, "n3", "n5"))
	wg.Wait()
	if verr != nil || v.RemovedNodes != 2 || v.RemovedTurnInputTombstones != 1 {
		t.Fatalf("vacuum: %+v, %v", v, verr)
	}
	if again, err := s.Vacuum(f.ctx); err != nil || again != (session.VacuumReport{}) {
		t.Fatalf("second vacuum: %+v, %v", again, err)
	}
	r := f.load(cached, session.FullGraph())
	f.wantIDs("after, through the cached handle", nodeIDs(r.Graph), []string{"n0", "n2", "n3", "n5"})
	if r.HeadRevision != 6 {
		t.Fatalf("revision %d, want 6", r.HeadRevision)
	}
	if n, err := f.open("vac").LoadNode(f.ctx, "n1"); err != nil || n != nil {
		t.Fatalf("vacuumed node loads: %+v, %v", n, err)
	}
	if out, _ := s.CancelPendingTurnInput(f.ctx, in.InputID); out.Kind != session.NotFound {
		t.Fatalf("vacuumed input: %+v", out)
	}
	f.mustCommit(cached, appendCommit("vac", 6, "n0", "n1"))
	f.wantIDs("re-added", nodeIDs(f.load(f.open("vac"), session.FullGraph()).Graph), []string{"n0", "n2", "n3", "n5", "n1"})
}

// testQueueSourceKey: enqueueing a source key again returns the original
// batch (its payload, not the replay's) and admits nothing.
func testQueueSourceKey(t *testing.T, f *fixture) {
	s := f.open("qsk")
	d := session.QueuedWorkBatchDraft{SessionID: "qsk", SourceKey: "src-1", Payload: json.RawMessage(`"first"`)}
	first, err := s.EnqueueQueuedWork(f.ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	d.Payload = json.RawMessage(`"replay"`)
	replay, err := f.open("qsk").EnqueueQueuedWork(f.ctx, d)
	if err != nil || replay.BatchID != first.BatchID || string(replay.Payload) != `"first"` {
		t.Fatalf("replay: %+v, %v; want the original batch", replay, err)
	}
	second := f.enqueue(s, "qsk", `"second"`)
	q, err := s.ListQueuedWork(f.ctx)
	if err != nil || len(q) != 2 || q[0].BatchID != first.BatchID || q[1].BatchID != second.BatchID {
		t.Fatalf("queue %+v, %v", q, err)
	}
	// A commit's outbox follows the same rule: a key already queued, or
	// twice in one outbox, is one batch.
	c := appendCommit("qsk", 0, "", "a")
	c.EnqueuedQueueBatches = []session.QueuedWorkBatchDraft{{SourceKey: "src-1", Payload: json.RawMessage(`"outbox"`)},
		{SourceKey: "src-2", Payload: json.RawMessage(`"new"`)}, {SourceKey: "src-2", Payload: json.RawMessage(`"again"`)}}
	res := f.mustCommit(s, c)
	got := res.EnqueuedQueueBatches
	if len(got) != 3 || got[0].BatchID != first.BatchID || got[1].BatchID != got[2].BatchID || string(got[2].Payload) != `"new"` {
		t.Fatalf("outbox batches %+v", got)
	}
	if q, _ := s.ListQueuedWork(f.ctx); len(q) != 3 {
		t.Fatalf("queue after the outbox %+v", q)
	}
}

// testQueueCancelAndAbandon: an unclaimed batch is cancelled (removed and
// returned); a batch held by a live claim is neither listed as pending nor
// cancellable; abandoning the claim makes it both again.
func testQueueCancelAndAbandon(t *testing.T, f *fixture) {
	s := f.open("qc")
	a := f.enqueue(s, "qc", `"cancel me"`)
	got, err := s.CancelQueuedWorkBatch(f.ctx, a.BatchID)
	if err != nil || got == nil || got.BatchID != a.BatchID || string(got.Payload) != `"cancel me"` {
		t.Fatalf("cancel: %+v, %v", got, err)
	}
	if q, _ := s.ListQueuedWork(f.ctx); len(q) != 0 {
		t.Fatalf("cancelled batch still queued: %+v", q)
	}
	b := f.enqueue(s, "qc", `"claimed"`)
	fence := f.acquire(s, ownerA, time.Minute)
	claim, err := s.ClaimQueuedWork(f.ctx, fence, 1)
	if err != nil || claim == nil {
		t.Fatal(claim, err)
	}
	if p, _ := s.ListPendingQueuedWork(f.ctx); len(p) != 0 {
		t.Fatalf("a live claim's batch listed as pending: %+v", p)
	}
	if q, _ := s.ListQueuedWork(f.ctx); len(q) != 1 {
		t.Fatalf("claimed batch not durable: %+v", q)
	}
	if got, err := s.CancelQueuedWorkBatch(f.ctx, b.BatchID); err != nil || got != nil {
		t.Fatalf("cancel of a live claim's batch: %+v, %v", got, err)
	}
	if err := s.AbandonQueuedWorkClaim(f.ctx, *claim); err != nil {
		t.Fatal(err)
	}
	if p, _ := f.open("qc").ListPendingQueuedWork(f.ctx); len(p) != 1 || p[0].BatchID != b.BatchID {
		t.Fatalf("abandoned batch not pending: %+v", p)
	}
	// The abandoned claim's completion no longer settles anything.
	c := appendCommit("qc", 0, "", "n")
	c.CompletedQueueClaims = []session.QueuedWorkCompletion{claim.Completion()}
	if _, err := s.CommitRuntimeState(f.ctx, c); err == nil {
		t.Fatal("an abandoned claim settled its batch")
	}
	if got, err := s.CancelQueuedWorkBatch(f.ctx, b.BatchID); err != nil || got == nil {
		t.Fatalf("cancel after abandon: %+v, %v", got, err)
	}
}

// testInputCancel: single and bulk cancel report, per target, cancelled,
// already cancelled, already claimed (live claim), already completed or
// not found; a cancelled input's source key replays as the tombstone.
func testInputCancel(t *testing.T, f *fixture) {
	s := f.open("ic")
	d := session.PendingTurnInputDraft{SessionID: "ic", SourceKey: "k1", Payload: json.RawMessage(`"one"`)}
	one, err := s.EnqueuePendingTurnInput(f.ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	two := f.input(s, "ic", "", `"two"`)
	three := f.input(s, "ic", "", `"three"`)
	out, err := s.CancelPendingTurnInput(f.ctx, two.InputID)
	if err != nil || out.Kind != session.Cancelled || out.Input.State != session.InputCancelled {
		t.Fatalf("cancel: %+v, %v", out, err)
	}
	if out, _ := s.CancelPendingTurnInput(f.ctx, two.InputID); out.Kind != session.AlreadyCancelled {
		t.Fatalf("second cancel: %+v", out)
	}
	fence := f.acquire(s, ownerA, time.Minute)
	claim, err := s.ClaimTurnInputs(f.ctx, fence, "turn-1", 1) // takes one (the oldest)
	if err != nil || claim == nil || claim.Inputs[0].InputID != one.InputID {
		t.Fatalf("claim: %+v, %v", claim, err)
	}
	res, err := s.CancelPendingTurnInputs(f.ctx, []session.CancelTarget{
		{SourceKey: "k1"}, {InputID: three.InputID}, {InputID: "no-such-input"}})
	if err != nil || len(res) != 3 || res[0].Outcome.Kind != session.AlreadyClaimed ||
		res[1].Outcome.Kind != session.Cancelled || res[2].Outcome.Kind != session.NotFound {
		t.Fatalf("bulk cancel: %+v, %v", res, err)
	}
	c := appendCommit("ic", 0, "", "n")
	c.CompletedTurnInputClaims = []session.TurnInputCompletion{claim.Completion()}
	f.mustCommit(s, c)
	if out, _ := s.CancelPendingTurnInput(f.ctx, one.InputID); out.Kind != session.AlreadyCompleted {
		t.Fatalf("cancel of a completed input: %+v", out)
	}
	f.wantInputs(f.open("ic"))
}

// testInputCancelSuffix: cancelling from an anchor cancels it and every
// later input; an unknown anchor changes nothing; an abandoned claim's
// inputs are pending again and claimable.
func testInputCancelSuffix(t *testing.T, f *fixture) {
	s := f.open("sfx")
	a := f.input(s, "sfx", "", `"a"`)
	b := f.input(s, "sfx", "turn-1", `"b"`)
	c := f.input(s, "sfx", "", `"c"`)
	if out, err := s.CancelPendingTurnInputSuffix(f.ctx, session.CancelTarget{InputID: "none"}); err != nil || out.AnchorFound {
		t.Fatalf("unknown anchor: %+v, %v", out, err)
	}
	out, err := s.CancelPendingTurnInputSuffix(f.ctx, session.CancelTarget{InputID: b.InputID})
	if err != nil || !out.AnchorFound || len(out.Outcomes) != 2 ||
		out.Outcomes[0].Input.InputID != b.InputID || out.Outcomes[1].Input.InputID != c.InputID {
		t.Fatalf("suffix cancel: %+v, %v", out, err)
	}
	f.wantInputs(f.open("sfx"), a.InputID)
	fence := f.acquire(s, ownerA, time.Minute)
	claim, err := s.ClaimTurnInputs(f.ctx, fence, "turn-2", 10)
	if err != nil || claim == nil {
		t.Fatal(claim, err)
	}
	f.wantInputs(f.open("sfx"))
	if err := s.AbandonTurnInputClaim(f.ctx, *claim); err != nil {
		t.Fatal(err)
	}
	f.wantInputs(f.open("sfx"), a.InputID)
	again, err := s.ClaimTurnInputs(f.ctx, fence, "turn-2", 10)
	if err != nil || again == nil || again.Inputs[0].InputID != a.InputID || again.Inputs[0].State != session.InputClaimed {
		t.Fatalf("reclaim after abandon: %+v, %v", again, err)
	}
}

// testApplicationsOrder: ListTurnInputApplications returns the applications
// of every turn commit in commit order, including those whose receipts
// moved to segments, and a receipt replay does not count twice.
func testApplicationsOrder(t *testing.T, f *fixture) {
	f.tuning.FlushDeltas = 2
	s := f.open("apps")
	fence := f.acquire(s, ownerA, time.Hour)
	var want []string
	var last session.RuntimeCommit
	parent := ""
	for i, turn := range []string{"z-turn", "a-turn", "m-turn", "b-turn"} {
		in1 := f.input(s, "apps", "", `"x"`)
		in2 := f.input(s, "apps", "", `"y"`)
		claim, err := s.ClaimTurnInputs(f.ctx, fence, turn, 10)
		if err != nil || claim == nil || len(claim.Inputs) != 2 {
			t.Fatalf("claim %s: %+v, %v", turn, claim, err)
		}
		node := "n" + turn
		c := appendCommit("apps", uint64(i), parent, node)
		parent = node
		c.SessionExecutionLease = &fence
		c.TurnCommit = stamp("apps", turn, "h-"+turn)
		c.CompletedTurnInputClaims = []session.TurnInputCompletion{claim.Completion()}
		f.mustCommit(s, c)
		want = append(want, in1.InputID, in2.InputID)
		last = c
	}
	if _, err := f.open("apps").CommitRuntimeState(f.ctx, last); err != nil {
		t.Fatalf("replay: %v", err)
	}
	apps, err := f.open("apps").ListTurnInputApplications(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range apps {
		got = append(got, a.InputID)
	}
	f.wantIDs("applications", got, want)
}

// testLeaseReclaim: a claimant that can prove the holder dead (both local
// processes of one host and boot) takes the lease over before its expiry
// with the next fencing token; a reclaim naming a lease that has moved on,
// or a holder on another host or boot, or an opaque one, is Busy; the dead
// holder is fenced.
func testLeaseReclaim(t *testing.T, f *fixture) {
	local := func(id, host, boot string) session.LeaseOwner {
		return session.LeaseOwner{OwnerID: id, IncarnationID: id + "-1", Liveness: session.OwnerLiveness{
			Kind: session.LivenessLocalProcess, Host: host, Boot: boot, PID: 7, Start: 1}}
	}
	claimant := local("claimant", "h", "b")
	s := f.open("rcl")
	dead := f.acquire(s, local("dead", "h", "b"), time.Hour)
	if out, _ := s.TryClaimSessionExecutionLease(f.ctx, claimant, time.Minute); out.Busy == nil {
		t.Fatalf("plain claim against a live holder: %+v", out)
	}
	for _, c := range []session.LeaseOwner{local("x", "other-host", "b"), local("y", "h", "other-boot"), ownerB} {
		if out, err := s.ReclaimSessionExecutionLease(f.ctx, c, dead, time.Minute); err != nil || out.Busy == nil {
			t.Fatalf("reclaim by %+v without proof of death: %+v, %v", c, out, err)
		}
	}
	out, err := f.open("rcl").ReclaimSessionExecutionLease(f.ctx, claimant, dead, time.Minute)
	if err != nil || out.Acquired == nil || out.Acquired.FencingToken != dead.FencingToken+1 {
		t.Fatalf("reclaim: %+v, %v", out, err)
	}
	late := local("late", "h", "b")
	if out, err := s.ReclaimSessionExecutionLease(f.ctx, late, dead, time.Minute); err != nil || out.Busy == nil ||
		out.Busy.Owner.OwnerID != claimant.OwnerID {
		t.Fatalf("stale reclaim: %+v, %v", out, err)
	}
	c := appendCommit("rcl", 0, "", "n")
	c.SessionExecutionLease = &dead
	if _, err := s.CommitRuntimeState(f.ctx, c); err == nil {
		t.Fatal("the dead holder's fence still commits")
	}
}

// testCreateOpenDelete: create seeds meta idempotently (a second create
// keeps the first meta); a session that does not exist is reported so;
// after a delete, a recreated session starts clean.
func testCreateOpenDelete(t *testing.T, f *fixture) {
	s := f.open("fac")
	if ok, err := s.Exists(f.ctx); err != nil || ok {
		t.Fatalf("exists before create: %v, %v", ok, err)
	}
	meta := session.SessionMeta{SessionID: "fac", SessionName: "first", CreatedAt: "2026-01-02T03:04:05Z", Model: "m",
		Relation: session.SessionRelation{Kind: session.RelationRoot}}
	if created, err := s.CreateSession(f.ctx, meta); err != nil || !created {
		t.Fatalf("create: %v, %v", created, err)
	}
	other := meta
	other.SessionName = "second"
	if created, err := f.open("fac").CreateSession(f.ctx, other); err != nil || created {
		t.Fatalf("second create: %v, %v", created, err)
	}
	if m, err := f.open("fac").LoadSessionMeta(f.ctx); err != nil || m == nil || m.SessionName != "first" {
		t.Fatalf("meta after second create: %+v, %v", m, err)
	}
	f.input(s, "fac", "", `"x"`)
	f.acquire(s, ownerA, time.Minute)
	if err := s.Delete(f.ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(f.ctx); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if ok, err := f.open("fac").Exists(f.ctx); err != nil || ok {
		t.Fatalf("exists after delete: %v, %v", ok, err)
	}
	if created, err := f.open("fac").CreateSession(f.ctx, other); err != nil || !created {
		t.Fatalf("recreate: %v, %v", created, err)
	}
	fresh := f.open("fac")
	f.wantInputs(fresh)
	if got := f.acquire(fresh, ownerB, time.Minute); got.FencingToken != 1 {
		t.Fatalf("recreated session's fencing token %d, want 1", got.FencingToken)
	}
	if m, _ := fresh.LoadSessionMeta(f.ctx); m == nil || m.SessionName != "second" {
		t.Fatalf("recreated meta %+v", m)
	}
}
