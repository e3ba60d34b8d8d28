package session

import (
	"container/list"
	"sync"
)

// SegmentCache caches decoded segments. Segments are immutable and written
// under unique ids, so a cached segment never goes stale: one cache can be
// shared by every handle of a process (stowage.Store does), and a fresh
// handle then loads a session with one head GET plus the segments it has not
// seen. Safe for concurrent use.
type SegmentCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // front: most recently used
	items map[string]*list.Element
}

type segEntry struct {
	key string
	seg *segment
}

// NewSegmentCache returns a cache of at most n decoded segments (at least 1).
func NewSegmentCache(n int) *SegmentCache {
	return &SegmentCache{max: max(n, 1), order: list.New(), items: map[string]*list.Element{}}
}

func segCacheKey(sid, id string) string { return sid + "/" + id }

func (c *SegmentCache) get(sid, id string) (*segment, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[segCacheKey(sid, id)]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*segEntry).seg, true
}

func (c *SegmentCache) put(sid, id string, seg *segment) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := segCacheKey(sid, id)
	if e, ok := c.items[k]; ok {
		c.order.MoveToFront(e)
		return
	}
	c.items[k] = c.order.PushFront(&segEntry{key: k, seg: seg})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*segEntry).key)
	}
}
