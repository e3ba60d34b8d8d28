// Package hostiletest is the hostile-tenant conformance suite: on one
// backend, tenant A fills its session (turns, nodes, committed and
// uncommitted attachments, queued work, turn inputs, a lease, meta), and
// tenant B, holding valid handles for its own session only (a
// *session.Store from stowage and an *attach.Store), calls every public
// method with A's ids, digests, node ids, turn ids, lease fence and keys it
// could guess. Each attempt must be a not-found or a typed refusal, an id
// that exists in A and one that exists nowhere must give the same result
// (same sentinel, same message up to the id), and a raw listing of the
// store before and after must show nothing of A's changed.
//
// Each backend runs it with a one-screen harness (attach/hostile_test.go).
package hostiletest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

// Harness adapts one backend to the suite.
type Harness struct {
	// New returns a fresh, empty store for one test and registers its own
	// cleanup. Required.
	New func(t *testing.T) objstore.Store
}

// The two tenants.
const (
	sidA = "tenant-a"
	sidB = "tenant-b"
)

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, *world)
	}{
		{"Attachments", testAttachments},
		{"PutKnownWithoutBytes", testPutKnown},
		{"CommitNamingAsAttachment", testCommitNamingA},
		{"TurnIDsOfA", testTurnIDs},
		{"NodesOfA", testNodes},
		{"ManifestMethodsOfTheHandle", testManifestMethods},
		{"BindingOfEveryWrite", testBinding},
		{"LeaseAndClaimsOfA", testLease},
		{"QueueInputsAndSourceKeysOfA", testQueueAndInputs},
		{"GrantsOfA", testGrants},
		{"GuessedKeysAsIDs", testGuessedKeys},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, h.New(t))
			defer w.unchanged(w.snapshot()) // also after a t.Fatal
			c.fn(t, w)
		})
	}
}

// world is A's filled session and B's handles on one store.
type world struct {
	t   *testing.T
	ctx context.Context
	obj objstore.Store
	st  *stowage.Store

	a, b   *session.Store
	aa, ab *attach.Store

	// A's ids.
	committed, uncommitted, turnOwned string // attachment ids
	large                             string // a committed attachment of 1.1 MiB
	bodies                            map[string][]byte
	nodes                             []string
	turnDone, turnOpen                string // a committed turn; a turn owning an uncommitted row
	lease                             session.LeaseFence
	queueClaim                        session.QueuedWorkCompletion
	inputClaim                        session.TurnInputCompletion
	grant                             attach.UploadGrant
	never                             string // an attachment id nobody holds
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func newWorld(t *testing.T, obj objstore.Store) *world {
	t.Helper()
	ctx := t.Context()
	st, err := stowage.OpenStore(ctx, obj, stowage.Config{})
	must(t, err)
	w := &world{t: t, ctx: ctx, obj: obj, st: st, bodies: map[string][]byte{},
		turnDone: "a-turn-1", turnOpen: "a-turn-2", never: digest([]byte("nobody put these bytes"))}
	w.a, w.b = w.session(sidA), w.session(sidB)
	w.aa, w.ab = w.attach(sidA), w.attach(sidB)

	// A: a committed attachment, an uncommitted one (ownerless, so a
	// store-wide forget would take it), one owned by an open turn.
	w.committed = w.put(w.aa, ctx, "A's committed secret document")
	w.uncommitted = w.put(w.aa, ctx, "A's uncommitted draft")
	w.turnOwned = w.put(w.aa, attach.WithOwner(ctx, manifest.TurnOwner(w.turnOpen)), strings.Repeat("A's turn-owned text ", 200))
	// And one larger than every backend's read buffer but MinIO's part.
	w.large = w.put(w.aa, ctx, strings.Repeat("A's large committed document ", 40_000))
	w.nodes = []string{"a-root", "a-child"}
	w.commit(w.a, sidA, 0, w.turnDone, w.nodes, []string{w.committed, w.large})
	_, err = w.a.EnqueueQueuedWork(ctx, session.QueuedWorkBatchDraft{SessionID: sidA, Payload: []byte(`{"work":"a"}`)})
	must(t, err)
	_, err = w.a.EnqueuePendingTurnInput(ctx, session.PendingTurnInputDraft{SessionID: sidA, SourceKey: "a-source", Payload: []byte(`{"in":"a"}`)})
	must(t, err)
	must(t, w.a.SaveSessionMeta(ctx, session.SessionMeta{SessionID: sidA, SessionName: "A's session"}))
	out, err := w.a.TryClaimSessionExecutionLease(ctx, session.LeaseOwner{OwnerID: "a-worker", IncarnationID: "1"}, time.Hour)
	must(t, err)
	if out.Acquired == nil {
		t.Fatal("A did not get its lease")
	}
	w.lease = out.Acquired.Fence()
	qc, err := w.a.ClaimQueuedWork(ctx, w.lease, 10)
	must(t, err)
	ic, err := w.a.ClaimTurnInputs(ctx, w.lease, "a-turn-3", 10)
	must(t, err)
	if qc == nil || ic == nil {
		t.Fatalf("A's claims: queue %+v, inputs %+v", qc, ic)
	}
	w.queueClaim, w.inputClaim = qc.Completion(), ic.Completion()
	// A direct upload in flight (where the store presigns: S3).
	body := []byte("A's direct upload")
	g, err := w.aa.GrantPut(ctx, attach.GrantPutOptions{SHA256: digest(body), Size: int64(len(body))})
	switch {
	case errors.Is(err, attach.ErrNoPresign):
		g = attach.UploadGrant{UploadID: "01JAAAAAAAAAAAAAAAAAAAAAAB", ID: digest(body), Size: int64(len(body))}
	case err != nil:
		t.Fatal(err)
	}
	w.grant = g

	// B: a session of its own with one attachment.
	w.put(w.ab, ctx, "B's own bytes")
	w.commit(w.b, sidB, 0, "b-turn-1", []string{"b-root"}, nil)
	w.a.WaitCompaction() // the stamps of A's commit land before the snapshot
	w.b.WaitCompaction()
	return w
}

func (w *world) session(sid string) *session.Store {
	s, err := w.st.Session(sid)
	must(w.t, err)
	return s
}

func (w *world) attach(sid string) *attach.Store {
	a, err := attach.New(w.st.Manifest(), sid, nil)
	must(w.t, err)
	return a
}

func (w *world) put(a *attach.Store, ctx context.Context, body string) string {
	w.t.Helper()
	ref, err := a.Put(ctx, strings.NewReader(body), attach.PutOptions{MediaType: "text/plain"})
	must(w.t, err)
	w.bodies[ref.ID] = []byte(body)
	return ref.ID
}

// commitOf builds a commit of nodes (a chain) under turn turnID.
func commitOf(sid string, rev uint64, turnID string, nodes, atts []string) session.RuntimeCommit {
	c := session.RuntimeCommit{SessionID: sid, ExpectedHeadRevision: &rev, CommittedAttachmentIDs: atts,
		Graph: session.GraphDelta{Kind: session.DeltaAppend}}
	parent := ""
	for _, n := range nodes {
		c.Graph.Nodes = append(c.Graph.Nodes, session.NodeRecord{NodeID: n, ParentNodeID: parent, Kind: session.PayloadEvent, Event: []byte(`{}`)})
		parent = n
	}
	c.Graph.Leaf = parent
	if turnID != "" {
		c.TurnCommit = &session.TurnCommitStamp{SessionID: sid, TurnID: turnID, TurnCommitHash: "h-" + turnID}
	}
	return c
}

func (w *world) commit(s *session.Store, sid string, rev uint64, turnID string, nodes, atts []string) {
	w.t.Helper()
	_, err := s.CommitRuntimeState(w.ctx, commitOf(sid, rev, turnID, nodes, atts))
	must(w.t, err)
}

// object is what a raw listing says of one key.
type object struct {
	size int64
	etag string
}

// snapshot lists the whole store.
func (w *world) snapshot() map[string]object {
	w.t.Helper()
	out := map[string]object{}
	for info, err := range w.obj.List(w.ctx, "", nil) {
		must(w.t, err)
		out[info.Key] = object{info.Size, info.ETag}
	}
	return out
}

// aKey reports whether key belongs to tenant A or to no tenant (data,
// pointers, upload intents): everything B must not change.
func aKey(key string) bool {
	return !strings.Contains(key, "/"+sidB+"/") && !strings.HasSuffix(key, "/"+sidB)
}

// unchanged checks that every key outside B's own is as before, and that
// nothing new appeared outside B's own keys except B's upload leftovers.
func (w *world) unchanged(before map[string]object) {
	w.t.Helper()
	after := w.snapshot()
	for k, o := range before {
		if !aKey(k) {
			continue
		}
		if got, ok := after[k]; !ok || got != o {
			w.t.Errorf("tenant B changed %q: %+v -> %+v (present %v)", k, o, got, ok)
		}
	}
	aSet := map[string]bool{}
	for _, id := range w.aIDs() {
		aSet[id] = true
	}
	for k := range after {
		if _, ok := before[k]; ok || !aKey(k) {
			continue
		}
		switch {
		case strings.HasPrefix(k, manifest.UploadPrefix), strings.HasPrefix(k, manifest.DataPrefix):
			// B's own uploads (their leftovers are the sweeper's).
		case strings.HasPrefix(k, manifest.BlobPrefix) && !aSet[strings.TrimPrefix(k, manifest.BlobPrefix)]:
			// The pointer of bytes B put itself.
		default:
			w.t.Errorf("tenant B created %q outside its session", k)
		}
	}
	// A still reads everything it had, through its own handle.
	for _, id := range w.aIDs() {
		rc, _, err := w.aa.Get(w.ctx, id, nil)
		must(w.t, err)
		got, err := io.ReadAll(rc)
		rc.Close()
		must(w.t, err)
		if !bytes.Equal(got, w.bodies[id]) {
			w.t.Errorf("A's attachment %s changed", id[:8])
		}
	}
}

// aIDs are A's attachment ids.
func (w *world) aIDs() []string { return []string{w.committed, w.uncommitted, w.turnOwned} }

// same checks that an attempt with A's id (errA) and one with an id that
// exists nowhere (errNever) fail alike: both nil, or the same sentinel
// (want) and the same message once the ids are blanked.
func (w *world) same(what string, want error, errA error, idA string, errNever error, idNever string) {
	w.t.Helper()
	if want != nil && !errors.Is(errA, want) {
		w.t.Errorf("%s with A's id: %v, want %v", what, errA, want)
	}
	if want == nil && errA != nil {
		w.t.Errorf("%s with A's id: %v, want success", what, errA)
	}
	if msg(errA, idA) != msg(errNever, idNever) {
		w.t.Errorf("%s tells A's id from a never-used one:\n  A's:   %v\n  never: %v", what, errA, errNever)
	}
}

func msg(err error, id string) string {
	if err == nil {
		return "<nil>"
	}
	return strings.ReplaceAll(err.Error(), id, "<id>")
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
