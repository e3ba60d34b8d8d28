package gc

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/internal/gatestore"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

// Sweeps against heads written by package session (the default Heads and
// HeadRefs), rather than the simulation's heads.

// session opens a handle on sid over objs (e.store if nil) with the real
// manifest, or hook, as its commit hook.
func (e *env) session(sid string, objs objstore.Store, hook manifest.CommitHook) *session.Store {
	e.t.Helper()
	if objs == nil {
		objs = e.store
	}
	if hook == nil {
		hook = e.m
	}
	s, err := session.New(session.Config{Store: objs, SessionID: sid, Manifest: e.m, Hook: hook,
		Now: e.clock, Tuning: session.Tuning{FlushDeltas: 2}})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// commit commits one node on top of revision rev of sid, with a checkpoint
// blob too large to live in the head and the given attachments.
func (e *env) commit(s *session.Store, rev uint64, atts ...string) error {
	_, err := e.commitResult(s, rev, atts...)
	return err
}

// commitResult is commit returning the commit's result.
func (e *env) commitResult(s *session.Store, rev uint64, atts ...string) (*session.CommitResult, error) {
	parent := ""
	if rev > 0 {
		parent = fmt.Sprint("n", rev-1)
	}
	state := make([]byte, 4096)
	copy(state, fmt.Sprint("state of revision ", rev+1))
	return s.CommitRuntimeState(e.ctx, session.RuntimeCommit{
		SessionID: s.SessionID(), ExpectedHeadRevision: &rev,
		Graph: session.GraphDelta{Kind: session.DeltaAppend, Leaf: fmt.Sprint("n", rev),
			Nodes: []session.NodeRecord{{NodeID: fmt.Sprint("n", rev), ParentNodeID: parent,
				Timestamp: "2026-01-01T00:00:00Z", Kind: session.PayloadEvent, Event: []byte(`{}`)}}},
		Checkpoint:             &session.HydratedCheckpoint{ExecutionState: state},
		CommittedAttachmentIDs: atts,
	})
}

// named fails unless every object sid's head names exists and the session
// loads at revision want.
func (e *env) named(sid string, want uint64) *session.HeadInfo {
	e.t.Helper()
	h, err := session.ReadHead(e.ctx, e.store, sid)
	if err != nil || h == nil {
		e.t.Fatalf("head of %s: %v, %v", sid, h, err)
	}
	for _, k := range h.Keys {
		if !e.exists(k) {
			e.t.Fatalf("head of %s names %s, which is gone", sid, k)
		}
	}
	r, err := e.session(sid, nil, nil).LoadSession(e.ctx, session.FullGraph())
	if err != nil || r == nil || r.HeadRevision != want {
		e.t.Fatalf("load %s: %+v, %v (want revision %d)", sid, r, err, want)
	}
	return h
}

// row records an ownerless row of sid naming fresh data holding body and
// returns its id.
func (e *env) row(sid, body string) string {
	e.t.Helper()
	in := manifest.Intent{AttachmentID: digest([]byte(body)), SessionID: sid}
	key := e.orphan()
	if _, err := e.store.Put(e.ctx, key, []byte(body), nil); err != nil {
		e.t.Fatal(err)
	}
	n := int64(len(body))
	if _, err := e.m.RecordRef(e.ctx, in, manifest.Info{}, func(*manifest.Row) (manifest.Data, error) {
		return manifest.Data{Key: key, Size: n, StoredSize: n}, nil
	}); err != nil {
		e.t.Fatal(err)
	}
	return in.AttachmentID
}

func TestSweepSessionObjectsThroughRealHeads(t *testing.T) {
	e := newEnv(t)
	e.attach("s0", []byte("kept"))
	s := e.session("real", nil, nil)
	for rev := range uint64(5) {
		if err := e.commit(s, rev); err != nil {
			t.Fatal(err)
		}
	}
	stray := session.SessionPrefix("real") + "blob/01KBZABANDNED0000000000000"
	headless := session.SessionPrefix("headless") + "seg/01KBZABANDNED0000000000001"
	for _, k := range []string{stray, headless} {
		if _, err := e.store.Put(e.ctx, k, []byte("x"), nil); err != nil {
			t.Fatal(err)
		}
	}
	before := e.named("real", 5)
	e.advance(2 * time.Hour)

	// A session layer without a fence: nothing is deleted by age alone.
	sw := e.sweeper()
	sw.Heads = SessionHeads{SweepFunc: func(context.Context, objstore.Store, string, string) (*session.HeadInfo, error) {
		return nil, ErrNoHeadFence
	}}
	rep, err := sw.Run(e.ctx)
	if err != nil || !e.exists(stray) || !e.exists(headless) || rep.Reclaimed[KindSessionObject] != 0 || rep.Deferred == 0 {
		t.Fatalf("without a fence: %v, report %+v", err, rep)
	}

	rep, err = e.sweeper().Run(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	// What the last commit superseded went too (the writer deletes what
	// its commits supersede with its next head write: the earlier ones are
	// gone already).
	if e.exists(stray) || e.exists(headless) || rep.Reclaimed[KindSessionObject] < 3 {
		t.Fatalf("with the default fence: stray %v, headless %v, report %+v", e.exists(stray), e.exists(headless), rep)
	}
	after := e.named("real", 5)
	if after.SweepGen != 1 || after.Gen != before.Gen+1 {
		t.Fatalf("fenced head: %v (before %v)", after, before)
	}
	ph, err := session.ReadHead(e.ctx, e.store, "headless")
	if err != nil || ph == nil || !ph.Placeholder || ph.SweepGen != 1 {
		t.Fatalf("headless session: %v, %v (want a placeholder)", ph, err)
	}
	// The session goes on; a commit on the placeholder is a first commit.
	if err := e.commit(s, 5); err != nil {
		t.Fatal(err)
	}
	if err := e.commit(e.session("headless", nil, nil), 0); err != nil {
		t.Fatal(err)
	}
	e.named("headless", 1)
}

// skipFinish is a commit hook whose FinishCommit never runs (a crash
// between the head PUT and the stamp).
type skipFinish struct{ *manifest.Store }

func (skipFinish) FinishCommit(context.Context, string, []string, time.Time) error { return nil }

func TestSweepForgetsDeadRowsThroughRealHeads(t *testing.T) {
	e := newEnv(t)
	e.attach("s0", []byte("kept"))
	landed, dead := e.row("s1", "landed"), e.row("s1", "dead")
	ghost := e.row("ghost", "ghost") // a session with a row and no head
	s := e.session("s1", nil, skipFinish{e.m})
	for rev := range uint64(6) {
		var atts []string
		if rev == 0 {
			atts = []string{landed}
		}
		if err := e.commit(s, rev, atts...); err != nil {
			t.Fatal(err)
		}
	}
	if h, _ := session.ReadHead(e.ctx, e.store, "s1"); len(h.CommittedAttachmentIDs) != 0 {
		t.Fatalf("the landed id is still in the tail: %v", h.CommittedAttachmentIDs)
	}
	e.advance(2 * time.Hour)
	sw := e.sweeper()
	sw.ForgetDeadIntents = true
	rep, err := sw.Run(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok, err := e.m.Row(e.ctx, "s1", landed); err != nil || !ok || !r.Committed() {
		t.Fatalf("the landed commit's row: %+v, %v, %v (want repaired from a segment)", r, ok, err)
	}
	for sid, id := range map[string]string{"s1": dead, "ghost": ghost} {
		if _, ok, err := e.m.Row(e.ctx, sid, id); err != nil || ok {
			t.Fatalf("the dead row of %s: live %v, %v (want forgotten)", sid, ok, err)
		}
	}
	if h, err := session.ReadHead(e.ctx, e.store, "ghost"); err != nil || h == nil || !h.Placeholder {
		t.Fatalf("the row-only session: %v, %v (want fenced by a placeholder)", h, err)
	}
	if rep.Reclaimed[KindRefRow] != 2 {
		t.Fatalf("report: %+v", rep)
	}
	e.named("s1", 6)
}

// brokenFence fences nothing but reports success: a sweeper that trusts the
// grace period alone.
type brokenFence struct{ SessionHeads }

func (brokenFence) Sweep(_ context.Context, _ objstore.Store, sid, etag string) (*session.HeadInfo, error) {
	return &session.HeadInfo{SessionID: sid, ETag: etag}, nil
}

// TestStalledPreparedCommitVsDeadRowSweep: a commit prepares its
// attachment, then stalls before its head PUT for longer than the grace
// period; a sweep judges the row dead and forgets it. Through the head fence
// the commit's PUT fails and its second prepare finds the row gone: the
// commit goes through without it and reports it unbacked, and the head names
// no ref that protects nothing. With a broken fence it publishes a head
// naming an attachment with no row, which shows the test can fail.
func TestStalledPreparedCommitVsDeadRowSweep(t *testing.T) {
	for _, broken := range []bool{false, true} {
		t.Run(fmt.Sprintf("broken=%v", broken), func(t *testing.T) {
			e := newEnv(t)
			e.attach("s0", []byte("kept"))
			if err := e.commit(e.session("s1", nil, nil), 0); err != nil {
				t.Fatal(err)
			}
			late := e.row("s1", "late")
			gate := gatestore.New(e.store, session.HeadKey("s1"), gatestore.Before)
			done := make(chan error, 1)
			var res *session.CommitResult
			go func() {
				var err error
				res, err = e.commitResult(e.session("s1", gate, nil), 1, late)
				done <- err
			}()
			select {
			case <-gate.Reached():
			case err := <-done:
				t.Fatalf("the commit ended before its head PUT: %v", err)
			}
			e.advance(2 * time.Hour) // the prepared stamp ages
			sw := e.sweeper()
			sw.ForgetDeadIntents = true
			if broken {
				// The published head names the checkpoint blob the sweep
				// deleted: the closing fsck sees the violation too.
				e.fsck.Expect("named", "but missing")
				e.fsck.Expect("named", "session does not load")
				sw.Heads = brokenFence{}
				sw.HeadRefs = session.HeadRefs{Store: e.store}
			}
			if _, err := sw.Run(e.ctx); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := e.m.Row(e.ctx, "s1", late); err != nil || ok {
				t.Fatalf("the stalled commit's row: live %v, %v (want forgotten)", ok, err)
			}
			gate.Release()
			err := <-done
			committed, _, cerr := session.HeadRefs{Store: e.store}.Committed(e.ctx, "s1", late)
			if cerr != nil {
				t.Fatal(cerr)
			}
			if broken {
				if err != nil || !committed {
					t.Fatalf("broken fence: commit %v, committed %v (the test expects the violation)", err, committed)
				}
				return
			}
			if err != nil || committed || !slices.Equal(res.UnbackedAttachmentIDs, []string{late}) {
				t.Fatalf("the stalled commit: %v, result %+v, committed %v (want it published with %s unbacked)", err, res, committed, late)
			}
			e.named("s1", 2)
		})
	}
}
