package session

import (
	"context"
	"slices"

	"golang.org/x/sync/errgroup"
)

// pathState is an active path computed without decoding the whole graph,
// cached for the head write it was computed on.
type pathState struct {
	etag, writeID, leaf string
	nodes               []NodeRecord // root first, shared: callers clone
}

// pathStep is one node of an active path being resolved: known already
// (the tail, a segment read whole), or to be read from its block.
type pathStep struct {
	node *NodeRecord
	loc  nodeLoc
	id   string
}

// activePath returns leaf's ancestor chain in the graph of snap, root
// first, cut at the first missing ancestor, as graphState.activePath does,
// for the caller to keep: a copy of what the cache holds, or nodes decoded
// for this call alone (wholeChain). It reads only the directory runs, the
// indexes of the live segments after them and the blocks that hold nodes
// of the chain: the chain is computed from their parents, then its blocks
// are read in parallel, so a short path in a long session costs its own
// blocks, not the history. A segment of schema 1 (no parents in its
// index) is read whole.
func (s *Store) activePath(ctx context.Context, sid string, snap snapshot, leaf string) ([]NodeRecord, error) {
	if p := s.segs.path(sid, snap.etag, snap.h.WriteID, leaf); p != nil {
		return cloneNodes(p.nodes), nil
	}
	h := snap.h
	if wholePath(h, leaf) {
		return s.wholeChain(ctx, sid, snap, leaf)
	}
	l := newLocator(h)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.loadRuns(gctx, l) })
	g.Go(func() error { return s.loadU(gctx, l, func(segRef) bool { return true }) })
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if l.checkRuns() {
		if err := s.loadU(ctx, l, func(segRef) bool { return true }); err != nil {
			return nil, err
		}
	}
	steps, err := s.pathSteps(ctx, sid, tailNodes(h), h.Tombstones, l, leaf)
	if err != nil {
		return nil, err
	}
	chain, err := s.readSteps(ctx, sid, steps)
	if err != nil {
		return nil, err
	}
	if snap.etag != "" {
		s.segs.putPath(sid, &pathState{etag: snap.etag, writeID: h.WriteID, leaf: leaf, nodes: chain})
	}
	return cloneNodes(chain), nil
}

// wholePath reports whether the active path of leaf holds every node of
// h's graph (head.Branched): its load then reads the segments whole, all
// in one round after the head, instead of their indexes and then the
// blocks of the path.
func wholePath(h *head, leaf string) bool {
	return !h.Branched && len(h.Tombstones) == 0 && leaf == h.Leaf
}

// wholeChain reads every live segment of snap's head whole and walks the
// active path of leaf over them and the tail. The nodes it decodes are the
// caller's: only the tail's (the cached head's) and those of a segment the
// cache held are copied. What a read of the path's blocks would have cached
// (the blocks, not the footers: caching whole segments beside the path held
// 27 MiB more in many_sessions_rss on fsstore) is cached after the call
// returns, from the segments' bytes decoded again (cacheChainLater): a cold
// load has no copy of its nodes on its critical path.
func (s *Store) wholeChain(ctx context.Context, sid string, snap snapshot, leaf string) ([]NodeRecord, error) {
	refs := liveSegs(snap.h)
	ids := make([]string, len(refs))
	for i, r := range refs {
		ids[i] = r.ID
	}
	segs, raws, err := s.readSegments(ctx, sid, ids, false)
	if err != nil {
		return nil, err
	}
	own := make([]*segment, len(segs))
	for i, seg := range segs {
		own[i] = seg
		if raws[i] == nil { // the cache's
			c := *seg
			c.Nodes = cloneNodes(seg.Nodes)
			own[i] = &c
		}
	}
	h := *snap.h
	h.Tail = make([]delta, len(snap.h.Tail))
	for i, d := range snap.h.Tail {
		d.Nodes = cloneNodes(d.Nodes)
		h.Tail[i] = d
	}
	chain := activeChain(&h, own, leaf)
	s.cacheChainLater(sid, snap, leaf, ids, segs, raws)
	return chain, nil
}

// cacheChainLater caches, in the background, the blocks of the segments
// wholeChain read and the active path of leaf over them: the segments it
// decoded are the caller's, so they are decoded again from raws (a
// segment with no raw bytes is the cache's already). WaitCompaction waits
// for it.
func (s *Store) cacheChainLater(sid string, snap snapshot, leaf string, ids []string, segs []*segment, raws [][]byte) {
	s.spareWG.Add(1)
	go func() {
		defer s.spareWG.Done()
		mine := make([]*segment, len(segs))
		for i, raw := range raws {
			mine[i] = segs[i]
			if raw == nil {
				continue
			}
			seg, err := redecodeNodes(raw, segs[i])
			if err != nil {
				return // it decoded a moment ago: nothing to cache
			}
			mine[i] = seg
		}
		for i, seg := range mine {
			s.cacheBlocks(sid, ids[i], seg)
		}
		if snap.etag != "" {
			chain := activeChain(snap.h, mine, leaf)
			s.segs.putPath(sid, &pathState{etag: snap.etag, writeID: snap.h.WriteID, leaf: leaf, nodes: chain})
		}
	}()
}

// cacheBlocks caches the blocks of seg, read whole (a segment of schema 1,
// which has none, whole).
func (s *Store) cacheBlocks(sid, id string, seg *segment) {
	if len(seg.Blocks) == 0 {
		s.segs.put(sid, id, seg)
		return
	}
	off := 0
	for b, ref := range seg.Blocks {
		end := min(off+ref.Nodes, len(seg.Nodes))
		s.segs.putBlock(sid, id, b, seg.Nodes[off:end:end])
		off = end
	}
	s.segs.putWalk(sid, id, &segWalk{reset: seg.Reset, blocks: seg.Blocks})
}

// tailNodes returns the live nodes of h's tail by id.
func tailNodes(h *head) map[string]NodeRecord {
	tail := map[string]NodeRecord{}
	for _, d := range h.Tail {
		if d.Reset {
			clear(tail)
		}
		for _, n := range d.Nodes {
			tail[n.NodeID] = n
		}
	}
	return tail
}

// pathSteps walks from leaf to the root through the tail, the indexes of
// the segments after the runs and the runs (the newest version of a node
// wins), leaf first, and stops at a tombstoned id (dead, sorted) as the
// decoded graph's walk does.
func (s *Store) pathSteps(ctx context.Context, sid string, tail map[string]NodeRecord, dead []string, l *locator, leaf string) ([]pathStep, error) {
	whole := map[string]map[string]*NodeRecord{} // schema-1 segments read whole
	var steps []pathStep
	seen := map[string]bool{}
	for id := leaf; id != "" && !seen[id]; {
		if _, tombstoned := slices.BinarySearch(dead, id); tombstoned {
			break
		}
		seen[id] = true
		if n, ok := tail[id]; ok {
			steps = append(steps, pathStep{node: &n, id: id})
			id = n.ParentNodeID
			continue
		}
		loc, ok := l.inU(id)
		if !ok {
			loc, ok = l.inRuns(id)
		}
		if !ok {
			break // tombstoned or missing: the chain is cut here
		}
		if loc.table != nil {
			steps = append(steps, pathStep{loc: loc, id: id})
			id = loc.parent
			continue
		}
		byID, ok := whole[loc.seg]
		if !ok {
			segs, err := s.loadSegments(ctx, sid, []string{loc.seg})
			if err != nil {
				return nil, err
			}
			byID = make(map[string]*NodeRecord, len(segs[0].Nodes))
			for k := range segs[0].Nodes {
				byID[segs[0].Nodes[k].NodeID] = &segs[0].Nodes[k]
			}
			whole[loc.seg] = byID
		}
		n, ok := byID[id]
		if !ok {
			return nil, &CorruptError{Key: segKey(sid, loc.seg), Err: ErrCorrupt}
		}
		steps = append(steps, pathStep{node: n, id: id})
		id = n.ParentNodeID
	}
	return steps, nil
}

// readSteps reads the blocks steps need, in parallel, and returns the
// chain root first.
func (s *Store) readSteps(ctx context.Context, sid string, steps []pathStep) ([]NodeRecord, error) {
	type blockKey struct {
		seg string
		blk int
	}
	blocks := map[blockKey][]NodeRecord{}
	var need []pathStep
	for _, st := range steps {
		if k := (blockKey{st.loc.seg, st.loc.blk}); st.node == nil && blocks[k] == nil {
			blocks[k] = []NodeRecord{}
			need = append(need, st)
		}
	}
	whole := wholeSegments(need)
	var wholeIDs []string
	for id := range whole {
		wholeIDs = append(wholeIDs, id)
	}
	var segs []*segment
	got := make([][]NodeRecord, len(need))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	g.Go(func() (err error) {
		segs, err = s.loadSegments(gctx, sid, wholeIDs) // in parallel itself
		return err
	})
	for i, st := range need {
		if !whole[st.loc.seg] {
			g.Go(func() (err error) {
				got[i], err = s.loadBlock(gctx, sid, st.loc.seg, st.loc.table, st.loc.blk)
				return err
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i, st := range need {
		if k := slices.Index(wholeIDs, st.loc.seg); k >= 0 {
			got[i] = blockNodes(segs[k], st.loc.table, st.loc.blk)
		}
	}
	for i, st := range need {
		blocks[blockKey{st.loc.seg, st.loc.blk}] = got[i]
	}
	chain := make([]NodeRecord, len(steps))
	for i, st := range steps {
		if st.node != nil {
			chain[i] = *st.node
			continue
		}
		b := blocks[blockKey{st.loc.seg, st.loc.blk}]
		k := slices.IndexFunc(b, func(n NodeRecord) bool { return n.NodeID == st.id })
		if k < 0 {
			return nil, &CorruptError{Key: segKey(sid, st.loc.seg), Err: ErrCorrupt}
		}
		chain[i] = b[k]
		if i+1 < len(steps) && chain[i].ParentNodeID != steps[i+1].id {
			// The index's or directory's parent is not the node's.
			return nil, &CorruptError{Key: segKey(sid, st.loc.seg), Err: ErrCorrupt}
		}
	}
	slices.Reverse(chain)
	return chain, nil
}

// wholeSegments picks the segments of which a path needs at least half the
// blocks (and two or more): one GET of the whole segment costs fewer
// requests than its blocks and at most twice their bytes.
func wholeSegments(need []pathStep) map[string]bool {
	count := map[string]int{}
	for _, st := range need {
		count[st.loc.seg]++
	}
	out := map[string]bool{}
	for _, st := range need {
		if n := count[st.loc.seg]; n >= 2 && 2*n >= len(st.loc.table) {
			out[st.loc.seg] = true
		}
	}
	return out
}

// blockNodes returns block b of a whole segment whose block table is table.
func blockNodes(seg *segment, table []blockRef, b int) []NodeRecord {
	start := 0
	for _, r := range table[:b] {
		start += r.Nodes
	}
	return seg.Nodes[min(start, len(seg.Nodes)):min(start+table[b].Nodes, len(seg.Nodes))]
}
