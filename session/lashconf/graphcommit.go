package lashconf

import (
	"math"
	"testing"

	"github.com/stowage-dev/stowage/session"
)

// Graph and usage cases of lash's runtime_persistence.rs: a commit whose
// leaf does not resolve aborts whole, and the token ledger reads back.

// assertNoNode fails if sid holds node id (a rejected commit wrote it).
func (e *env) assertNoNode(sid, id string) {
	e.t.Helper()
	n, err := e.cold(sid).LoadNode(e.ctx, id)
	if err != nil || n != nil {
		e.t.Fatalf("node %s after a rejected commit: %+v, %v", id, n, err)
	}
}

// testCommitRejectsUnresolvableLeaf: a leaf naming no node of the
// post-commit graph fails the commit with ErrInvalidCommit, and none of
// its nodes is written.
func testCommitRejectsUnresolvableLeaf(t *testing.T, e *env) {
	rejectLeaf(t, e, "valid-node", "missing-leaf")
}

// testCommitRejectsMissingLeaf: an append with nodes and no leaf fails the
// same way and writes nothing.
func testCommitRejectsMissingLeaf(t *testing.T, e *env) {
	rejectLeaf(t, e, "node-without-leaf", "")
}

// rejectLeaf appends node to a new session with the given leaf and wants
// ErrInvalidCommit and node not written.
func rejectLeaf(t *testing.T, e *env, node, leaf string) {
	s := e.sess("root")
	c := appendCommit("root", 0, "", node)
	c.Graph.Leaf = leaf
	if _, err := s.CommitRuntimeState(e.ctx, c); !isErr(err, session.ErrInvalidCommit) {
		t.Fatalf("leaf %q: %v", leaf, err)
	}
	e.assertNoNode("root", node)
}

// testEmptyAppendCannotMoveTheHead: an append of no nodes and no leaf is
// refused and the leaf stays where it was.
func testEmptyAppendCannotMoveTheHead(t *testing.T, e *env) {
	s := e.sess("root")
	e.commit(s, appendCommit("root", 0, "", "first", "second"))
	c := appendCommit("root", 1, "")
	if _, err := s.CommitRuntimeState(e.ctx, c); !isErr(err, session.ErrInvalidCommit) {
		t.Fatalf("empty append: %v", err)
	}
	r, err := e.cold("root").LoadSession(e.ctx, session.FullGraph())
	e.must(err)
	if r.HeadRevision != 1 || r.Graph.LeafNodeID != "second" {
		t.Fatalf("after a refused empty append: revision %d, leaf %q", r.HeadRevision, r.Graph.LeafNodeID)
	}
}

// testLoadRetainsReasoningOnlyUsage: a usage row with only reasoning
// tokens is kept and read back as written.
func testLoadRetainsReasoningOnlyUsage(t *testing.T, e *env) {
	s := e.sess("root")
	c := emptyCommit("root", 0)
	row := session.TokenLedgerEntry{Source: "reasoning-only", Model: "usage-model", ReasoningOutput: 9}
	c.UsageDeltas = []session.TokenLedgerEntry{row}
	e.commit(s, c)
	r, err := e.cold("root").LoadSession(e.ctx, session.FullGraph())
	e.must(err)
	if len(r.TokenLedger) != 1 || r.TokenLedger[0] != row {
		t.Fatalf("ledger %+v, want [%+v]", r.TokenLedger, row)
	}
}

// testUsageOverflowSaturates: lash fails the load of a ledger whose sum
// overflows; stowage keeps the session loadable and saturates the counter
// at the int64 bound (docs/contract.md, "Where stowage differs from
// lash").
func testUsageOverflowSaturates(t *testing.T, e *env) {
	s := e.sess("root")
	c := emptyCommit("root", 0)
	c.UsageDeltas = []session.TokenLedgerEntry{
		{Source: "overflow", Model: "usage-model", Input: math.MaxInt64},
		{Source: "overflow", Model: "usage-model", Input: 1, Output: 2},
	}
	e.commit(s, c)
	r, err := e.cold("root").LoadSession(e.ctx, session.FullGraph())
	e.must(err)
	want := session.TokenLedgerEntry{Source: "overflow", Model: "usage-model", Input: math.MaxInt64, Output: 2}
	if len(r.TokenLedger) != 1 || r.TokenLedger[0] != want {
		t.Fatalf("ledger %+v, want [%+v]", r.TokenLedger, want)
	}
}

// testExecutionStateReplaceThenClear: an execution state replaced by a new
// body gets that body's ref; a checkpoint without one clears the ref, in
// the commit's manifest and in what a cold reader loads.
func testExecutionStateReplaceThenClear(t *testing.T, e *env) {
	const sid = "execution-state"
	s := e.sess(sid)
	c := emptyCommit(sid, 0)
	c.Checkpoint = &session.HydratedCheckpoint{ExecutionState: []byte("initial-execution-state")}
	e.commit(s, c)
	c = emptyCommit(sid, 1)
	c.Checkpoint = &session.HydratedCheckpoint{ExecutionState: []byte("replacement-execution-state")}
	if got := e.commit(s, c); got.Manifest == nil || got.Manifest.ExecutionStateRef != sha("replacement-execution-state") {
		t.Fatalf("replacement manifest %+v", got.Manifest)
	}
	c = emptyCommit(sid, 2)
	c.Checkpoint = &session.HydratedCheckpoint{}
	if got := e.commit(s, c); got.Manifest == nil || got.Manifest.ExecutionStateRef != "" {
		t.Fatalf("cleared manifest %+v", got.Manifest)
	}
	r, err := e.cold(sid).LoadSession(e.ctx, session.FullGraph())
	e.must(err)
	if r.Checkpoint == nil || r.Checkpoint.ExecutionStateRef != "" || r.Checkpoint.ExecutionState != nil {
		t.Fatalf("loaded checkpoint %+v", r.Checkpoint)
	}
}

// testSessionReadLoadsPersistedHistory: a committed chain reads back from
// a cold handle with every node in commit order and the committed leaf.
func testSessionReadLoadsPersistedHistory(t *testing.T, e *env) {
	const sid = "branchy"
	e.commit(e.sess(sid), appendCommit(sid, 0, "", "root-node", "left-node", "left-leaf"))
	r, err := e.cold(sid).LoadSession(e.ctx, session.FullGraph())
	e.must(err)
	if !equal(nodeIDs(r.Graph.Nodes), []string{"root-node", "left-node", "left-leaf"}) || r.Graph.LeafNodeID != "left-leaf" {
		t.Fatalf("history %v, leaf %q", nodeIDs(r.Graph.Nodes), r.Graph.LeafNodeID)
	}
}

// testAppendOfAnExistingNodeReplacesIt: lash's SQLite backend refuses an
// append naming a committed node id; stowage replaces the node in place,
// as lash's Postgres backend upserts (docs/contract.md, "Where stowage
// differs from lash").
func testAppendOfAnExistingNodeReplacesIt(t *testing.T, e *env) {
	s := e.sess("root")
	e.commit(s, appendCommit("root", 0, "", "existing", "leaf"))
	c := appendCommit("root", 1, "", "existing")
	c.Graph.Nodes[0].Event = []byte(`{"text":"replacement"}`)
	e.commit(s, c)
	n, err := e.cold("root").LoadNode(e.ctx, "existing")
	e.must(err)
	if n == nil || jsonText(n.Event) != "replacement" {
		t.Fatalf("node after the upsert: %+v", n)
	}
	r, err := e.cold("root").LoadSession(e.ctx, session.FullGraph())
	e.must(err)
	if r.HeadRevision != 2 || r.Graph.LeafNodeID != "existing" {
		t.Fatalf("after the upsert: revision %d, leaf %q", r.HeadRevision, r.Graph.LeafNodeID)
	}
}
