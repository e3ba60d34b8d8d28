package manifesttest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/ids"
	"github.com/stowage-dev/stowage/manifest"
)

var none = manifest.Owner{}

// holds is true for intents and commits, false across sessions and for
// unknown ids; ListAllRefs has both; Forget drops both and is idempotent.
func testHoldsRefAndForget(t *testing.T, e *Env) {
	a, b := ID("a"), ID("b")
	if e.Holds("s1", a) {
		t.Fatal("holds an unknown id")
	}
	e.Intent("s1", a, none)
	e.Intent("s1", b, none)
	e.Must(e.M.CommitRefs(e.Ctx, "s1", []string{b}))
	if !e.Holds("s1", a) || !e.Holds("s1", b) {
		t.Fatal("intent or commit not held")
	}
	if e.Holds("s2", a) {
		t.Fatal("held across sessions")
	}
	refs, err := e.M.ListAllRefs(e.Ctx)
	e.Must(err)
	if want := sorted(a, b); !slices.Equal(refs, want) {
		t.Fatalf("ListAllRefs = %v, want %v", refs, want)
	}
	for range 2 {
		e.Must(e.M.Forget(e.Ctx, "s1", a))
		e.Must(e.M.Forget(e.Ctx, "s1", b))
	}
	if e.Holds("s1", a) || e.Holds("s1", b) {
		t.Fatal("held after forget")
	}
	refs, err = e.M.ListAllRefs(e.Ctx)
	e.Must(err)
	if len(refs) != 0 {
		t.Fatalf("ListAllRefs after forget = %v", refs)
	}
	e.Must(e.M.Forget(e.Ctx, "s3", ID("never")))
}

// Re-recording an intent refreshes uri, time and owner and keeps the stamp
// and the data the row names.
func testRecordIntentKeepsStamp(t *testing.T, e *Env) {
	a := ID("a")
	d := e.WithData("s1", a, none, "a")
	e.Must(e.M.CommitRefs(e.Ctx, "s1", []string{a}))
	stamp := e.Row("s1", a).CommittedAt
	if stamp.IsZero() {
		t.Fatal("not stamped")
	}
	later := e.Clock.Advance(time.Hour)
	e.Intent("s1", a, manifest.TurnOwner("t9"))
	row := e.Row("s1", a)
	if !row.CommittedAt.Equal(stamp) || !row.IntentAt.Equal(later) || row.Owner != manifest.TurnOwner("t9") ||
		row.Data != d || row.CanonicalURI != manifest.CanonicalURI(a) {
		t.Fatalf("after refresh: %+v (stamp %v, data %+v)", row, stamp, d)
	}
	e.Clock.Advance(time.Hour)
	e.Must(e.M.CommitRefs(e.Ctx, "s1", []string{a}))
	if got := e.Row("s1", a).CommittedAt; !got.Equal(stamp) {
		t.Fatalf("second commit moved the stamp from %v to %v", stamp, got)
	}
}

// CommitRefs and FinishCommit stamp only rows that exist.
func testCommitRefsNeverInserts(t *testing.T, e *Env) {
	a := ID("a")
	e.Must(e.M.CommitRefs(e.Ctx, "s1", []string{a}))
	e.Must(e.M.FinishCommit(e.Ctx, "s1", []string{a}, e.Clock.Now()))
	if e.Holds("s1", a) {
		t.Fatal("commit inserted a row")
	}
	refs, err := e.M.ListAllRefs(e.Ctx)
	e.Must(err)
	if len(refs) != 0 {
		t.Fatalf("refs after commits of nothing: %v", refs)
	}
	e.Intent("s1", a, none)
	e.Must(e.M.Forget(e.Ctx, "s1", a))
	e.Must(e.M.CommitRefs(e.Ctx, "s1", []string{a}))
	if e.Holds("s1", a) {
		t.Fatal("commit resurrected a forgotten intent")
	}
}

// The same id in two sessions is two independent rows.
func testSessionsIndependent(t *testing.T, e *Env) {
	a := ID("a")
	e.Intent("s1", a, none)
	e.Intent("s2", a, none)
	e.Must(e.M.CommitRefs(e.Ctx, "s1", []string{a}))
	if !e.Row("s1", a).Committed() || e.Row("s2", a).Committed() {
		t.Fatal("commit leaked across sessions")
	}
	e.Must(e.M.Forget(e.Ctx, "s1", a))
	if e.Holds("s1", a) || !e.Holds("s2", a) {
		t.Fatal("forget leaked across sessions")
	}
}

// ListUncommitted: no stamp and intent at or before t (inclusive), every
// session.
func testListUncommitted(t *testing.T, e *Env) {
	t0 := e.Clock.Now()
	e.Intent("s1", ID("old1"), none)
	e.Intent("s2", ID("old2"), manifest.TurnOwner("t1"))
	e.Intent("s1", ID("committed"), none)
	e.Must(e.M.CommitRefs(e.Ctx, "s1", []string{ID("committed")}))
	e.Clock.Advance(time.Second)
	e.Intent("s1", ID("new"), none)
	list, err := e.M.ListUncommitted(e.Ctx, t0)
	e.Must(err)
	var got []string
	for _, en := range list {
		got = append(got, en.SessionID+"/"+en.AttachmentID)
	}
	slices.Sort(got)
	want := sorted("s1/"+ID("old1"), "s2/"+ID("old2"))
	if !slices.Equal(got, want) {
		t.Fatalf("ListUncommitted(t0) = %v, want %v", got, want)
	}
	list, err = e.M.ListUncommitted(e.Ctx, t0.Add(-time.Nanosecond))
	e.Must(err)
	if len(list) != 0 {
		t.Fatalf("ListUncommitted before every intent = %v", list)
	}
}

// Ids that could escape their key space are rejected before any write.
func testHostileIDs(t *testing.T, e *Env) {
	good := ID("a")
	for _, c := range []struct{ session, id string }{
		{"s1", "../" + good[3:]},
		{"s1", strings.ToUpper(good)},
		{"s1", good[:63]},
		{"s1", good + "0"},
		{"s1", ""},
		{"a/b", good},
		{"..", good},
		{".", good},
		{"", good},
		{"a b", good},
		{"a\x00b", good},
		{strings.Repeat("s", manifest.MaxIDLen+1), good},
	} {
		err := e.M.RecordIntent(e.Ctx, manifest.Intent{AttachmentID: c.id, SessionID: c.session})
		if !errors.Is(err, manifest.ErrInvalidID) {
			t.Errorf("RecordIntent(%q, %q) = %v, want ErrInvalidID", c.session, c.id, err)
		}
		if _, err := e.M.HoldsRef(e.Ctx, c.session, c.id); !errors.Is(err, manifest.ErrInvalidID) {
			t.Errorf("HoldsRef(%q, %q) = %v, want ErrInvalidID", c.session, c.id, err)
		}
		if err := e.M.Forget(e.Ctx, c.session, c.id); !errors.Is(err, manifest.ErrInvalidID) {
			t.Errorf("Forget(%q, %q) = %v, want ErrInvalidID", c.session, c.id, err)
		}
	}
	for _, o := range []manifest.Owner{{Kind: manifest.OwnerTurn}, {Kind: manifest.OwnerTurn, ID: "a\nb"},
		{Kind: manifest.OwnerTurn, ID: "\xff"}, {Kind: manifest.OwnerProcess, ID: strings.Repeat("p", ids.MaxTextLen+1)},
		{Kind: "other", ID: "x"}, {ID: "x"}} {
		err := e.M.RecordIntent(e.Ctx, manifest.Intent{AttachmentID: good, SessionID: "s1", Owner: o})
		if !errors.Is(err, manifest.ErrInvalidID) {
			t.Errorf("RecordIntent with owner %+v = %v, want ErrInvalidID", o, err)
		}
	}
	err := e.M.RecordIntent(e.Ctx, manifest.Intent{AttachmentID: good, SessionID: "s1", CanonicalURI: "lash-attachment://sha256/" + ID("b")})
	if !errors.Is(err, manifest.ErrInvalidID) {
		t.Errorf("RecordIntent with a foreign uri = %v, want ErrInvalidID", err)
	}
	for info, err := range e.Obj.List(e.Ctx, "", nil) {
		e.Must(err)
		t.Errorf("a rejected call left %q", info.Key)
	}
}

// AllRefs yields each id with a row once, in order, and skips ids whose
// rows are all forgotten.
func testAllRefsStreams(t *testing.T, e *Env) {
	var want []string
	for i := range 5 {
		id := ID(string(rune('a' + i)))
		e.Intent("s1", id, none)
		e.Intent("s2", id, none)
		if i%2 == 0 {
			e.Must(e.M.Forget(e.Ctx, "s1", id))
			e.Must(e.M.Forget(e.Ctx, "s2", id))
		} else {
			want = append(want, id)
		}
	}
	slices.Sort(want)
	var got []string
	for id, err := range e.M.AllRefs(e.Ctx) {
		e.Must(err)
		got = append(got, id)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("AllRefs = %v, want %v", got, want)
	}
	for id, err := range e.M.AllRefs(e.Ctx) { // stopping early is fine
		e.Must(err)
		if id != want[0] {
			t.Fatalf("first id %s", id)
		}
		break
	}
}

// A new manifest over the same store sees everything.
func testReopen(t *testing.T, e *Env) {
	a := ID("a")
	e.Intent("s1", a, manifest.ProcessOwner("p1"))
	e.Must(e.M.CommitRefs(e.Ctx, "s1", []string{a}))
	e.Intent("s1", ID("b"), none)
	e2 := NewEnv(t, e.Obj, nil)
	if !e2.Holds("s1", a) || !e2.Row("s1", a).Committed() || e2.Row("s1", a).Owner != manifest.ProcessOwner("p1") {
		t.Fatal("reopened manifest lost a row")
	}
	list, err := e2.M.ListUncommitted(e2.Ctx, e.Clock.Now())
	e.Must(err)
	if len(list) != 1 || list[0].AttachmentID != ID("b") {
		t.Fatalf("reopened ListUncommitted = %+v", list)
	}
}

// ForgetSession drops every row of the session and no other's.
func testForgetSession(t *testing.T, e *Env) {
	a, b := ID("a"), ID("b")
	e.Intent("s1", a, manifest.TurnOwner("t1"))
	e.WithData("s1", b, none, "b")
	e.Must(e.M.CommitRefs(e.Ctx, "s1", []string{b}))
	e.Intent("s2", a, none)
	e.Must(e.M.ForgetSession(e.Ctx, "s1"))
	if e.Holds("s1", a) || e.Holds("s1", b) || !e.Holds("s2", a) {
		t.Fatal("ForgetSession dropped the wrong rows")
	}
	rows, err := e.M.SessionRows(e.Ctx, "s1")
	e.Must(err)
	if len(rows) != 0 {
		t.Fatalf("rows after ForgetSession: %d", len(rows))
	}
	for info, err := range e.Obj.List(e.Ctx, manifest.SessionPrefix+"s1/", nil) {
		e.Must(err)
		t.Errorf("marker %q left", info.Key)
	}
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

// countKeys counts the objects under prefix.
func countKeys(t *testing.T, e *Env, prefix string) int {
	t.Helper()
	n := 0
	for _, err := range e.Obj.List(e.Ctx, prefix, nil) {
		e.Must(err)
		n++
	}
	return n
}
