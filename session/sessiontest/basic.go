package sessiontest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/session"
)

var basicTests = []namedTest{
	{"NoHeadLoadsNil", testNoHeadLoadsNil},
	{"RoundTrip", testRoundTrip},
	{"Hydration", testHydration},
	{"Meta", testMeta},
	{"DurabilityTier", testDurabilityTier},
	{"Binding", testBinding},
	{"ReopenSurvival", testReopenSurvival},
	{"DeleteAndRecreate", testDeleteAndRecreate},
}

func testNoHeadLoadsNil(t *testing.T, f *fixture) {
	s := f.open("empty")
	if r := f.load(s, session.FullGraph()); r != nil {
		t.Fatalf("load of a new session = %+v, want nil", r)
	}
	if n, err := s.LoadNode(f.ctx, "x"); n != nil || err != nil {
		t.Fatalf("LoadNode = %v, %v", n, err)
	}
	if m, err := s.LoadSessionMeta(f.ctx); m != nil || err != nil {
		t.Fatalf("LoadSessionMeta = %v, %v", m, err)
	}
}

func bigBytes(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

func testRoundTrip(t *testing.T, f *fixture) {
	s := f.open("rt")
	c := appendCommit("rt", 0, "", "root")
	c.AgentFrames = json.RawMessage(`[{"id":"f1","depth":0},{"id":"f2","depth":1}]`)
	c.CurrentAgentFrameID = "f2"
	exec := bigBytes(10_000, 3) // larger than any inline threshold
	c.Checkpoint = &session.HydratedCheckpoint{
		TurnState:      session.TurnState{TurnIndex: 1, TokenUsage: json.RawMessage(`{"in":1}`)},
		ExecutionState: exec,
		ToolState:      []byte(`{"generation":1}`),
	}
	res := f.mustCommit(s, c)
	if res.HeadRevision != 1 {
		t.Fatalf("head revision %d, want 1", res.HeadRevision)
	}
	if res.Manifest == nil || res.Manifest.SchemaVersion != session.CheckpointSchemaVersion {
		t.Fatalf("manifest %+v", res.Manifest)
	}
	sum := sha256.Sum256(exec)
	if res.Manifest.ExecutionStateRef != hex.EncodeToString(sum[:]) {
		t.Fatalf("execution state ref %q is not the body's sha256", res.Manifest.ExecutionStateRef)
	}
	for _, s := range []*session.Store{s, f.open("rt")} {
		r := f.load(s, session.FullGraph())
		if r == nil || r.HeadRevision != 1 || r.CurrentAgentFrameID != "f2" || !bytes.Equal(r.AgentFrames, c.AgentFrames) {
			t.Fatalf("loaded %+v", r)
		}
		if r.Config != c.Config {
			t.Fatalf("config %+v", r.Config)
		}
		if r.CheckpointRef != res.CheckpointRef || r.Checkpoint == nil || !bytes.Equal(r.Checkpoint.ExecutionState, exec) {
			t.Fatalf("checkpoint not round-tripped: ref %q vs %q", r.CheckpointRef, res.CheckpointRef)
		}
		if string(r.Checkpoint.ToolState) != `{"generation":1}` || r.Checkpoint.TurnState.TurnIndex != 1 {
			t.Fatalf("checkpoint %+v", r.Checkpoint)
		}
		f.wantIDs("graph", nodeIDs(r.Graph), []string{"root"})
	}
}

func testHydration(t *testing.T, f *fixture) {
	s := f.open("hy")
	c := appendCommit("hy", 0, "", "a")
	c.Checkpoint = &session.HydratedCheckpoint{ToolState: []byte(`{"generation":7}`), PluginSnapshot: bigBytes(5000, 1), PluginSnapshotRevision: 3}
	c.UsageDeltas = []session.TokenLedgerEntry{
		{Source: "turn", Model: "m1", Input: 10, Output: 1},
		{Source: "turn", Model: "m2", Input: 5},
	}
	first := f.mustCommit(s, c)

	// A body-less component carries its ref; a nil checkpoint keeps all.
	c2 := appendCommit("hy", 1, "a", "b")
	c2.Checkpoint = &session.HydratedCheckpoint{ToolState: []byte(`{"generation":8}`),
		PluginSnapshotRef: first.Manifest.PluginSnapshotRef, PluginSnapshotRevision: 4}
	c2.UsageDeltas = []session.TokenLedgerEntry{{Source: "turn", Model: "m1", Input: 1, CacheReadInput: 2, ReasoningOutput: 9}}
	second := f.mustCommit(s, c2)
	if second.Manifest.PluginSnapshotRef != first.Manifest.PluginSnapshotRef {
		t.Fatalf("carried ref changed: %q -> %q", first.Manifest.PluginSnapshotRef, second.Manifest.PluginSnapshotRef)
	}
	c3 := appendCommit("hy", 2, "b", "c")
	third := f.mustCommit(s, c3)
	if third.CheckpointRef != second.CheckpointRef {
		t.Fatalf("nil checkpoint changed the ref")
	}

	r := f.load(f.open("hy"), session.FullGraph())
	cp := r.Checkpoint
	if cp == nil || string(cp.ToolState) != `{"generation":8}` || cp.PluginSnapshotRevision != 4 ||
		!bytes.Equal(cp.PluginSnapshot, bigBytes(5000, 1)) {
		t.Fatalf("hydrated checkpoint %+v", cp)
	}
	want := map[string]session.TokenLedgerEntry{
		"m1": {Source: "turn", Model: "m1", Input: 11, Output: 1, CacheReadInput: 2, ReasoningOutput: 9},
		"m2": {Source: "turn", Model: "m2", Input: 5},
	}
	if len(r.TokenLedger) != 2 {
		t.Fatalf("ledger %+v", r.TokenLedger)
	}
	for _, e := range r.TokenLedger {
		if e != want[e.Model] {
			t.Fatalf("ledger row %+v, want %+v", e, want[e.Model])
		}
	}
}

func testMeta(t *testing.T, f *fixture) {
	s := f.open("meta")
	m := session.SessionMeta{SessionID: "meta", SessionName: "first", CreatedAt: "2026-01-02T03:04:05Z", Model: "m",
		Relation: session.SessionRelation{Kind: session.RelationChild, ParentSessionID: "parent"}}
	if err := s.SaveSessionMeta(f.ctx, m); err != nil {
		t.Fatal(err)
	}
	m.SessionName = "second"
	if err := f.open("meta").SaveSessionMeta(f.ctx, m); err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadSessionMeta(f.ctx)
	if err != nil || got == nil || *got != m {
		t.Fatalf("meta = %+v, %v; want %+v", got, err, m)
	}
	if r := f.load(s, session.FullGraph()); r != nil {
		t.Fatalf("meta alone created a commit: %+v", r)
	}
	f.mustCommit(s, appendCommit("meta", 0, "", "n"))
	if got, _ := f.open("meta").LoadSessionMeta(f.ctx); got == nil || got.SessionName != "second" {
		t.Fatalf("meta after commit = %+v", got)
	}
	if err := s.SaveSessionMeta(f.ctx, session.SessionMeta{SessionID: "other"}); !errors.Is(err, session.ErrSessionBindingMismatch) {
		t.Fatalf("meta of another session: %v", err)
	}
}

func testDurabilityTier(t *testing.T, f *fixture) {
	want := session.Inline
	if f.env.Store.Capabilities().Durable {
		want = session.Durable
	}
	if got := f.open("d").DurabilityTier(); got != want {
		t.Fatalf("tier %v, want %v", got, want)
	}
}

func testBinding(t *testing.T, f *fixture) {
	s := f.open("alpha")
	_, err := s.CommitRuntimeState(f.ctx, appendCommit("beta", 0, "", "x"))
	var bm *session.SessionBindingMismatchError
	if !errors.As(err, &bm) || bm.Bound != "alpha" || bm.Attempted != "beta" || !errors.Is(err, session.ErrSessionBindingMismatch) {
		t.Fatalf("commit for beta on alpha: %v", err)
	}
	// An unbound handle is bound by its first commit.
	u, err := session.New(session.Config{Store: f.env.Store, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.mustCommit(u, appendCommit("gamma", 0, "", "g"))
	if _, err := u.CommitRuntimeState(f.ctx, appendCommit("delta", 0, "", "x")); !errors.Is(err, session.ErrSessionBindingMismatch) {
		t.Fatalf("bound handle accepted another session: %v", err)
	}
	if r := f.load(f.open("beta"), session.FullGraph()); r != nil {
		t.Fatalf("beta was written: %+v", r)
	}
}

func testReopenSurvival(t *testing.T, f *fixture) {
	s := f.open("re")
	if err := s.SaveSessionMeta(f.ctx, session.SessionMeta{SessionID: "re", SessionName: "n"}); err != nil {
		t.Fatal(err)
	}
	owner := session.LeaseOwner{OwnerID: "w1", IncarnationID: "i1", Liveness: session.OwnerLiveness{Kind: session.LivenessOpaque}}
	out, err := s.TryClaimSessionExecutionLease(f.ctx, owner, time.Minute)
	if err != nil || out.Acquired == nil {
		t.Fatalf("lease: %+v %v", out, err)
	}
	if _, err := s.EnqueuePendingTurnInput(f.ctx, session.PendingTurnInputDraft{SessionID: "re", Payload: json.RawMessage(`"hi"`)}); err != nil {
		t.Fatal(err)
	}
	claim, err := s.ClaimTurnInputs(f.ctx, out.Acquired.Fence(), "turn-1", 10)
	if err != nil || claim == nil {
		t.Fatalf("claim inputs: %v %v", claim, err)
	}
	if _, err := s.EnqueueQueuedWork(f.ctx, session.QueuedWorkBatchDraft{SessionID: "re", Payload: json.RawMessage(`1`)}); err != nil {
		t.Fatal(err)
	}
	c := appendCommit("re", 0, "", "n1")
	c.TurnCommit = stamp("re", "turn-1", "h1")
	c.CompletedTurnInputClaims = []session.TurnInputCompletion{claim.Completion()}
	c.Checkpoint = &session.HydratedCheckpoint{ExecutionState: []byte("exec")}
	res := f.mustCommit(s, c)

	fresh := f.open("re")
	if m, _ := fresh.LoadSessionMeta(f.ctx); m == nil || m.SessionName != "n" {
		t.Fatalf("meta lost: %+v", m)
	}
	r := f.load(fresh, session.FullGraph())
	if r == nil || r.CheckpointRef != res.CheckpointRef || string(r.Checkpoint.ExecutionState) != "exec" {
		t.Fatalf("checkpoint lost: %+v", r)
	}
	q, err := fresh.ListQueuedWork(f.ctx)
	if err != nil || len(q) != 1 {
		t.Fatalf("queue lost: %v %v", q, err)
	}
	replay, err := f.open("re").CommitRuntimeState(f.ctx, c)
	if err != nil || len(replay.TurnInputApplications) != 1 || replay.TurnInputApplications[0].InputID != claim.Inputs[0].InputID {
		t.Fatalf("applications lost: %+v %v", replay, err)
	}
	if ok, _ := fresh.HoldsRef(f.ctx, "re", "unknown"); ok && !isNoop(f) {
		t.Fatalf("holds an unknown ref")
	}
}

func isNoop(f *fixture) bool {
	ok, _ := f.env.Manifest.HoldsRef(f.ctx, "no-such-session", "no-such-id")
	return ok
}

func testDeleteAndRecreate(t *testing.T, f *fixture) {
	s := f.open("del")
	owner := session.LeaseOwner{OwnerID: "w", IncarnationID: "i"}
	for i := 0; i < 3; i++ {
		out, err := s.TryClaimSessionExecutionLease(f.ctx, owner, time.Second)
		if err != nil || out.Acquired == nil {
			t.Fatalf("lease %d: %+v %v", i, out, err)
		}
		f.clock.Advance(2 * time.Second)
	}
	if _, err := s.EnqueuePendingTurnInput(f.ctx, session.PendingTurnInputDraft{SessionID: "del"}); err != nil {
		t.Fatal(err)
	}
	f.chain(s, "del", 0, "n", 3, "")
	if err := s.Delete(f.ctx); err != nil {
		t.Fatal(err)
	}
	fresh := f.open("del")
	if r := f.load(fresh, session.FullGraph()); r != nil {
		t.Fatalf("deleted session loads: %+v", r)
	}
	if err := fresh.Delete(f.ctx); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	// A recreated session starts clean.
	out, err := fresh.TryClaimSessionExecutionLease(f.ctx, owner, time.Second)
	if err != nil || out.Acquired == nil || out.Acquired.FencingToken != 1 {
		t.Fatalf("recreated lease: %+v %v", out, err)
	}
	if in, _ := fresh.ListPendingTurnInputs(f.ctx); len(in) != 0 {
		t.Fatalf("recreated session has inputs %v", in)
	}
	res := f.mustCommit(s, appendCommit("del", 0, "", "new"))
	if res.HeadRevision != 1 {
		t.Fatalf("recreated revision %d", res.HeadRevision)
	}
	f.wantIDs("recreated graph", nodeIDs(f.load(fresh, session.FullGraph()).Graph), []string{"new"})
	if n, _ := fresh.LoadNode(f.ctx, "n0"); n != nil {
		t.Fatalf("node of the deleted session visible")
	}
}
