package attachtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/fence"
	"github.com/stowage-dev/stowage/manifest"
)

// Identical content is stored once, however many sessions (or times) put it.
func testDedup(t *testing.T, e *env) {
	a, b := e.session("s1", nil), e.session("s2", nil)
	body := random(20, 30_000)
	r1 := e.put(a, body, attach.PutOptions{MediaType: "application/octet-stream", Label: "a"})
	r2 := e.put(b, body, attach.PutOptions{MediaType: "application/x-thing", Label: "b"})
	r3 := e.put(a, body, attach.PutOptions{MediaType: "application/octet-stream", Label: "a2"})
	if r1.ID != r2.ID || r1.ID != r3.ID {
		t.Fatal("same bytes, different ids")
	}
	if keys := e.keys(manifest.DataPrefix); len(keys) != 1 {
		t.Fatalf("data objects after three puts of one content: %v", keys)
	}
	if e.row("s1", r1.ID).Data != e.row("s2", r1.ID).Data {
		t.Fatal("sessions name different data for one content")
	}
	st, err := b.Stat(e.Ctx, r1.ID)
	e.Must(err)
	if st.Label != "b" || st.MediaType != "application/x-thing" {
		t.Fatalf("per-session info lost: %+v", st)
	}
	e.mustGet(a, r1.ID, body)
	e.mustGet(b, r1.ID, body)
	if n := len(e.uploads()); n != 0 {
		t.Fatalf("%d upload intents left", n)
	}
}

// A session cannot read (or stat) another session's attachment by its hash.
func testIsolation(t *testing.T, e *env) {
	a, b := e.session("s1", nil), e.session("s2", nil)
	ref := e.put(a, random(21, 1000), attach.PutOptions{})
	_, _, err := b.Get(e.Ctx, ref.ID, nil)
	wantErr(t, "B's Get of A's blob", err, attach.ErrNotFound)
	_, err = b.Stat(e.Ctx, ref.ID)
	wantErr(t, "B's Stat of A's blob", err, attach.ErrNotFound)
	if list, err := b.List(e.Ctx); err != nil || len(list) != 0 {
		t.Fatalf("B's List = %v, %v", list, err)
	}
	// An intent without bytes is a ref with nothing to read.
	e.Intent("s2", ref.ID, manifest.Owner{})
	_, _, err = b.Get(e.Ctx, ref.ID, nil)
	wantErr(t, "Get of an intent without bytes", err, attach.ErrNotFound)
}

// Delete drops only this session's ref, is idempotent, and keeps shared bytes.
func testIdempotentDelete(t *testing.T, e *env) {
	a, b := e.session("s1", nil), e.session("s2", nil)
	body := random(22, 5000)
	ref := e.put(a, body, attach.PutOptions{})
	e.put(b, body, attach.PutOptions{})
	for range 2 {
		e.Must(a.Delete(e.Ctx, ref.ID))
	}
	e.Must(a.Delete(e.Ctx, digest([]byte("never put"))))
	_, _, err := a.Get(e.Ctx, ref.ID, nil)
	wantErr(t, "Get after Delete", err, attach.ErrNotFound)
	e.mustGet(b, ref.ID, body)
	if keys := e.keys(manifest.DataPrefix); len(keys) != 1 {
		t.Fatalf("Delete touched shared bytes: %v", keys)
	}
	// Putting it again after a delete works.
	e.put(a, body, attach.PutOptions{})
	e.mustGet(a, ref.ID, body)
}

// Puts record their owner: the options', else the context's innermost
// scope; a turn commit adopts that turn's uncommitted refs.
func testOwnerByTurn(t *testing.T, e *env) {
	a := e.session("s1", nil)
	turn := attach.WithOwner(e.Ctx, manifest.TurnOwner("t1"))
	nested := attach.WithOwner(turn, manifest.ProcessOwner("p1"))
	put := func(ctx context.Context, body string, o manifest.Owner) string {
		ref, err := a.Put(ctx, strings.NewReader(body), attach.PutOptions{Owner: o})
		e.Must(err)
		return ref.ID
	}
	x := put(turn, "x", manifest.Owner{})
	y := put(nested, "y", manifest.Owner{})
	v := put(turn, "v", manifest.Owner{}) // the outer scope again
	z := put(turn, "z", manifest.TurnOwner("t2"))
	w := put(e.Ctx, "w", manifest.Owner{})
	for id, want := range map[string]manifest.Owner{x: manifest.TurnOwner("t1"), y: manifest.ProcessOwner("p1"),
		v: manifest.TurnOwner("t1"), z: manifest.TurnOwner("t2"), w: {}} {
		if got := e.row("s1", id).Owner; got != want {
			t.Fatalf("owner of %s = %+v, want %+v", id[:8], got, want)
		}
	}
	prep, err := e.M.PrepareCommit(e.Ctx, "s1", 1, "t1", nil)
	e.Must(err)
	ids := prep.Stamp
	if want := sortedCopy([]string{x, v}); !slices.Equal(ids, want) {
		t.Fatalf("turn t1 adopts %v, want %v", ids, want)
	}
	at := e.Clock.Now()
	e.Must(e.M.FinishCommit(e.Ctx, "s1", ids, at))
	st, err := a.Stat(e.Ctx, x)
	e.Must(err)
	if !st.CommittedAt.Equal(at) {
		t.Fatalf("committed at %v, want %v", st.CommittedAt, at)
	}
}

// PutKnown skips the upload on a deduplication hit (after proving
// possession) and verifies the bytes on a miss.
func testPutKnown(t *testing.T, e *env) {
	a, b := e.session("s1", nil), e.session("s2", nil)
	body := random(23, 20_000)
	id := digest(body)
	opens := 0
	open := func(data []byte) func() (io.Reader, error) {
		return func() (io.Reader, error) {
			opens++
			return bytes.NewReader(data), nil
		}
	}
	ref, err := a.PutKnown(e.Ctx, id, int64(len(body)), open(body), attach.PutOptions{})
	e.Must(err)
	if ref.ID != id || opens != 1 {
		t.Fatalf("miss: ref %+v after %d opens", ref, opens)
	}
	// Another session proves possession (one more open, hashed, not
	// uploaded) and adopts the data; see PutKnownNeedsPossession.
	ref, err = b.PutKnown(e.Ctx, id, -1, open(body), attach.PutOptions{Label: "b"})
	e.Must(err)
	if ref.ID != id || ref.Size != int64(len(body)) || ref.Label != "b" || opens != 2 {
		t.Fatalf("hit: ref %+v after %d opens", ref, opens)
	}
	e.mustGet(b, id, body)
	if keys := e.keys(manifest.DataPrefix); len(keys) != 1 {
		t.Fatalf("data objects: %v", keys)
	}
	other := random(24, 1000)
	_, err = a.PutKnown(e.Ctx, digest([]byte("declared")), -1, open(other), attach.PutOptions{})
	wantErr(t, "PutKnown with a wrong digest", err, attach.ErrChecksum)
	_, err = a.PutKnown(e.Ctx, digest(other), 5, open(other), attach.PutOptions{})
	wantErr(t, "PutKnown with a wrong size", err, attach.ErrChecksum)
	if keys := e.keys(manifest.DataPrefix); len(keys) != 1 {
		t.Fatalf("failed PutKnowns left data: %v", keys)
	}
	if ok := e.Holds("s1", digest(other)); ok {
		t.Fatal("failed PutKnown left a ref")
	}
}

// When the bytes a pointer names were reclaimed, a put uploads anew under a
// new key and replaces the pointer.
func testReclaimedData(t *testing.T, e *env) {
	a, b := e.session("s1", nil), e.session("s2", nil)
	body := random(25, 9000)
	ref := e.put(a, body, attach.PutOptions{})
	old := e.row("s1", ref.ID).Data.Key
	e.Must(a.Delete(e.Ctx, ref.ID))
	e.Must(e.Obj.Delete(e.Ctx, old, nil)) // the sweeper's work
	e.put(b, body, attach.PutOptions{})
	now := e.row("s2", ref.ID).Data.Key
	if now == old {
		t.Fatal("reused a reclaimed data key")
	}
	e.mustGet(b, ref.ID, body)
	blob, ok, err := e.M.LoadBlob(e.Ctx, ref.ID)
	e.Must(err)
	if !ok || blob.Data.Key != now {
		t.Fatalf("pointer %+v, want %s", blob, now)
	}
	// PutKnown takes the same path.
	e.Must(b.Delete(e.Ctx, ref.ID))
	e.Must(e.Obj.Delete(e.Ctx, now, nil))
	got, err := a.PutKnown(e.Ctx, ref.ID, int64(len(body)), func() (io.Reader, error) { return bytes.NewReader(body), nil }, attach.PutOptions{})
	e.Must(err)
	e.mustGet(a, got.ID, body)
}

// A put that adopts data a sweep has condemned revokes it; the sweep then
// cannot arm it.
func testFenceRevokes(t *testing.T, e *env) {
	a, b := e.session("s1", nil), e.session("s2", nil)
	body := random(26, 4000)
	ref := e.put(a, body, attach.PutOptions{})
	key := e.row("s1", ref.ID).Data.Key
	e.Must(a.Delete(e.Ctx, ref.ID)) // now unreferenced: a sweep may condemn it
	f := fence.New(e.Obj, nil)
	snap, err := f.Load(e.Ctx, fence.ShardOf(key))
	e.Must(err)
	sweep, err := f.Condemn(e.Ctx, snap, fence.Holder{ID: "test-sweep", Lease: "l", Token: 1}, []string{key})
	e.Must(err)
	e.put(b, body, attach.PutOptions{}) // adopts key, revoking it
	if got := e.row("s2", ref.ID).Data.Key; got != key {
		t.Fatalf("adopted %s, want %s", got, key)
	}
	armed, err := f.Arm(e.Ctx, sweep, func(string) bool { return true })
	e.Must(err)
	if armed.State.Armed(key) {
		t.Fatal("the sweep armed data a put had adopted")
	}
	e.mustGet(b, ref.ID, body)
}

// A put that finds the pointer's data armed for deletion uploads anew.
func testFenceArmed(t *testing.T, e *env) {
	a, b := e.session("s1", nil), e.session("s2", nil)
	body := random(27, 4000)
	ref := e.put(a, body, attach.PutOptions{})
	key := e.row("s1", ref.ID).Data.Key
	e.Must(a.Delete(e.Ctx, ref.ID))
	f := fence.New(e.Obj, nil)
	snap, err := f.Load(e.Ctx, fence.ShardOf(key))
	e.Must(err)
	sweep, err := f.Condemn(e.Ctx, snap, fence.Holder{ID: "test-sweep", Lease: "l", Token: 1}, []string{key})
	e.Must(err)
	sweep, err = f.Arm(e.Ctx, sweep, func(string) bool { return true })
	e.Must(err)
	if !sweep.State.Armed(key) {
		t.Fatal("setup: key not armed")
	}
	e.put(b, body, attach.PutOptions{})
	if got := e.row("s2", ref.ID).Data.Key; got == key {
		t.Fatal("a put relied on armed data")
	}
	e.Must(e.Obj.Delete(e.Ctx, key, nil)) // the sweep goes on
	_, err = f.Release(e.Ctx, sweep)
	e.Must(err)
	e.mustGet(b, ref.ID, body)
}

// Sixteen sessions putting identical content at once all succeed, and one
// data object remains.
func testConcurrentIdentical(t *testing.T, e *env) {
	const n = 16
	body := random(28, 200_000)
	var (
		wg   sync.WaitGroup
		errs = make([]error, n)
	)
	stores := make([]*attach.Store, n)
	for i := range n {
		stores[i] = e.session(fmt.Sprintf("s%02d", i), nil)
	}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ref, err := stores[i].Put(e.Ctx, bytes.NewReader(body), attach.PutOptions{})
			if err == nil && ref.ID != digest(body) {
				err = errors.New("wrong id")
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
	}
	for _, a := range stores {
		e.mustGet(a, digest(body), body)
	}
	if keys := e.keys(manifest.DataPrefix); len(keys) != 1 {
		t.Fatalf("%d data objects after deduplication: %v", len(keys), keys)
	}
	if u := e.uploads(); len(u) != 0 {
		t.Fatalf("%d upload intents left", len(u))
	}
}
