package lashconf

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

// deleteReclaimCases are the cases of lash main's
// session_delete_blob_reclaim.rs that stowage's API expresses (the
// fork-shared case needs forks, which stowage lacks).
var deleteReclaimCases = []lashCase{
	{"SessionDeleteKeepsIdenticalCheckpointOfAnotherSession", testDeleteIdenticalCheckpoints},
	{"SessionDeleteReclaimsExclusiveCheckpointBlobs", testDeleteExclusiveBlobs},
	{"SessionDeleteBlobFailureLeavesLeftoversToTheSweeper", testDeleteBlobFailure},
	{"SessionDeleteIgnoresABrokenSweep", testDeleteIgnoresBrokenSweep},
}

func init() { cases = append(cases, deleteReclaimCases...) }

// checkpointed commits a checkpoint too large to inline in session sid
// (through st, or the suite's store) and returns the keys its head names.
func (e *env) checkpointed(st *stowage.Store, sid, body string) []string {
	e.t.Helper()
	if st == nil {
		st = e.st
	}
	h, err := st.CreateSession(e.ctx, rootMeta(sid, sid))
	e.must(err)
	c := appendCommit(sid, 0, "", sid+"-leaf")
	c.Checkpoint = &session.HydratedCheckpoint{ExecutionState: bytes.Repeat([]byte(body), 8192)}
	e.commit(h, c)
	info, err := session.ReadHead(e.ctx, e.objs, sid)
	e.must(err)
	if len(info.Keys) == 0 {
		e.t.Fatalf("session %s names no object", sid)
	}
	for _, k := range info.Keys {
		if !e.exists(k) {
			e.t.Fatalf("object %s of %s missing", k, sid)
		}
	}
	return info.Keys
}

// allExist reports whether every key exists (want true) or none does
// (want false).
func (e *env) allExist(keys []string, want bool) bool {
	e.t.Helper()
	for _, k := range keys {
		if e.exists(k) != want {
			return false
		}
	}
	return true
}

// testDeleteIdenticalCheckpoints: lash aliases checkpoint blobs by content
// across sessions, so deleting one session must keep a blob another still
// roots. stowage keys a session's objects under the session, never shared:
// two sessions with byte-identical checkpoints hold distinct objects;
// deleting one reclaims its objects and keeps the other's (which still
// loads); deleting the other reclaims the rest.
func testDeleteIdenticalCheckpoints(t *testing.T, e *env) {
	dependent := e.checkpointed(nil, "delete-content-alias-dependent", "same")
	aliased := e.checkpointed(nil, "delete-content-alias-root", "same")
	for _, k := range aliased {
		if contains(dependent, k) {
			t.Fatalf("object %s shared by two sessions", k)
		}
	}
	e.must(e.st.DeleteSession(e.ctx, "delete-content-alias-root"))
	if !e.allExist(aliased, false) || !e.allExist(dependent, true) {
		t.Fatal("deleting one session did not reclaim exactly its own objects")
	}
	r, err := e.sess("delete-content-alias-dependent").LoadSession(e.ctx, session.FullGraph())
	if err != nil || r == nil || !bytes.Equal(r.Checkpoint.ExecutionState, bytes.Repeat([]byte("same"), 8192)) {
		t.Fatalf("the other session after the delete: %v", err)
	}
	e.must(e.st.DeleteSession(e.ctx, "delete-content-alias-dependent"))
	if !e.allExist(dependent, false) {
		t.Fatal("deleting the second session left its objects")
	}
}

// testDeleteExclusiveBlobs: deleting a session reclaims every object its
// head named, at once (no sweep).
func testDeleteExclusiveBlobs(t *testing.T, e *env) {
	keys := e.checkpointed(nil, "delete-exclusive-blobs", "x")
	e.must(e.st.DeleteSession(e.ctx, "delete-exclusive-blobs"))
	if !e.allExist(keys, false) {
		t.Fatal("the deleted session's objects remain")
	}
}

// failDeletes is an object store whose deletions fail while armed.
type failDeletes struct {
	objstore.Store
	armed atomic.Bool
}

var errInjectedDelete = errors.New("injected delete failure")

func (f *failDeletes) Delete(ctx context.Context, key string, opts *objstore.DeleteOptions) error {
	if f.armed.Load() {
		return errInjectedDelete
	}
	return f.Store.Delete(ctx, key, opts)
}

func (f *failDeletes) DeleteMany(ctx context.Context, keys []string) error {
	if f.armed.Load() {
		return errInjectedDelete
	}
	return f.Store.DeleteMany(ctx, keys)
}

// testDeleteBlobFailure (deliberate difference, docs/contract.md, "Where
// stowage differs from lash"): lash deletes a session and its blobs in one
// transaction, so a failed blob delete rolls the session back. stowage's
// delete takes effect at the head's tombstone: a failed object delete
// fails the call (ErrBackend, with the cause) but the session stays
// deleted, and the objects it left, named by no head, are reclaimed by
// the next sweep.
func testDeleteBlobFailure(t *testing.T, e *env) {
	faulty := &failDeletes{Store: e.objs}
	cfg := storeConfig()
	cfg.Now = e.clock.Now
	st, err := stowage.OpenStore(e.ctx, faulty, cfg)
	e.must(err)
	keys := e.checkpointed(st, "delete-blob-failure", "f")
	e.checkpointed(nil, "delete-blob-failure-keeper", "k") // a root, so the sweep may run
	faulty.armed.Store(true)
	err = st.DeleteSession(e.ctx, "delete-blob-failure")
	faulty.armed.Store(false)
	if !isErr(err, session.ErrBackend) || !isErr(err, errInjectedDelete) {
		t.Fatalf("delete with failing object deletes: %v", err)
	}
	if h, err := e.st.OpenExistingSession(e.ctx, "delete-blob-failure"); err != nil || h != nil {
		t.Fatalf("the session is not deleted: %v, %v", h, err)
	}
	if !e.allExist(keys, true) {
		t.Fatal("objects vanished although their delete failed")
	}
	e.clock.Advance(2 * time.Hour)
	rep, err := e.sweeper(-1).Run(e.ctx)
	e.must(err)
	if rep.Reclaimed[gc.KindSessionObject] < int64(len(keys)) || !e.allExist(keys, false) {
		t.Fatalf("the sweep left the deleted session's objects: %+v", rep)
	}
}

// testDeleteIgnoresBrokenSweep: a delete does not depend on the sweeper:
// with the sweep broken (a failing process registry), deleting a session
// still reclaims its objects and leaves the other session whole.
func testDeleteIgnoresBrokenSweep(t *testing.T, e *env) {
	victim := e.checkpointed(nil, "delete-with-broken-gc-victim", "v")
	survivor := e.checkpointed(nil, "delete-with-broken-gc-survivor", "s")
	cfg := storeConfig()
	cfg.Processes = failingRegistry{}
	st := e.open(cfg)
	e.put("delete-with-broken-gc-survivor", "process owned", manifest.ProcessOwner("p1"))
	sw := &gc.Sweeper{Store: e.objs, Manifest: st.Manifest(), Clock: e.sweepClock, Grace: -1, ForgetDeadIntents: true}
	if _, err := sw.Run(e.ctx); !isErr(err, errRegistry) {
		t.Fatalf("the sweep is not broken: %v", err)
	}
	e.must(st.DeleteSession(e.ctx, "delete-with-broken-gc-victim"))
	if !e.allExist(victim, false) || !e.allExist(survivor, true) {
		t.Fatal("delete with a broken sweep did not reclaim exactly the victim's objects")
	}
}
