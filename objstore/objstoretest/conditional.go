package objstoretest

import (
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/stowage-dev/stowage/objstore"
)

// Racers is the number of goroutines in the race cases.
const racers = 64

// racerBody is racer i's distinct payload.
func racerBody(seed uint64, i int) []byte {
	return append([]byte(fmt.Sprintf("racer %02d:", i)), PatternBytes(seed+uint64(i), 256)...)
}

// checkOneWinner asserts that exactly one racer succeeded, every loser got
// ErrPreconditionFailed, and the stored object is the winner's.
func checkOneWinner(t *testing.T, s objstore.Store, key string, seed uint64, errs []error, infos []objstore.ObjectInfo) {
	t.Helper()
	var winners []int
	for i, err := range errs {
		switch {
		case err == nil:
			winners = append(winners, i)
		case !errors.Is(err, objstore.ErrPreconditionFailed):
			t.Errorf("racer %d: err = %v, want nil or ErrPreconditionFailed", i, err)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d racers succeeded %v, want exactly one", len(winners), winners)
	}
	winner := winners[0]
	info := wantContent(t, s, key, racerBody(seed, winner))
	if info.ETag != infos[winner].ETag {
		t.Errorf("stored ETag %q, winner's put returned %q", info.ETag, infos[winner].ETag)
	}
}

// testCreateOnlyRace: of 64 racing create-only puts exactly one wins.
func testCreateOnlyRace(t *testing.T, h *Harness) {
	s := h.newStore(t)
	seed := Seed(t)
	const key = "race/create"
	infos := make([]objstore.ObjectInfo, racers)
	errs := Race(racers, func(i int) (err error) {
		infos[i], err = s.Put(t.Context(), key, racerBody(seed, i), &objstore.PutOptions{IfNoneMatch: true})
		return err
	})
	checkOneWinner(t, s, key, seed, errs, infos)
}

// testCASRace: of 64 racing compare-and-swaps on one ETag exactly one wins.
func testCASRace(t *testing.T, h *Harness) {
	s := h.newStore(t)
	seed := Seed(t)
	const key = "race/cas"
	base := MustPut(t, s, key, []byte("base"), nil)
	infos := make([]objstore.ObjectInfo, racers)
	errs := Race(racers, func(i int) (err error) {
		infos[i], err = s.Put(t.Context(), key, racerBody(seed, i), &objstore.PutOptions{IfMatch: base.ETag})
		return err
	})
	checkOneWinner(t, s, key, seed, errs, infos)
}

// testCASIncrements: 16 goroutines increment a counter by read-CAS-retry;
// no increment is lost and none is applied twice.
func testCASIncrements(t *testing.T, h *Harness) {
	const workers, each = 16, 4
	s := h.newStore(t)
	const key = "counter"
	MustPut(t, s, key, []byte("0"), &objstore.PutOptions{IfNoneMatch: true})
	ctx := t.Context()
	errs := Race(workers, func(int) error {
		for range each {
			for attempt := 0; ; attempt++ {
				if attempt == 1000 {
					return fmt.Errorf("increment not applied after %d attempts", attempt)
				}
				body, info, err := ReadAll(ctx, s, key, nil)
				if h.ReadsRaceOverwrites && errors.Is(err, objstore.ErrUnavailable) {
					continue // the documented fallback: retry the read
				}
				if err != nil {
					return err
				}
				n, err := strconv.Atoi(string(body))
				if err != nil {
					return fmt.Errorf("counter holds %q", body)
				}
				_, err = s.Put(ctx, key, []byte(strconv.Itoa(n+1)), &objstore.PutOptions{IfMatch: info.ETag})
				if err == nil {
					break
				}
				if !errors.Is(err, objstore.ErrPreconditionFailed) && !errors.Is(err, objstore.ErrConflict) {
					return err
				}
			}
		}
		return nil
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("worker %d: %v", i, err)
		}
	}
	wantContent(t, s, key, []byte(strconv.Itoa(workers*each)))
}

// testStaleETag: a write conditioned on a stale ETag fails and changes
// nothing; so does a create-only put over an existing object.
func testStaleETag(t *testing.T, h *Harness) {
	s := h.newStore(t)
	ctx := t.Context()
	const key = "stale"
	v1 := MustPut(t, s, key, []byte("one"), &objstore.PutOptions{IfNoneMatch: true})
	v2 := MustPut(t, s, key, []byte("two"), &objstore.PutOptions{IfMatch: v1.ETag})
	if v2.ETag == v1.ETag {
		t.Fatalf("CAS to new content kept ETag %q", v1.ETag)
	}
	_, err := s.Put(ctx, key, []byte("three"), &objstore.PutOptions{IfMatch: v1.ETag})
	wantErr(t, "put with stale ETag", err, objstore.ErrPreconditionFailed)
	_, err = s.Put(ctx, key, []byte("four"), &objstore.PutOptions{IfMatch: "0123456789abcdef0123456789abcdef"})
	wantErr(t, "put with made-up ETag", err, objstore.ErrPreconditionFailed)
	_, err = s.Put(ctx, key, []byte("five"), &objstore.PutOptions{IfNoneMatch: true})
	wantErr(t, "create-only put over an existing object", err, objstore.ErrPreconditionFailed)
	if info := wantContent(t, s, key, []byte("two")); info.ETag != v2.ETag {
		t.Errorf("ETag after failed writes = %q, want %q", info.ETag, v2.ETag)
	}
}

// testIfMatchMissing: If-Match on a missing key fails (whatever the server
// answered) and creates nothing, also for a key that existed before.
func testIfMatchMissing(t *testing.T, h *Harness) {
	s := h.newStore(t)
	ctx := t.Context()
	_, err := s.Put(ctx, "never", []byte("x"), &objstore.PutOptions{IfMatch: "0123456789abcdef0123456789abcdef"})
	wantErr(t, "If-Match put on a missing key", err, objstore.ErrPreconditionFailed)
	wantMissing(t, s, "never")

	old := MustPut(t, s, "gone", []byte("x"), nil)
	if err := s.Delete(ctx, "gone", nil); err != nil {
		t.Fatalf("delete: %v", err)
	}
	_, err = s.Put(ctx, "gone", []byte("x"), &objstore.PutOptions{IfMatch: old.ETag})
	wantErr(t, "If-Match put with the ETag of a deleted object", err, objstore.ErrPreconditionFailed)
	wantMissing(t, s, "gone")
}

// testConditionalDelete: with ConditionalDelete, a stale ETag keeps the
// object and the right one deletes it; without, an If-Match delete returns
// ErrNotSupported and never falls back to deleting.
func testConditionalDelete(t *testing.T, h *Harness) {
	s := h.newStore(t)
	ctx := t.Context()
	const key = "cond-delete"
	v1 := MustPut(t, s, key, []byte("one"), nil)
	v2 := MustPut(t, s, key, []byte("two"), nil)
	if !s.Capabilities().ConditionalDelete {
		for _, etag := range []string{v1.ETag, v2.ETag} {
			err := s.Delete(ctx, key, &objstore.DeleteOptions{IfMatch: etag})
			wantErr(t, "If-Match delete on a store without ConditionalDelete", err, objstore.ErrNotSupported)
			wantContent(t, s, key, []byte("two"))
		}
		return
	}
	err := s.Delete(ctx, key, &objstore.DeleteOptions{IfMatch: v1.ETag})
	wantErr(t, "delete with stale ETag", err, objstore.ErrPreconditionFailed)
	wantContent(t, s, key, []byte("two"))
	if err := s.Delete(ctx, key, &objstore.DeleteOptions{IfMatch: v2.ETag}); err != nil {
		t.Errorf("delete with current ETag: %v", err)
	}
	wantMissing(t, s, key)
	// A missing key is success (AWS answers 404, versitygw 204).
	if err := s.Delete(ctx, key, &objstore.DeleteOptions{IfMatch: v2.ETag}); err != nil {
		t.Errorf("conditional delete of a missing key: %v, want nil", err)
	}
}

// testCapabilities: the race cases ran unconditionally, so a store that
// passes them must report the guarantees it gave.
func testCapabilities(t *testing.T, h *Harness) {
	s := h.newStore(t)
	c := s.Capabilities()
	t.Logf("capabilities: %+v", c)
	if !c.ConditionalPut || !c.CompareAndSwap {
		t.Errorf("ConditionalPut=%v CompareAndSwap=%v: a store that passes the race cases must report both", c.ConditionalPut, c.CompareAndSwap)
	}
	if c.Provider == "" {
		t.Errorf("Provider is empty")
	}
}
