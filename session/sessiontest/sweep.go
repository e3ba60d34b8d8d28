package sessiontest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage/internal/gatestore"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

// The sweeper's head fence (docs/protocol.md, "Sweeping", W1 and W2).
var sweepTests = []namedTest{
	{"StalledCommitRewritesAfterSweep", testStalledCommitRewrites},
	{"BackgroundFlushNotAdoptedAfterSweep", testBackgroundFlushAfterSweep},
	{"StalledFirstCommitVsPlaceholder", testStalledFirstCommit},
	{"SweepKeepsLostResponseResolvable", testSweepKeepsLostResponse},
	{"SweepHeadKeepsContent", testSweepHeadKeepsContent},
	{"HeadRefsSeesEveryCommit", testHeadRefs},
}

// sweep runs the sweeper's head fence on sid as package gc does, without
// the grace period: list the session's objects, read the head, advance its
// sweep generation by compare-and-swap on that head (a placeholder if there
// is none), then delete the listed objects the head did not name. It
// returns the deleted keys and the fenced head.
func (f *fixture) sweep(sid string) ([]string, *session.HeadInfo) {
	f.t.Helper()
	st := f.env.Store
	var listed []string
	for info, err := range st.List(f.ctx, session.SessionPrefix(sid), nil) {
		if err != nil {
			f.t.Fatal(err)
		}
		if _, kind, ok := session.ParseKey(info.Key); ok && kind != session.KeyHead {
			listed = append(listed, info.Key)
		}
	}
	h, err := session.ReadHead(f.ctx, st, sid)
	if err != nil {
		f.t.Fatalf("sweep: read head: %v", err)
	}
	etag := ""
	var named []string
	if h != nil {
		etag, named = h.ETag, h.Keys
	}
	fenced, err := session.SweepHead(f.ctx, st, sid, etag)
	if err != nil {
		f.t.Fatalf("sweep: fence head: %v", err)
	}
	var garbage []string
	for _, k := range listed {
		if !slices.Contains(named, k) {
			garbage = append(garbage, k)
		}
	}
	if err := st.DeleteMany(f.ctx, garbage); err != nil {
		f.t.Fatalf("sweep: delete: %v", err)
	}
	return garbage, fenced
}

// checkNamed fails unless every object sid's head names exists, none of
// them is in deleted, and the session loads.
func (f *fixture) checkNamed(sid string, deleted []string) *session.PersistedRead {
	f.t.Helper()
	h, err := session.ReadHead(f.ctx, f.env.Store, sid)
	if err != nil || h == nil {
		f.t.Fatalf("%s: head: %+v, %v", sid, h, err)
	}
	for _, k := range h.Keys {
		if slices.Contains(deleted, k) {
			f.t.Fatalf("%s: the head publishes %s, which the sweep deleted", sid, k)
		}
		if _, err := f.env.Store.Head(f.ctx, k); err != nil {
			f.t.Fatalf("%s: the head names %s: %v", sid, k, err)
		}
	}
	r, err := f.open(sid).LoadSession(f.ctx, session.FullGraph())
	if err != nil {
		f.t.Fatalf("%s: load: %v", sid, err)
	}
	return r
}

// stalled starts c on a handle whose head PUT stops at a gate, waits until
// it has written everything else and stopped, and returns the gate and the
// commit's outcome channel.
func (f *fixture) stalled(sid string, c session.RuntimeCommit, mode gatestore.Mode) (*gatestore.Store, chan error) {
	f.t.Helper()
	gate := gatestore.New(f.env.Store, session.HeadKey(sid), mode)
	h := f.open(sid, gate)
	done := make(chan error, 1)
	go func() {
		_, err := h.CommitRuntimeState(f.ctx, c)
		done <- err
	}()
	select {
	case <-gate.Reached():
	case err := <-done:
		f.t.Fatalf("%s: the commit ended before its head PUT: %v", sid, err)
	}
	return gate, done
}

// testStalledCommitRewrites: a commit stalls after writing its blob, merged
// segment and index; a sweep fences the head and deletes them. The commit's
// PUT then fails, and it must publish fresh objects, never the deleted ones.
func testStalledCommitRewrites(t *testing.T, f *fixture) {
	f.tuning.FlushDeltas = 2
	sid := "sweep-stall"
	m := crashBase(f, sid)
	c := crashCommit(sid)
	m.apply(c.Graph)
	gate, done := f.stalled(sid, c, gatestore.Before)
	deleted, fenced := f.sweep(sid)
	if len(deleted) < 3 {
		t.Fatalf("the sweep deleted %v; want the stalled commit's blob, segment and index", deleted)
	}
	if fenced.SweepGen != 1 || fenced.Revision != 4 {
		t.Fatalf("fenced head: %v", fenced)
	}
	gate.Release()
	if err := <-done; err != nil {
		t.Fatalf("the stalled commit failed: %v", err)
	}
	r := f.checkNamed(sid, deleted)
	if r.HeadRevision != 5 || !bytes.Equal(r.Checkpoint.ExecutionState, c.Checkpoint.ExecutionState) {
		t.Fatalf("after the commit: revision %d, checkpoint intact %v", r.HeadRevision, r.Checkpoint != nil)
	}
	m.check(t, f, f.open(sid), sid)
	if h, _ := session.ReadHead(f.ctx, f.env.Store, sid); h.SweepGen != 1 {
		t.Fatalf("the commit did not keep the sweep generation: %v", h)
	}
}

// testStalledFirstCommit: a first commit stalls before its create-only PUT;
// a sweep finds objects but no head, creates a placeholder and deletes
// them. Readers take the placeholder for no session; the commit's PUT fails,
// and it publishes over the placeholder with fresh objects.
func testStalledFirstCommit(t *testing.T, f *fixture) {
	sid := "sweep-first"
	c := appendCommit(sid, 0, "", "a")
	c.Checkpoint = &session.HydratedCheckpoint{ToolState: bigBytes(9_000, 3)}
	gate, done := f.stalled(sid, c, gatestore.Before)
	deleted, fenced := f.sweep(sid)
	if len(deleted) != 1 || !fenced.Placeholder || fenced.SweepGen != 1 || fenced.Revision != 0 {
		t.Fatalf("sweep of a headless session: deleted %v, head %v", deleted, fenced)
	}
	if _, err := session.SweepHead(f.ctx, f.env.Store, sid, ""); !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Fatalf("a second placeholder: %v", err)
	}
	fresh := f.open(sid)
	if r, err := fresh.LoadSession(f.ctx, session.FullGraph()); r != nil || err != nil {
		t.Fatalf("a placeholder loads: %+v, %v", r, err)
	}
	if n, err := fresh.LoadNode(f.ctx, "a"); n != nil || err != nil {
		t.Fatalf("a placeholder has a node: %+v, %v", n, err)
	}
	if m, err := fresh.LoadSessionMeta(f.ctx); m != nil || err != nil {
		t.Fatalf("a placeholder has meta: %+v, %v", m, err)
	}
	if q, err := fresh.ListQueuedWork(f.ctx); len(q) != 0 || err != nil {
		t.Fatalf("a placeholder has queued work: %v, %v", q, err)
	}
	if err := fresh.Delete(f.ctx); err != nil {
		t.Fatalf("deleting a placeholder: %v", err)
	}
	gate.Release()
	if err := <-done; err != nil {
		t.Fatalf("the stalled first commit failed: %v", err)
	}
	r := f.checkNamed(sid, deleted)
	if r == nil || r.HeadRevision != 1 || !bytes.Equal(r.Checkpoint.ToolState, c.Checkpoint.ToolState) {
		t.Fatalf("after the first commit: %+v", r)
	}
	f.wantIDs("graph", nodeIDs(r.Graph), []string{"a"})
	if h, _ := session.ReadHead(f.ctx, f.env.Store, sid); h.Placeholder || h.SweepGen != 1 {
		t.Fatalf("the first commit's head: %v", h)
	}
}

// testSweepKeepsLostResponse: a commit lands but its response is lost, and
// a sweep fences the head before the writer reads it back. The writer must
// still find its write (the sweep keeps the recent-write list) and report
// success once.
func testSweepKeepsLostResponse(t *testing.T, f *fixture) {
	sid := "sweep-lost"
	s := f.open(sid)
	f.chain(s, sid, 0, "n", 2, "")
	c := appendCommit(sid, 2, "n1", "x")
	c.TurnCommit = stamp(sid, "turn-x", "hash-x")
	gate, done := f.stalled(sid, c, gatestore.LostResponse)
	h, err := session.ReadHead(f.ctx, f.env.Store, sid)
	if err != nil || h.Revision != 3 {
		t.Fatalf("the commit did not land: %v, %v", h, err)
	}
	if _, err := session.SweepHead(f.ctx, f.env.Store, sid, h.ETag); err != nil {
		t.Fatal(err)
	}
	gate.Release()
	if err := <-done; err != nil {
		t.Fatalf("a landed commit reported %v after a sweep", err)
	}
	res := f.mustCommit(f.open(sid), c) // the retry replays the receipt
	if res.HeadRevision != 3 {
		t.Fatalf("retry: revision %d", res.HeadRevision)
	}
	f.wantIDs("graph", nodeIDs(f.checkNamed(sid, nil).Graph), []string{"n0", "n1", "x"})
}

// testSweepHeadKeepsContent: a sweep changes only the sweep generation and
// the write id; a stale ETag fails; a tombstone stays a tombstone.
func testSweepHeadKeepsContent(t *testing.T, f *fixture) {
	f.tuning.FlushDeltas = 2
	sid := "sweep-keep"
	crashBase(f, sid)
	before := f.checkNamed(sid, nil)
	h, err := session.ReadHead(f.ctx, f.env.Store, sid)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		cur, _ := session.ReadHead(f.ctx, f.env.Store, sid)
		got, err := session.SweepHead(f.ctx, f.env.Store, sid, cur.ETag)
		if err != nil || got.SweepGen != uint64(i) || got.Gen != cur.Gen+1 || got.Revision != h.Revision || !slices.Equal(got.Keys, h.Keys) {
			t.Fatalf("sweep %d: %v, %v (before: %v)", i, got, err, cur)
		}
	}
	if _, err := session.SweepHead(f.ctx, f.env.Store, sid, h.ETag); !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Fatalf("a sweep on a stale ETag: %v", err)
	}
	after := f.checkNamed(sid, nil)
	if after.HeadRevision != before.HeadRevision || !equalIDs(nodeIDs(after.Graph), nodeIDs(before.Graph)) ||
		after.CheckpointRef != before.CheckpointRef || fmt.Sprint(after.Config) != fmt.Sprint(before.Config) {
		t.Fatalf("a sweep changed the session: %+v -> %+v", before, after)
	}
	// The next commit keeps the generation; a delete too.
	s := f.open(sid)
	f.mustCommit(s, appendCommit(sid, 4, "b3", "c"))
	if err := s.Delete(f.ctx); err != nil {
		t.Fatal(err)
	}
	tomb, err := session.ReadHead(f.ctx, f.env.Store, sid)
	if err != nil || !tomb.Deleted || tomb.SweepGen != 2 {
		t.Fatalf("tombstone: %v, %v", tomb, err)
	}
	got, err := session.SweepHead(f.ctx, f.env.Store, sid, tomb.ETag)
	if err != nil || !got.Deleted || got.SweepGen != 3 {
		t.Fatalf("sweep of a tombstone: %v, %v", got, err)
	}
	// A recreated session starts over but keeps the generation.
	f.mustCommit(f.open(sid), appendCommit(sid, 0, "", "new"))
	if h, _ := session.ReadHead(f.ctx, f.env.Store, sid); h.Deleted || h.SweepGen != 3 || h.Revision != 1 {
		t.Fatalf("recreated: %v", h)
	}
}

// testBackgroundFlushAfterSweep: a handle's commit fills the tail, so the
// handle writes its segment in the background; a sweep then fences the head
// and deletes that segment (no head names it yet). The handle's next commit
// must not name it (W1: it was written under the old sweep generation); it
// flushes the tail again later. Fails if adoptFlush ignores the sweep
// generation.
func testBackgroundFlushAfterSweep(t *testing.T, f *fixture) {
	f.tuning.FlushDeltas = 2
	const sid = "bgsweep"
	s := f.open(sid)
	ids := f.chain(s, sid, 0, "n", 2, "") // the tail is full: a background flush
	deleted, _ := f.sweep(sid)
	if !slices.ContainsFunc(deleted, func(k string) bool { return strings.Contains(k, "/seg/") }) {
		t.Fatalf("the sweep deleted %v: no background segment to test with", deleted)
	}
	ids = append(ids, f.chain(s, sid, 2, "m", 4, ids[len(ids)-1])...)
	r := f.checkNamed(sid, deleted)
	f.wantIDs("graph", nodeIDs(r.Graph), ids)
}
