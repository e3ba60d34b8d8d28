package lashconf

import (
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

// testDurability: the store reports the tier of its backend: inline for
// memory, durable for files and S3.
func testDurability(t *testing.T, e *env) {
	want := session.Inline
	if e.objs.Capabilities().Durable {
		want = session.Durable
	}
	if got := e.sess("root").DurabilityTier(); got != want || e.st.DurabilityTier() != want {
		t.Fatalf("durability tier %v (store %v), want %v", got, e.st.DurabilityTier(), want)
	}
}

// testCommitIncrements: a commit bumps the head revision and its agent
// frames, current frame and execution state read back.
func testCommitIncrements(t *testing.T, e *env) {
	s := e.sess("root")
	c := appendCommit("root", 0, "", "n1")
	c.AgentFrames = json.RawMessage(`[{"frame_id":"frame-1"},{"frame_id":"frame-2","reason":"plan_mode"}]`)
	c.CurrentAgentFrameID = "frame-2"
	c.Checkpoint = &session.HydratedCheckpoint{ExecutionState: []byte("frame-vm")}
	if res := e.commit(s, c); res.HeadRevision != 1 {
		t.Fatalf("revision %d, want 1", res.HeadRevision)
	}
	r, err := e.sess("root").LoadSession(e.ctx, session.FullGraph())
	e.must(err)
	if r.CurrentAgentFrameID != "frame-2" || string(r.AgentFrames) != string(c.AgentFrames) ||
		string(r.Checkpoint.ExecutionState) != "frame-vm" {
		t.Fatalf("read back %+v", r)
	}
	if res := e.commit(s, appendCommit("root", 1, "n1", "n2")); res.HeadRevision != 2 {
		t.Fatalf("second revision %d", res.HeadRevision)
	}
}

// testConcurrentCAS: two writers on the same expected revision: exactly one
// wins, the other gets HeadRevisionConflict; one graph is applied.
func testConcurrentCAS(t *testing.T, e *env) {
	lease := e.lease(e.sess("cas"), "cas-owner", time.Hour)
	fence := lease.Fence()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, id := range []string{"cas-left", "cas-right"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := session.RuntimeCommit{SessionID: "cas", ExpectedHeadRevision: rev(0), SessionExecutionLease: &fence,
				Graph: session.GraphDelta{Kind: session.DeltaReplaceFull, Nodes: []session.NodeRecord{node(id, "")}, Leaf: id}}
			_, errs[i] = e.sess("cas").CommitRuntimeState(e.ctx, c)
		}()
	}
	wg.Wait()
	wins, conflicts := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, session.ErrHeadRevisionConflict):
			conflicts++
		}
	}
	if wins != 1 || conflicts != 1 {
		t.Fatalf("outcomes %v: want one winner and one HeadRevisionConflict", errs)
	}
	r, err := e.sess("cas").LoadSession(e.ctx, session.FullGraph())
	e.must(err)
	if r.HeadRevision != 1 || len(r.Graph.Nodes) != 1 {
		t.Fatalf("after the race: revision %d, %d nodes", r.HeadRevision, len(r.Graph.Nodes))
	}
}

// testRejectsOtherSession: a handle bound to one session refuses a commit
// for another (*SessionBindingMismatchError naming both) and writes
// nothing; a commit that names no session (nor its stamp, nor its outbox
// batches) is the handle's.
func testRejectsOtherSession(t *testing.T, e *env) {
	s := e.sess("alpha")
	e.commit(s, emptyCommit("alpha", 0))
	_, err := s.CommitRuntimeState(e.ctx, emptyCommit("beta", 1))
	var mm *session.SessionBindingMismatchError
	if !errors.As(err, &mm) || mm.Bound != "alpha" || mm.Attempted != "beta" {
		t.Fatalf("commit for another session: %v", err)
	}
	if r, _ := e.sess("beta").LoadSession(e.ctx, session.FullGraph()); r != nil {
		t.Fatal("the refused commit wrote session beta")
	}
	c := emptyCommit("", 1)
	c.TurnCommit = stamp("", "turn-1", "hash")
	c.EnqueuedQueueBatches = []session.QueuedWorkBatchDraft{{Payload: text2json("follow-up")}}
	res := e.commit(s, c)
	if res.HeadRevision != 2 || len(res.EnqueuedQueueBatches) != 1 || res.EnqueuedQueueBatches[0].SessionID != "alpha" {
		t.Fatalf("commit naming no session: %+v", res)
	}
	if again := e.commit(e.sess("alpha"), c); again.HeadRevision != 2 {
		t.Fatalf("retry of the stamped turn: %+v", again)
	}
	c.TurnCommit = stamp("beta", "turn-2", "hash")
	if _, err := s.CommitRuntimeState(e.ctx, c); err == nil {
		t.Fatal("a turn stamp for another session was accepted")
	}
}

// testLoadHydrates: the checkpoint (tool state, plugin snapshot revision)
// and the token ledger read back hydrated.
func testLoadHydrates(t *testing.T, e *env) {
	c := emptyCommit("hydrated", 0)
	c.Checkpoint = &session.HydratedCheckpoint{ToolState: []byte(`{"generation":9}`), PluginSnapshotRevision: 12,
		PluginSnapshot: []byte(`{"plugins":{}}`)}
	c.UsageDeltas = []session.TokenLedgerEntry{{Source: "turn", Model: "mock-model", Input: 11, Output: 7, CacheReadInput: 3, ReasoningOutput: 5}}
	e.commit(e.sess("hydrated"), c)
	r, err := e.sess("hydrated").LoadSession(e.ctx, session.FullGraph())
	e.must(err)
	if r.SessionID != "hydrated" || string(r.Checkpoint.ToolState) != `{"generation":9}` || r.Checkpoint.PluginSnapshotRevision != 12 {
		t.Fatalf("checkpoint %+v", r.Checkpoint)
	}
	if len(r.TokenLedger) != 1 || r.TokenLedger[0].Input != 11 {
		t.Fatalf("ledger %+v", r.TokenLedger)
	}
}

// testActivePath: the full graph keeps every branch; the active path of
// the persisted leaf, or of an explicit one, is that leaf's ancestry.
func testActivePath(t *testing.T, e *env) {
	c := session.RuntimeCommit{SessionID: "branchy", ExpectedHeadRevision: rev(0), Graph: session.GraphDelta{
		Kind: session.DeltaReplaceFull, Leaf: "left-leaf", Nodes: []session.NodeRecord{node("root-node", ""),
			node("left-node", "root-node"), node("left-leaf", "left-node"), node("right-leaf", "root-node")}}}
	e.commit(e.sess("branchy"), c)
	for _, tc := range []struct {
		scope session.ReadScope
		want  []string
		leaf  string
	}{
		{session.FullGraph(), []string{"root-node", "left-node", "left-leaf", "right-leaf"}, "left-leaf"},
		{session.ActivePath(""), []string{"root-node", "left-node", "left-leaf"}, "left-leaf"},
		{session.ActivePath("right-leaf"), []string{"root-node", "right-leaf"}, "right-leaf"},
	} {
		r, err := e.sess("branchy").LoadSession(e.ctx, tc.scope)
		e.must(err)
		var got []string
		for _, n := range r.Graph.Nodes {
			got = append(got, n.NodeID)
		}
		if !equal(got, tc.want) || r.Graph.LeafNodeID != tc.leaf {
			t.Fatalf("scope %+v: %v leaf %q, want %v leaf %q", tc.scope, got, r.Graph.LeafNodeID, tc.want, tc.leaf)
		}
	}
}

// testMetaRoundTrips: saved meta loads back; last write wins.
func testMetaRoundTrips(t *testing.T, e *env) {
	s := e.sess("meta")
	if m, err := s.LoadSessionMeta(e.ctx); err != nil || m != nil {
		t.Fatalf("meta before save: %+v, %v", m, err)
	}
	meta := session.SessionMeta{SessionID: "meta", SessionName: "n", CreatedAt: "2026-01-02T03:04:05Z", Model: "m",
		Relation: session.SessionRelation{Kind: session.RelationChild, ParentSessionID: "root", CausedBy: "node-1"}}
	e.must(s.SaveSessionMeta(e.ctx, meta))
	meta.SessionName = "renamed"
	e.must(s.SaveSessionMeta(e.ctx, meta))
	got, err := e.sess("meta").LoadSessionMeta(e.ctx)
	if err != nil || got == nil || *got != meta {
		t.Fatalf("meta %+v, %v; want %+v", got, err, meta)
	}
}

// uncommitted returns the uncommitted rows as "session/id" strings, sorted.
func (e *env) uncommitted() []string {
	e.t.Helper()
	rows, err := e.st.Manifest().ListUncommitted(e.ctx, e.clock.Now())
	e.must(err)
	var out []string
	for _, r := range rows {
		out = append(out, r.SessionID+"/"+r.AttachmentID)
	}
	slices.Sort(out)
	return out
}

// testManifestIntentStamps: of three intents, one committed out of band
// and one by a runtime commit, only the orphan stays uncommitted; forget
// clears it. (The runtime-committed one has bytes: stowage stamps only ids
// whose bytes the session holds; see testUnbackedAttachment.)
func testManifestIntentStamps(t *testing.T, e *env) {
	s := e.sess("root")
	byRuntime := e.put("root", "runtime-commit", manifest.Owner{}).ID
	outOfBand := e.put("root", "manual-commit", manifest.Owner{}).ID
	orphan := e.put("root", "orphan", manifest.Owner{}).ID
	if got := e.uncommitted(); len(got) != 3 {
		t.Fatalf("uncommitted %v, want 3", got)
	}
	e.must(s.CommitRefs(e.ctx, "root", []string{outOfBand}))
	c := emptyCommit("root", 0)
	c.CommittedAttachmentIDs = []string{byRuntime}
	e.commit(s, c)
	if got := e.uncommitted(); !equal(got, []string{"root/" + orphan}) {
		t.Fatalf("uncommitted %v, want only the orphan", got)
	}
	e.must(s.Forget(e.ctx, "root", orphan))
	if got := e.uncommitted(); len(got) != 0 {
		t.Fatalf("uncommitted after forget %v", got)
	}
}

// testManifestOwnershipPerSession: the same content held by two sessions
// is two rows: committing one leaves the other uncommitted; re-recording a
// committed row keeps its stamp.
func testManifestOwnershipPerSession(t *testing.T, e *env) {
	s := e.st.Manifest() // across sessions: the store's manifest
	id := e.put("committed-owner", "same-content", manifest.Owner{}).ID
	e.put("orphan-owner", "same-content", manifest.Owner{})
	e.must(s.CommitRefs(e.ctx, "committed-owner", []string{id}))
	if got := e.uncommitted(); !equal(got, []string{"orphan-owner/" + id}) {
		t.Fatalf("uncommitted %v", got)
	}
	e.must(s.Forget(e.ctx, "orphan-owner", id))
	e.put("committed-owner", "same-content", manifest.Owner{}) // re-record
	if got := e.uncommitted(); len(got) != 0 {
		t.Fatalf("re-recording lost the stamp: %v", got)
	}
}

// testManifestRefTracking: HoldsRef and ListAllRefs track rows per
// session; a forgotten row is no longer held.
func testManifestRefTracking(t *testing.T, e *env) {
	s := e.sess("root")
	committed := e.put("root", "committed", manifest.Owner{}).ID
	pending := e.put("root", "pending", manifest.Owner{}).ID
	e.must(s.CommitRefs(e.ctx, "root", []string{committed}))
	for _, id := range []string{committed, pending} {
		if ok, err := s.HoldsRef(e.ctx, "root", id); err != nil || !ok {
			t.Fatalf("HoldsRef(%s) = %v, %v", id[:8], ok, err)
		}
	}
	if ok, _ := e.st.Manifest().HoldsRef(e.ctx, "other", committed); ok {
		t.Fatal("a session that never recorded the id holds it")
	}
	refs, err := s.ListAllRefs(e.ctx)
	e.must(err)
	if !slices.Contains(refs, committed) || !slices.Contains(refs, pending) {
		t.Fatalf("ListAllRefs %v", refs)
	}
	e.must(s.Forget(e.ctx, "root", pending))
	if ok, _ := s.HoldsRef(e.ctx, "root", pending); ok {
		t.Fatal("a forgotten row is held")
	}
	if live, err := s.HasLiveRef(e.ctx, committed, e.clock.Now()); err != nil || !live {
		t.Fatalf("a committed ref is not live: %v, %v", live, err)
	}
}

// testNoopManifest: a session store built without a manifest has an
// explicit no-op one: nothing uncommitted, no refs, forget succeeds.
func testNoopManifest(t *testing.T, e *env) {
	s, err := session.New(session.Config{Store: e.objs, SessionID: "noop", Now: e.clock.Now})
	e.must(err)
	id := sha("x")
	e.must(s.RecordIntent(e.ctx, manifest.Intent{AttachmentID: id, SessionID: "noop", CanonicalURI: manifest.CanonicalURI(id)}))
	rows, err := s.ListUncommitted(e.ctx, e.clock.Now())
	e.must(err)
	refs, err := s.ListAllRefs(e.ctx)
	e.must(err)
	if len(rows) != 0 || len(refs) != 0 {
		t.Fatalf("no-op manifest: rows %v refs %v", rows, refs)
	}
	e.must(s.Forget(e.ctx, "noop", id))
}

// testStampIdempotent: a turn commit replayed with the same stamp returns
// the stored result and applies nothing; another hash conflicts.
func testStampIdempotent(t *testing.T, e *env) {
	s := e.sess("final")
	c := appendCommit("final", 0, "", "n1")
	c.TurnCommit = stamp("final", "turn-1", "hash-1")
	first := e.commit(s, c)
	replay := e.commit(e.sess("final"), c)
	if replay.HeadRevision != first.HeadRevision {
		t.Fatalf("replay revision %d, want %d", replay.HeadRevision, first.HeadRevision)
	}
	c.TurnCommit = stamp("final", "turn-1", "hash-2")
	if _, err := s.CommitRuntimeState(e.ctx, c); !errors.Is(err, session.ErrTurnCommitConflict) {
		t.Fatalf("changed hash: %v", err)
	}
	r, err := e.sess("final").LoadSession(e.ctx, session.FullGraph())
	e.must(err)
	if r.HeadRevision != 1 {
		t.Fatalf("revision %d after replay and conflict, want 1", r.HeadRevision)
	}
}

// testUnbackedAttachment (deliberate difference, docs/contract.md, "Where
// stowage differs from lash"): lash stamps any row the commit names; stowage
// stamps only ids whose bytes the session holds. An id carried from a
// parent session, or an intent whose upload never finished, does not fail
// the commit: it is reported in UnbackedAttachmentIDs and not stamped.
func testUnbackedAttachment(t *testing.T, e *env) {
	parent := e.put("parent", "carried", manifest.Owner{}).ID
	s := e.sess("child")
	noBytes := e.put("elsewhere", "never-uploaded", manifest.Owner{}).ID
	e.must(s.RecordIntent(e.ctx, manifest.Intent{AttachmentID: noBytes, SessionID: "child",
		CanonicalURI: manifest.CanonicalURI(noBytes), IntentAt: e.clock.Now()}))
	c := emptyCommit("child", 0)
	c.CommittedAttachmentIDs = []string{parent, noBytes}
	res := e.commit(s, c)
	want := []string{parent, noBytes}
	slices.Sort(want)
	if res.HeadRevision != 1 || !equal(res.UnbackedAttachmentIDs, want) {
		t.Fatalf("result %+v, want revision 1 with %v unbacked", res, want)
	}
	if got := e.uncommitted(); !slices.Contains(got, "child/"+noBytes) {
		t.Fatalf("the unbacked intent was stamped: uncommitted %v", got)
	}
}

// testTombstoneNodes: a node tombstoned without replacing the graph is
// hidden from LoadNode and from the session graph; Vacuum removes it
// physically (the segment holding it is replaced by one without it, and
// the old one is gone after a sweep), exactly once; reads are unchanged
// and the live node stays.
func testTombstoneNodes(t *testing.T, e *env) {
	s := e.sess("root")
	c := session.RuntimeCommit{SessionID: "root", ExpectedHeadRevision: rev(0), Graph: session.GraphDelta{
		Kind: session.DeltaReplaceFull, Leaf: "node-delete", Nodes: []session.NodeRecord{node("node-live", ""), node("node-delete", "node-live")}}}
	e.commit(s, c)
	// Commit until the nodes are flushed to a segment. Each commit is made
	// by a fresh handle, which adopts no background flush, so the tail
	// grows to twice the flush threshold and is then flushed before the
	// head write: the loop ends after a bounded number of commits.
	for r := uint64(1); ; r++ {
		h, err := session.ReadHead(e.ctx, e.objs, "root")
		e.must(err)
		if len(h.Keys) > 0 {
			break
		}
		if r > 64 {
			t.Fatal("the tail was never flushed")
		}
		e.commit(e.sess("root"), emptyCommit("root", r))
	}
	if n, err := s.LoadNode(e.ctx, "node-delete"); err != nil || n == nil {
		t.Fatalf("before tombstone: %+v, %v", n, err)
	}
	e.must(s.TombstoneNodes(e.ctx, []string{"node-delete"}))
	if n, err := e.sess("root").LoadNode(e.ctx, "node-delete"); err != nil || n != nil {
		t.Fatalf("tombstoned node loads: %+v, %v", n, err)
	}
	before, err := session.ReadHead(e.ctx, e.objs, "root")
	e.must(err)
	v, err := s.Vacuum(e.ctx)
	if err != nil || v.RemovedNodes != 1 || v.RemovedTurnInputTombstones != 0 {
		t.Fatalf("vacuum: %+v, %v", v, err)
	}
	if v, err := s.Vacuum(e.ctx); err != nil || v != (session.VacuumReport{}) {
		t.Fatalf("second vacuum: %+v, %v", v, err)
	}
	after, err := session.ReadHead(e.ctx, e.objs, "root")
	e.must(err)
	if after.Revision != before.Revision || equal(after.Keys, before.Keys) || len(before.Keys) == 0 {
		t.Fatalf("vacuum kept the segments: %v -> %v", before.Keys, after.Keys)
	}
	r, err := e.sess("root").LoadSession(e.ctx, session.FullGraph())
	e.must(err)
	if ids := nodeIDs(r.Graph.Nodes); !equal(ids, []string{"node-live"}) {
		t.Fatalf("graph after vacuum %v", ids)
	}
	if _, err := e.sweeper(-1).Run(e.ctx); err != nil {
		t.Fatalf("sweep after vacuum: %v", err)
	}
	for _, k := range before.Keys {
		if slices.Contains(after.Keys, k) {
			continue
		}
		if _, err := e.objs.Head(e.ctx, k); !isErr(err, objstore.ErrNotExist) {
			t.Fatalf("superseded %s after a sweep: %v", k, err)
		}
	}
	if n, err := e.sess("root").LoadNode(e.ctx, "node-live"); err != nil || n == nil {
		t.Fatalf("live node after vacuum: %+v, %v", n, err)
	}
}

func nodeIDs(ns []session.NodeRecord) []string {
	out := []string{}
	for _, n := range ns {
		out = append(out, n.NodeID)
	}
	return out
}
