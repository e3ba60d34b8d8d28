package gc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/fence"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/marker"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/session"
)

// env is a bucket with a settable clock and the real manifest.
type env struct {
	t     *testing.T
	ctx   context.Context
	now   time.Time
	store *memstore.Store
	m     *manifest.Store
	seq   int
	// fsck checks the bucket's invariants when the test ends.
	fsck InvariantCheck
}

func newEnv(t *testing.T) *env {
	e := &env{t: t, ctx: context.Background(), now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	e.store = memstore.New(&memstore.Options{Clock: e.clock})
	e.m = manifest.New(e.store, &manifest.Options{Now: e.clock, Concurrency: 1})
	e.fsck = noCheck{}
	if CheckAtCleanup != nil {
		e.fsck = CheckAtCleanup(t, e.store, e.clock)
	}
	return e
}

func (e *env) clock() time.Time { return e.now }

func (e *env) advance(d time.Duration) { e.now = e.now.Add(d) }

func digest(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// attach stores bytes for session sid through the writer protocol (intent,
// upload, row, Protect, end of upload) and returns the data key.
func (e *env) attach(sid string, body []byte) string {
	e.t.Helper()
	u, err := e.m.BeginUpload(e.ctx, sid, manifest.Owner{}, "")
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.store.Put(e.ctx, u.DataKey, body, nil); err != nil {
		e.t.Fatal(err)
	}
	in := manifest.Intent{AttachmentID: digest(body), SessionID: sid}
	if _, err := e.m.RecordRef(e.ctx, in, manifest.Info{}, func(*manifest.Row) (manifest.Data, error) {
		return manifest.Data{Key: u.DataKey, Size: int64(len(body)), StoredSize: int64(len(body))}, nil
	}); err != nil {
		e.t.Fatal(err)
	}
	if err := e.m.Protect(e.ctx, u.DataKey); err != nil {
		e.t.Fatal(err)
	}
	if err := e.m.CommitRefs(e.ctx, sid, []string{digest(body)}); err != nil {
		e.t.Fatal(err)
	}
	e.m.EndUpload(e.ctx, u)
	return u.DataKey
}

// orphan stores data that nothing names.
func (e *env) orphan() string {
	e.t.Helper()
	e.seq++
	key := manifest.DataKey(fmt.Sprintf("01KBZ0RPHAN%015d", e.seq)) // a ULID, as stowage writes
	if _, err := e.store.Put(e.ctx, key, []byte("orphan "+key), nil); err != nil {
		e.t.Fatal(err)
	}
	return key
}

func (e *env) sweeper() *Sweeper {
	return &Sweeper{Store: e.store, Clock: e.clock, Grace: time.Hour, Holder: "test"}
}

func (e *env) exists(key string) bool {
	_, err := e.store.Head(e.ctx, key)
	if err != nil && !errors.Is(err, objstore.ErrNotExist) {
		e.t.Fatal(err)
	}
	return err == nil
}

func TestSweepReclaimsOrphansKeepsReferenced(t *testing.T) {
	e := newEnv(t)
	live := e.attach("s1", []byte("kept"))
	old := e.orphan()
	e.advance(2 * time.Hour)
	young := e.orphan()
	rep, err := e.sweeper().Run(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if e.exists(old) || !e.exists(young) || !e.exists(live) {
		t.Fatalf("after sweep: old orphan %v (want gone), young orphan %v, referenced %v", e.exists(old), e.exists(young), e.exists(live))
	}
	if rep.Reclaimed[KindAttachmentData] != 1 || rep.Skipped[SkipYoung] != 1 || rep.Skipped[SkipReferenced] != 1 {
		t.Fatalf("report: %+v", rep)
	}
	// A second sweep finds nothing more and leaves every fence idle.
	rep, err = e.sweeper().Run(e.ctx)
	if err != nil || rep.Total() != 0 {
		t.Fatalf("second sweep: %v, %+v", err, rep)
	}
	assertFencesIdle(t, e)
}

func assertFencesIdle(t *testing.T, e *env) {
	t.Helper()
	f := fence.New(e.store, nil)
	for s := range fence.Shards {
		snap, err := f.Load(e.ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		if snap.State.Phase != fence.Idle {
			t.Fatalf("fence shard %d left %s", s, snap.State.Phase)
		}
	}
}

func TestSweepDryRunWritesNothing(t *testing.T) {
	e := newEnv(t)
	e.attach("s1", []byte("kept"))
	old := e.orphan()
	e.advance(2 * time.Hour)
	before := e.store.Keys()
	sw := e.sweeper()
	sw.DryRun = true
	rep, err := sw.Run(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Reclaimed[KindAttachmentData] != 1 || !rep.DryRun {
		t.Fatalf("dry run report: %+v", rep)
	}
	if after := e.store.Keys(); strings.Join(after, ",") != strings.Join(before, ",") || !e.exists(old) {
		t.Fatalf("dry run changed the bucket: %v -> %v", before, after)
	}
}

func TestSweepRefusesEmptyRootSet(t *testing.T) {
	e := newEnv(t)
	old := e.orphan()
	e.advance(2 * time.Hour)
	_, err := e.sweeper().Run(e.ctx)
	if !errors.Is(err, ErrEmptyRoots) || !e.exists(old) {
		t.Fatalf("sweep of a bucket with blobs and no roots: %v (data kept: %v)", err, e.exists(old))
	}
	sw := e.sweeper()
	sw.AllowEmptyRoots = true
	if _, err := sw.Run(e.ctx); err != nil || e.exists(old) {
		t.Fatalf("with AllowEmptyRoots: %v (data kept: %v)", err, e.exists(old))
	}
}

func TestSweepLeaseHeld(t *testing.T) {
	e := newEnv(t)
	l, err := AcquireLease(e.ctx, e.store, LeaseKey(Shard{}), "other", time.Minute, e.clock)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.sweeper().Run(e.ctx)
	var held *LeaseHeldError
	if !errors.Is(err, ErrLeaseHeld) || !errors.As(err, &held) || held.Holder != "other" {
		t.Fatalf("sweep while another holds the lease: %v", err)
	}
	// Another shard is not blocked.
	sw := e.sweeper()
	sw.Shard = Shard{Index: 1, Count: 2}
	if _, err := sw.Run(e.ctx); err != nil {
		t.Fatalf("sweep of another shard: %v", err)
	}
	// Once expired (by the sweeper's clock), the lease is taken over.
	e.advance(2 * time.Minute)
	if _, err := e.sweeper().Run(e.ctx); err != nil {
		t.Fatalf("sweep after the lease expired: %v", err)
	}
	if err := l.Renew(e.ctx); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("renewal by the old holder: %v, want ErrLeaseLost", err)
	}
}

func TestSweepMaxDeletesDefers(t *testing.T) {
	e := newEnv(t)
	e.attach("s1", []byte("kept"))
	for range 5 {
		e.orphan()
	}
	e.advance(2 * time.Hour)
	sw := e.sweeper()
	sw.MaxDeletes = 2
	rep, err := sw.Run(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Reclaimed[KindAttachmentData] != 2 || rep.Deferred != 3 {
		t.Fatalf("report: %+v", rep)
	}
	rep, err = e.sweeper().Run(e.ctx)
	if err != nil || rep.Reclaimed[KindAttachmentData] != 3 {
		t.Fatalf("next sweep: %v %+v", err, rep)
	}
}

func TestSweepShardsPartitionTheBucket(t *testing.T) {
	e := newEnv(t)
	e.attach("s1", []byte("kept"))
	var orphans []string
	for range 40 {
		orphans = append(orphans, e.orphan())
	}
	e.advance(2 * time.Hour)
	total := int64(0)
	for i := range 3 {
		sw := e.sweeper()
		sw.Shard = Shard{Index: i, Count: 3}
		rep, err := sw.Run(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range orphans {
			if !e.exists(k) != (fence.ShardOf(k)%3 <= i) {
				t.Fatalf("after shard %d/3: %s (fence shard %d) exists=%v", i, k, fence.ShardOf(k), e.exists(k))
			}
		}
		total += rep.Reclaimed[KindAttachmentData]
	}
	if total != int64(len(orphans)) {
		t.Fatalf("shards reclaimed %d, want %d", total, len(orphans))
	}
}

func TestSweepReportsUnknownKeys(t *testing.T) {
	e := newEnv(t)
	e.attach("s1", []byte("kept"))
	for _, k := range []string{"stray.txt", "other/x", "attach/weird/y", "attach/data/a/b", "gc/nope"} {
		if _, err := e.store.Put(e.ctx, k, []byte("x"), nil); err != nil {
			t.Fatal(err)
		}
	}
	e.advance(2 * time.Hour)
	rep, err := e.sweeper().Run(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"stray.txt", "other/x", "attach/weird/y", "attach/data/a/b", "gc/nope"} {
		if !e.exists(k) {
			t.Fatalf("unknown key %s deleted", k)
		}
	}
	if rep.Skipped[SkipUnknown] != 5 {
		t.Fatalf("unknown keys reported: %d %v", rep.Skipped[SkipUnknown], rep.Unknown)
	}
}

// TestSweepKeepsStoreMarker: the store marker is stowage's own, aged or
// not: never deleted, never reported as unknown.
func TestSweepKeepsStoreMarker(t *testing.T) {
	e := newEnv(t)
	if _, err := marker.Ensure(e.ctx, e.store, e.now); err != nil {
		t.Fatal(err)
	}
	e.attach("s1", []byte("kept"))
	e.advance(48 * time.Hour)
	rep, err := e.sweeper().Run(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !e.exists(marker.Key) {
		t.Fatalf("the sweep deleted the store marker")
	}
	if rep.Skipped[SkipUnknown] != 0 {
		t.Errorf("unknown keys reported: %v", rep.Unknown)
	}
}

// TestSweepAbortsStaleMultipartUploads: an aged upload is aborted and its
// stored bytes are counted in BytesReclaimed; a dry run before reports the
// same bytes and aborts nothing.
func TestSweepAbortsStaleMultipartUploads(t *testing.T) {
	e := newEnv(t)
	e.attach("s1", []byte("kept"))
	block := make(chan struct{})
	started := make(chan struct{})
	key := manifest.DataKey("01KBZSTA1EVP10AD0000000000")
	done := make(chan error, 1)
	go func() {
		_, err := e.store.Upload(e.ctx, key, &blockingReader{data: []byte("stored"), started: started, block: block}, nil)
		done <- err
	}()
	<-started
	e.advance(2 * time.Hour)
	dry := e.sweeper()
	dry.DryRun = true
	rep, err := dry.Run(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Reclaimed[KindMultipart] != 1 || rep.BytesReclaimed != 6 {
		t.Fatalf("dry-run report: %+v", rep)
	}
	rep, err = e.sweeper().Run(e.ctx)
	close(block)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Reclaimed[KindMultipart] != 1 || rep.BytesReclaimed != 6 {
		t.Fatalf("report: %+v", rep)
	}
	if err := <-done; err == nil {
		t.Fatal("the aborted upload succeeded")
	}
}

// blockingReader yields data, then, on the next read (the store has taken
// data in), closes started and blocks until block is closed.
type blockingReader struct {
	data    []byte
	started chan struct{}
	block   chan struct{}
	n       int
}

func (b *blockingReader) Read(p []byte) (int, error) {
	if b.n == 0 {
		b.n++
		return copy(p, b.data), nil
	}
	close(b.started)
	<-b.block
	return 0, errors.New("reader closed")
}

// TestSweepResumesAfterCrash stops a sweep at each of its crash points and
// checks that the next sweep finishes the job and leaves the fences idle.
func TestSweepResumesAfterCrash(t *testing.T) {
	for _, point := range []string{"condemned", "rechecked", "armed", "deleted"} {
		t.Run(point, func(t *testing.T) {
			e := newEnv(t)
			live := e.attach("s1", []byte("kept"))
			old := e.orphan()
			e.advance(2 * time.Hour)
			sw := e.sweeper()
			crash := errors.New("crash")
			sw.hook = func(p string) error {
				if p == point {
					return crash
				}
				return nil
			}
			if _, err := sw.Run(e.ctx); !errors.Is(err, crash) {
				t.Fatalf("crashed sweep: %v", err)
			}
			// The crashed sweeper's lease is still held until it expires.
			if _, err := e.sweeper().Run(e.ctx); !errors.Is(err, ErrLeaseHeld) {
				t.Fatalf("sweep during the crashed sweeper's lease: %v", err)
			}
			e.advance(DefaultLeaseTTL + time.Second)
			if _, err := e.sweeper().Run(e.ctx); err != nil {
				t.Fatal(err)
			}
			if e.exists(old) || !e.exists(live) {
				t.Fatalf("after resume: orphan exists %v, live exists %v", e.exists(old), e.exists(live))
			}
			assertFencesIdle(t, e)
		})
	}
}

// sessionObjects writes a head naming one checkpoint object of sid plus an
// unnamed one, and a headless session's object; it returns the keys.
func (e *env) sessionObjects(sid string) (named, unnamedKey, headless string) {
	e.t.Helper()
	named, unnamedKey = blobKeyOf(sid, "01KBZNAMED0000000000000000"), blobKeyOf(sid, "01KBZSVPERSEDED00000000000")
	headless = blobKeyOf(sid+"-nohead", "01KBZABANDNED0000000000000")
	for _, k := range []string{named, unnamedKey, headless} {
		if _, err := e.store.Put(e.ctx, k, []byte("checkpoint"), nil); err != nil {
			e.t.Fatal(err)
		}
	}
	if _, err := writeSimHead(e.ctx, e.store, sid, "", &simHead{Gen: 1, WriteID: "w1", Blobs: []string{named}}); err != nil {
		e.t.Fatal(err)
	}
	return named, unnamedKey, headless
}

// unfencedHeads reads simulated heads but cannot fence them, like
// SessionHeads without a SweepFunc.
type unfencedHeads struct{ simHeads }

func (unfencedHeads) Sweep(context.Context, objstore.Store, string, string) (*session.HeadInfo, error) {
	return nil, ErrNoHeadFence
}

func TestSweepSessionObjectsNeedTheHeadFence(t *testing.T) {
	e := newEnv(t)
	e.fsck.Expect("head", "head does not decode") // simulated heads
	e.attach("s1", []byte("kept"))
	named, unnamedKey, headless := e.sessionObjects("s1")
	e.advance(2 * time.Hour)
	// Without a head fence (the session layer's default today) nothing is
	// deleted on the strength of its age.
	sw := e.sweeper()
	sw.Heads = unfencedHeads{}
	rep, err := sw.Run(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !e.exists(unnamedKey) || !e.exists(headless) || rep.Deferred != 2 {
		t.Fatalf("without a head fence: unnamed kept %v, headless kept %v, report %+v", e.exists(unnamedKey), e.exists(headless), rep)
	}
	sw = e.sweeper()
	ids := 0
	sw.Heads = simHeads{ids: func() string { ids++; return fmt.Sprint("sweep", ids) }}
	rep, err = sw.Run(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !e.exists(named) || e.exists(unnamedKey) || e.exists(headless) || rep.Reclaimed[KindSessionObject] != 2 {
		t.Fatalf("with the head fence: named %v unnamed %v headless %v, report %+v", e.exists(named), e.exists(unnamedKey), e.exists(headless), rep)
	}
	h, _, err := readSimHead(e.ctx, e.store, "s1")
	if err != nil || h.Sweep != 1 || h.Gen != 2 {
		t.Fatalf("head after the fence: %+v, %v (want sweep generation 1)", h, err)
	}
	if ph, _, err := readSimHead(e.ctx, e.store, "s1-nohead"); err != nil || ph == nil || !ph.Placeholder || ph.Deleted {
		t.Fatalf("headless session: %+v, %v (want a placeholder)", ph, err)
	}
}

func TestSweepForgetsDeadUploadIntents(t *testing.T) {
	e := newEnv(t)
	e.attach("s1", []byte("kept"))
	// A writer that crashed after its upload: an ownerless intent and data.
	u, err := e.m.BeginUpload(e.ctx, "s1", manifest.Owner{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Put(e.ctx, u.DataKey, []byte("abandoned"), nil); err != nil {
		t.Fatal(err)
	}
	e.advance(2 * time.Hour)
	if _, err := e.sweeper().Run(e.ctx); err != nil || !e.exists(u.DataKey) {
		t.Fatalf("without ForgetDeadIntents the intent roots its data: %v, exists %v", err, e.exists(u.DataKey))
	}
	sw := e.sweeper()
	sw.ForgetDeadIntents = true
	rep, err := sw.Run(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if e.exists(u.DataKey) || e.exists(manifest.UploadKey(u.ID)) || rep.Reclaimed[KindAttachmentData] != 1 {
		t.Fatalf("after forgetting: data %v intent %v, report %+v", e.exists(u.DataKey), e.exists(manifest.UploadKey(u.ID)), rep)
	}
}

// TestSweepForgetsDeadRowsThroughTheHead: with HeadRefs, a session's dead
// rows are judged, the head fenced, a row whose commit landed (its stamp was
// skipped) repaired, and the others forgotten.
func TestSweepForgetsDeadRowsThroughTheHead(t *testing.T) {
	e := newEnv(t)
	e.fsck.Expect("head", "head does not decode") // a simulated head
	e.attach("s0", []byte("kept"))
	landed, dead := e.row("s1", "landed"), e.row("s1", "dead")
	if _, err := writeSimHead(e.ctx, e.store, "s1", "", &simHead{Gen: 1, WriteID: "w1", Atts: []string{landed}}); err != nil {
		t.Fatal(err)
	}
	e.advance(2 * time.Hour)
	sw := e.sweeper()
	sw.ForgetDeadIntents = true
	sw.Heads = simHeads{ids: func() string { return "sweep" }}
	sw.HeadRefs = simHeadRefs{e.store}
	rep, err := sw.Run(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok, err := e.m.Row(e.ctx, "s1", landed); err != nil || !ok || !r.Committed() {
		t.Fatalf("the landed commit's row: %+v, %v, %v (want repaired)", r, ok, err)
	}
	if _, ok, err := e.m.Row(e.ctx, "s1", dead); err != nil || ok {
		t.Fatalf("the dead row: live %v, %v (want forgotten)", ok, err)
	}
	if h, _, err := readSimHead(e.ctx, e.store, "s1"); err != nil || h.Sweep == 0 {
		t.Fatalf("head after the sweep: %+v, %v (want fenced)", h, err)
	}
	if rep.Reclaimed[KindRefRow] != 1 || rep.Reclaimed[KindAttachmentData] != 1 {
		t.Fatalf("report: %+v", rep)
	}
}

// TestResumedSweepDoesNotCountTwice: a sweep that deleted its armed keys
// and stopped before releasing the fence counted them; the sweep that
// resumes the fence finds them gone and does not count them again (on main
// the two reports summed to twice the objects reclaimed).
func TestResumedSweepDoesNotCountTwice(t *testing.T) {
	e := newEnv(t)
	e.attach("s1", []byte("kept"))
	e.orphan()
	e.orphan()
	e.advance(2 * time.Hour)
	sw := e.sweeper()
	crash := errors.New("crash")
	sw.hook = func(p string) error {
		if p == "deleted" {
			return crash
		}
		return nil
	}
	first, err := sw.Run(e.ctx)
	if !errors.Is(err, crash) {
		t.Fatalf("crashed sweep: %v", err)
	}
	e.advance(DefaultLeaseTTL + time.Second)
	second, err := e.sweeper().Run(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := first.Reclaimed[KindAttachmentData] + second.Reclaimed[KindAttachmentData]
	if got != 2 {
		t.Fatalf("reclaimed %d + %d, want 2 in all", first.Reclaimed[KindAttachmentData], second.Reclaimed[KindAttachmentData])
	}
	assertFencesIdle(t, e)
}

// cancelOnDelete cancels the sweep's context at its first DeleteMany.
type cancelOnDelete struct {
	objstore.Store
	cancel context.CancelFunc
}

func (c cancelOnDelete) DeleteMany(ctx context.Context, keys []string) error {
	c.cancel()
	return ctx.Err()
}

// TestCancelledDeletesAreNotFailures: deletes a SIGINT cancels are left for
// the next sweep (deferred), not counted as failed (on main they were).
func TestCancelledDeletesAreNotFailures(t *testing.T) {
	e := newEnv(t)
	e.attach("s1", []byte("kept"))
	e.orphan()
	e.advance(2 * time.Hour)
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	sw := e.sweeper()
	sw.Store = cancelOnDelete{Store: e.store, cancel: cancel}
	rep, err := sw.Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled sweep: %v", err)
	}
	if rep.Failed != 0 || rep.Deferred != 1 || rep.Total() != 0 {
		t.Fatalf("report: failed %d, deferred %d, reclaimed %d", rep.Failed, rep.Deferred, rep.Total())
	}
}

// TestFailedDeleteNamesItsCause: a sweep whose deletes are refused returns
// ErrIncomplete wrapping the refusal (an AccessError names the IAM action).
func TestFailedDeleteNamesItsCause(t *testing.T) {
	e := newEnv(t)
	e.attach("s1", []byte("kept"))
	e.orphan()
	e.advance(2 * time.Hour)
	sw := e.sweeper()
	sw.Store = refuseDeletes{e.store}
	_, err := sw.Run(e.ctx)
	if !errors.Is(err, ErrIncomplete) || !errors.Is(err, objstore.ErrPermission) || !strings.Contains(err.Error(), "s3:DeleteObject") {
		t.Fatalf("sweep with refused deletes: %v", err)
	}
}

type refuseDeletes struct{ objstore.Store }

func (r refuseDeletes) DeleteMany(ctx context.Context, keys []string) error {
	return &objstore.AccessError{Operation: "DeleteObjects", Action: "s3:DeleteObject", Err: objstore.ErrPermission}
}
