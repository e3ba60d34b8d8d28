package manifesttest

import (
	"testing"
	"time"

	"github.com/stowage-dev/stowage/manifest"
)

// forgetAged runs ForgetAgedUncommitted and checks the count.
func (e *Env) forgetAged(cutoff time.Time, want int) {
	e.T.Helper()
	n, err := e.M.ForgetAgedUncommitted(e.Ctx, cutoff)
	e.Must(err)
	if n != want {
		e.T.Fatalf("ForgetAgedUncommitted(%v) forgot %d, want %d", cutoff, n, want)
	}
}

// Ownerless intents are dead once aged; fresh and committed rows stay.
func testForgetAgedOwnerless(t *testing.T, e *Env) {
	old, fresh, committed := ID("old"), ID("fresh"), ID("committed")
	e.Intent("s1", old, none)
	e.Intent("s1", committed, none)
	e.Must(e.M.CommitRefs(e.Ctx, "s1", []string{committed}))
	cutoff := e.Clock.Now() // inclusive: the aged intents sit exactly on it
	e.Clock.Advance(time.Millisecond)
	e.Intent("s2", fresh, none)
	e.forgetAged(cutoff.Add(-time.Millisecond), 0)
	e.forgetAged(cutoff, 1)
	if e.Holds("s1", old) || !e.Holds("s2", fresh) || !e.Holds("s1", committed) {
		t.Fatal("wrong rows forgotten")
	}
	e.forgetAged(cutoff, 0)
	// A refreshed intent is young again.
	e.Intent("s2", ID("refreshed"), none)
	e.Clock.Advance(time.Hour)
	e.Intent("s2", ID("refreshed"), none)
	e.forgetAged(e.Clock.Now().Add(-time.Minute), 1) // only "fresh"
	if !e.Holds("s2", ID("refreshed")) {
		t.Fatal("refreshed intent forgotten")
	}
}

// A turn owner is dead only once another turn of the same session committed
// after the intent; age alone never proves death.
func testForgetAgedTurnOwner(t *testing.T, e *Env) {
	a := ID("a")
	e.Intent("s1", a, manifest.TurnOwner("t1"))
	intentAt := e.Clock.Now()
	far := intentAt.Add(24 * time.Hour)
	e.forgetAged(far, 0)
	e.Turns.Add("s1", "t1", intentAt.Add(time.Minute)) // same turn
	e.Turns.Add("s2", "t2", intentAt.Add(time.Minute)) // other session
	e.Turns.Add("s1", "t0", intentAt)                  // not after the intent
	e.forgetAged(far, 0)
	if live, err := e.M.HasLiveRef(e.Ctx, a, far); err != nil || !live {
		t.Fatalf("HasLiveRef with a live turn owner = %v, %v", live, err)
	}
	e.Turns.Add("s1", "t2", intentAt.Add(time.Millisecond))
	e.forgetAged(intentAt.Add(-time.Millisecond), 0) // dead but not aged
	e.forgetAged(far, 1)

	// Unwired receipts: turn owners never die.
	e.Intent("s3", a, manifest.TurnOwner("t1"))
	e.Turns.Add("s3", "t2", e.Clock.Now().Add(time.Hour))
	later := e.Clock.Now().Add(48 * time.Hour)
	unwired := manifest.New(e.Obj, &manifest.Options{Now: e.Clock.Now})
	if n, err := unwired.ForgetAgedUncommitted(e.Ctx, later); err != nil || n != 0 {
		t.Fatalf("unwired receipts forgot %d, %v", n, err)
	}
	e.forgetAged(later, 1)
}

// A process owner is dead only if a wired registry lacks it.
func testForgetAgedProcessOwner(t *testing.T, e *Env) {
	a, b := ID("a"), ID("b")
	e.Procs.Set("p1", true)
	e.Intent("s1", a, manifest.ProcessOwner("p1"))
	e.Intent("s1", b, manifest.ProcessOwner("p2")) // not in the registry
	far := e.Clock.Now().Add(time.Hour)
	unwired := manifest.New(e.Obj, &manifest.Options{Now: e.Clock.Now})
	if n, err := unwired.ForgetAgedUncommitted(e.Ctx, far); err != nil || n != 0 {
		t.Fatalf("no registry wired: forgot %d, %v", n, err)
	}
	e.forgetAged(far, 1)
	if !e.Holds("s1", a) || e.Holds("s1", b) {
		t.Fatal("wrong process intent forgotten")
	}
	e.Procs.Set("p1", false)
	e.forgetAged(far, 1)
}

// HasLiveRef is the negation of "every row is eligible", and read-only.
func testHasLiveRef(t *testing.T, e *Env) {
	a := ID("a")
	check := func(cutoff time.Time, want bool) {
		t.Helper()
		live, err := e.M.HasLiveRef(e.Ctx, a, cutoff)
		e.Must(err)
		if live != want {
			t.Fatalf("HasLiveRef(%v) = %v, want %v", cutoff, live, want)
		}
	}
	check(e.Clock.Now(), false)
	e.Intent("s1", a, none)
	t0 := e.Clock.Now()
	check(t0.Add(-time.Millisecond), true) // fresh
	check(t0, false)                       // aged and ownerless
	e.Clock.Advance(time.Second)
	e.Intent("s2", a, manifest.ProcessOwner("p1"))
	e.Procs.Set("p1", true)
	check(e.Clock.Now(), true)
	e.Procs.Set("p1", false)
	check(e.Clock.Now(), false)
	e.Must(e.M.CommitRefs(e.Ctx, "s1", []string{a}))
	check(e.Clock.Now().Add(time.Hour), true) // committed
	if !e.Holds("s2", a) {
		t.Fatal("HasLiveRef deleted a row")
	}
}

// A dead-looking intent that a published head names (its FinishCommit was
// skipped) is stamped from the head, not forgotten.
func testForgetAgedRepairsFromHeads(t *testing.T, e *Env) {
	a, b := ID("a"), ID("b")
	e.WithData("s1", a, none, "a")
	e.Intent("s1", b, none)
	at := e.Clock.Now()
	e.Heads.Add("s1", a, at)
	cutoff := e.Clock.Advance(time.Hour)
	if live, err := e.M.HasLiveRef(e.Ctx, a, cutoff); err != nil || !live {
		t.Fatalf("HasLiveRef of a head-named row = %v, %v", live, err)
	}
	e.forgetAged(cutoff, 1) // b only
	if row := e.Row("s1", a); !row.CommittedAt.Equal(at) {
		t.Fatalf("row not stamped from the head: %+v", row)
	}
	if e.Holds("s1", b) {
		t.Fatal("an intent no head names survived")
	}
}

// DeadRows lists one session's eligible rows; ForgetRow deletes a row only
// while it is the write that was judged.
func testDeadRowsAndForgetRow(t *testing.T, e *Env) {
	a, b, c := ID("a"), ID("b"), ID("c")
	e.Intent("s1", a, none)
	e.Intent("s1", b, none)
	e.Intent("s1", c, manifest.TurnOwner("t1"))
	e.Intent("s2", a, none)
	cutoff := e.Clock.Advance(time.Minute)
	dead, err := e.M.DeadRows(e.Ctx, "s1", cutoff)
	e.Must(err)
	if len(dead) != 2 || dead[0].AttachmentID != min(a, b) || dead[1].AttachmentID != max(a, b) {
		t.Fatalf("DeadRows = %+v", dead)
	}
	var revA, revB string
	for _, r := range dead {
		if r.AttachmentID == a {
			revA = r.Rev
		} else {
			revB = r.Rev
		}
	}
	e.Intent("s1", b, none) // refreshed after the judgement
	if ok, err := e.M.ForgetRow(e.Ctx, "s1", b, revB); err != nil || ok || !e.Holds("s1", b) {
		t.Fatalf("ForgetRow of a refreshed row = %v, %v", ok, err)
	}
	if ok, err := e.M.ForgetRow(e.Ctx, "s1", a, revA); err != nil || !ok || e.Holds("s1", a) || !e.Holds("s2", a) {
		t.Fatalf("ForgetRow of the judged row = %v, %v", ok, err)
	}
	if ok, err := e.M.ForgetRow(e.Ctx, "s1", a, revA); err != nil || ok {
		t.Fatalf("ForgetRow again = %v, %v", ok, err)
	}
}

// Extreme cutoffs neither fail nor invert the comparisons.
func testClampedCutoffs(t *testing.T, e *Env) {
	a := ID("a")
	e.Intent("s1", a, none)
	huge := time.Unix(1<<62, 0)
	tiny := time.Unix(-1<<62, 0)
	if list, err := e.M.ListUncommitted(e.Ctx, tiny); err != nil || len(list) != 0 {
		t.Fatalf("ListUncommitted(min) = %v, %v", list, err)
	}
	if list, err := e.M.ListUncommitted(e.Ctx, huge); err != nil || len(list) != 1 {
		t.Fatalf("ListUncommitted(max) = %v, %v", list, err)
	}
	if live, err := e.M.HasLiveRef(e.Ctx, a, tiny); err != nil || !live {
		t.Fatalf("HasLiveRef(min) = %v, %v", live, err)
	}
	e.forgetAged(tiny, 0)
	e.forgetAged(huge, 1)
	e.Must(e.M.RecordIntent(e.Ctx, manifest.Intent{AttachmentID: a, SessionID: "s1", IntentAt: huge}))
	e.Must(e.M.FinishCommit(e.Ctx, "s1", []string{a}, huge))
	if row := e.Row("s1", a); row.IntentAt.Year() != 9999 || row.CommittedAt.Year() != 9999 {
		t.Fatalf("unclamped stamps: %+v", row)
	}
	if c := manifest.Cutoff(time.Unix(0, 0), 1<<63-1); !c.Equal(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("Cutoff underflow = %v", c)
	}
	if c := manifest.Cutoff(e.Clock.Now(), -time.Hour); !c.Equal(e.Clock.Now()) {
		t.Fatalf("negative grace = %v", c)
	}
}

// Upload intents root their data until a writer ends them, or until they
// are aged and aborted or owner-dead.
func testUploadIntents(t *testing.T, e *Env) {
	live, err := e.M.BeginUpload(e.Ctx, "s1", manifest.ProcessOwner("p1"), "")
	e.Must(err)
	e.Procs.Set("p1", true)
	crashed, err := e.M.BeginUpload(e.Ctx, "s1", none, "")
	e.Must(err)
	aborted, err := e.M.BeginUpload(e.Ctx, "s2", manifest.TurnOwner("t1"), ID("x"))
	e.Must(err)
	e.Must(e.M.AbandonUpload(e.Ctx, aborted))
	ended, err := e.M.BeginUpload(e.Ctx, "s2", none, "")
	e.Must(err)
	e.M.EndUpload(e.Ctx, ended)
	_, err = e.Obj.Put(e.Ctx, crashed.DataKey, []byte("partial"), nil)
	e.Must(err)
	d := e.WithData("s3", ID("y"), none, "y")
	e.Must(e.M.CommitRefs(e.Ctx, "s3", []string{ID("y")}))

	if got, want := roots(t, e), sorted(live.DataKey, crashed.DataKey, aborted.DataKey, d.Key); !equal(got, want) {
		t.Fatalf("roots = %v, want %v", got, want)
	}
	e.forgetAged(live.IntentAt.Add(-time.Millisecond), 0)
	e.forgetAged(e.Clock.Now(), 2) // crashed (ownerless) and aborted
	if got, want := roots(t, e), sorted(live.DataKey, d.Key); !equal(got, want) {
		t.Fatalf("roots after forget = %v, want %v", got, want)
	}
	if err := e.M.AbandonUpload(e.Ctx, crashed); err != nil {
		t.Fatalf("abandoning a forgotten intent: %v", err)
	}
	if n := countKeys(t, e, manifest.UploadKey(crashed.ID)); n != 0 {
		t.Fatal("abandon recreated a forgotten intent")
	}
}

func roots(t *testing.T, e *Env) []string {
	t.Helper()
	var out []string
	e.Must(e.M.WalkRoots(e.Ctx, func(r manifest.Root) error {
		out = append(out, r.DataKey)
		return nil
	}))
	return sorted(out...)
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ForgetAgedUploads forgets dead upload intents alone: rows, dead or not,
// stay (a sweeper forgets those through the session head). SessionIDs lists
// every session that may hold rows, in order, once.
func testForgetAgedUploadsAndSessionIDs(t *testing.T, e *Env) {
	crashed, err := e.M.BeginUpload(e.Ctx, "s2", none, "")
	e.Must(err)
	live, err := e.M.BeginUpload(e.Ctx, "s1", manifest.ProcessOwner("p1"), "")
	e.Must(err)
	e.Procs.Set("p1", true)
	e.Intent("s1", ID("a"), none)
	e.Intent("s1-x", ID("b"), none)
	e.Intent("s0", ID("c"), none)
	now := e.Clock.Advance(time.Minute)
	n, err := e.M.ForgetAgedUploads(e.Ctx, now)
	if err != nil || n != 1 {
		t.Fatalf("ForgetAgedUploads = %d, %v (want the crashed intent)", n, err)
	}
	if countKeys(t, e, manifest.UploadKey(crashed.ID)) != 0 || countKeys(t, e, manifest.UploadKey(live.ID)) != 1 {
		t.Fatal("ForgetAgedUploads forgot the wrong intents")
	}
	for _, k := range [][2]string{{"s1", ID("a")}, {"s1-x", ID("b")}, {"s0", ID("c")}} {
		if !e.Holds(k[0], k[1]) {
			t.Fatalf("ForgetAgedUploads forgot the dead row of %s", k[0])
		}
	}
	var sids []string
	for sid, err := range e.M.SessionIDs(e.Ctx) {
		e.Must(err)
		sids = append(sids, sid)
	}
	// Ascending by "<sid>/": "s1-x/" sorts before "s1/".
	if want := []string{"s0", "s1-x", "s1"}; !equal(sids, want) {
		t.Fatalf("SessionIDs = %v, want %v", sids, want)
	}
}
