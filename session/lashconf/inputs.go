package lashconf

import (
	"testing"
	"time"

	"github.com/stowage-dev/stowage/session"
)

// testInputSourceKeys: a source-key replay returns the original input; a
// changed payload conflicts and names the existing input; the list is per
// session in enqueue order; cancel, then cancel again, reports cancelled
// then already cancelled; a replay after cancellation returns the
// cancelled tombstone and admits nothing. Vacuum removes the two
// tombstones (and no node), after which a cancel finds nothing; the other
// session's input is untouched.
func testInputSourceKeys(t *testing.T, e *env) {
	s := e.sess("root")
	first := e.input(s, "root", "first", "source:first", "")
	replay := e.input(s, "root", "first", "source:first", "")
	_, err := s.EnqueuePendingTurnInput(e.ctx, session.PendingTurnInputDraft{SessionID: "root", SourceKey: "source:first",
		Payload: text2json("different replay payload")})
	var sk *session.SourceKeyConflictError
	if !asErr(err, &sk) || sk.SourceKey != "source:first" || sk.ExistingInputID != first.InputID {
		t.Fatalf("changed payload: %v", err)
	}
	second := e.input(s, "root", "second", "", "")
	e.input(e.sess("other"), "other", "other session", "", "")
	if replay.InputID != first.InputID || jsonText(replay.Payload) != "first" {
		t.Fatalf("replay %+v", replay)
	}
	if got := e.pendingInputs(s); !equal(got, []string{first.InputID, second.InputID}) {
		t.Fatalf("pending %v", got)
	}
	if out, _ := s.CancelPendingTurnInput(e.ctx, second.InputID); out.Kind != session.Cancelled {
		t.Fatalf("cancel: %+v", out)
	}
	if out, _ := s.CancelPendingTurnInput(e.ctx, second.InputID); out.Kind != session.AlreadyCancelled {
		t.Fatalf("cancel replay: %+v", out)
	}
	if out, _ := s.CancelPendingTurnInput(e.ctx, first.InputID); out.Kind != session.Cancelled {
		t.Fatalf("cancel first: %+v", out)
	}
	terminal := e.input(s, "root", "first", "source:first", "")
	if terminal.InputID != first.InputID || terminal.State != session.InputCancelled || len(e.pendingInputs(s)) != 0 {
		t.Fatalf("replay after cancel: %+v, pending %v", terminal, e.pendingInputs(s))
	}
	v, err := s.Vacuum(e.ctx)
	if err != nil || v.RemovedNodes != 0 || v.RemovedTurnInputTombstones != 2 {
		t.Fatalf("vacuum: %+v, %v", v, err)
	}
	if out, _ := s.CancelPendingTurnInput(e.ctx, second.InputID); out.Kind != session.NotFound {
		t.Fatalf("cancel of a vacuumed tombstone: %+v", out)
	}
	if got := e.pendingInputs(e.sess("other")); len(got) != 1 {
		t.Fatalf("other session %v", got)
	}
}

// testInputBulkSuffix: bulk cancel reports per target (a repeated target
// is already cancelled, a missing key not found); suffix cancel from an
// anchor covers it and every later input, reporting a live claim's input
// as claimed; an unknown anchor is reported and changes nothing.
func testInputBulkSuffix(t *testing.T, e *env) {
	s := e.sess("root")
	first := e.input(s, "root", "bulk first", "bulk:first", "")
	e.input(s, "root", "bulk second", "bulk:second", "")
	third := e.input(s, "root", "bulk third", "", "")
	res, err := s.CancelPendingTurnInputs(e.ctx, []session.CancelTarget{{SourceKey: "bulk:first"}, {SourceKey: "bulk:missing"},
		{SourceKey: "bulk:first"}, {SourceKey: "bulk:second"}})
	e.must(err)
	kinds := []session.CancelOutcomeKind{}
	for _, r := range res {
		kinds = append(kinds, r.Outcome.Kind)
	}
	want := []session.CancelOutcomeKind{session.Cancelled, session.NotFound, session.AlreadyCancelled, session.Cancelled}
	if len(kinds) != 4 || kinds[0] != want[0] || kinds[1] != want[1] || kinds[2] != want[2] || kinds[3] != want[3] {
		t.Fatalf("bulk outcomes %v, want %v", kinds, want)
	}
	if res[0].Outcome.Input.InputID != first.InputID {
		t.Fatal("bulk cancel named another input")
	}
	if got := e.pendingInputs(s); !equal(got, []string{third.InputID}) {
		t.Fatalf("pending after bulk cancel %v", got)
	}
	anchor := e.input(s, "root", "suffix anchor", "suffix:anchor", "")
	claimed := e.input(s, "root", "suffix accepted active", "suffix:claimed", "suffix-active-turn")
	later := e.input(s, "root", "suffix later", "suffix:later", "")
	if out, _ := s.CancelPendingTurnInput(e.ctx, third.InputID); out.Kind != session.Cancelled {
		t.Fatalf("cancel third: %+v", out)
	}
	// A live claim holds the anchor and the active input.
	f := e.lease(s, "suffix-cancel-owner", time.Hour).Fence()
	c, err := s.ClaimTurnInputs(e.ctx, f, "suffix-active-turn", 2)
	e.must(err)
	if c == nil || !equal(inputIDs(c.Inputs), []string{anchor.InputID, claimed.InputID}) {
		t.Fatalf("claim of anchor and active input: %+v", c)
	}
	sfx, err := s.CancelPendingTurnInputSuffix(e.ctx, session.CancelTarget{SourceKey: "suffix:anchor"})
	e.must(err)
	if !sfx.AnchorFound || len(sfx.Outcomes) != 3 || sfx.Outcomes[0].Kind != session.AlreadyClaimed ||
		sfx.Outcomes[1].Kind != session.AlreadyClaimed || sfx.Outcomes[1].Input.InputID != claimed.InputID ||
		sfx.Outcomes[2].Kind != session.Cancelled || sfx.Outcomes[2].Input.InputID != later.InputID {
		t.Fatalf("suffix outcomes %+v", sfx)
	}
	missing, err := s.CancelPendingTurnInputSuffix(e.ctx, session.CancelTarget{SourceKey: "suffix:missing"})
	if err != nil || missing.AnchorFound {
		t.Fatalf("missing anchor: %+v, %v", missing, err)
	}
}

// testInputClaims: a live claim's input is not cancellable (reported
// claimed) and hidden from the list; an abandoned claim is reclaimed with
// new tokens; a stale completion fails and leaves the live claim; the
// valid one completes; cancel then reports completed and a source-key
// replay returns the completed input.
func testInputClaims(t *testing.T, e *env) {
	s := e.sess("root")
	first := e.input(s, "root", "first next", "next:first", "")
	second := e.input(s, "root", "second next", "", "")
	f := e.lease(s, "turn-input-owner", time.Hour).Fence()
	c, err := s.ClaimTurnInputs(e.ctx, f, "turn-1", 10)
	if err != nil || c == nil || !equal(inputIDs(c.Inputs), []string{first.InputID, second.InputID}) {
		t.Fatalf("claim %+v, %v", c, err)
	}
	if out, _ := s.CancelPendingTurnInput(e.ctx, first.InputID); out.Kind != session.AlreadyClaimed {
		t.Fatalf("cancel of a live claim's input: %+v", out)
	}
	if got := e.pendingInputs(s); len(got) != 0 {
		t.Fatalf("live claimed inputs listed: %v", got)
	}
	e.must(s.AbandonTurnInputClaim(e.ctx, *c))
	if got := e.pendingInputs(s); len(got) != 2 {
		t.Fatalf("after abandon %v", got)
	}
	c2, err := s.ClaimTurnInputs(e.ctx, f, "turn-1", 10)
	if err != nil || c2 == nil || c2.LeaseToken == c.LeaseToken {
		t.Fatalf("reclaim %+v, %v", c2, err)
	}
	cm := emptyCommit("root", 0)
	cm.SessionExecutionLease = &f
	cm.CompletedTurnInputClaims = []session.TurnInputCompletion{c.Completion()}
	if _, err := s.CommitRuntimeState(e.ctx, cm); !isErr(err, session.ErrTurnInputClaimSuperseded) {
		t.Fatalf("stale completion: %v", err)
	}
	cm.CompletedTurnInputClaims = []session.TurnInputCompletion{c2.Completion()}
	res := e.commit(s, cm)
	if len(res.TurnInputApplications) != 2 || len(e.pendingInputs(s)) != 0 {
		t.Fatalf("completion: %+v", res)
	}
	if out, _ := s.CancelPendingTurnInput(e.ctx, first.InputID); out.Kind != session.AlreadyCompleted {
		t.Fatalf("cancel after completion: %+v", out)
	}
	replay := e.input(s, "root", "first next", "next:first", "")
	if replay.InputID != first.InputID || replay.State != session.InputCompleted {
		t.Fatalf("replay after completion: %+v", replay)
	}
	if c3, _ := s.ClaimTurnInputs(e.ctx, f, "turn-2", 10); c3 != nil {
		t.Fatalf("the replay was claimable: %+v", c3)
	}
}

// testApplications: each turn commit's applications are its result and
// ListTurnInputApplications lists them in commit order (not turn-id order);
// an exact replay returns its applications without counting them twice;
// a vacuum of the inputs' tombstones leaves the applications as they were.
func testApplications(t *testing.T, e *env) {
	const sid = "turn-input-application"
	s := e.sess(sid)
	f := e.lease(s, "owner", time.Hour).Fence()
	var want []string
	var last session.RuntimeCommit
	var lastApps []session.TurnInputApplication
	for i, turn := range []string{"z-first-application-turn", "a-second-application-turn"} {
		a := e.input(s, sid, "canonical application a", "host:application-source-"+turn+"-0", "")
		b := e.input(s, sid, "canonical application b", "host:application-source-"+turn+"-1", "")
		c, err := s.ClaimTurnInputs(e.ctx, f, turn, 10)
		e.must(err)
		cm := emptyCommit(sid, uint64(i))
		cm.SessionExecutionLease = &f
		cm.TurnCommit = stamp(sid, turn, "hash-"+turn)
		cm.CompletedTurnInputClaims = []session.TurnInputCompletion{c.Completion()}
		res := e.commit(s, cm)
		if len(res.TurnInputApplications) != 2 || res.TurnInputApplications[0].TurnID != turn {
			t.Fatalf("applications of %s: %+v", turn, res.TurnInputApplications)
		}
		want = append(want, a.InputID, b.InputID)
		last, lastApps = cm, res.TurnInputApplications
	}
	replay := e.commit(e.sess(sid), last)
	if len(replay.TurnInputApplications) != 2 || replay.TurnInputApplications[0].InputID != lastApps[0].InputID {
		t.Fatalf("replay applications %+v", replay.TurnInputApplications)
	}
	apps, err := e.sess(sid).ListTurnInputApplications(e.ctx)
	e.must(err)
	var got []string
	for _, a := range apps {
		got = append(got, a.InputID)
	}
	if !equal(got, want) {
		t.Fatalf("applications %v, want %v", got, want)
	}
	if v, err := s.Vacuum(e.ctx); err != nil || v.RemovedTurnInputTombstones != 4 {
		t.Fatalf("vacuum: %+v, %v", v, err)
	}
	after, err := e.sess(sid).ListTurnInputApplications(e.ctx)
	e.must(err)
	if len(after) != len(apps) {
		t.Fatalf("applications after vacuum %+v, want %+v", after, apps)
	}
	for i := range apps {
		if after[i].InputID != apps[i].InputID || after[i].TurnID != apps[i].TurnID || after[i].ClaimID != apps[i].ClaimID {
			t.Fatalf("applications after vacuum %+v, want %+v", after, apps)
		}
	}
}

// testInputSupersede: as for queued work, a new lease generation reclaims
// a live claim's inputs and supersedes the old completion.
func testInputSupersede(t *testing.T, e *env) {
	s := e.sess("root")
	in := e.input(s, "root", "generation input", "", "")
	la := e.lease(s, "gen-a", time.Minute)
	ca, err := s.ClaimTurnInputs(e.ctx, la.Fence(), "turn-1", 1)
	if err != nil || ca == nil || ca.SessionLeaseGeneration != la.FencingToken {
		t.Fatalf("claim %+v, %v", ca, err)
	}
	if again, _ := s.ClaimTurnInputs(e.ctx, la.Fence(), "turn-1", 1); again != nil {
		t.Fatal("re-claimed under its own generation")
	}
	e.must(s.ReleaseSessionExecutionLease(e.ctx, la.Fence()))
	lb := e.lease(s, "gen-b", time.Minute)
	cb, err := s.ClaimTurnInputs(e.ctx, lb.Fence(), "turn-2", 1)
	if err != nil || cb == nil || cb.Inputs[0].InputID != in.InputID || cb.SessionLeaseGeneration <= ca.SessionLeaseGeneration {
		t.Fatalf("reclaim %+v, %v", cb, err)
	}
	c := emptyCommit("root", 0)
	c.CompletedTurnInputClaims = []session.TurnInputCompletion{ca.Completion()}
	if _, err := s.CommitRuntimeState(e.ctx, c); !isErr(err, session.ErrTurnInputClaimSuperseded) {
		t.Fatalf("superseded completion: %v", err)
	}
	c.CompletedTurnInputClaims = []session.TurnInputCompletion{cb.Completion()}
	e.commit(s, c)
}

// testInputCancelStates: active and next-turn inputs cancelled before an
// interrupt are not resurrected by its deferral; the deferred one is for
// the next turn, and once cancelled is not claimable.
func testInputCancelStates(t *testing.T, e *env) {
	const turn = "cancel-active-turn"
	s := e.sess("root")
	keep := e.input(s, "root", "active that defers", "", turn)
	activeCancel := e.input(s, "root", "active cancelled before interrupt", "", turn)
	nextCancel := e.input(s, "root", "next cancelled before claim", "", "")
	for _, in := range []session.PendingTurnInput{activeCancel, nextCancel} {
		if out, _ := s.CancelPendingTurnInput(e.ctx, in.InputID); out.Kind != session.Cancelled {
			t.Fatalf("cancel %s: %+v", in.InputID, out)
		}
	}
	f := e.lease(s, "cancel-input-owner", time.Hour).Fence()
	c := emptyCommit("root", 0)
	c.SessionExecutionLease = &f
	c.InterruptedTurnInputTurnID = turn
	e.commit(s, c)
	ins, err := s.ListPendingTurnInputs(e.ctx)
	e.must(err)
	if len(ins) != 1 || ins[0].InputID != keep.InputID || ins[0].ActiveTurnID != "" || ins[0].State != session.InputDeferredNextTurn {
		t.Fatalf("after interrupt %+v", ins)
	}
	if out, _ := s.CancelPendingTurnInput(e.ctx, keep.InputID); out.Kind != session.Cancelled {
		t.Fatalf("cancel deferred: %+v", out)
	}
	if cl, _ := s.ClaimTurnInputs(e.ctx, f, "next-turn", 10); cl != nil {
		t.Fatalf("a cancelled deferred input was claimable: %+v", cl)
	}
}

// testInputDefer: an interrupt defers the turn's unclaimed active inputs
// once (to the next turn); inputs of other turns and inputs the turn
// claimed and completed are untouched; a second interrupt changes nothing.
func testInputDefer(t *testing.T, e *env) {
	const turn = "active-turn-1"
	s := e.sess("root")
	accepted := e.input(s, "root", "accepted active", "active:accepted", turn)
	f := e.lease(s, "active-input-owner", time.Hour).Fence()
	c, err := s.ClaimTurnInputs(e.ctx, f, turn, 1)
	if err != nil || c == nil || c.Inputs[0].InputID != accepted.InputID {
		t.Fatalf("claim %+v, %v", c, err)
	}
	unaccepted := e.input(s, "root", "unaccepted active", "", turn)
	other := e.input(s, "root", "other active", "", "other-turn")
	cm := emptyCommit("root", 0)
	cm.SessionExecutionLease = &f
	cm.CompletedTurnInputClaims = []session.TurnInputCompletion{c.Completion()}
	cm.InterruptedTurnInputTurnID = turn
	e.commit(s, cm)
	ins, err := s.ListPendingTurnInputs(e.ctx)
	e.must(err)
	states := map[string]session.PendingTurnInput{}
	for _, in := range ins {
		states[in.InputID] = in
	}
	if len(ins) != 2 || states[unaccepted.InputID].State != session.InputDeferredNextTurn || states[unaccepted.InputID].ActiveTurnID != "" ||
		states[other.InputID].State != session.InputPendingActive || states[other.InputID].ActiveTurnID != "other-turn" {
		t.Fatalf("after interrupt %+v", ins)
	}
	cm2 := emptyCommit("root", 1)
	cm2.InterruptedTurnInputTurnID = turn
	e.commit(s, cm2)
	again, _ := s.ListPendingTurnInputs(e.ctx)
	if len(again) != 2 || again[0].State != ins[0].State || again[1].State != ins[1].State {
		t.Fatalf("a second interrupt changed %+v", again)
	}
	// A replay of the deferred input's draft is the same input.
	if r := e.input(s, "root", "unaccepted active", "", turn); r.InputID == unaccepted.InputID {
		t.Fatal("an unkeyed draft deduplicated")
	}
}

// testCompletedReplay: a completed input's source key replays as the
// completed input (a tombstone), admitting nothing claimable.
func testCompletedReplay(t *testing.T, e *env) {
	s := e.sess("tomb")
	in := e.input(s, "tomb", "once", "once-key", "")
	f := e.lease(s, "owner", time.Hour).Fence()
	c, err := s.ClaimTurnInputs(e.ctx, f, "turn-1", 10)
	e.must(err)
	cm := emptyCommit("tomb", 0)
	cm.CompletedTurnInputClaims = []session.TurnInputCompletion{c.Completion()}
	e.commit(s, cm)
	r := e.input(e.sess("tomb"), "tomb", "once", "once-key", "")
	if r.InputID != in.InputID || r.State != session.InputCompleted {
		t.Fatalf("replay %+v", r)
	}
	if c2, _ := s.ClaimTurnInputs(e.ctx, f, "turn-2", 10); c2 != nil {
		t.Fatalf("duplicate delivery: %+v", c2)
	}
}
