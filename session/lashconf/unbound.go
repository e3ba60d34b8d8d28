package lashconf

import (
	"testing"

	"github.com/stowage-dev/stowage/session"
)

func init() {
	cases = append(cases,
		lashCase{"UnboundSessionMetaRefusesAmbiguousResolution", testUnboundMetaRefuses},
		lashCase{"UnboundSessionReadsAgreeAndNeverGuess", testUnboundReadsAgree},
	)
}

// unbound opens a handle bound to no session, on the suite's bucket.
func (e *env) unbound() *session.Store {
	e.t.Helper()
	s, err := session.New(session.Config{Store: e.objs, Now: e.clock.Now})
	e.must(err)
	return s
}

// unboundReadsAbsent fails unless both read projections of a fresh
// unbound handle (the session and its meta) read no session.
func (e *env) unboundReadsAbsent(what string) {
	e.t.Helper()
	if r, err := e.unbound().LoadSession(e.ctx, session.FullGraph()); err != nil || r != nil {
		e.t.Fatalf("%s: unbound LoadSession: %+v, %v", what, r, err)
	}
	if m, err := e.unbound().LoadSessionMeta(e.ctx); err != nil || m != nil {
		e.t.Fatalf("%s: unbound LoadSessionMeta: %+v, %v", what, m, err)
	}
}

// testUnboundMetaRefuses: with two sessions holding meta, an unbound
// handle's meta lookup does not choose one: it answers none, as in lash
// (an unbound handle reads no session; docs/contract.md, "Binding").
func testUnboundMetaRefuses(t *testing.T, e *env) {
	for _, sid := range []string{"meta-a", "meta-b"} {
		e.must(e.sess(sid).SaveSessionMeta(e.ctx, rootMeta(sid, "t")))
	}
	e.unboundReadsAbsent("two sessions")
}

// testUnboundReadsAgree: over no, one and two sessions, admitted only or
// committed, an unbound handle's two read projections agree: both read no
// session. Deliberate difference (docs/contract.md, "Where stowage differs
// from lash", the unbound-read row): lash's SQLite handle resolves the
// single session of a one-session store, and refuses two with an error;
// stowage's unbound handle never guesses a session for a read.
func testUnboundReadsAgree(t *testing.T, e *env) {
	e.unboundReadsAbsent("no session")
	_, err := e.st.CreateSession(e.ctx, rootMeta("admitted", "t"))
	e.must(err)
	e.unboundReadsAbsent("one admitted session")
	e.commit(e.sess("committed"), emptyCommit("committed", 0))
	e.unboundReadsAbsent("an admitted and a committed session")
}
