package session

import (
	"container/list"
	"strconv"
	"sync"
)

// SegmentCache caches decoded immutable objects of sessions (segments,
// their blocks and their indexes) and the decoded graph of each session's latest head,
// within a budget in bytes. Segments and indexes are written under unique
// ids and never change, so a cached one never goes stale; a graph is keyed
// by the head write it was built from. One cache can be shared by every
// handle of a process (stowage.Store does): a fresh handle then loads a
// session with one head GET plus the segments it has not seen, and the
// memory of all handles together stays within the one budget. Safe for
// concurrent use.
//
// Sizes are estimates of the decoded bytes (payloads plus a fixed cost per
// record). An object larger than the whole budget is not cached.
type SegmentCache struct {
	mu    sync.Mutex
	max   int64
	used  int64
	order *list.List // front: most recently used
	items map[string]*list.Element
}

type cacheEntry struct {
	key    string
	val    any
	weight int64
}

// DefaultHandleCacheBytes is the cache budget of a handle that shares no
// cache (Tuning.CacheBytes).
const DefaultHandleCacheBytes = 16 << 20

// NewSegmentCache returns a cache of at most maxBytes decoded bytes (at
// least 1 MiB).
func NewSegmentCache(maxBytes int64) *SegmentCache {
	return &SegmentCache{max: max(maxBytes, 1<<20), order: list.New(), items: map[string]*list.Element{}}
}

// Bytes returns the estimated bytes the cache holds.
func (c *SegmentCache) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

func segCacheKey(sid, id string) string { return sid + "/seg/" + id }
func idxCacheKey(sid, id string) string { return sid + "/idx/" + id }
func blockCacheKey(sid, id string, b int) string {
	return sid + "/blk/" + id + "/" + strconv.Itoa(b)
}
func graphCacheKey(sid string) string { return sid + "/graph" }
func pathCacheKey(sid string) string  { return sid + "/path" }
func headCacheKey(sid string) string  { return sid + "/head" }

func (c *SegmentCache) getKey(k string) any {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[k]
	if !ok {
		return nil
	}
	c.order.MoveToFront(e)
	return e.Value.(*cacheEntry).val
}

// putKey stores val under k, replacing what k held, and evicts the least
// recently used entries beyond the budget.
func (c *SegmentCache) putKey(k string, val any, weight int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		old := e.Value.(*cacheEntry)
		c.used -= old.weight
		c.order.Remove(e)
		delete(c.items, k)
	}
	if weight > c.max {
		return
	}
	c.items[k] = c.order.PushFront(&cacheEntry{key: k, val: val, weight: weight})
	c.used += weight
	for c.used > c.max {
		last := c.order.Back()
		ent := last.Value.(*cacheEntry)
		c.order.Remove(last)
		delete(c.items, ent.key)
		c.used -= ent.weight
	}
}

func (c *SegmentCache) get(sid, id string) (*segment, bool) {
	seg, ok := c.getKey(segCacheKey(sid, id)).(*segment)
	return seg, ok
}

func (c *SegmentCache) put(sid, id string, seg *segment) {
	c.putKey(segCacheKey(sid, id), seg, segBytes(seg))
}

func (c *SegmentCache) getBlock(sid, id string, b int) ([]NodeRecord, bool) {
	nodes, ok := c.getKey(blockCacheKey(sid, id, b)).([]NodeRecord)
	return nodes, ok
}

func (c *SegmentCache) putBlock(sid, id string, b int, nodes []NodeRecord) {
	w := int64(128)
	for _, n := range nodes {
		w += int64(nodeBytes(n))
	}
	c.putKey(blockCacheKey(sid, id, b), nodes, w)
}

// segWalk is what a walk of a segment's nodes needs besides its blocks
// (segmentNodes): cached with the blocks (cacheBlocks), so that a segment
// whose blocks are all cached is walked without reading it again.
type segWalk struct {
	reset  bool
	blocks []blockRef
}

func (c *SegmentCache) putWalk(sid, id string, w *segWalk) {
	c.putKey(sid+"/walk/"+id, w, int64(64+24*len(w.blocks)))
}

// walkable returns segment id of sid as a walk of its nodes needs it (its
// nodes, reset flag and block table), from its blocks in the cache; ok is
// false unless the cache holds its block table and every block. The
// nodes' payloads are the cache's.
func (c *SegmentCache) walkable(sid, id string) (*segment, bool) {
	w, _ := c.getKey(sid + "/walk/" + id).(*segWalk)
	if w == nil {
		return nil, false
	}
	blocks := make([][]NodeRecord, len(w.blocks))
	total := 0
	for b := range w.blocks {
		nodes, ok := c.getBlock(sid, id, b)
		if !ok {
			return nil, false
		}
		blocks[b], total = nodes, total+len(nodes)
	}
	seg := &segment{SessionID: sid, Reset: w.reset, Blocks: w.blocks, Nodes: make([]NodeRecord, 0, total)}
	for _, nodes := range blocks {
		seg.Nodes = append(seg.Nodes, nodes...)
	}
	return seg, true
}

func (c *SegmentCache) getDir(sid, id string) (*dirDoc, bool) {
	d, ok := c.getKey(sid + "/dir/" + id).(*dirDoc)
	return d, ok
}

func (c *SegmentCache) putDir(sid, id string, d *dirDoc) {
	w := int64(128 + 40*len(d.NodeIDs))
	for i := range d.NodeIDs {
		w += int64(len(d.NodeIDs[i]) + len(d.Parents[i]))
	}
	for _, sg := range d.Segs {
		w += int64(64 + 24*len(sg.Blocks))
	}
	c.putKey(sid+"/dir/"+id, d, w)
}

// getRaw returns the stored bytes of segment id, kept by putRaw.
func (c *SegmentCache) getRaw(sid, id string) ([]byte, bool) {
	data, ok := c.getKey(sid + "/raw/" + id).([]byte)
	return data, ok
}

// putRaw keeps the stored bytes of a segment this process wrote; callers
// must not modify data afterwards (nothing does: a segment is immutable).
func (c *SegmentCache) putRaw(sid, id string, data []byte) {
	c.putKey(sid+"/raw/"+id, data, int64(64+len(data)))
}

func (c *SegmentCache) getIndex(sid, id string) (*segIndex, bool) {
	x, ok := c.getKey(idxCacheKey(sid, id)).(*segIndex)
	return x, ok
}

func (c *SegmentCache) putIndex(sid, id string, x *segIndex) {
	w := int64(128)
	w += int64(8*len(x.Blocks) + 24*len(x.BlockTable))
	for _, l := range [][]string{x.NodeIDs, x.Parents, x.TurnIDs, x.AttachmentIDs} {
		for _, s := range l {
			w += int64(len(s)) + 16
		}
	}
	c.putKey(idxCacheKey(sid, id), x, w)
}

// graph returns the cached graph of sid if it was built from the head
// write etag/writeID.
func (c *SegmentCache) graph(sid, etag, writeID string) *graphState {
	g, _ := c.getKey(graphCacheKey(sid)).(*graphState)
	if g == nil || etag == "" || g.etag != etag || g.writeID != writeID {
		return nil
	}
	return g
}

func (c *SegmentCache) putGraph(sid string, g *graphState) {
	w := int64(256)
	for _, n := range g.nodes {
		w += int64(nodeBytes(n)) + 48 // the record and its position entry
	}
	c.putKey(graphCacheKey(sid), g, w)
}

// path returns the cached active path of leaf in sid if it was computed on
// the head write etag/writeID.
func (c *SegmentCache) path(sid, etag, writeID, leaf string) *pathState {
	p, _ := c.getKey(pathCacheKey(sid)).(*pathState)
	if p == nil || etag == "" || p.etag != etag || p.writeID != writeID || p.leaf != leaf {
		return nil
	}
	return p
}

func (c *SegmentCache) putPath(sid string, p *pathState) {
	w := int64(256)
	for _, n := range p.nodes {
		w += int64(nodeBytes(n)) + 48
	}
	c.putKey(pathCacheKey(sid), p, w)
}

// head returns the cached head snapshot of sid (nil: none). A nil cache
// (the throwaway Stores of ReadHead and SweepHead) caches nothing.
func (c *SegmentCache) head(sid string) *snapshot {
	if c == nil {
		return nil
	}
	snap, _ := c.getKey(headCacheKey(sid)).(*snapshot)
	return snap
}

func (c *SegmentCache) putHead(sid string, snap *snapshot) {
	if c == nil {
		return
	}
	c.putKey(headCacheKey(sid), snap, headWeight(snap.h))
}

func (c *SegmentCache) dropHead(sid string) {
	if c == nil {
		return
	}
	c.takeKey(headCacheKey(sid), nil)
}

// takeKey removes k from the cache and returns what it held (nil:
// nothing), unless keep (nil: never) claims the value for the cache: then
// it stays and taken is false.
func (c *SegmentCache) takeKey(k string, keep func(v any) bool) (v any, taken bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[k]
	if !ok {
		return nil, false
	}
	ent := e.Value.(*cacheEntry)
	if keep != nil && keep(ent.val) {
		return ent.val, false
	}
	c.used -= ent.weight
	c.order.Remove(e)
	delete(c.items, k)
	return ent.val, true
}

// headWeight estimates the decoded size of a head.
func headWeight(h *head) int64 {
	if h == nil {
		return 64
	}
	n := int64(2048 + tailBytes(h.Tail) + len(h.AgentFrames) + 40*len(h.RecentWrites) + 640*len(h.Receipts) + 160*len(h.Segs))
	for _, b := range h.Blobs {
		n += int64(len(b.Inline)) + 128
	}
	for _, q := range h.Queue {
		n += int64(len(q.Payload)) + 256
	}
	for _, in := range h.Inputs {
		n += int64(len(in.Payload)) + 256
	}
	return n
}
