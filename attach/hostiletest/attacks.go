package hostiletest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/session"
)

// B reads, ranges, stats, lists and deletes with A's attachment ids: every
// read is ErrNotFound exactly as for an id nobody holds; a delete is the
// same no-op.
func testAttachments(t *testing.T, w *world) {
	for _, id := range w.aIDs() {
		get := func(id string, rng *attach.Range) error {
			rc, _, err := w.ab.Get(w.ctx, id, rng)
			if err == nil {
				rc.Close()
			}
			return err
		}
		w.same("Get", attach.ErrNotFound, get(id, nil), id, get(w.never, nil), w.never)
		rng := &attach.Range{Offset: 2, Length: 5}
		w.same("ranged Get", attach.ErrNotFound, get(id, rng), id, get(w.never, rng), w.never)
		_, errA := w.ab.Stat(w.ctx, id)
		_, errN := w.ab.Stat(w.ctx, w.never)
		w.same("Stat", attach.ErrNotFound, errA, id, errN, w.never)
		w.same("Delete", nil, w.ab.Delete(w.ctx, id), id, w.ab.Delete(w.ctx, w.never), w.never)
	}
	refs, err := w.ab.List(w.ctx)
	must(t, err)
	for _, r := range refs {
		if slices.Contains(w.aIDs(), r.ID) {
			t.Errorf("B's List shows A's attachment %s", r.ID[:8])
		}
	}
}

// B knows A's digests but not the bytes: PutKnown fails as for a digest
// nobody stored (the opener's error, or ErrChecksum for other bytes), and B
// gains no ref.
func testPutKnown(t *testing.T, w *world) {
	errOpen := errors.New("hostiletest: B has no such bytes")
	refuse := func() (io.Reader, error) { return nil, errOpen }
	for _, id := range append(w.aIDs(), w.large) {
		size := int64(len(w.bodies[id]))
		_, errA := w.ab.PutKnown(w.ctx, id, size, refuse, attach.PutOptions{})
		_, errN := w.ab.PutKnown(w.ctx, w.never, size, refuse, attach.PutOptions{})
		w.same("PutKnown without the bytes", errOpen, errA, id, errN, w.never)
		forged := func() (io.Reader, error) { return bytes.NewReader(make([]byte, size)), nil }
		_, errA = w.ab.PutKnown(w.ctx, id, size, forged, attach.PutOptions{})
		_, errN = w.ab.PutKnown(w.ctx, w.never, size, forged, attach.PutOptions{})
		w.same("PutKnown with forged bytes", attach.ErrChecksum, errA, id, errN, w.never)
		w.sameReads(id, size)
		w.sameStreamFailures(id, size)
		if ok, err := w.st.Manifest().HoldsRef(w.ctx, sidB, id); err != nil || ok {
			t.Fatalf("B holds a ref to A's %s after failed PutKnowns (%v)", id[:8], err)
		}
	}
}

// recReader records the length of each Read on it and whether it was
// closed: what a caller learns of how PutKnown consumed its reader.
type recReader struct {
	body   io.Reader
	sizes  []int
	closed bool
	// onRead, if set, is called after each Read with its results.
	onRead func(n int, err error)
}

func (r *recReader) Read(p []byte) (int, error) {
	r.sizes = append(r.sizes, len(p))
	n, err := r.body.Read(p)
	if r.onRead != nil {
		r.onRead(n, err)
	}
	return n, err
}

func (r *recReader) Close() error { r.closed = true; return nil }

// sameReads: B's reader of forged bytes of the right size sees the same
// Reads (length of each) whether another session holds the digest (the
// proof of possession consumes it) or nobody does (an upload consumes it).
func (w *world) sameReads(id string, size int64) {
	w.t.Helper()
	put := func(id string) *recReader {
		rr := &recReader{body: bytes.NewReader(make([]byte, size))}
		_, err := w.ab.PutKnown(w.ctx, id, size, func() (io.Reader, error) { return rr, nil }, attach.PutOptions{})
		if !errors.Is(err, attach.ErrChecksum) {
			w.t.Errorf("PutKnown of forged bytes: %v, want ErrChecksum", err)
		}
		return rr
	}
	a, n := put(id), put(w.never)
	if !slices.Equal(a.sizes, n.sizes) || a.closed != n.closed {
		w.t.Errorf("PutKnown's reads tell A's id from a never-used one:\n  A's:   %v (closed %v)\n  never: %v (closed %v)",
			a.sizes, a.closed, n.sizes, n.closed)
	}
}

// sameStreamFailures: a PutKnown whose context the caller cancels while
// its reader is read (on its first Read, or on the Read that ends it), or
// whose reader fails with io.ErrUnexpectedEOF (a client gone mid-body),
// fails the same way whether another session holds the digest or nobody
// does, and reads the reader the same way.
func (w *world) sameStreamFailures(id string, size int64) {
	w.t.Helper()
	for _, c := range []struct {
		name string
		want error
		body func() io.Reader
		stop func(n int, err error) bool // cancel after this Read?
	}{
		{"cancelled on the first read", context.Canceled, nil, func(int, error) bool { return true }},
		{"cancelled at the end", context.Canceled, nil, func(_ int, err error) bool { return err == io.EOF }},
		{"unexpected EOF", io.ErrUnexpectedEOF, func() io.Reader {
			return io.MultiReader(bytes.NewReader(make([]byte, size/2)), failing{io.ErrUnexpectedEOF})
		}, nil},
	} {
		put := func(id string) (*recReader, error) {
			ctx, cancel := context.WithCancel(w.ctx)
			defer cancel()
			rr := &recReader{body: bytes.NewReader(make([]byte, size))}
			if c.body != nil {
				rr.body = c.body()
			}
			if c.stop != nil {
				rr.onRead = func(n int, err error) {
					if c.stop(n, err) {
						cancel()
					}
				}
			}
			_, err := w.ab.PutKnown(ctx, id, size, func() (io.Reader, error) { return rr, nil }, attach.PutOptions{})
			return rr, err
		}
		rrA, errA := put(id)
		rrN, errN := put(w.never)
		w.same("PutKnown "+c.name, c.want, errA, id, errN, w.never)
		if !slices.Equal(rrA.sizes, rrN.sizes) {
			w.t.Errorf("PutKnown %s: reads tell A's id from a never-used one: %v, %v", c.name, rrA.sizes, rrN.sizes)
		}
	}
}

// failing fails every Read with its error.
type failing struct{ err error }

func (f failing) Read([]byte) (int, error) { return 0, f.err }

// B's commits naming A's attachment ids go through exactly as commits
// naming ids nobody holds: each id is reported unbacked, nothing is stamped
// or recorded, and B's head names none of A's ids; a commit under A's open
// turn id adopts nothing of A's.
func testCommitNamingA(t *testing.T, w *world) {
	rev := uint64(1)
	commit := func(id string) ([]string, error) {
		res, err := w.b.CommitRuntimeState(w.ctx, commitOf(sidB, rev, "", []string{fmt.Sprintf("b-x%d", rev)}, []string{id}))
		if err != nil {
			return nil, err
		}
		rev++
		return res.UnbackedAttachmentIDs, nil
	}
	for _, id := range w.aIDs() {
		unA, errA := commit(id)
		unN, errN := commit(w.never)
		w.same("commit naming an attachment", nil, errA, id, errN, w.never)
		if !slices.Equal(unA, []string{id}) || !slices.Equal(unN, []string{w.never}) {
			t.Fatalf("unbacked ids: %v for A's id, %v for a never-used one", unA, unN)
		}
	}
	res, err := w.b.CommitRuntimeState(w.ctx, commitOf(sidB, rev, w.turnOpen, []string{"b-y"}, nil))
	must(t, err)
	if res.HeadRevision != rev+1 || len(res.UnbackedAttachmentIDs) != 0 {
		t.Fatalf("B's commit under A's turn id: %+v", res)
	}
	h, err := session.ReadHead(w.ctx, w.obj, sidB)
	must(t, err)
	for _, id := range h.CommittedAttachmentIDs {
		if slices.Contains(w.aIDs(), id) {
			t.Fatalf("B's head names A's attachment %s", id[:8])
		}
	}
}

// Turn ids are per session: B committing A's committed turn id with A's
// hash gets a fresh commit of its own, never A's receipt.
func testTurnIDs(t *testing.T, w *world) {
	for i, turn := range []string{w.turnDone, "../" + sidA + "/" + w.turnDone} {
		res, err := w.b.CommitRuntimeState(w.ctx, commitOf(sidB, uint64(1+i), turn, []string{"b-t" + turn}, nil))
		must(t, err)
		if res.HeadRevision != uint64(2+i) {
			t.Fatalf("B's commit of A's turn %q: revision %d (A's receipt?)", turn, res.HeadRevision)
		}
	}
}

// A's node ids do not exist for B: LoadNode and an active path from them
// look exactly as for node ids nobody used.
func testNodes(t *testing.T, w *world) {
	for _, n := range w.nodes {
		never := "never-" + n
		na, errA := w.b.LoadNode(w.ctx, n)
		nn, errN := w.b.LoadNode(w.ctx, never)
		w.same("LoadNode", nil, errA, n, errN, never)
		if na != nil || nn != nil {
			t.Fatalf("B's LoadNode(%q) = %+v", n, na)
		}
		ra, errA := w.b.LoadSession(w.ctx, session.ActivePath(n))
		rn, errN := w.b.LoadSession(w.ctx, session.ActivePath(never))
		w.same("LoadSession(ActivePath)", nil, errA, n, errN, never)
		if len(ra.Graph.Nodes) != 0 || len(rn.Graph.Nodes) != 0 {
			t.Fatalf("B's active path from A's node %q: %+v", n, ra.Graph.Nodes)
		}
	}
	r, err := w.b.LoadSession(w.ctx, session.FullGraph())
	must(t, err)
	for _, n := range r.Graph.Nodes {
		if !strings.HasPrefix(n.NodeID, "b-") {
			t.Fatalf("B's graph holds %q", n.NodeID)
		}
	}
	if meta, err := w.b.LoadSessionMeta(w.ctx); err != nil || meta != nil {
		t.Fatalf("B's meta: %+v %v", meta, err)
	}
	q, err := w.b.ListQueuedWork(w.ctx)
	must(t, err)
	in, err := w.b.ListPendingTurnInputs(w.ctx)
	must(t, err)
	if len(q) != 0 || len(in) != 0 {
		t.Fatalf("B sees queued work %+v and inputs %+v", q, in)
	}
}

// The AttachmentManifest methods of B's handle refuse A's session id with a
// binding mismatch (whether or not A holds the id) and their store-wide
// forms see only B's rows.
func testManifestMethods(t *testing.T, w *world) {
	for _, id := range w.aIDs() {
		_, errA := w.b.HoldsRef(w.ctx, sidA, id)
		_, errN := w.b.HoldsRef(w.ctx, sidA, w.never)
		w.same("HoldsRef(A)", session.ErrSessionBindingMismatch, errA, id, errN, w.never)
		w.same("Forget(A)", session.ErrSessionBindingMismatch, w.b.Forget(w.ctx, sidA, id), id, w.b.Forget(w.ctx, sidA, w.never), w.never)
		w.same("CommitRefs(A)", session.ErrSessionBindingMismatch,
			w.b.CommitRefs(w.ctx, sidA, []string{id}), id, w.b.CommitRefs(w.ctx, sidA, []string{w.never}), w.never)
		in := func(id string) manifest.Intent { return manifest.Intent{SessionID: sidA, AttachmentID: id} }
		w.same("RecordIntent(A)", session.ErrSessionBindingMismatch,
			w.b.RecordIntent(w.ctx, in(id)), id, w.b.RecordIntent(w.ctx, in(w.never)), w.never)
		okA, errA := w.b.HoldsRef(w.ctx, sidB, id)
		okN, errN := w.b.HoldsRef(w.ctx, sidB, w.never)
		w.same("HoldsRef(B)", nil, errA, id, errN, w.never)
		liveA, errLA := w.b.HasLiveRef(w.ctx, id, time.Now().Add(time.Hour))
		liveN, errLN := w.b.HasLiveRef(w.ctx, w.never, time.Now().Add(time.Hour))
		w.same("HasLiveRef", nil, errLA, id, errLN, w.never)
		if okA || okN || liveA || liveN {
			t.Fatalf("B's handle reports A's %s: holds %v, live %v", id[:8], okA, liveA)
		}
	}
	all, err := w.b.ListAllRefs(w.ctx)
	must(t, err)
	unc, err := w.b.ListUncommitted(w.ctx, time.Now().Add(24*time.Hour))
	must(t, err)
	for _, e := range unc {
		all = append(all, e.AttachmentID)
		if e.SessionID != sidB {
			t.Errorf("B's ListUncommitted shows session %q", e.SessionID)
		}
	}
	for _, id := range all {
		if slices.Contains(w.aIDs(), id) {
			t.Errorf("B's handle lists A's attachment %s", id[:8])
		}
	}
	// A's ownerless uncommitted row is aged and dead by then: only the
	// sweeper (the manifest itself) may forget it, not B's handle.
	_, err = w.b.ForgetAgedUncommitted(w.ctx, time.Now().Add(24*time.Hour))
	must(t, err)
}

// Every write of B's handle that names A's session is refused with a
// binding mismatch before any I/O.
func testBinding(t *testing.T, w *world) {
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, session.ErrSessionBindingMismatch) {
			t.Errorf("%s naming A's session: %v, want ErrSessionBindingMismatch", what, err)
		}
	}
	_, err := w.b.CommitRuntimeState(w.ctx, commitOf(sidA, 1, "", []string{"x"}, nil))
	check("commit", err)
	c := commitOf(sidB, 1, "", []string{"x"}, nil)
	c.EnqueuedQueueBatches = []session.QueuedWorkBatchDraft{{SessionID: sidA}}
	_, err = w.b.CommitRuntimeState(w.ctx, c)
	check("outbox batch", err)
	_, err = w.b.EnqueueQueuedWork(w.ctx, session.QueuedWorkBatchDraft{SessionID: sidA})
	check("EnqueueQueuedWork", err)
	_, err = w.b.EnqueuePendingTurnInput(w.ctx, session.PendingTurnInputDraft{SessionID: sidA, SourceKey: "a-source"})
	check("EnqueuePendingTurnInput", err)
	check("SaveSessionMeta", w.b.SaveSessionMeta(w.ctx, session.SessionMeta{SessionID: sidA}))
	c = commitOf(sidB, 1, w.turnDone, []string{"x"}, nil)
	c.TurnCommit.SessionID = sidA
	if _, err := w.b.CommitRuntimeState(w.ctx, c); !errors.Is(err, session.ErrTurnCommitConflict) && !errors.Is(err, session.ErrSessionBindingMismatch) {
		t.Errorf("commit with A's turn stamp: %v, want a typed refusal", err)
	}
}

// A's lease fence is worth nothing on B's handle: claims, renewals and a
// commit under it fail exactly as under a fence nobody holds, and a release
// is a no-op.
func testLease(t *testing.T, w *world) {
	never := w.lease
	never.LeaseToken = "never-issued"
	tok := w.lease.LeaseToken
	_, errA := w.b.ClaimQueuedWork(w.ctx, w.lease, 10)
	_, errN := w.b.ClaimQueuedWork(w.ctx, never, 10)
	w.same("ClaimQueuedWork", session.ErrSessionExecutionLeaseExpired, errA, tok, errN, never.LeaseToken)
	_, errA = w.b.ClaimTurnInputs(w.ctx, w.lease, "b-turn", 10)
	_, errN = w.b.ClaimTurnInputs(w.ctx, never, "b-turn", 10)
	w.same("ClaimTurnInputs", session.ErrSessionExecutionLeaseExpired, errA, tok, errN, never.LeaseToken)
	_, errA = w.b.ClaimReadyQueuedWork(w.ctx, w.lease, session.BoundaryActiveTurnCheckpoint, 10)
	_, errN = w.b.ClaimReadyQueuedWork(w.ctx, never, session.BoundaryActiveTurnCheckpoint, 10)
	w.same("ClaimReadyQueuedWork", session.ErrSessionExecutionLeaseExpired, errA, tok, errN, never.LeaseToken)
	_, errA = w.b.ClaimLeadingSessionCommand(w.ctx, w.lease)
	_, errN = w.b.ClaimLeadingSessionCommand(w.ctx, never)
	w.same("ClaimLeadingSessionCommand", session.ErrSessionExecutionLeaseExpired, errA, tok, errN, never.LeaseToken)
	_, errA = w.b.ClaimQueuedWorkByIDs(w.ctx, w.lease, session.BoundaryIdle, []string{"01JAAAAAAAAAAAAAAAAAAAAAAB"})
	_, errN = w.b.ClaimQueuedWorkByIDs(w.ctx, never, session.BoundaryIdle, []string{"01JAAAAAAAAAAAAAAAAAAAAAAB"})
	w.same("ClaimQueuedWorkByIDs", session.ErrSessionExecutionLeaseExpired, errA, tok, errN, never.LeaseToken)
	_, errA = w.b.ClaimCheckpointWork(w.ctx, w.lease, "b-turn", session.CheckpointAfterWork, 10, 10)
	_, errN = w.b.ClaimCheckpointWork(w.ctx, never, "b-turn", session.CheckpointAfterWork, 10, 10)
	w.same("ClaimCheckpointWork", session.ErrSessionExecutionLeaseExpired, errA, tok, errN, never.LeaseToken)
	_, errA = w.b.RenewSessionExecutionLease(w.ctx, w.lease, time.Hour)
	_, errN = w.b.RenewSessionExecutionLease(w.ctx, never, time.Hour)
	w.same("RenewSessionExecutionLease", session.ErrSessionExecutionLeaseExpired, errA, tok, errN, never.LeaseToken)
	w.same("ReleaseSessionExecutionLease", nil,
		w.b.ReleaseSessionExecutionLease(w.ctx, w.lease), tok, w.b.ReleaseSessionExecutionLease(w.ctx, never), never.LeaseToken)
	commit := func(f session.LeaseFence) error {
		c := commitOf(sidB, 1, "", []string{"b-l"}, nil)
		c.SessionExecutionLease = &f
		_, err := w.b.CommitRuntimeState(w.ctx, c)
		return err
	}
	w.same("commit under a lease fence", session.ErrSessionExecutionLeaseExpired, commit(w.lease), tok, commit(never), never.LeaseToken)
}

// Keys B could guess, passed as ids, are invalid ids (never keys) or
// nothing at all.
func testGuessedKeys(t *testing.T, w *world) {
	guesses := []string{
		"../../sessions/" + sidA + "/head", "sessions/" + sidA + "/head", manifest.RefKey(w.committed, sidA),
		manifest.BlobKey(w.committed), "../" + w.committed[3:], strings.ToUpper(w.committed),
	}
	for _, g := range guesses {
		_, _, err := w.ab.Get(w.ctx, g, nil)
		if !errors.Is(err, attach.ErrInvalidID) {
			t.Errorf("B's Get(%q): %v, want ErrInvalidID", g, err)
		}
		if n, err := w.b.LoadNode(w.ctx, g); n != nil || err != nil {
			t.Errorf("B's LoadNode(%q): %+v %v", g, n, err)
		}
	}
	for _, sid := range []string{sidB + "/../" + sidA, "../" + sidA, sidA + "/"} {
		if _, err := w.st.Session(sid); !errors.Is(err, session.ErrInvalidID) {
			t.Errorf("Session(%q): %v", sid, err)
		}
		if _, err := attach.New(w.st.Manifest(), sid, nil); !errors.Is(err, attach.ErrInvalidID) {
			t.Errorf("attach.New(%q): %v", sid, err)
		}
	}
	// A put owned by a turn id that spells A's keys lands under B's own
	// (encoded) turn markers, and B's commit of that turn adopts only it.
	turn := "../../" + sidA + "/" + w.turnOpen
	ref, err := w.ab.Put(attach.WithOwner(w.ctx, manifest.TurnOwner(turn)), strings.NewReader("B's turn bytes"), attach.PutOptions{})
	must(t, err)
	_, err = w.b.CommitRuntimeState(w.ctx, commitOf(sidB, 1, turn, []string{"b-g"}, nil))
	must(t, err)
	h, err := session.ReadHead(w.ctx, w.obj, sidB)
	must(t, err)
	if !slices.Contains(h.CommittedAttachmentIDs, ref.ID) || slices.ContainsFunc(h.CommittedAttachmentIDs, func(id string) bool { return slices.Contains(w.aIDs(), id) }) {
		t.Fatalf("B's turn %q committed %v", turn, h.CommittedAttachmentIDs)
	}
}

// A's queue and turn-input claims complete nothing in B's commits
// (superseded, exactly as claims nobody made), and A's source key is free
// in B's session (no conflict that would reveal it).
func testQueueAndInputs(t *testing.T, w *world) {
	commit := func(q *session.QueuedWorkCompletion, in *session.TurnInputCompletion) error {
		c := commitOf(sidB, 1, "", []string{"b-q"}, nil)
		if q != nil {
			c.CompletedQueueClaims = []session.QueuedWorkCompletion{*q}
		}
		if in != nil {
			c.CompletedTurnInputClaims = []session.TurnInputCompletion{*in}
		}
		_, err := w.b.CommitRuntimeState(w.ctx, c)
		return err
	}
	qa := w.queueClaim
	qa.SessionID = sidB
	qn := qa
	qn.ClaimID, qn.BatchIDs = "never-claim", []string{"never-batch"}
	w.same("queue completion", session.ErrQueuedWorkClaimSuperseded, commit(&qa, nil), qa.ClaimID, commit(&qn, nil), qn.ClaimID)
	ia := w.inputClaim
	ia.SessionID = sidB
	in := ia
	in.ClaimID, in.InputIDs = "never-claim", []string{"never-input"}
	w.same("turn input completion", session.ErrTurnInputClaimSuperseded, commit(nil, &ia), ia.ClaimID, commit(nil, &in), in.ClaimID)
	if err := commit(&w.queueClaim, nil); !errors.Is(err, session.ErrSessionBindingMismatch) && !errors.Is(err, session.ErrQueuedWorkClaimSuperseded) {
		t.Errorf("A's own queue completion in B's commit: %v, want a typed refusal", err)
	}
	if err := commit(nil, &w.inputClaim); !errors.Is(err, session.ErrSessionBindingMismatch) && !errors.Is(err, session.ErrTurnInputClaimSuperseded) {
		t.Errorf("A's own turn input completion in B's commit: %v, want a typed refusal", err)
	}
	enqueue := func(key string) error {
		_, err := w.b.EnqueuePendingTurnInput(w.ctx, session.PendingTurnInputDraft{SessionID: sidB, SourceKey: key, Payload: []byte(`{"in":"b"}`)})
		return err
	}
	w.same("EnqueuePendingTurnInput with a source key", nil, enqueue("a-source"), "a-source", enqueue("never-source"), "never-source")
}

// A's direct-upload grant (its upload id) seals nothing for B, exactly as
// a grant nobody made, and B gets no presigned GET of A's bytes.
func testGrants(t *testing.T, w *world) {
	never := w.grant
	never.UploadID = "01JAAAAAAAAAAAAAAAAAAAAAAA"
	_, errA := w.ab.Seal(w.ctx, w.grant)
	_, errN := w.ab.Seal(w.ctx, never)
	want := attach.ErrNotFound
	if errors.Is(errA, attach.ErrNoPresign) {
		want = attach.ErrNoPresign
	}
	w.same("Seal", want, errA, w.grant.UploadID, errN, never.UploadID)
	for _, id := range w.aIDs() {
		_, errA := w.ab.GrantGet(w.ctx, id, attach.GrantGetOptions{})
		_, errN := w.ab.GrantGet(w.ctx, w.never, attach.GrantGetOptions{})
		if !errors.Is(errA, attach.ErrNoPresign) {
			w.same("GrantGet", attach.ErrNotFound, errA, id, errN, w.never)
		} else {
			w.same("GrantGet", attach.ErrNoPresign, errA, id, errN, w.never)
		}
	}
}
