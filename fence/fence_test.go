package fence

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stowage-dev/stowage/internal/codec"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
)

// counting counts the requests that reach the store.
type counting struct {
	objstore.Store
	gets, notModified, heads, puts atomic.Int64
}

func (c *counting) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	c.gets.Add(1)
	rc, info, err := c.Store.Get(ctx, key, opts)
	if errors.Is(err, objstore.ErrNotModified) {
		c.notModified.Add(1)
	}
	return rc, info, err
}

func (c *counting) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	c.heads.Add(1)
	return c.Store.Head(ctx, key)
}

func (c *counting) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	c.puts.Add(1)
	return c.Store.Put(ctx, key, data, opts)
}

// keysIn returns n distinct data keys of shard.
func keysIn(shard, n int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		k := fmt.Sprintf("attach/data/%06d", i)
		if ShardOf(k) == shard {
			out = append(out, k)
		}
	}
	return out
}

func putData(t *testing.T, s objstore.Store, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, err := s.Put(context.Background(), k, []byte("bytes of "+k), nil); err != nil {
			t.Fatal(err)
		}
	}
}

var sweeper = Holder{Lease: "gc/lease/0-of-1", Token: 1, ID: "test"}

func TestProtectIdle(t *testing.T) {
	ctx := context.Background()
	s := &counting{Store: memstore.New(nil)}
	f := New(s, nil)
	k := keysIn(3, 2)
	putData(t, s, k[0])
	if err := f.Protect(ctx, k[0]); err != nil {
		t.Fatalf("protect existing data on a fresh bucket: %v", err)
	}
	if err := f.Protect(ctx, k[1]); !errors.Is(err, ErrReclaimed) {
		t.Fatalf("protect missing data: got %v, want ErrReclaimed", err)
	}
	if s.puts.Load() != 1 {
		t.Fatalf("Protect wrote to an idle fence (%d puts)", s.puts.Load()-1)
	}
}

func TestProtectRevalidatesWithConditionalGet(t *testing.T) {
	ctx := context.Background()
	s := &counting{Store: memstore.New(nil)}
	f := New(s, nil)
	k := keysIn(5, 3)
	putData(t, s, k...)
	snap, err := f.Load(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	// Give the shard an object, so there is an ETag to revalidate.
	snap, err = f.Condemn(ctx, snap, sweeper, k[2:])
	if err != nil {
		t.Fatal(err)
	}
	writer := New(s, nil)
	before := s.notModified.Load()
	for range 3 {
		if err := writer.Protect(ctx, k[0]); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.notModified.Load() - before; got != 2 {
		t.Fatalf("3 Protects of an unchanged fence: %d not-modified revalidations, want 2", got)
	}
	if _, err := f.Release(ctx, snap); err != nil {
		t.Fatal(err)
	}
}

func TestRevokeBeforeArmSpares(t *testing.T) {
	ctx := context.Background()
	s := memstore.New(nil)
	f := New(s, nil)
	k := keysIn(7, 3)
	putData(t, s, k...)
	snap, _ := f.Load(ctx, 7)
	snap, err := f.Condemn(ctx, snap, sweeper, k)
	if err != nil {
		t.Fatal(err)
	}
	if err := New(s, nil).Protect(ctx, k[1]); err != nil {
		t.Fatalf("protect a condemned key: %v", err)
	}
	armed, err := f.Arm(ctx, snap, func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if armed.State.Phase != Deleting || len(armed.State.Keys) != 2 || armed.State.Armed(k[1]) {
		t.Fatalf("armed %v, want %v without the revoked %s", armed.State.Keys, k, k[1])
	}
	if err := New(s, nil).Protect(ctx, k[0]); !errors.Is(err, ErrReclaimed) {
		t.Fatalf("protect an armed key: got %v, want ErrReclaimed", err)
	}
	if err := s.DeleteMany(ctx, armed.State.Keys); err != nil {
		t.Fatal(err)
	}
	idle, err := f.Release(ctx, armed)
	if err != nil {
		t.Fatal(err)
	}
	if idle.State.Phase != Idle || idle.State.Epoch != 1 {
		t.Fatalf("after release: %+v", idle.State)
	}
	// After the epoch: the deleted key is reported gone, the revoked one lives.
	if err := New(s, nil).Protect(ctx, k[2]); !errors.Is(err, ErrReclaimed) {
		t.Fatalf("protect a deleted key after release: got %v", err)
	}
	if err := New(s, nil).Protect(ctx, k[1]); err != nil {
		t.Fatalf("protect the revoked key after release: %v", err)
	}
}

func TestArmEverythingRevokedReleases(t *testing.T) {
	ctx := context.Background()
	s := memstore.New(nil)
	f := New(s, nil)
	k := keysIn(1, 1)
	putData(t, s, k...)
	snap, _ := f.Load(ctx, 1)
	snap, _ = f.Condemn(ctx, snap, sweeper, k)
	armed, err := f.Arm(ctx, snap, func(string) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	if armed.State.Phase != Idle || armed.State.Epoch != 1 {
		t.Fatalf("arming nothing: %+v, want idle epoch 1", armed.State)
	}
}

func TestTakeOverSupersedes(t *testing.T) {
	ctx := context.Background()
	s := memstore.New(nil)
	a, b := New(s, nil), New(s, nil)
	k := keysIn(9, 2)
	putData(t, s, k...)
	snap, _ := a.Load(ctx, 9)
	mine, err := a.Condemn(ctx, snap, sweeper, k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Condemn(ctx, mine, Holder{ID: "b", Token: 2}, k); !errors.Is(err, ErrBusy) {
		t.Fatalf("condemn a marking shard: %v, want ErrBusy", err)
	}
	cur, _ := b.Load(ctx, 9)
	theirs, err := b.TakeOver(ctx, cur, Holder{Lease: sweeper.Lease, Token: 2, ID: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Arm(ctx, mine, func(string) bool { return true }); !errors.Is(err, ErrSuperseded) {
		t.Fatalf("arm by the superseded holder: %v, want ErrSuperseded", err)
	}
	if _, err := a.Release(ctx, mine); !errors.Is(err, ErrSuperseded) {
		t.Fatalf("release by the superseded holder: %v, want ErrSuperseded", err)
	}
	if _, err := b.Release(ctx, theirs); err != nil {
		t.Fatal(err)
	}
}

func TestCondemnValidates(t *testing.T) {
	ctx := context.Background()
	f := New(memstore.New(nil), nil)
	snap, _ := f.Load(ctx, 2)
	if _, err := f.Condemn(ctx, snap, sweeper, keysIn(3, 1)); !errors.Is(err, objstore.ErrInvalidArgument) {
		t.Fatalf("condemn a key of another shard: %v", err)
	}
	if _, err := f.Condemn(ctx, snap, sweeper, nil); !errors.Is(err, objstore.ErrInvalidArgument) {
		t.Fatalf("condemn nothing: %v", err)
	}
	if _, err := f.Condemn(ctx, snap, Holder{}, keysIn(2, 1)); !errors.Is(err, objstore.ErrInvalidArgument) {
		t.Fatalf("condemn without holder: %v", err)
	}
	stale := snap
	if _, err := f.Condemn(ctx, snap, sweeper, keysIn(2, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Condemn(ctx, stale, sweeper, keysIn(2, 1)); !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Fatalf("condemn from a stale read: %v", err)
	}
	if _, err := f.Load(ctx, Shards); !errors.Is(err, objstore.ErrInvalidArgument) {
		t.Fatalf("load shard out of range: %v", err)
	}
}

func TestDecodeRejectsUnknownVersion(t *testing.T) {
	ctx := context.Background()
	s := memstore.New(nil)
	k := keysIn(4, 1)
	putData(t, s, k...)
	future, err := codec.Encode(codec.Schema{Kind: schema.Kind, Current: 2, Min: 2}, State{Phase: Idle})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, Key(4), future, nil); err != nil {
		t.Fatal(err)
	}
	if err := New(s, nil).Protect(ctx, k[0]); err == nil || errors.Is(err, ErrReclaimed) {
		t.Fatalf("protect under an unreadable fence: %v, want a hard error", err)
	}
}

// TestRacingProtectAndArm races writers protecting every candidate against
// a sweeper arming them: each key ends exactly one way, and a key whose
// Protect returned nil is never armed.
func TestRacingProtectAndArm(t *testing.T) {
	ctx := context.Background()
	for round := range 20 {
		s := memstore.New(nil)
		f := New(s, nil)
		k := keysIn(round%Shards, 16)
		putData(t, s, k...)
		snap, _ := f.Load(ctx, round%Shards)
		snap, err := f.Condemn(ctx, snap, sweeper, k)
		if err != nil {
			t.Fatal(err)
		}
		results := make([]error, len(k))
		var wg sync.WaitGroup
		for i := range k {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = New(s, nil).Protect(ctx, k[i])
			}()
		}
		armed, err := f.Arm(ctx, snap, func(string) bool { return true })
		if err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		for i, key := range k {
			switch {
			case results[i] == nil && armed.State.Armed(key):
				t.Fatalf("round %d: %s protected and armed", round, key)
			case errors.Is(results[i], ErrReclaimed) && !armed.State.Armed(key):
				t.Fatalf("round %d: %s reclaimed but not armed", round, key)
			case results[i] != nil && !errors.Is(results[i], ErrReclaimed):
				t.Fatalf("round %d: %s: %v", round, key, results[i])
			}
		}
	}
}
