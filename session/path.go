package session

import (
	"context"
	"slices"
)

// pathState is an active path computed without decoding the whole graph,
// cached for the head write it was computed on.
type pathState struct {
	etag, writeID, leaf string
	nodes               []NodeRecord // root first, shared: callers clone
}

// activePath returns leaf's ancestor chain in the graph of snap, root
// first, cut at the first missing ancestor, as graphState.activePath does,
// but reading only the indexes of the live segments and the segments that
// hold nodes of the chain: a short path in a long session costs its own
// segments, not the history.
func (s *Store) activePath(ctx context.Context, sid string, snap snapshot, leaf string) ([]NodeRecord, error) {
	if p := s.segs.path(sid, snap.etag, snap.h.WriteID, leaf); p != nil {
		return p.nodes, nil
	}
	h := snap.h
	tail := map[string]NodeRecord{}
	for _, d := range h.Tail {
		if d.Reset {
			clear(tail)
		}
		for _, n := range d.Nodes {
			tail[n.NodeID] = n
		}
	}
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
	loaded := map[int]map[string]*NodeRecord{} // by position in refs
	find := func(id string) (*NodeRecord, error) {
		if n, ok := tail[id]; ok {
			return &n, nil
		}
		for i := len(refs) - 1; i >= 0; i-- { // the newest version wins
			if !idxs[i].hasNode(id) {
				continue
			}
			pos, ok := loaded[i]
			if !ok {
				segs, err := s.loadSegments(ctx, sid, ids[i:i+1])
				if err != nil {
					return nil, err
				}
				pos = make(map[string]*NodeRecord, len(segs[0].Nodes))
				for k := range segs[0].Nodes {
					pos[segs[0].Nodes[k].NodeID] = &segs[0].Nodes[k]
				}
				loaded[i] = pos
			}
			if n, ok := pos[id]; ok {
				return n, nil
			}
			return nil, &CorruptError{Key: segKey(sid, ids[i]), Err: ErrCorrupt}
		}
		return nil, nil
	}
	var chain []NodeRecord
	seen := map[string]bool{}
	for id := leaf; id != "" && !seen[id]; {
		n, err := find(id)
		if err != nil {
			return nil, err
		}
		if n == nil {
			break // tombstoned or missing: the chain is cut here
		}
		seen[id] = true
		chain = append(chain, *n)
		id = n.ParentNodeID
	}
	slices.Reverse(chain)
	if snap.etag != "" {
		s.segs.putPath(sid, &pathState{etag: snap.etag, writeID: h.WriteID, leaf: leaf, nodes: chain})
	}
	return chain, nil
}
