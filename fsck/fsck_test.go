package fsck_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/fsck"
	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/internal/codec"
	"github.com/stowage-dev/stowage/internal/soak"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/session"
)

// fixture is a memory bucket with two sessions of committed turns and
// attachments (the same three contents in both: stored once), on a manual
// clock.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	now   time.Time
	mem   *memstore.Store
	st    *stowage.Store
	acked map[string][]soak.Ack
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t, ctx: context.Background(), now: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC), acked: map[string][]soak.Ack{}}
	clock := func() time.Time { return f.now }
	f.mem = memstore.New(&memstore.Options{Clock: clock})
	// Small segments, so that heads name segment objects.
	st, err := stowage.OpenStore(f.ctx, f.mem, stowage.Config{Now: clock, Session: session.Tuning{FlushDeltas: 2}})
	if err != nil {
		t.Fatal(err)
	}
	f.st = st
	for _, sid := range []string{"s1", "s2"} {
		sess, err := f.st.Session(sid)
		if err != nil {
			t.Fatal(err)
		}
		a := f.agentOf(sess)
		for i := range 3 {
			spec := soak.TurnSpec{TurnID: fmt.Sprintf("t%d", i), Nodes: 2, NodeBytes: 100,
				Attachments: []soak.AttachmentSpec{{Size: int64(1000 * (i + 1)), Seed: uint64(i)}}}
			if _, err := a.Turn(f.ctx, spec); err != nil {
				t.Fatal(err)
			}
			// The next turn names the segment the handle flushed in the
			// background: the store holds no orphan.
			sess.WaitCompaction()
		}
		f.acked[sid] = a.Acked()
	}
	return f
}

func (f *fixture) agent(sid string) *soak.Agent {
	sess, err := f.st.Session(sid)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.agentOf(sess)
}

// agentOf returns an agent committing through the handle sess.
func (f *fixture) agentOf(sess *session.Store) *soak.Agent {
	att, err := attach.New(f.st.Manifest(), sess.SessionID(), nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return soak.NewAgent(sess, att)
}

func (f *fixture) check(opts *fsck.Options) *fsck.Report {
	f.t.Helper()
	o := fsck.Options{Now: func() time.Time { return f.now }, Grace: time.Hour}
	if opts != nil {
		o.Deep, o.StaleOrphansAreProblems = opts.Deep, opts.StaleOrphansAreProblems
	}
	rep, err := fsck.Check(f.ctx, f.st, &o)
	if err != nil {
		f.t.Fatal(err)
	}
	return rep
}

// wantProblem fails unless rep has a problem of invariant inv whose key
// contains key.
func wantProblem(t *testing.T, rep *fsck.Report, inv, key string) {
	t.Helper()
	for _, p := range rep.Problems {
		if p.Invariant == inv && strings.Contains(p.Key, key) {
			return
		}
	}
	t.Fatalf("no %s problem on %q; problems: %v", inv, key, rep.Problems)
}

func (f *fixture) put(key string, data []byte) {
	f.t.Helper()
	if _, err := f.mem.Put(f.ctx, key, data, nil); err != nil {
		f.t.Fatal(err)
	}
}

// committedRow returns a committed row of session sid.
func (f *fixture) committedRow(sid string) manifest.Row {
	f.t.Helper()
	id := f.acked[sid][0].Attachments[0].ID
	row, ok, err := f.st.Manifest().Row(f.ctx, sid, id)
	if err != nil || !ok || !row.Committed() {
		f.t.Fatalf("row %s/%s: %+v %v %v", sid, id, row, ok, err)
	}
	return row
}

func TestClean(t *testing.T) {
	f := newFixture(t)
	rep := f.check(&fsck.Options{Deep: true})
	if !rep.Clean() || len(rep.Orphans) > 0 {
		t.Fatalf("problems %v, orphans %v", rep.Problems, rep.Orphans)
	}
	c := rep.Counts
	if c.Sessions != 2 || c.Nodes != 12 || c.Rows != 6 || c.CommittedRows != 6 || c.DataObjects != 3 || c.SessionObjects == 0 {
		t.Fatalf("counts %+v", c)
	}
}

func TestCorruptHead(t *testing.T) {
	f := newFixture(t)
	f.put(session.HeadKey("s1"), []byte("not a head"))
	rep := f.check(nil)
	wantProblem(t, rep, fsck.InvHead, session.HeadKey("s1"))
	if len(rep.Problems) != 1 {
		t.Fatalf("problems %v, want only the head", rep.Problems)
	}
}

func TestMissingNamedObject(t *testing.T) {
	f := newFixture(t)
	info, err := session.ReadHead(f.ctx, f.mem, "s2")
	if err != nil || len(info.Keys) == 0 {
		t.Fatalf("head %+v %v: want named objects", info, err)
	}
	if err := f.mem.Delete(f.ctx, info.Keys[0], nil); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, f.check(nil), fsck.InvNamed, info.Keys[0])
}

func TestCommittedRefDangles(t *testing.T) {
	f := newFixture(t)
	row := f.committedRow("s1")
	if err := f.mem.Delete(f.ctx, row.Data.Key, nil); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, f.check(nil), fsck.InvRef, manifest.RefKey(row.AttachmentID, "s1"))
}

func TestCommittedRowMissing(t *testing.T) {
	f := newFixture(t)
	// The newest commit is in the head's tail; its row and the session's
	// marker go missing, as if the commit had named an attachment the
	// session never recorded.
	id := f.acked["s2"][2].Attachments[0].ID
	for _, k := range []string{manifest.RefKey(id, "s2"), manifest.SessionMarkerKey("s2", id)} {
		if err := f.mem.Delete(f.ctx, k, nil); err != nil {
			t.Fatal(err)
		}
	}
	wantProblem(t, f.check(nil), fsck.InvRef, session.HeadKey("s2"))
}

// TestDeletedAttachmentIsClean: attach.Delete drops a committed row that
// the head still names, which the contract allows (lash's facade delete).
// That is no violation (found by the fsck that runs after every
// sessiontest case).
func TestDeletedAttachmentIsClean(t *testing.T) {
	f := newFixture(t)
	id := f.acked["s2"][2].Attachments[0].ID
	a, err := attach.New(f.st.Manifest(), "s2", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(f.ctx, id); err != nil {
		t.Fatal(err)
	}
	rep := f.check(&fsck.Options{Deep: true})
	if !rep.Clean() || rep.Counts.DeletedCommittedRefs != 1 {
		t.Fatalf("problems %v, deleted committed refs %d (want clean, 1)", rep.Problems, rep.Counts.DeletedCommittedRefs)
	}
}

func TestDataSizeMismatch(t *testing.T) {
	f := newFixture(t)
	row := f.committedRow("s2")
	f.put(row.Data.Key, []byte("short"))
	wantProblem(t, f.check(nil), fsck.InvManifest, manifest.RefKey(row.AttachmentID, "s2"))
}

func TestDeepDigest(t *testing.T) {
	f := newFixture(t)
	row := f.committedRow("s1")
	f.put(row.Data.Key, make([]byte, row.Data.StoredSize)) // same size, other bytes
	if rep := f.check(nil); !rep.Clean() {
		t.Fatalf("shallow check: %v (sizes agree, so only --deep can tell)", rep.Problems)
	}
	// The problem names the damaged object, the data (and its row in the
	// detail).
	wantProblem(t, f.check(&fsck.Options{Deep: true}), fsck.InvManifest, row.Data.Key)
}

func TestRowUnderWrongKey(t *testing.T) {
	f := newFixture(t)
	row := f.committedRow("s1")
	body, _, err := f.mem.Get(f.ctx, manifest.RefKey(row.AttachmentID, "s1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 64<<10)
	n, _ := body.Read(data)
	body.Close()
	f.put(manifest.RefKey(row.AttachmentID, "s9"), data[:n])
	wantProblem(t, f.check(nil), fsck.InvManifest, manifest.RefKey(row.AttachmentID, "s9"))
}

func TestOrphans(t *testing.T) {
	f := newFixture(t)
	f.put(manifest.DataKey("01KBZ01D0RPHAN000000000000"), []byte("left by a killed upload"))
	f.put(session.SessionPrefix("s1")+"seg/01KBZVNNAMED00000000000000", []byte("an abandoned commit's segment"))
	f.now = f.now.Add(2 * time.Hour)
	f.put(manifest.DataKey("01KBZY0VNG0RPHAN0000000000"), []byte("an upload in flight"))
	rep := f.check(nil)
	if !rep.Clean() {
		t.Fatalf("orphans are not problems: %v", rep.Problems)
	}
	want := map[string]bool{manifest.DataKey("01KBZ01D0RPHAN000000000000"): true, session.SessionPrefix("s1") + "seg/01KBZVNNAMED00000000000000": true,
		manifest.DataKey("01KBZY0VNG0RPHAN0000000000"): false}
	if len(rep.Orphans) != len(want) {
		t.Fatalf("orphans %+v, want %v", rep.Orphans, want)
	}
	for _, o := range rep.Orphans {
		stale, ok := want[o.Key]
		if !ok || stale != o.Stale {
			t.Errorf("orphan %+v, want stale=%v (known: %v)", o, stale, ok)
		}
	}
	if got := rep.OrphanCounts(true); got[gc.KindAttachmentData] != 1 || got[gc.KindSessionObject] != 1 {
		t.Errorf("stale counts %v", got)
	}
	strict := f.check(&fsck.Options{StaleOrphansAreProblems: true})
	if len(strict.Problems) != 2 {
		t.Errorf("strict: %v, want the two stale orphans", strict.Problems)
	}
}

// TestDeadIntentsAreOrphans: an aborted put leaves an upload intent; once a
// later turn of its session commits, its turn is dead and the intent (with
// the multipart upload it left) is an orphan.
func TestDeadIntentsAreOrphans(t *testing.T) {
	f := newFixture(t)
	u, err := f.st.Manifest().BeginUpload(f.ctx, "s1", manifest.TurnOwner("t9"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.mem.Upload(f.ctx, u.DataKey, failingReader{}, &objstore.UploadOptions{PartSize: objstore.MinPartSize}); err == nil {
		t.Fatal("upload of a failing body succeeded")
	}
	f.now = f.now.Add(2 * time.Hour)
	if rep := f.check(nil); len(rep.Orphans) != 0 {
		t.Fatalf("turn t9 is alive (no later turn), yet orphans %v", rep.Orphans)
	}
	a := f.agent("s1")
	if err := a.Resume(f.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Turn(f.ctx, soak.TurnSpec{TurnID: "t10", Nodes: 1, NodeBytes: 10}); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(time.Second)
	got := f.check(nil).OrphanCounts(true)
	if got[gc.KindUploadIntent] != 1 {
		t.Fatalf("stale orphans %v, want the dead upload intent", got)
	}
}

// TestMultipartOfALiveIntentIsInFlight: an incomplete multipart upload
// older than the grace period that a live upload intent names is in
// flight (a sweep keeps it), not a stale orphan; once the intent is dead
// (a sweep forgets it first, then aborts the upload) it is one. (The soak
// found the difference: an upload an aborted put left just before the
// final sweep, whose intent was younger than the grace period while the
// server's second-truncated initiation time was older.)
func TestMultipartOfALiveIntentIsInFlight(t *testing.T) {
	f := newFixture(t)
	u, err := f.st.Manifest().BeginUpload(f.ctx, "s1", manifest.TurnOwner("t9"), "")
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := f.mem.Upload(f.ctx, u.DataKey, pr, nil)
		done <- err
	}()
	if _, err := pw.Write([]byte("first bytes")); err != nil { // the upload is registered now
		t.Fatal(err)
	}
	defer func() { pw.CloseWithError(io.ErrUnexpectedEOF); <-done }()
	f.now = f.now.Add(2 * time.Hour) // the intent and the upload are older than the grace period
	stale := func() bool {
		for _, o := range f.check(nil).Orphans {
			if o.Kind == gc.KindMultipart {
				return o.Stale
			}
		}
		t.Fatal("the multipart upload is not reported")
		return false
	}
	if stale() {
		t.Error("a multipart upload a live upload intent names is a stale orphan")
	}
	a := f.agent("s1") // a later turn commits: turn t9, the intent's owner, is dead
	if err := a.Resume(f.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Turn(f.ctx, soak.TurnSpec{TurnID: "t10", Nodes: 1, NodeBytes: 10}); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(time.Second)
	if !stale() {
		t.Error("a multipart upload older than the grace period whose intent is dead is not a stale orphan")
	}
}

type failingReader struct{}

func (failingReader) Read(p []byte) (int, error) { return 0, fmt.Errorf("reader broke") }

// TestPreparedRowIsNoOrphan: a row a commit prepared after the cutoff is
// not dead, for fsck as for the manifest (manifest.Judge is the one rule;
// fsck used to ignore PreparedAt and listed such a row as an orphan).
func TestPreparedRowIsNoOrphan(t *testing.T) {
	f := newFixture(t)
	a, err := attach.New(f.st.Manifest(), "s3", nil)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := a.Put(f.ctx, strings.NewReader("prepared, not yet published"), attach.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(2 * time.Hour) // the ownerless intent ages past the grace period
	if _, err := f.st.Manifest().PrepareCommit(f.ctx, "s3", 1, "", []string{ref.ID}); err != nil {
		t.Fatal(err)
	}
	rep := f.check(nil)
	if n := rep.OrphanCounts(false)[gc.KindRefRow]; n != 0 {
		t.Fatalf("fsck lists %d ref rows as orphans: %v", n, rep.Orphans)
	}
	dead, err := f.st.Manifest().DeadRows(f.ctx, "s3", manifest.Cutoff(f.now, time.Hour))
	if err != nil || len(dead) != 0 {
		t.Fatalf("the manifest's dead rows: %v, %v (want none)", dead, err)
	}
}

// TestUnbackedRefWarns: a commit naming an attachment its session holds no
// bytes for (here, another session's) goes through; fsck reports it as a
// warning and the bucket stays clean.
func TestUnbackedRefWarns(t *testing.T) {
	f := newFixture(t)
	foreign := f.acked["s1"][0].Attachments[0].ID
	sess, err := f.st.Session("s3")
	if err != nil {
		t.Fatal(err)
	}
	res, err := sess.CommitRuntimeState(f.ctx, session.RuntimeCommit{SessionID: "s3",
		Graph:                  session.GraphDelta{Kind: session.DeltaUnchanged},
		CommittedAttachmentIDs: []string{foreign}})
	if err != nil || len(res.UnbackedAttachmentIDs) != 1 || res.UnbackedAttachmentIDs[0] != foreign {
		t.Fatalf("commit: %+v, %v", res, err)
	}
	rep := f.check(nil)
	if !rep.Clean() {
		t.Fatalf("problems %v", rep.Problems)
	}
	if len(rep.Warnings) != 1 || rep.Warnings[0].Invariant != fsck.InvUnbacked ||
		rep.Warnings[0].Key != session.HeadKey("s3") || !strings.Contains(rep.Warnings[0].Detail, foreign) {
		t.Fatalf("warnings %v, want one unbacked warning on s3", rep.Warnings)
	}
}

// TestHeadStateViolation: a head whose coordination state breaks an
// invariant (here a queued batch claimed under a lease generation the
// session never granted, and a turn input claimed with no claim) is a
// head problem; the intact head of the other session is not.
func TestHeadStateViolation(t *testing.T) {
	f := newFixture(t)
	s, _ := f.st.Session("s1")
	if _, err := s.EnqueueQueuedWork(f.ctx, session.QueuedWorkBatchDraft{Payload: []byte(`"work"`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnqueuePendingTurnInput(f.ctx, session.PendingTurnInputDraft{Payload: []byte(`"input"`)}); err != nil {
		t.Fatal(err)
	}
	if rep := f.check(nil); !rep.Clean() {
		t.Fatalf("before: %v", rep.Problems)
	}
	schema := codec.Schema{Kind: "HEAD", Current: 7, Min: 1}
	rc, _, err := f.mem.Get(f.ctx, session.HeadKey("s1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	var h map[string]any
	if _, err := codec.Decode(schema, data, &h); err != nil {
		t.Fatal(err)
	}
	q := h["queue"].([]any)[0].(map[string]any)
	q["claim_id"], q["lease_token"], q["claim_gen"], q["claim_fence"] = "c", "t", 99, 1
	h["inputs"].([]any)[0].(map[string]any)["state"] = "claimed"
	rep := f.checkHead(schema, h)
	wantProblem(t, rep, fsck.InvHead, session.HeadKey("s1"))
	if len(rep.Problems) != 2 {
		t.Fatalf("problems %v, want the batch and the input", rep.Problems)
	}
	// Listed twice: the same id, the same source key, a sequence not after
	// the one before, for batches and inputs alike.
	q["claim_id"], q["lease_token"], q["claim_gen"], q["claim_fence"] = "", "", 0, 0
	h["inputs"].([]any)[0].(map[string]any)["state"] = "pending"
	h["queue"] = append(h["queue"].([]any), q)
	h["inputs"] = append(h["inputs"].([]any), h["inputs"].([]any)[0])
	rep = f.checkHead(schema, h)
	for _, kind := range []string{"queued batch", "turn input"} {
		if !strings.Contains(fmt.Sprint(rep.Problems), kind+` "`) {
			t.Errorf("problems %v: want the %s listed twice", rep.Problems, kind)
		}
	}
}

// checkHead writes h as s1's head and checks the store.
func (f *fixture) checkHead(schema codec.Schema, h map[string]any) *fsck.Report {
	f.t.Helper()
	out, err := codec.Encode(schema, h)
	if err != nil {
		f.t.Fatal(err)
	}
	f.put(session.HeadKey("s1"), out)
	return f.check(nil)
}
