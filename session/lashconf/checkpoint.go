package lashconf

import (
	"strings"
	"testing"

	"github.com/stowage-dev/stowage/session"
)

func init() {
	cases = append(cases,
		lashCase{"CompleteCheckpointComponentSetSurvivesColdReopens", testCheckpointComponentSet},
		lashCase{"CheckpointRejectsUnknownComponentRef", testCheckpointUnknownRef},
	)
}

// testCheckpointComponentSet: stowage's checkpoint has three components
// (tool state, plugin snapshot, execution state), not lash's open set of
// keys, and no component encoding versions (partial). On those three: a
// commit from another process that carries the refs without bodies keeps
// them (and their bytes) exactly; two components with one body share one
// ref; a changed body mints a new ref; a component left empty is deleted;
// a cold reader hydrates what was committed last.
func testCheckpointComponentSet(t *testing.T, e *env) {
	const sid = "checkpoint-component-refs"
	first := appendCommit(sid, 0, "", "n1")
	first.Checkpoint = &session.HydratedCheckpoint{ToolState: []byte("stable-body"),
		PluginSnapshot: []byte("stable-body"), ExecutionState: []byte("known-execution-state")}
	r1 := e.commit(e.sess(sid), first)
	if r1.Manifest.ToolStateRef != sha("stable-body") || r1.Manifest.PluginSnapshotRef != r1.Manifest.ToolStateRef {
		t.Fatalf("first manifest %+v", r1.Manifest)
	}
	reopen := e.cold(sid)
	got, err := reopen.LoadSession(e.ctx, session.FullGraph())
	e.must(err)
	cp := got.Checkpoint
	carried := &session.HydratedCheckpoint{TurnState: session.TurnState{TurnIndex: cp.TurnState.TurnIndex + 1},
		ToolStateRef: cp.ToolStateRef, PluginSnapshotRef: cp.PluginSnapshotRef, ExecutionStateRef: cp.ExecutionStateRef}
	second := appendCommit(sid, 1, "n1", "n2")
	second.Checkpoint = carried
	if m := e.commit(reopen, second).Manifest; m.ToolStateRef != r1.Manifest.ToolStateRef ||
		m.PluginSnapshotRef != r1.Manifest.PluginSnapshotRef || m.ExecutionStateRef != r1.Manifest.ExecutionStateRef || m.TurnState.TurnIndex != carried.TurnState.TurnIndex {
		t.Fatalf("carried refs changed: %+v", m)
	}
	third := appendCommit(sid, 2, "n2", "n3")
	third.Checkpoint = &session.HydratedCheckpoint{ToolStateRef: r1.Manifest.ToolStateRef, PluginSnapshot: []byte("after")}
	r3 := e.commit(reopen, third)
	if r3.Manifest.PluginSnapshotRef != sha("after") || r3.Manifest.ExecutionStateRef != "" || r3.Manifest.ToolStateRef != r1.Manifest.ToolStateRef {
		t.Fatalf("third manifest %+v", r3.Manifest)
	}
	cold, err := e.cold(sid).LoadSession(e.ctx, session.FullGraph())
	e.must(err)
	if c := cold.Checkpoint; string(c.ToolState) != "stable-body" || string(c.PluginSnapshot) != "after" || c.ExecutionState != nil || c.ExecutionStateRef != "" {
		t.Fatalf("cold checkpoint %+v", c)
	}
}

// testCheckpointUnknownRef: a checkpoint component that carries a ref the
// session's current checkpoint does not hold (never stored, or a body of an
// earlier checkpoint the head no longer names) fails the commit with
// *CheckpointComponentMissingError naming the component and the ref, and
// writes nothing (docs/contract.md, "Committing a turn").
func testCheckpointUnknownRef(t *testing.T, e *env) {
	const sid = "checkpoint-unknown-ref"
	never := sha("checkpoint-component-that-was-never-stored")
	c := emptyCommit(sid, 0)
	c.Checkpoint = &session.HydratedCheckpoint{ToolState: []byte("tool"), ExecutionStateRef: never}
	before := e.keys()
	e.wantMissing(e.sess(sid), c, "execution_state", never)
	if after := e.keys(); !equal(after, before) {
		t.Fatalf("a refused commit wrote: %v, before %v", after, before)
	}
	old := appendCommit(sid, 0, "", "n1")
	old.Checkpoint = &session.HydratedCheckpoint{PluginSnapshot: []byte("old-snapshot")}
	e.commit(e.sess(sid), old)
	next := emptyCommit(sid, 1)
	next.Checkpoint = &session.HydratedCheckpoint{PluginSnapshot: []byte("new-snapshot")}
	e.commit(e.sess(sid), next)
	stale := emptyCommit(sid, 2)
	stale.Checkpoint = &session.HydratedCheckpoint{PluginSnapshotRef: sha("old-snapshot")}
	e.wantMissing(e.sess(sid), stale, "plugin_snapshot", sha("old-snapshot"))
	r, err := e.cold(sid).LoadSession(e.ctx, session.FullGraph())
	if err != nil || r.HeadRevision != 2 || string(r.Checkpoint.PluginSnapshot) != "new-snapshot" {
		t.Fatalf("after the refused commit: %+v, %v", r, err)
	}
}

// wantMissing commits c on s and fails unless it is refused with a
// *CheckpointComponentMissingError for component and ref.
func (e *env) wantMissing(s *session.Store, c session.RuntimeCommit, component, ref string) {
	e.t.Helper()
	_, err := s.CommitRuntimeState(e.ctx, c)
	var m *session.CheckpointComponentMissingError
	if !asErr(err, &m) || !isErr(err, session.ErrCheckpointComponentMissing) || m.Component != component || m.Ref != ref || !strings.Contains(err.Error(), ref) {
		e.t.Fatalf("checkpoint carrying %s %s: %v", component, ref, err)
	}
}
