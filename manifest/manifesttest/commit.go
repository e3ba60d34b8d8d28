package manifesttest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/manifest"
)

// PrepareCommit stamps the ids whose row names readable bytes and reports
// the others as unbacked, without failing: no row, bytes never written,
// bytes gone, another session's row. Both lists are sorted and distinct.
func testPrepareCommitUnbacked(t *testing.T, e *Env) {
	a, b, c, d := ID("a"), ID("b"), ID("c"), ID("d")
	e.WithData("s1", a, none, "a")
	e.Intent("s1", b, none) // bytes never written
	gone := e.WithData("s1", c, none, "c")
	e.Must(e.Obj.Delete(e.Ctx, gone.Key, nil))
	e.WithData("s2", d, none, "d") // another session's

	got, err := e.M.PrepareCommit(e.Ctx, "s1", 1, "", []string{a, a})
	e.Must(err)
	if !slices.Equal(got.Stamp, []string{a}) || len(got.Unbacked) != 0 {
		t.Fatalf("PrepareCommit = %+v", got)
	}
	for _, id := range []string{b, c, d, ID("unknown")} {
		got, err := e.M.PrepareCommit(e.Ctx, "s1", 1, "", []string{id, a})
		if err != nil || !slices.Equal(got.Stamp, []string{a}) || !slices.Equal(got.Unbacked, []string{id}) {
			t.Errorf("PrepareCommit with %s = %+v, %v; want %s stamped and %s unbacked", id[:8], got, err, a[:8], id[:8])
		}
	}
	if e.Row("s1", b).Committed() || e.Row("s1", b).PreparedAt != (time.Time{}) {
		t.Error("an unbacked row was stamped")
	}
	if _, err := e.M.PrepareCommit(e.Ctx, "s1", 1, "", []string{"../x"}); !errors.Is(err, manifest.ErrInvalidID) {
		t.Errorf("PrepareCommit with a hostile id = %v", err)
	}
	if _, err := e.M.PrepareCommit(e.Ctx, "s1", 1, "a\x00b", nil); !errors.Is(err, manifest.ErrInvalidID) {
		t.Errorf("PrepareCommit with a hostile turn = %v", err)
	}
}

// With a turn id, PrepareCommit adds the uncommitted rows of this session
// owned by that turn whose bytes are readable; FinishCommit stamps them.
func testPrepareCommitTurnAdoption(t *testing.T, e *Env) {
	t1 := manifest.TurnOwner("t1")
	x, y, z, w, v, u := ID("x"), ID("y"), ID("z"), ID("w"), ID("v"), ID("u")
	e.WithData("s1", x, t1, "x")
	e.Intent("s1", y, t1) // no bytes: not adopted
	e.WithData("s1", z, manifest.TurnOwner("t2"), "z")
	e.WithData("s1", w, t1, "w")
	e.Must(e.M.CommitRefs(e.Ctx, "s1", []string{w})) // already committed
	lost := e.WithData("s1", v, t1, "v")
	e.Must(e.Obj.Delete(e.Ctx, lost.Key, nil)) // bytes gone: not adopted
	e.WithData("s1", u, t1, "u")
	e.Intent("s1", u, manifest.ProcessOwner("p1")) // owner moved on
	e.WithData("s2", ID("other"), t1, "other")     // other session

	prep, err := e.M.PrepareCommit(e.Ctx, "s1", 1, "t1", []string{z})
	e.Must(err)
	got := prep.Stamp
	if want := sorted(x, z); !slices.Equal(got, want) {
		t.Fatalf("PrepareCommit(t1) = %v, want %v", short(got), short(want))
	}
	// The turn's rows without bytes are reported, not stamped.
	if want := sorted(y, v); !slices.Equal(prep.Unbacked, want) {
		t.Fatalf("PrepareCommit(t1) unbacked = %v, want %v", short(prep.Unbacked), short(want))
	}
	at := e.Clock.Now()
	e.Must(e.M.FinishCommit(e.Ctx, "s1", got, at))
	for _, id := range got {
		if row := e.Row("s1", id); !row.CommittedAt.Equal(at) {
			t.Fatalf("%s not stamped at %v: %v", id[:8], at, row.CommittedAt)
		}
	}
	if e.Row("s1", y).Committed() || e.Row("s2", ID("other")).Committed() {
		t.Fatal("FinishCommit stamped a row it was not given")
	}
	prep, err = e.M.PrepareCommit(e.Ctx, "s1", 1, "t1", nil)
	e.Must(err)
	if len(prep.Stamp) != 0 {
		t.Fatalf("second PrepareCommit(t1) = %v", short(prep.Stamp))
	}
}

// lash's conformance scenario: three intents, one committed out of band,
// one adopted by a turn commit; only the orphan stays uncommitted, and
// forget clears it.
func testLashOrphanScenario(t *testing.T, e *Env) {
	adopted, outOfBand, orphan := ID("adopted"), ID("oob"), ID("orphan")
	e.WithData("s1", adopted, manifest.TurnOwner("t1"), "adopted")
	e.Intent("s1", outOfBand, none)
	e.Intent("s1", orphan, manifest.TurnOwner("t0"))
	e.Must(e.M.CommitRefs(e.Ctx, "s1", []string{outOfBand}))
	prep, err := e.M.PrepareCommit(e.Ctx, "s1", 1, "t1", nil)
	e.Must(err)
	e.Must(e.M.FinishCommit(e.Ctx, "s1", prep.Stamp, e.Clock.Now()))
	list, err := e.M.ListUncommitted(e.Ctx, e.Clock.Now())
	e.Must(err)
	if len(list) != 1 || list[0].AttachmentID != orphan {
		t.Fatalf("uncommitted = %+v, want only the orphan", list)
	}
	e.Must(e.M.Forget(e.Ctx, "s1", orphan))
	list, err = e.M.ListUncommitted(e.Ctx, e.Clock.Now())
	e.Must(err)
	if len(list) != 0 {
		t.Fatalf("uncommitted after forget = %+v", list)
	}
}

func short(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id[:8]
	}
	return out
}

// A Store that remembers a row it wrote acts on the row as stored, not as
// remembered: after another Store forgot the row, PrepareCommit reports it
// unbacked (deciding on the remembered row would stamp it: the head would
// name an attachment without a row); after another Store gave the row a
// new owner, the old owner's turn does not adopt it.
func testPrepareCommitSeesOtherStores(t *testing.T, e *Env) {
	other := manifest.New(e.Obj, &manifest.Options{Now: e.Clock.Now, Turns: e.Turns, Processes: e.Procs, Heads: e.Heads})
	a, b := ID("a"), ID("b")
	e.WithData("s1", a, none, "a")
	got, err := e.M.PrepareCommit(e.Ctx, "s1", 1, "", []string{a})
	e.Must(err)
	e.Must(e.M.FinishCommit(e.Ctx, "s1", got.Stamp, e.Clock.Now()))
	e.Must(other.Forget(e.Ctx, "s1", a))
	got, err = e.M.PrepareCommit(e.Ctx, "s1", 1, "", []string{a})
	if err != nil || len(got.Stamp) != 0 || !slices.Equal(got.Unbacked, []string{a}) {
		t.Fatalf("PrepareCommit of a row another Store forgot = %+v, %v; want it unbacked", got, err)
	}

	e.WithData("s1", b, manifest.TurnOwner("t1"), "b")
	e.Must(other.RecordIntent(e.Ctx, manifest.Intent{SessionID: "s1", AttachmentID: b, Owner: manifest.TurnOwner("t2")}))
	got, err = e.M.PrepareCommit(e.Ctx, "s1", 1, "t1", nil)
	if err != nil || len(got.Stamp) != 0 {
		t.Fatalf("PrepareCommit of turn t1 after t2 took its row = %+v, %v; want nothing adopted", got, err)
	}
	if r := e.Row("s1", b); r.Owner != manifest.TurnOwner("t2") || r.Committed() || !r.PreparedAt.IsZero() {
		t.Fatalf("row after the other Store's intent = %+v", r)
	}
}

// A commit skips Protect only for a row version this Store protected
// (ProtectRow) or wrote over one naming the same data. A row another
// Store re-pointed to data that is gone must come back unbacked, though
// the version this Store remembers was protected.
func testPrepareCommitReprotectsChangedRows(t *testing.T, e *Env) {
	other := manifest.New(e.Obj, &manifest.Options{Now: e.Clock.Now, Turns: e.Turns, Processes: e.Procs, Heads: e.Heads})
	prepare := func(id string) manifest.Prepared {
		t.Helper()
		got, err := e.M.PrepareCommit(e.Ctx, "s1", 1, "", []string{id})
		e.Must(err)
		return got
	}
	a := ID("a")
	e.protectedRow("s1", a, "a")
	if got := prepare(a); !slices.Equal(got.Stamp, []string{a}) {
		t.Fatalf("PrepareCommit of a protected row = %+v", got)
	}

	b := ID("b")
	e.protectedRow("s1", b, "b")
	e.repointToMissing(other, "s1", b)
	if got := prepare(b); len(got.Stamp) != 0 || !slices.Equal(got.Unbacked, []string{b}) {
		t.Fatalf("PrepareCommit of a row another Store re-pointed to missing data = %+v; want it unbacked", got)
	}

	// The same Store re-points its protected row (a put's next round):
	// the new version names data nobody protected.
	c := ID("c")
	row := e.protectedRow("s1", c, "c")
	e.repointToMissing(e.M, "s1", c)
	// A late Protect of the old version marks nothing.
	e.Must(e.M.ProtectRow(e.Ctx, row))
	if got := prepare(c); len(got.Stamp) != 0 || !slices.Equal(got.Unbacked, []string{c}) {
		t.Fatalf("PrepareCommit of a protected row re-pointed to missing data = %+v; want it unbacked", got)
	}
}

// protectedRow writes a row of session for id naming body (WithData) and
// protects it through ProtectRow; it returns the row as protected.
func (e *Env) protectedRow(session, id, body string) manifest.Row {
	e.T.Helper()
	e.WithData(session, id, none, body)
	row, ok, err := e.M.Row(e.Ctx, session, id)
	e.Must(err)
	if !ok {
		e.T.Fatalf("no row for %s after WithData", id[:8])
	}
	e.Must(e.M.ProtectRow(e.Ctx, row))
	return row
}

// repointToMissing makes m rewrite the row (session, id) to name a data
// key that was never written.
func (e *Env) repointToMissing(m *manifest.Store, session, id string) {
	e.T.Helper()
	gone := manifest.Data{Key: manifest.DataKey(e.M.NewUploadID()), Size: 1, StoredSize: 1}
	_, err := m.RecordRef(e.Ctx, manifest.Intent{AttachmentID: id, SessionID: session, Owner: none, IntentAt: e.Clock.Now()},
		manifest.Info{}, func(*manifest.Row) (manifest.Data, error) { return gone, nil })
	e.Must(err)
}
