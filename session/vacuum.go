package session

import (
	"context"
	"slices"

	"golang.org/x/sync/errgroup"
)

// VacuumReport is what Vacuum removed.
type VacuumReport struct {
	// RemovedNodes counts the tombstoned graph nodes physically removed.
	RemovedNodes int `json:"removed_nodes"`
	// RemovedTurnInputTombstones counts the settled (completed or
	// cancelled) turn inputs dropped.
	RemovedTurnInputTombstones int `json:"removed_turn_input_tombstones"`
}

// Vacuum removes the handle's session's settled state, in one head write:
//
//   - settled turn inputs (tombstones): a replay of a vacuumed input's
//     source key admits it again, and a cancel of its id finds nothing;
//     the turn-input applications (ListTurnInputApplications) are kept:
//     they live in the turn receipts;
//   - tombstoned graph nodes (TombstoneNodes): they are removed from the
//     head's tail, and every segment holding one is replaced by a copy
//     without it (the old segment is deleted with the handle's next head
//     write, or by the sweeper), so their bytes leave the store. Reads do
//     not change: a vacuumed node is as absent as a tombstoned one.
//
// Nothing else changes (not the head revision, the queue or the lease). A
// second Vacuum with nothing new to remove reports zero and writes
// nothing. It is scoped to the handle's session.
func (s *Store) Vacuum(ctx context.Context) (VacuumReport, error) {
	sid, err := s.boundID()
	if err != nil {
		return VacuumReport{}, err
	}
	var out VacuumReport
	var pending []string // objects the last attempt wrote
	_, err = s.update(ctx, sid, true, func(ctx context.Context, cur snapshot) (plan, error) {
		s.retire(pending) // a lost attempt's objects: never named
		pending, out = nil, VacuumReport{}
		if !cur.h.live() {
			return plan{}, nil
		}
		next := cur.h.clone()
		out.RemovedTurnInputTombstones = dropSettledInputs(next)
		removed, writes, err := s.vacuumNodes(ctx, sid, next)
		if err != nil {
			return plan{}, err
		}
		out.RemovedNodes = removed
		if out == (VacuumReport{}) && len(next.Tombstones) == len(cur.h.Tombstones) {
			return plan{}, nil
		}
		for _, w := range writes {
			pending = append(pending, w.key)
		}
		return plan{
			next:   next,
			before: func(ctx context.Context) error { return s.writeRaw(ctx, writes) },
			after: func(context.Context, snapshot) {
				pending = nil
				s.retire(supersededKeys(cur.h, next))
			},
		}, nil
	})
	return out, err
}

// dropSettledInputs removes h's settled inputs and returns how many.
func dropSettledInputs(h *head) int {
	n := len(h.Inputs)
	h.Inputs = slices.DeleteFunc(h.Inputs, func(r inputRow) bool { return r.State.Terminal() })
	return n - len(h.Inputs)
}

// vacuumNodes removes h's tombstoned nodes from its tail and plans the
// segments that replace those holding one (h is the caller's clone; its
// segment refs are updated). It returns how many distinct nodes it
// removed and the objects to write before the head.
func (s *Store) vacuumNodes(ctx context.Context, sid string, h *head) (int, []blobWrite, error) {
	if len(h.Tombstones) == 0 {
		return 0, nil, nil
	}
	dead := func(id string) bool { _, ok := slices.BinarySearch(h.Tombstones, id); return ok }
	removed := map[string]bool{}
	keep := func(nodes []NodeRecord) []NodeRecord {
		var out []NodeRecord
		for _, n := range nodes {
			if dead(n.NodeID) {
				removed[n.NodeID] = true
				continue
			}
			out = append(out, n)
		}
		return out
	}
	for i := range h.Tail {
		if slices.ContainsFunc(h.Tail[i].Nodes, func(n NodeRecord) bool { return dead(n.NodeID) }) {
			h.Tail[i].Nodes = keep(h.Tail[i].Nodes)
		}
	}
	idx, err := s.loadIndexes(ctx, sid, h.Segs)
	if err != nil {
		return 0, nil, err
	}
	var hit []int
	for i, x := range idx {
		if slices.ContainsFunc(h.Tombstones, x.hasNode) {
			hit = append(hit, i)
		}
	}
	var writes []blobWrite
	for _, i := range hit {
		segs, err := s.loadSegments(ctx, sid, []string{h.Segs[i].ID})
		if err != nil {
			return 0, nil, err
		}
		seg := *segs[0]
		seg.Nodes = keep(seg.Nodes)
		ws, err := s.replaceSegment(sid, &h.Segs[i], &seg)
		if err != nil {
			return 0, nil, err
		}
		writes = append(writes, ws...)
		h.Dirs = dirsBefore(h.Segs, h.Dirs, i) // the runs over it are stale
	}
	h.Tombstones = nil
	return len(removed), writes, nil
}

// replaceSegment encodes seg (a copy of the segment ref names) under a
// fresh id, points ref at it with its new counts, and returns the objects
// to write.
func (s *Store) replaceSegment(sid string, ref *segRef, seg *segment) ([]blobWrite, error) {
	seg.Blocks = nil // encodeSegment makes the block table of the nodes kept
	segData, idxData, x, err := encodeSegment(seg)
	if err != nil {
		return nil, err
	}
	data, at := packSegment(segData, idxData)
	ref.ID, ref.Index = s.newID(), at
	ref.Nodes, ref.Turns, ref.Bytes = len(seg.Nodes), len(x.TurnIDs), segBytes(seg)
	s.segs.put(sid, ref.ID, seg)
	s.segs.putIndex(sid, ref.ID, x)
	return []blobWrite{{key: segKey(sid, ref.ID), data: data}}, nil
}

// writeRaw writes encoded immutable objects in parallel, create-only.
func (s *Store) writeRaw(ctx context.Context, writes []blobWrite) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, w := range writes {
		g.Go(func() error { return s.createObject(gctx, w.key, w.data) })
	}
	return g.Wait()
}
