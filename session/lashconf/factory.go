package lashconf

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

func rootMeta(sid, name string) session.SessionMeta {
	return session.SessionMeta{SessionID: sid, SessionName: name, CreatedAt: "2026-06-02T00:00:00Z", Model: "model",
		Cwd: "/tmp/lash-reopen", Relation: session.SessionRelation{Kind: session.RelationRoot}}
}

// testSurvivesReopen: meta, the graph, turn-input applications, queued
// work and attachment rows read back through a second store on the same
// bucket (a new process). On the memory store "reopen" is a new handle on
// the same memory.
func testSurvivesReopen(t *testing.T, e *env) {
	s := e.sess("root")
	meta := rootMeta("root", "Durable Root")
	e.must(s.SaveSessionMeta(e.ctx, meta))
	f := e.lease(s, "reopen-applications", time.Hour).Fence()
	var apps []string
	for i, turn := range []string{"z-reopen-application", "a-reopen-application"} {
		in := e.input(s, "root", "reopen application", "host:reopen-application-"+turn, "")
		c, err := s.ClaimTurnInputs(e.ctx, f, turn, 10)
		e.must(err)
		cm := appendCommit("root", uint64(i), map[bool]string{true: "", false: "n0"}[i == 0], "n"+string(rune('0'+i)))
		cm.SessionExecutionLease = &f
		cm.TurnCommit = stamp("root", turn, "hash")
		cm.CompletedTurnInputClaims = []session.TurnInputCompletion{c.Completion()}
		e.commit(s, cm)
		apps = append(apps, in.InputID)
	}
	queued := e.enqueue(s, "root", "survives reopen", "reopen:queued")
	att := e.put("root", "reopen-attachment", manifest.Owner{}).ID

	other := e.open(storeConfig())
	r, err := other.Session("root")
	e.must(err)
	m, err := r.LoadSessionMeta(e.ctx)
	if err != nil || m == nil || m.SessionName != meta.SessionName {
		t.Fatalf("meta %+v, %v", m, err)
	}
	read, err := r.LoadSession(e.ctx, session.FullGraph())
	if err != nil || read.SessionID != "root" || read.HeadRevision != 2 || len(read.Graph.Nodes) != 2 {
		t.Fatalf("read %+v, %v", read, err)
	}
	got, err := r.ListTurnInputApplications(e.ctx)
	e.must(err)
	if len(got) != 2 || got[0].InputID != apps[0] || got[1].InputID != apps[1] {
		t.Fatalf("applications %+v, want %v", got, apps)
	}
	q, err := r.ListQueuedWork(e.ctx)
	if err != nil || len(q) != 1 || q[0].BatchID != queued.BatchID || jsonText(q[0].Payload) != "survives reopen" {
		t.Fatalf("queue %+v, %v", q, err)
	}
	if ok, err := r.HoldsRef(e.ctx, "root", att); err != nil || !ok {
		t.Fatalf("attachment row lost: %v, %v", ok, err)
	}
}

// sweeper returns a sweeper over the suite's bucket with the given grace.
// Its clock is the later of the suite's clock and the wall clock: a real
// server stamps objects with its own time, which the suite's clock does
// not drive.
func (e *env) sweeper(grace time.Duration) *gc.Sweeper {
	return &gc.Sweeper{Store: e.objs, Manifest: e.st.Manifest(), Clock: e.sweepClock, Grace: grace,
		Holder: "lashconf", ForgetDeadIntents: true}
}

// sweepClock is the later of the suite's clock and the wall clock.
func (e *env) sweepClock() time.Time {
	now := time.Now()
	if c := e.clock.Now(); c.After(now) {
		now = c
	}
	return now
}

// testGCCheckpointBlobs: a checkpoint blob a later commit superseded is
// reclaimed by a sweep past the grace period; the live one is kept and the
// session loads.
func testGCCheckpointBlobs(t *testing.T, e *env) {
	s := e.sess("gc")
	big := func(tag string) []byte { return bytes.Repeat([]byte(tag), 4096) } // not inline
	c := emptyCommit("gc", 0)
	c.Checkpoint = &session.HydratedCheckpoint{ExecutionState: big("a")}
	e.commit(s, c)
	before, err := session.ReadHead(e.ctx, e.objs, "gc")
	e.must(err)
	c = emptyCommit("gc", 1)
	c.Checkpoint = &session.HydratedCheckpoint{ExecutionState: big("b")}
	e.commit(s, c)
	after, err := session.ReadHead(e.ctx, e.objs, "gc")
	e.must(err)
	e.clock.Advance(2 * time.Hour)
	rep, err := e.sweeper(-1).Run(e.ctx)
	e.must(err)
	if rep.Reclaimed[gc.KindSessionObject] < 1 {
		t.Fatalf("nothing reclaimed: %+v", rep)
	}
	for _, k := range before.Keys {
		if !contains(after.Keys, k) && e.exists(k) {
			t.Fatalf("superseded blob %s kept", k)
		}
	}
	for _, k := range after.Keys {
		if !e.exists(k) {
			t.Fatalf("live object %s reclaimed", k)
		}
	}
	r, err := e.sess("gc").LoadSession(e.ctx, session.FullGraph())
	if err != nil || string(r.Checkpoint.ExecutionState) != string(big("b")) {
		t.Fatalf("load after sweep: %v", err)
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func (e *env) exists(key string) bool {
	e.t.Helper()
	_, err := e.objs.Head(e.ctx, key)
	if err != nil && !isErr(err, objstore.ErrNotExist) {
		e.t.Fatal(err)
	}
	return err == nil
}

// testFactoryTier: the factory reports its durability tier.
func testFactoryTier(t *testing.T, e *env) {
	want := session.Inline
	if e.objs.Capabilities().Durable {
		want = session.Durable
	}
	if e.st.DurabilityTier() != want {
		t.Fatalf("tier %v, want %v", e.st.DurabilityTier(), want)
	}
}

// testFactoryOpenMissing: opening a session that was never created gives
// none.
func testFactoryOpenMissing(t *testing.T, e *env) {
	h, err := e.st.OpenExistingSession(e.ctx, "missing-session")
	if err != nil || h != nil {
		t.Fatalf("open missing: %v, %v", h, err)
	}
}

// testFactoryCreateSeeds: create seeds the meta; open-existing of the
// created session returns it with that meta.
func testFactoryCreateSeeds(t *testing.T, e *env) {
	meta := rootMeta("created", "Created")
	_, err := e.st.CreateSession(e.ctx, meta)
	e.must(err)
	h, err := e.open(storeConfig()).OpenExistingSession(e.ctx, "created")
	if err != nil || h == nil {
		t.Fatalf("open created: %v, %v", h, err)
	}
	m, err := h.LoadSessionMeta(e.ctx)
	if err != nil || m == nil || *m != meta {
		t.Fatalf("meta %+v, %v", m, err)
	}
}

// testFactoryCreateIdempotent: a second create keeps the existing meta.
func testFactoryCreateIdempotent(t *testing.T, e *env) {
	_, err := e.st.CreateSession(e.ctx, rootMeta("idem", "first"))
	e.must(err)
	h, err := e.st.CreateSession(e.ctx, rootMeta("idem", "second"))
	e.must(err)
	m, err := h.LoadSessionMeta(e.ctx)
	if err != nil || m.SessionName != "first" {
		t.Fatalf("meta after a second create %+v, %v", m, err)
	}
}

// testFactoryDelete: delete removes the session (open-existing gives none,
// its objects are gone) and is idempotent; a recreated session starts
// clean: fencing token 1, no inputs, no queued work.
func testFactoryDelete(t *testing.T, e *env) {
	h, err := e.st.CreateSession(e.ctx, rootMeta("del", "doomed"))
	e.must(err)
	e.input(h, "del", "left over", "", "")
	e.enqueue(h, "del", "left over", "")
	c := emptyCommit("del", 0)
	c.Checkpoint = &session.HydratedCheckpoint{ExecutionState: bytes.Repeat([]byte("x"), 8192)}
	e.commit(h, c)
	e.lease(h, "owner", time.Minute)
	info, err := session.ReadHead(e.ctx, e.objs, "del")
	e.must(err)
	e.must(e.st.DeleteSession(e.ctx, "del"))
	e.must(e.st.DeleteSession(e.ctx, "del"))
	if got, err := e.st.OpenExistingSession(e.ctx, "del"); err != nil || got != nil {
		t.Fatalf("open after delete: %v, %v", got, err)
	}
	for _, k := range info.Keys {
		if e.exists(k) {
			t.Fatalf("object %s of the deleted session remains", k)
		}
	}
	h, err = e.st.CreateSession(e.ctx, rootMeta("del", "reborn"))
	e.must(err)
	if got := e.lease(h, "owner", time.Minute); got.FencingToken != 1 {
		t.Fatalf("recreated fencing token %d", got.FencingToken)
	}
	if q, _ := h.ListQueuedWork(e.ctx); len(q) != 0 || len(e.pendingInputs(h)) != 0 {
		t.Fatalf("recreated session not clean: queue %+v inputs %v", q, e.pendingInputs(h))
	}
}

// testAttachmentIsolation: identical bytes in two sessions are one stored
// object with two refs (each with its own media type and label); a session
// that never referenced it cannot read it; a sweep keeps it while any
// session's ref holds it and reclaims it once none does. (A third session
// keeps an attachment throughout: stowage's sweeper refuses an empty root
// set, docs/contract.md, "Where stowage differs from lash".)
func testAttachmentIsolation(t *testing.T, e *env) {
	e.keeper()
	a, b := e.attach("attachment-owner-a"), e.attach("attachment-owner-b")
	body := []byte("shared attachment bytes")
	ra, err := a.Put(e.ctx, bytes.NewReader(body), attach.PutOptions{MediaType: "image/png", Label: "a.png"})
	e.must(err)
	e.must(e.st.Manifest().CommitRefs(e.ctx, "attachment-owner-a", []string{ra.ID}))
	if _, _, err := b.Get(e.ctx, ra.ID, nil); !isErr(err, attach.ErrNotFound) {
		t.Fatalf("session B reads A's blob: %v", err)
	}
	rb, err := b.Put(e.ctx, bytes.NewReader(body), attach.PutOptions{MediaType: "image/jpeg", Label: "b.jpg"})
	e.must(err)
	e.must(e.st.Manifest().CommitRefs(e.ctx, "attachment-owner-b", []string{rb.ID}))
	if ra.ID != rb.ID || ra.MediaType != "image/png" || rb.MediaType != "image/jpeg" || ra.Label != "a.png" || rb.Label != "b.jpg" {
		t.Fatalf("refs %+v %+v", ra, rb)
	}
	sweep := func() gc.Report {
		e.clock.Advance(2 * time.Hour)
		rep, err := e.sweeper(-1).Run(e.ctx)
		e.must(err)
		return rep
	}
	if rep := sweep(); rep.Reclaimed[gc.KindAttachmentData] != 0 {
		t.Fatalf("a referenced blob was swept: %+v", rep)
	}
	e.must(a.Delete(e.ctx, ra.ID))
	if rep := sweep(); rep.Reclaimed[gc.KindAttachmentData] != 0 {
		t.Fatalf("B's ref did not hold the blob: %+v", rep)
	}
	e.mustRead(b, rb.ID, body)
	e.must(b.Delete(e.ctx, rb.ID))
	if rep := sweep(); rep.Reclaimed[gc.KindAttachmentData] != 1 {
		t.Fatalf("the unreferenced blob was not reclaimed: %+v", rep)
	}
}

// keeper commits an attachment in a session of its own, so the sweeper's
// root set is never empty (it refuses to sweep with an empty one).
func (e *env) keeper() {
	e.t.Helper()
	ref := e.put("keeper", "keeper", manifest.Owner{})
	e.must(e.st.Manifest().CommitRefs(e.ctx, "keeper", []string{ref.ID}))
}

func (e *env) mustRead(a *attach.Store, id string, want []byte) {
	e.t.Helper()
	rc, _, err := a.Get(e.ctx, id, nil)
	e.must(err)
	defer rc.Close()
	got, err := io.ReadAll(rc)
	e.must(err)
	if !bytes.Equal(got, want) {
		e.t.Fatalf("read %d bytes, want %d", len(got), len(want))
	}
}
