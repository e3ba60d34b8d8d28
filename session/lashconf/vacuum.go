package lashconf

import (
	"testing"

	"github.com/stowage-dev/stowage/session"
)

// vacuumCases are the cases of lash main's session_store_factory_vacuum.rs
// that stowage's API expresses (its pin cases have no API: stowage has no
// pins or forks).
var vacuumCases = []lashCase{
	{"VacuumIsScopedToBoundSession", testVacuumScoped},
	{"UnboundVacuumIsTypedError", testUnboundVacuum},
}

func init() { cases = append(cases, vacuumCases...) }

// testVacuumScoped (partial): a vacuum removes its own session's settled
// turn inputs and tombstoned nodes only, once: the other session's
// cancelled input still answers a replay of its source key as cancelled
// until that session's own vacuum. lash's second half (tombstones left by
// unpinning nodes of deleted sessions) needs pins, which stowage lacks.
func testVacuumScoped(t *testing.T, e *env) {
	a, b := e.sess("vacuum-scope-a"), e.sess("vacuum-scope-b")
	for _, s := range []*session.Store{a, b} {
		sid := s.SessionID()
		e.commit(s, appendCommit(sid, 0, "", sid+"-keep", sid+"-drop"))
		e.commit(s, appendCommit(sid, 1, sid+"-drop", sid+"-leaf"))
		in := e.input(s, sid, "cancel me", sid+":input", "")
		if out, err := s.CancelPendingTurnInput(e.ctx, in.InputID); err != nil || out.Input == nil || out.Input.State != session.InputCancelled {
			t.Fatalf("cancel in %s: %+v, %v", sid, out, err)
		}
		e.must(s.TombstoneNodes(e.ctx, []string{sid + "-keep"}))
	}
	want := session.VacuumReport{RemovedNodes: 1, RemovedTurnInputTombstones: 1}
	if r, err := a.Vacuum(e.ctx); err != nil || r != want {
		t.Fatalf("vacuum of A %+v, %v", r, err)
	}
	if r, err := a.Vacuum(e.ctx); err != nil || r != (session.VacuumReport{}) {
		t.Fatalf("repeated vacuum of A %+v, %v", r, err)
	}
	replay, err := b.EnqueuePendingTurnInput(e.ctx, session.PendingTurnInputDraft{SourceKey: "vacuum-scope-b:input", Payload: text2json("cancel me")})
	if err != nil || replay.State != session.InputCancelled {
		t.Fatalf("B's tombstone after A's vacuum %+v, %v", replay, err)
	}
	if n, err := b.LoadNode(e.ctx, "vacuum-scope-b-drop"); err != nil || n == nil {
		t.Fatalf("A's vacuum touched B's graph: %+v, %v", n, err)
	}
	if r, err := b.Vacuum(e.ctx); err != nil || r != want {
		t.Fatalf("vacuum of B %+v, %v", r, err)
	}
	if r, err := b.Vacuum(e.ctx); err != nil || r != (session.VacuumReport{}) {
		t.Fatalf("repeated vacuum of B %+v, %v", r, err)
	}
}

// testUnboundVacuum: a handle bound to no session has nothing to vacuum
// and says so with a typed error (lash's SessionNotBound is ErrInvalidID,
// docs/contract.md, "Errors"), writing nothing.
func testUnboundVacuum(t *testing.T, e *env) {
	e.commit(e.sess("bystander"), appendCommit("bystander", 0, "", "n"))
	before := e.keys()
	u, err := session.New(session.Config{Store: e.objs, Now: e.clock.Now})
	e.must(err)
	if _, err := u.Vacuum(e.ctx); !isErr(err, session.ErrInvalidID) {
		t.Fatalf("unbound vacuum: %v", err)
	}
	if after := e.keys(); !equal(after, before) {
		t.Fatalf("an unbound vacuum changed the bucket: %v, was %v", after, before)
	}
}

// keys lists the bucket's keys with their ETags.
func (e *env) keys() []string {
	e.t.Helper()
	var out []string
	for info, err := range e.objs.List(e.ctx, "", nil) {
		e.must(err)
		out = append(out, info.Key+" "+info.ETag)
	}
	return out
}
