package gc

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/fence"
	"github.com/stowage-dev/stowage/objstore"
)

// countingStore counts requests by operation and, for fence objects, on
// the fence prefix.
type countingStore struct {
	objstore.Store
	mu sync.Mutex
	n  map[string]int
}

func (c *countingStore) count(op, key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if strings.HasPrefix(key, fence.Prefix) {
		op += " fence"
	}
	c.n[op]++
}

func (c *countingStore) get(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[op]
}

func (c *countingStore) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	c.count("put", key)
	return c.Store.Put(ctx, key, data, opts)
}

func (c *countingStore) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	c.count("get", key)
	return c.Store.Get(ctx, key, opts)
}

func (c *countingStore) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	c.count("head", key)
	return c.Store.Head(ctx, key)
}

func (c *countingStore) DeleteMany(ctx context.Context, keys []string) error {
	c.count("delete many", "")
	return c.Store.DeleteMany(ctx, keys)
}

// TestSweepRoundRequests counts the requests of a round of 2,500 orphans:
// each fence is read once (by resume; the condemnation starts from that
// read), written three times (condemn, arm, release), and the armed keys
// of all fences are deleted in batches of 1,000, not one batch per fence.
func TestSweepRoundRequests(t *testing.T) {
	e := newEnv(t)
	e.attach("s1", []byte("kept"))
	shards := map[int]bool{}
	const orphans = 2500
	for range orphans {
		shards[fence.ShardOf(e.orphan())] = true
	}
	e.advance(2 * time.Hour)
	cs := &countingStore{Store: e.store, n: map[string]int{}}
	sw := e.sweeper()
	sw.Store = cs
	rep, err := sw.Run(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Reclaimed[KindAttachmentData]; got != orphans {
		t.Fatalf("reclaimed %d orphans of %d", got, orphans)
	}
	for op, want := range map[string]int{
		"get fence":   fence.Shards,
		"put fence":   3 * len(shards),
		"head fence":  0,
		"delete many": (orphans + objstore.MaxDeleteBatch - 1) / objstore.MaxDeleteBatch,
	} {
		if got := cs.get(op); got != want {
			t.Errorf("%s: %d requests, want %d (all: %v)", op, got, want, cs.n)
		}
	}
	assertFencesIdle(t, e)
}
