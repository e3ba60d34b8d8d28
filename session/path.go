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
// (the tail, a segment read whole), or to be read from block blk of the
// segment at position seg.
type pathStep struct {
	node     *NodeRecord
	seg, blk int
	id       string
}

// activePath returns leaf's ancestor chain in the graph of snap, root
// first, cut at the first missing ancestor, as graphState.activePath does,
// but reading only the indexes of the live segments and the blocks that
// hold nodes of the chain: the chain is computed from the indexes' parents,
// then its blocks are read in parallel, so a short path in a long session
// costs its own blocks, not the history. A segment of schema 1 (no
// parents in its index) is read whole.
func (s *Store) activePath(ctx context.Context, sid string, snap snapshot, leaf string) ([]NodeRecord, error) {
	if p := s.segs.path(sid, snap.etag, snap.h.WriteID, leaf); p != nil {
		return p.nodes, nil
	}
	h := snap.h
	var refs []segRef
	for _, r := range liveSegs(h) {
		if r.Nodes > 0 {
			refs = append(refs, r)
		}
	}
	ids := make([]string, len(refs))
	for i, r := range refs {
		ids[i] = r.ID
	}
	idxs, err := s.loadIndexes(ctx, sid, ids)
	if err != nil {
		return nil, err
	}
	steps, err := s.pathSteps(ctx, sid, tailNodes(h), ids, idxs, leaf)
	if err != nil {
		return nil, err
	}
	chain, err := s.readSteps(ctx, sid, ids, idxs, steps)
	if err != nil {
		return nil, err
	}
	if snap.etag != "" {
		s.segs.putPath(sid, &pathState{etag: snap.etag, writeID: h.WriteID, leaf: leaf, nodes: chain})
	}
	return chain, nil
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

// pathSteps walks from leaf to the root through the tail and the indexes
// (the newest version of a node wins), leaf first.
func (s *Store) pathSteps(ctx context.Context, sid string, tail map[string]NodeRecord, ids []string, idxs []*segIndex, leaf string) ([]pathStep, error) {
	whole := map[int]map[string]*NodeRecord{} // schema-1 segments read whole
	var steps []pathStep
	seen := map[string]bool{}
	for id := leaf; id != "" && !seen[id]; {
		seen[id] = true
		if n, ok := tail[id]; ok {
			steps = append(steps, pathStep{node: &n, id: id})
			id = n.ParentNodeID
			continue
		}
		i, pos := len(idxs)-1, 0
		for ; i >= 0; i-- {
			var ok bool
			if pos, ok = idxs[i].find(id); ok {
				break
			}
		}
		if i < 0 {
			break // tombstoned or missing: the chain is cut here
		}
		if x := idxs[i]; x.blocked() {
			steps = append(steps, pathStep{seg: i, blk: x.Blocks[pos], id: id})
			id = x.Parents[pos]
			continue
		}
		byID, ok := whole[i]
		if !ok {
			segs, err := s.loadSegments(ctx, sid, ids[i:i+1])
			if err != nil {
				return nil, err
			}
			byID = make(map[string]*NodeRecord, len(segs[0].Nodes))
			for k := range segs[0].Nodes {
				byID[segs[0].Nodes[k].NodeID] = &segs[0].Nodes[k]
			}
			whole[i] = byID
		}
		n, ok := byID[id]
		if !ok {
			return nil, &CorruptError{Key: segKey(sid, ids[i]), Err: ErrCorrupt}
		}
		steps = append(steps, pathStep{node: n, id: id})
		id = n.ParentNodeID
	}
	return steps, nil
}

// readSteps reads the blocks steps need, in parallel, and returns the
// chain root first.
func (s *Store) readSteps(ctx context.Context, sid string, ids []string, idxs []*segIndex, steps []pathStep) ([]NodeRecord, error) {
	type blockKey struct{ seg, blk int }
	blocks := map[blockKey][]NodeRecord{}
	for _, st := range steps {
		if st.node == nil {
			blocks[blockKey{st.seg, st.blk}] = nil
		}
	}
	keys := make([]blockKey, 0, len(blocks))
	for k := range blocks {
		keys = append(keys, k)
	}
	got := make([][]NodeRecord, len(keys))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, k := range keys {
		g.Go(func() (err error) {
			got[i], err = s.loadBlock(gctx, sid, ids[k.seg], idxs[k.seg], k.blk)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i, k := range keys {
		blocks[k] = got[i]
	}
	chain := make([]NodeRecord, len(steps))
	for i, st := range steps {
		if st.node != nil {
			chain[i] = *st.node
			continue
		}
		k := slices.IndexFunc(blocks[blockKey{st.seg, st.blk}], func(n NodeRecord) bool { return n.NodeID == st.id })
		if k < 0 {
			return nil, &CorruptError{Key: segKey(sid, ids[st.seg]), Err: ErrCorrupt}
		}
		chain[i] = blocks[blockKey{st.seg, st.blk}][k]
		if i+1 < len(steps) && chain[i].ParentNodeID != steps[i+1].id {
			// The index's parent is not the node's.
			return nil, &CorruptError{Key: idxKey(sid, ids[st.seg]), Err: ErrCorrupt}
		}
	}
	slices.Reverse(chain)
	return chain, nil
}
