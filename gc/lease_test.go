package gc

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
)

func TestLeaseLifecycle(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s := memstore.New(nil)
	key := LeaseKey(Shard{Index: 1, Count: 2})
	a, err := AcquireLease(ctx, s, key, "a", time.Minute, clock)
	if err != nil {
		t.Fatal(err)
	}
	if h := a.Holder(); h.Token != 1 || h.Lease != key || h.ID != "a" {
		t.Fatalf("first holder %+v", h)
	}
	if _, err := AcquireLease(ctx, s, key, "b", time.Minute, clock); !errors.Is(err, ErrLeaseHeld) {
		t.Fatalf("second acquire: %v", err)
	}
	now = now.Add(45 * time.Second)
	if err := a.RenewIfDue(ctx); err != nil {
		t.Fatal(err)
	}
	now = now.Add(45 * time.Second) // past the first expiry, within the renewed one
	if _, err := AcquireLease(ctx, s, key, "b", time.Minute, clock); !errors.Is(err, ErrLeaseHeld) {
		t.Fatalf("acquire of a renewed lease: %v", err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := AcquireLease(ctx, s, key, "b", time.Minute, clock)
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	if b.Holder().Token != 2 {
		t.Fatalf("token after release: %d, want 2", b.Holder().Token)
	}
	if err := a.Renew(ctx); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("renew by the old holder: %v", err)
	}
}

// lossy applies every Put and reports the response lost.
type lossy struct{ objstore.Store }

func (l lossy) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	if _, err := l.Store.Put(ctx, key, data, opts); err != nil {
		return objstore.ObjectInfo{}, err
	}
	return objstore.ObjectInfo{}, fmt.Errorf("response lost: %w", objstore.ErrOutcomeUnknown)
}

func TestLeaseResolvesLostResponses(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := lossy{memstore.New(nil)}
	l, err := AcquireLease(ctx, s, LeaseKey(Shard{}), "a", time.Minute, func() time.Time { return now })
	if err != nil {
		t.Fatalf("acquire whose response was lost: %v", err)
	}
	if err := l.Renew(ctx); err != nil {
		t.Fatalf("renew whose response was lost: %v", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatalf("release whose response was lost: %v", err)
	}
}

func TestKeySetNeverForgets(t *testing.T) {
	s := newKeySet(100)
	var keys []string
	for i := range 1000 {
		k := fmt.Sprintf("attach/data/%04d", i)
		keys = append(keys, k)
		s.Add(k)
		if i == 100 && s.Len() != -1 {
			t.Fatalf("set still exact after %d keys", i+1)
		}
	}
	for _, k := range keys {
		if !s.Has(k) {
			t.Fatalf("overflowed set lost %s", k)
		}
	}
	fp := 0
	for i := range 10000 {
		if s.Has(fmt.Sprintf("attach/data/other-%d", i)) {
			fp++
		}
	}
	if fp > 10 {
		t.Fatalf("%d false positives in 10000", fp)
	}
}

func TestParseShard(t *testing.T) {
	for in, want := range map[string]Shard{"0/1": {0, 1}, "3/4": {3, 4}, "63/64": {63, 64}} {
		got, err := ParseShard(in)
		if err != nil || got != want {
			t.Errorf("ParseShard(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "1", "1/1", "-1/2", "0/0", "0/65", "a/b", "1/2/3"} {
		if _, err := ParseShard(in); !errors.Is(err, objstore.ErrInvalidArgument) {
			t.Errorf("ParseShard(%q): %v, want ErrInvalidArgument", in, err)
		}
	}
}
