package lashconf

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/fence"
	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/manifest"
)

// attachGCCases are the attachment reclamation cases of lash main's
// session_store_factory.rs.
var attachGCCases = []lashCase{
	{"AttachmentLargeCutoffConformance", testLargeCutoff},
	{"AttachmentGCFenceStateMachine", testFenceStateMachine},
	{"FencedSweepCollectsAndReleases", testFencedSweep},
}

func init() { cases = append(cases, attachGCCases...) }

// testLargeCutoff: cutoffs far past any intent time (the largest a
// time.Time holds as Unix milliseconds, and 2^62 seconds) list every
// uncommitted intent, judge an ownerless uncommitted intent dead and a
// committed ref live, and forget exactly the uncommitted intents.
// (lash's condemn step is the sweeper's deletion fence here:
// AttachmentGCFenceStateMachine.)
func testLargeCutoff(t *testing.T, e *env) {
	const sid = "attachment-large-cutoff-session"
	s := e.sess(sid)
	aged, committed, target := strings.Repeat("1", 64), strings.Repeat("2", 64), strings.Repeat("3", 64)
	for _, id := range []string{aged, committed, target} {
		e.must(s.RecordIntent(e.ctx, manifest.Intent{AttachmentID: id, SessionID: sid,
			CanonicalURI: manifest.CanonicalURI(id), IntentAt: time.UnixMilli(1000)}))
	}
	e.must(s.CommitRefs(e.ctx, sid, []string{committed}))
	for _, cutoff := range []time.Time{time.UnixMilli(math.MaxInt64), time.Unix(1<<62, 0)} {
		un, err := s.ListUncommitted(e.ctx, cutoff)
		e.must(err)
		var ids []string
		for _, u := range un {
			ids = append(ids, u.AttachmentID)
		}
		if !contains(ids, aged) || !contains(ids, target) || contains(ids, committed) {
			t.Fatalf("uncommitted at %v: %v", cutoff, ids)
		}
		if live, err := s.HasLiveRef(e.ctx, aged, cutoff); err != nil || live {
			t.Fatalf("aged ownerless intent live at %v: %v, %v", cutoff, live, err)
		}
		if live, err := s.HasLiveRef(e.ctx, committed, cutoff); err != nil || !live {
			t.Fatalf("committed ref not live at %v: %v, %v", cutoff, live, err)
		}
	}
	n, err := s.ForgetAgedUncommitted(e.ctx, time.UnixMilli(math.MaxInt64))
	if err != nil || n != 2 {
		t.Fatalf("forgot %d, %v; want 2", n, err)
	}
	if refs, err := s.ListAllRefs(e.ctx); err != nil || !equal(refs, []string{committed}) {
		t.Fatalf("refs after forgetting %v, %v", refs, err)
	}
	e.must(s.Forget(e.ctx, sid, committed)) // a committed row without bytes is fsck's alarm
}

// testFenceStateMachine: lash's per-digest fence Free -> Condemned ->
// Deleting -> Free is stowage's per-shard deletion fence over data keys
// (package fence, docs/contract.md, "Attachment reclamation"), walked
// transition by transition: a rooted key survives a sweep; a condemnation
// is one sweep's, a peer's on a stale read fails; a writer's Protect
// revokes a condemned key, which then is not armed; an armed key is
// reclaimed for the writer (deliberate difference, docs/contract.md,
// "Where stowage differs from lash": lash parks the writer, stowage's
// uploads again under a new key); release frees the shard for the next
// writer.
func testFenceStateMachine(t *testing.T, e *env) {
	const sid = "attachment-gc-fence-state-machine"
	ref := e.put(sid, "fenced bytes", manifest.Owner{})
	row, ok, err := e.st.Manifest().Row(e.ctx, sid, ref.ID)
	if err != nil || !ok {
		t.Fatalf("row: %v, %v", ok, err)
	}
	key, f := row.Data.Key, fence.New(e.objs, nil)
	e.must(f.Protect(e.ctx, key)) // Free: granted
	// lash's cutoff 0 keeps an uncommitted intent a root; with a grace
	// period past, a committed ref is the root.
	e.must(e.st.Manifest().CommitRefs(e.ctx, sid, []string{ref.ID}))
	e.clock.Advance(2 * time.Hour)
	if _, err := e.sweeper(-1).Run(e.ctx); err != nil || !e.exists(key) {
		t.Fatalf("a sweep deleted rooted data (%v)", err)
	}
	e.must(e.attach(sid).Delete(e.ctx, ref.ID)) // drop the root
	idle, err := f.Load(e.ctx, fence.ShardOf(key))
	e.must(err)
	mark, err := f.Condemn(e.ctx, idle, fence.Holder{ID: "first"}, []string{key})
	e.must(err)
	if _, err := f.Condemn(e.ctx, idle, fence.Holder{ID: "peer"}, []string{key}); err == nil {
		t.Fatal("a peer condemned a condemned shard")
	}
	e.must(f.Protect(e.ctx, key)) // Condemned -> Free by the writer's revoke
	after, err := f.Arm(e.ctx, mark, func(string) bool { return true })
	if err != nil || after.State.Armed(key) || after.State.Phase != fence.Idle {
		t.Fatalf("a revoked key was armed: %+v, %v", after.State, err)
	}
	mark, err = f.Condemn(e.ctx, after, fence.Holder{ID: "first"}, []string{key})
	e.must(err)
	armed, err := f.Arm(e.ctx, mark, func(string) bool { return true })
	if err != nil || !armed.State.Armed(key) || armed.State.Phase != fence.Deleting {
		t.Fatalf("arm: %+v, %v", armed.State, err)
	}
	if _, err := f.Arm(e.ctx, mark, func(string) bool { return true }); !isErr(err, fence.ErrSuperseded) {
		t.Fatalf("re-arm of a Deleting epoch: %v", err)
	}
	if err := f.Protect(e.ctx, key); !isErr(err, fence.ErrReclaimed) {
		t.Fatalf("a writer relied on armed data: %v", err)
	}
	e.must(e.objs.Delete(e.ctx, key, nil))
	free, err := f.Release(e.ctx, armed)
	if err != nil || free.State.Phase != fence.Idle || free.State.Epoch <= armed.State.Epoch {
		t.Fatalf("release: %+v, %v", free.State, err)
	}
	putProtected(t, e, f, sid, "fenced bytes")
}

// testFencedSweep: a sweep collects an orphan, deletes nothing a ref
// names, and leaves the orphan's fence shard Idle, so the next writer of
// the same bytes is granted at once.
func testFencedSweep(t *testing.T, e *env) {
	const sid = "attachment-gc-fenced-sweep"
	e.keeper()
	orphan := e.put(sid, "conformance-fenced-orphan", manifest.Owner{})
	row, _, err := e.st.Manifest().Row(e.ctx, sid, orphan.ID)
	e.must(err)
	e.must(e.attach(sid).Delete(e.ctx, orphan.ID))
	e.clock.Advance(2 * time.Hour)
	rep, err := e.sweeper(-1).Run(e.ctx)
	e.must(err)
	if rep.Reclaimed[gc.KindAttachmentData] != 1 || rep.DeletedWhileReferenced != 0 || rep.Deferred != 0 || e.exists(row.Data.Key) {
		t.Fatalf("sweep %+v", rep)
	}
	f := fence.New(e.objs, nil)
	snap, err := f.Load(e.ctx, fence.ShardOf(row.Data.Key))
	if err != nil || snap.State.Phase != fence.Idle {
		t.Fatalf("fence after the sweep %+v, %v", snap.State, err)
	}
	putProtected(t, e, f, sid, "conformance-fenced-orphan")
}

// putProtected puts content in sid, protects the data its row names
// through f (granted at once: the shard is Idle) and reads it back.
func putProtected(t *testing.T, e *env, f *fence.Fence, sid, content string) {
	t.Helper()
	ref := e.put(sid, content, manifest.Owner{})
	row, _, err := e.st.Manifest().Row(e.ctx, sid, ref.ID)
	e.must(err)
	e.must(f.Protect(e.ctx, row.Data.Key))
	e.mustRead(e.attach(sid), ref.ID, []byte(content))
}
