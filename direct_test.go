package stowage_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/session"
)

// errNamesMissing: a published head names an attachment whose row is gone.
var errNamesMissing = errors.New("the published head names an attachment without a row")

// directManifest is a manifest over objs wired as stowage.Open wires one,
// with the head cache segs shared with the session handles.
func directManifest(objs objstore.Store, segs *session.SegmentCache, fencer manifest.SessionFencer) *manifest.Store {
	heads := session.HeadRefs{Store: objs, Cache: segs}
	return manifest.New(objs, &manifest.Options{Turns: session.TurnReceipts{Store: objs},
		Heads: session.HeadRefs{Store: objs}, Incarnations: session.HeadRefs{Store: objs},
		Announcer: heads, HeadCache: heads, Fencer: fencer})
}

// genBlind is the mutant of the commit's side of direct adoption: it
// passes the manifest the sweep generation the put saw instead of its base
// head's, so a commit names a row without a request although a removal
// fenced the head since.
type genBlind struct {
	*manifest.Store
	seen uint64
}

func (g genBlind) PrepareTurnCommit(ctx context.Context, sid string, base manifest.HeadState, turn string, writers, ids []string) (manifest.Prepared, error) {
	base.SweepGen = g.seen
	return g.Store.PrepareTurnCommit(ctx, sid, base, turn, writers, ids)
}

// removal is how TestDirectAdoptionAfterRemoval's other process removes
// the attachment's row.
type removal struct {
	name   string
	fenced bool // the remover's manifest fences the head (Options.Fencer)
	blind  bool // the committing handle's hook ignores the generation
	// raw: the remover deletes the row object itself, as a remover that
	// ignored Row.Fence would (the mutant of ErrFenceRequired).
	raw bool
}

// TestDirectAdoptionAfterRemoval: a turn puts an attachment it does not
// name, through a manifest that adopts directly (stowage.Open's wiring),
// and another process deletes the attachment (a fenced Forget) before the
// turn commits. The commit must not name the removed row: the fence
// changed the sweep generation its put saw. A remover whose manifest
// cannot fence is refused (ErrFenceRequired) and removes nothing. Two
// mutants must be caught: a remover that removes the row without the
// fence, and a commit that passes the put's generation for its base
// head's.
func TestDirectAdoptionAfterRemoval(t *testing.T) {
	raceBackends(t, func(t *testing.T, objs objstore.Store) {
		for _, r := range []removal{{name: "real", fenced: true}, {name: "unfenced"},
			{name: "raw", raw: true}, {name: "genblind", fenced: true, blind: true}} {
			err := adoptAfterRemoval(t.Context(), objs, r)
			switch {
			case r.name == "real" && err != nil:
				t.Fatal(err)
			case r.name == "unfenced" && !errors.Is(err, manifest.ErrFenceRequired):
				t.Fatalf("a remover that cannot fence was not refused: %v", err)
			case r.name != "real" && r.name != "unfenced" && !errors.Is(err, errNamesMissing):
				t.Fatalf("mutant %s not caught: %v", r.name, err)
			}
		}
	})
}

// adoptAfterRemoval runs the schedule of TestDirectAdoptionAfterRemoval
// on session r.name.
func adoptAfterRemoval(ctx context.Context, objs objstore.Store, r removal) error {
	sid := r.name
	segs := session.NewSegmentCache(1 << 20)
	heads := session.HeadRefs{Store: objs, Cache: segs}
	m := directManifest(objs, segs, heads)
	var hook manifest.CommitHook = m
	if r.blind {
		st, _ := heads.CachedHead(sid)
		hook = genBlind{Store: m, seen: st.SweepGen}
	}
	h, err := session.New(session.Config{Store: objs, SessionID: sid, Manifest: m, Hook: hook, Segments: segs})
	if err != nil {
		return err
	}
	ref, err := putTurnOutput(ctx, h, m, sid)
	if err != nil {
		return err
	}
	var fencer manifest.SessionFencer
	if r.fenced {
		fencer = session.HeadRefs{Store: objs}
	}
	other := directManifest(objs, session.NewSegmentCache(1<<20), fencer)
	removeErr := other.Forget(ctx, sid, ref.ID)
	if r.raw {
		removeErr = objs.Delete(ctx, manifest.RefKey(ref.ID, sid), nil)
	}
	if removeErr != nil && !errors.Is(removeErr, manifest.ErrFenceRequired) {
		return removeErr
	}
	if err := commitNode(ctx, h, 1, "t1"); err != nil {
		return err
	}
	if err := checkNotNamed(ctx, objs, m, sid, ref.ID); err != nil {
		return err
	}
	if removeErr != nil {
		// Refused: the row is still there, and the commit named it.
		if named, _, err := (session.HeadRefs{Store: objs}).Committed(ctx, sid, ref.ID); err != nil || !named {
			return fmt.Errorf("after a refused removal the commit did not name the row: %v, %v", named, err)
		}
	}
	return removeErr
}

// checkNotNamed fails with errNamesMissing if a published head of sid
// names id while its row is gone.
func checkNotNamed(ctx context.Context, objs objstore.Store, m *manifest.Store, sid, id string) error {
	named, _, err := session.HeadRefs{Store: objs}.Committed(ctx, sid, id)
	if err != nil {
		return err
	}
	_, ok, err := m.Row(ctx, sid, id)
	switch {
	case err != nil:
		return err
	case named && !ok:
		return fmt.Errorf("%w: %s in %s", errNamesMissing, id, sid)
	}
	return nil
}

// trail records the requests made through it, in order.
type trail struct {
	objstore.Store
	mu  sync.Mutex
	ops []string
}

func (r *trail) log(op, key string) {
	r.mu.Lock()
	r.ops = append(r.ops, op+" "+key)
	r.mu.Unlock()
}

func (r *trail) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.ops
	r.ops = nil
	return out
}

func (r *trail) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	r.log("put", key)
	return r.Store.Put(ctx, key, data, opts)
}

func (r *trail) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	r.log("get", key)
	return r.Store.Get(ctx, key, opts)
}

func (r *trail) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	r.log("head", key)
	return r.Store.Head(ctx, key)
}

func (r *trail) Delete(ctx context.Context, key string, opts *objstore.DeleteOptions) error {
	r.log("delete", key)
	return r.Store.Delete(ctx, key, opts)
}

func (r *trail) DeleteMany(ctx context.Context, keys []string) error {
	r.log("delete_many", strings.Join(keys, ","))
	return r.Store.DeleteMany(ctx, keys)
}

func (r *trail) List(ctx context.Context, prefix string, opts *objstore.ListOptions) iter.Seq2[objstore.ObjectInfo, error] {
	r.log("list", prefix)
	return r.Store.List(ctx, prefix, opts)
}

// TestDirectAdoptionPutsTheHeadFirst: the commit of a turn whose
// attachment this process put (not named by the commit) makes the head PUT
// its first request: no LIST, no row compare-and-swap, no fence read
// before it (docs/protocol.md, "Turns with attachments: adoption without
// a request"); the row is stamped after it, and the head names the
// attachment.
func TestDirectAdoptionPutsTheHeadFirst(t *testing.T) {
	raceBackends(t, func(t *testing.T, objs objstore.Store) {
		ctx, rec := t.Context(), &trail{Store: objs}
		st, err := stowage.OpenStore(ctx, rec, stowage.Config{})
		if err != nil {
			t.Fatal(err)
		}
		h, _ := st.Session("s")
		if err := commitNode(ctx, h, 0, ""); err != nil {
			t.Fatal(err)
		}
		a, _ := attach.New(st.Manifest(), "s", nil)
		ref, err := a.Put(attach.WithOwner(ctx, manifest.TurnOwner("t1")), strings.NewReader("tool output"), attach.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rec.take()
		if err := commitNode(ctx, h, 1, "t1"); err != nil {
			t.Fatal(err)
		}
		ops := rec.take()
		if len(ops) == 0 || ops[0] != "put "+session.HeadKey("s") {
			t.Fatalf("the commit's requests, in order: %q; want the head PUT first", ops)
		}
		t.Logf("the commit's requests, in order: %q", ops)
		if err := checkAdopted(ctx, st.Manifest(), "s", ref); err != nil {
			t.Fatal(err)
		}
	})
}

// TestAgedRemovalsOfFencedRowsNeedAFencer: ForgetAgedUncommitted and
// ForgetAgedSession of a manifest without Options.Fencer keep a dead row
// that a process adopting directly put (Row.Fence) and report
// ErrFenceRequired, as Forget does after another process rewrote the row;
// with a Fencer they forget it.
func TestAgedRemovalsOfFencedRowsNeedAFencer(t *testing.T) {
	ctx := t.Context()
	d := newMarkedRow(t, func(m *manifest.Store) manifest.CommitHook { return m })
	objs, m, ref := d.objs, d.m, d.ref
	if err := commitNode(ctx, d.h, 1, "t2"); err != nil { // t1, the row's owner, is dead
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	for name, forget := range map[string]func(*manifest.Store) (int, error){
		"ForgetAgedUncommitted": func(r *manifest.Store) (int, error) { return r.ForgetAgedUncommitted(ctx, later) },
		"ForgetAgedSession":     func(r *manifest.Store) (int, error) { return r.ForgetAgedSession(ctx, "s", later) },
	} {
		n, err := forget(removerOf(objs, nil))
		if _, ok, rerr := m.Row(ctx, "s", ref.ID); !errors.Is(err, manifest.ErrFenceRequired) || n != 0 || rerr != nil || !ok {
			t.Fatalf("%s without a fencer: forgot %d, %v; row kept %v, %v", name, n, err, ok, rerr)
		}
	}
	// Another process's write of the row (a refresh by a manifest that
	// does not adopt directly) keeps the mark.
	row, _, err := m.Row(ctx, "s", ref.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := removerOf(objs, nil).RecordIntent(ctx, row.Intent); err != nil {
		t.Fatal(err)
	}
	if err := removerOf(objs, nil).Forget(ctx, "s", ref.ID); !errors.Is(err, manifest.ErrFenceRequired) {
		t.Fatalf("Forget without a fencer after another process's write: %v", err)
	}
	if n, err := removerOf(objs, d.heads).ForgetAgedSession(ctx, "s", later); err != nil || n != 1 {
		t.Fatalf("ForgetAgedSession with a fencer: forgot %d, %v", n, err)
	}
}

// noStamp is a commit hook whose stamps after the PUT are lost (a crash
// between the head PUT and the stamp).
type noStamp struct{ *manifest.Store }

func (noStamp) FinishCommit(context.Context, string, []string, time.Time) error { return nil }

// TestUnfencedRepairOfAMarkedRow: a manifest without a Fencer still
// repairs the stamp of a row marked for the fence (Row.Fence) that a
// published head names: the repair removes nothing, so it needs no fence.
func TestUnfencedRepairOfAMarkedRow(t *testing.T) {
	ctx := t.Context()
	d := newMarkedRow(t, func(m *manifest.Store) manifest.CommitHook { return noStamp{m} })
	ref := d.ref
	for rev, turn := range []string{"t1", "t2"} { // t1 adopts the row; t2 makes t1 dead
		if err := commitNode(ctx, d.h, uint64(rev+1), turn); err != nil {
			t.Fatal(err)
		}
	}
	d.h.WaitCompaction()
	unwired := removerOf(d.objs, nil)
	if row, _, err := unwired.Row(ctx, "s", ref.ID); err != nil || row.Committed() || !row.Fence {
		t.Fatalf("before the repair: %+v, %v", row, err)
	}
	if n, err := unwired.ForgetAgedUncommitted(ctx, time.Now().Add(time.Hour)); err != nil || n != 0 {
		t.Fatalf("ForgetAgedUncommitted without a fencer: forgot %d, %v", n, err)
	}
	if row, ok, err := unwired.Row(ctx, "s", ref.ID); err != nil || !ok || !row.Committed() {
		t.Fatalf("the stamp was not repaired: %+v, %v, %v", row, ok, err)
	}
}

// markedRow is session "s" on a memory store, committed through a
// manifest that adopts directly (stowage.Open's wiring) with the hook hook
// makes of it, after turn t1 put an attachment it does not name: the
// attachment's row is marked for the fence (Row.Fence).
type markedRow struct {
	objs  objstore.Store
	heads session.HeadRefs
	m     *manifest.Store
	h     *session.Store
	ref   attach.Ref
}

func newMarkedRow(t *testing.T, hook func(*manifest.Store) manifest.CommitHook) markedRow {
	t.Helper()
	d := markedRow{objs: memstore.New(nil)}
	segs := session.NewSegmentCache(1 << 20)
	d.heads = session.HeadRefs{Store: d.objs, Cache: segs}
	d.m = directManifest(d.objs, segs, d.heads)
	var err error
	if d.h, err = session.New(session.Config{Store: d.objs, SessionID: "s", Manifest: d.m, Hook: hook(d.m), Segments: segs}); err != nil {
		t.Fatal(err)
	}
	if d.ref, err = putTurnOutput(t.Context(), d.h, d.m, "s"); err != nil {
		t.Fatal(err)
	}
	return d
}

// removerOf is another process's manifest over objs that does not adopt
// directly, fencing with fencer (nil: none).
func removerOf(objs objstore.Store, fencer manifest.SessionFencer) *manifest.Store {
	return manifest.New(objs, &manifest.Options{Turns: session.TurnReceipts{Store: objs}, Heads: session.HeadRefs{Store: objs}, Fencer: fencer})
}
