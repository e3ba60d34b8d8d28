package lashconf

import (
	"testing"
	"time"

	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/session"
)

// factoryCases are the cases of lash's session_store_factory.rs that lash
// added after v0.1.0-alpha.113 (at lash main), as far as stowage's API
// expresses them.
var factoryCases = []lashCase{
	{"FreshSessionAdmissionReturnsCreated", testFreshAdmissionCreated},
	{"SessionAdmissionContract", testAdmissionContract},
	{"SessionBindingIsCatalogCardinalityIndependent", testBindingCardinality},
	{"FactoryRoundTripsRootAndChildRelations", testRelationShapes},
	{"FactoryNeverUsedDeleteIsNoop", testNeverUsedDelete},
	{"FactoryWriteAfterDeleteStartsClean", testWriteAfterDelete},
	{"FactoryDeleteHidesStateFromStaleHandles", testDeleteStaleHandles},
	{"CrossSessionGraphParentReachesNothing", testCrossSessionParents},
}

func init() { cases = append(cases, factoryCases...) }

func childMeta(sid, parent, cause string) session.SessionMeta {
	m := rootMeta(sid, sid)
	m.Relation = session.SessionRelation{Kind: session.RelationChild, ParentSessionID: parent, CausedBy: cause}
	return m
}

// testFreshAdmissionCreated: the first admission of a session through a
// fresh, bound handle creates it.
func testFreshAdmissionCreated(t *testing.T, e *env) {
	h := e.sess("fresh-admission-created")
	created, err := h.CreateSession(e.ctx, childMeta("fresh-admission-created", "fresh-admission-parent", ""))
	if err != nil || !created {
		t.Fatalf("fresh admission: created %v, %v", created, err)
	}
}

// testAdmissionContract: an empty session id is refused (ErrInvalidID); a
// second admission of an existing session is not a creation and keeps the
// original meta, even with another relation; admitting another session's
// id through a bound handle is a binding mismatch. Deliberate difference
// (docs/contract.md, "Where stowage differs from lash"): lash at main
// retires a deleted id, so its admission fails; here a deleted session
// admitted again is created again, clean.
func testAdmissionContract(t *testing.T, e *env) {
	meta := childMeta("admission-created", "admission-parent", "")
	h, err := e.st.CreateSession(e.ctx, meta)
	e.must(err)
	if _, err := h.CreateSession(e.ctx, rootMeta("", "")); !isErr(err, session.ErrInvalidID) {
		t.Fatalf("empty id: %v", err)
	}
	if _, err := e.st.Session(""); !isErr(err, session.ErrInvalidID) {
		t.Fatalf("empty id handle: %v", err)
	}
	changed := meta
	changed.Relation = session.SessionRelation{Kind: session.RelationRoot}
	for _, m := range []session.SessionMeta{meta, changed} {
		if created, err := h.CreateSession(e.ctx, m); err != nil || created {
			t.Fatalf("re-admission: created %v, %v", created, err)
		}
		if got, err := h.LoadSessionMeta(e.ctx); err != nil || got == nil || *got != meta {
			t.Fatalf("meta after re-admission %+v, %v", got, err)
		}
	}
	if _, err := h.CreateSession(e.ctx, rootMeta("admission-other", "")); !isErr(err, session.ErrSessionBindingMismatch) {
		t.Fatalf("cross-session admission: %v", err)
	}
	d, err := e.st.CreateSession(e.ctx, rootMeta("admission-deleted", "first"))
	e.must(err)
	e.must(e.st.DeleteSession(e.ctx, "admission-deleted"))
	if created, err := d.CreateSession(e.ctx, rootMeta("admission-deleted", "second")); err != nil || !created {
		t.Fatalf("admission after delete: created %v, %v", created, err)
	}
	if got, err := d.LoadSessionMeta(e.ctx); err != nil || got == nil || got.SessionName != "second" {
		t.Fatalf("meta after re-creation %+v, %v", got, err)
	}
}

// testBindingCardinality: a handle's session is the one it names, however
// many sessions the bucket holds: no session is invented from an empty
// bucket, and a handle created for B reads B's meta with zero or one
// other session present.
func testBindingCardinality(t *testing.T, e *env) {
	if h, err := e.st.OpenExistingSession(e.ctx, "binding-cardinality-b"); err != nil || h != nil {
		t.Fatalf("open in an empty bucket: %v, %v", h, err)
	}
	for i, target := range []string{"binding-cardinality-b", "binding-cardinality-c"} {
		st := e.open(storeConfig())
		if i == 1 {
			_, err := st.CreateSession(e.ctx, rootMeta("binding-cardinality-a", "a"))
			e.must(err)
		}
		h, err := st.CreateSession(e.ctx, rootMeta(target, target))
		e.must(err)
		if created, err := h.CreateSession(e.ctx, rootMeta(target, target)); err != nil || created {
			t.Fatalf("rebind %s: created %v, %v", target, created, err)
		}
		m, err := h.LoadSessionMeta(e.ctx)
		if err != nil || m == nil || m.SessionID != target {
			t.Fatalf("meta of %s: %+v, %v", target, m, err)
		}
	}
}

// testRelationShapes (partial): every relation stowage models (root, and
// child with or without the causing node) round-trips through create and
// open-existing. lash's typed causes (turn, effect, tool call, process,
// trigger) and its fork relation have no stowage API: CausedBy is one
// node id.
func testRelationShapes(t *testing.T, e *env) {
	metas := []session.SessionMeta{rootMeta("relation-root", "root"),
		childMeta("relation-child-none", "roundtrip-parent", ""),
		childMeta("relation-child-node", "roundtrip-parent", "cause-node")}
	for _, m := range metas {
		_, err := e.st.CreateSession(e.ctx, m)
		e.must(err)
	}
	other := e.open(storeConfig())
	for _, m := range metas {
		h, err := other.OpenExistingSession(e.ctx, m.SessionID)
		if err != nil || h == nil {
			t.Fatalf("open %s: %v, %v", m.SessionID, h, err)
		}
		got, err := h.LoadSessionMeta(e.ctx)
		if err != nil || got == nil || *got != m {
			t.Fatalf("meta of %s: %+v, %v", m.SessionID, got, err)
		}
	}
}

// testNeverUsedDelete: deleting a session that never existed succeeds and
// does not stop its creation.
func testNeverUsedDelete(t *testing.T, e *env) {
	e.must(e.st.DeleteSession(e.ctx, "never-used-delete"))
	if h, err := e.st.CreateSession(e.ctx, rootMeta("never-used-delete", "n")); err != nil || h == nil {
		t.Fatalf("create after a never-used delete: %v, %v", h, err)
	}
}

// testWriteAfterDelete (deliberate difference, docs/contract.md, "Where
// stowage differs from lash"): lash at main fails every write through a
// handle to a deleted session with SessionDeleted. stowage does not retire
// ids: a write after the delete begins the session anew, clean (fencing
// token 1, only what was written since), and a commit made on the
// deleted session's revision fails with HeadRevisionConflict, so nothing
// of the deleted session comes back.
func testWriteAfterDelete(t *testing.T, e *env) {
	const sid = "write-after-delete"
	stale, err := e.st.CreateSession(e.ctx, rootMeta(sid, "doomed"))
	e.must(err)
	e.input(stale, sid, "before delete", "", "")
	e.enqueue(stale, sid, "before delete", "")
	e.commit(stale, appendCommit(sid, 0, "", "old-node"))
	e.lease(stale, "owner", time.Hour)
	e.must(e.st.DeleteSession(e.ctx, sid))
	var hc *session.HeadRevisionConflictError
	if _, err := stale.CommitRuntimeState(e.ctx, appendCommit(sid, 1, "old-node", "late-node")); !asErr(err, &hc) || hc.Actual != 0 {
		t.Fatalf("commit on the deleted session's revision: %v", err)
	}
	in := e.input(stale, sid, "after delete", "", "")
	e.enqueue(stale, sid, "after delete", "")
	e.must(stale.RecordIntent(e.ctx, manifest.Intent{AttachmentID: sha("after"), SessionID: sid, CanonicalURI: manifest.CanonicalURI(sha("after"))}))
	if l := e.lease(stale, "owner", time.Hour); l.FencingToken != 1 {
		t.Fatalf("lease after delete: fencing token %d", l.FencingToken)
	}
	if got := e.pendingInputs(stale); !equal(got, []string{in.InputID}) {
		t.Fatalf("inputs after delete %v, want only %s", got, in.InputID)
	}
	if q, err := stale.ListQueuedWork(e.ctx); err != nil || len(q) != 1 || jsonText(q[0].Payload) != "after delete" {
		t.Fatalf("queue after delete %+v, %v", q, err)
	}
	if r, err := stale.LoadSession(e.ctx, session.FullGraph()); err != nil || (r != nil && len(r.Graph.Nodes) != 0) {
		t.Fatalf("graph after delete %+v, %v", r, err)
	}
	e.must(e.st.DeleteSession(e.ctx, sid))
}

// testDeleteStaleHandles: a handle opened before a delete reads the
// session as absent (no meta, no checkpoint, no inputs, no queued work),
// and its commit on the old revision fails and leaves the session
// deleted. Deliberate difference (docs/contract.md, "Where stowage differs
// from lash"): the failure is HeadRevisionConflict, not SessionDeleted,
// and an explicit create after the delete is allowed and starts clean.
func testDeleteStaleHandles(t *testing.T, e *env) {
	const sid = "delete-fence-stale-handle"
	stale, err := e.st.CreateSession(e.ctx, rootMeta(sid, "stale"))
	e.must(err)
	meta, err := stale.LoadSessionMeta(e.ctx)
	e.must(err)
	c := emptyCommit(sid, 0)
	c.Checkpoint = &session.HydratedCheckpoint{ExecutionState: []byte("checkpoint")}
	e.commit(stale, c)
	e.input(stale, sid, "pending", "delete-fence-stale-handle:pending-input", "")
	e.enqueue(stale, sid, "queued", "")
	e.must(e.st.DeleteSession(e.ctx, sid))
	if m, err := stale.LoadSessionMeta(e.ctx); err != nil || m != nil {
		t.Fatalf("stale meta %+v, %v", m, err)
	}
	if r, err := stale.LoadSession(e.ctx, session.FullGraph()); err != nil || r != nil {
		t.Fatalf("stale load %+v, %v", r, err)
	}
	if q, err := stale.ListQueuedWork(e.ctx); err != nil || len(q) != 0 || len(e.pendingInputs(stale)) != 0 {
		t.Fatalf("stale queue %+v, %v; inputs %v", q, err, e.pendingInputs(stale))
	}
	if _, err := stale.CommitRuntimeState(e.ctx, emptyCommit(sid, 1)); !isErr(err, session.ErrHeadRevisionConflict) {
		t.Fatalf("stale commit: %v", err)
	}
	if h, err := e.st.OpenExistingSession(e.ctx, sid); err != nil || h != nil {
		t.Fatalf("open after the refused commit: %v, %v", h, err)
	}
	h, err := e.st.CreateSession(e.ctx, *meta)
	e.must(err)
	if r, err := h.LoadSession(e.ctx, session.FullGraph()); err != nil || (r != nil && r.Checkpoint != nil && len(r.Checkpoint.ExecutionState) != 0) {
		t.Fatalf("recreated session holds the old checkpoint: %+v, %v", r, err)
	}
	if _, err := stale.CommitRuntimeState(e.ctx, emptyCommit(sid, 1)); !isErr(err, session.ErrHeadRevisionConflict) {
		t.Fatalf("stale commit after re-creation: %v", err)
	}
}

// testCrossSessionParents (deliberate difference, docs/contract.md,
// "Where stowage differs from lash"): lash at main refuses a node whose
// parent belongs to another session (InvalidGraphParent); stowage, like
// lash at v0.1.0-alpha.113, does not validate parent ids. Isolation holds
// all the same: a node id resolves only within its session, so the
// intruder cannot load the owner's node, its active path stops at its own
// node, and the owner's graph is unchanged.
func testCrossSessionParents(t *testing.T, e *env) {
	first, second := e.sess("graph-parent-owner"), e.sess("graph-parent-intruder")
	e.commit(first, appendCommit("graph-parent-owner", 0, "", "owner-root"))
	e.commit(second, appendCommit("graph-parent-intruder", 0, "", "intruder-root"))
	if n, err := second.LoadNode(e.ctx, "owner-root"); err != nil || n != nil {
		t.Fatalf("intruder loads the owner's node: %+v, %v", n, err)
	}
	e.commit(second, appendCommit("graph-parent-intruder", 1, "owner-root", "cross-session-child"))
	r, err := second.LoadSession(e.ctx, session.ActivePath("cross-session-child"))
	if err != nil || len(r.Graph.Nodes) != 1 || r.Graph.Nodes[0].NodeID != "cross-session-child" {
		t.Fatalf("intruder's active path %+v, %v", r, err)
	}
	if n, err := second.LoadNode(e.ctx, "owner-root"); err != nil || n != nil {
		t.Fatalf("intruder loads the owner's node through its child: %+v, %v", n, err)
	}
	o, err := e.sess("graph-parent-owner").LoadSession(e.ctx, session.FullGraph())
	if err != nil || o.HeadRevision != 1 || len(o.Graph.Nodes) != 1 || o.Graph.Nodes[0].NodeID != "owner-root" {
		t.Fatalf("owner after the intruder's commit %+v, %v", o, err)
	}
}
