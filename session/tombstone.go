package session

import (
	"context"
	"slices"
)

// TombstoneNodes marks graph nodes tombstoned without replacing the graph:
// LoadSession and LoadNode no longer return them (an active path is cut at
// a tombstoned ancestor), and nothing else changes. It is a head write of
// its own (the head revision does not move). A later Append of a
// tombstoned id revives it; a ReplaceFull clears the tombstones with the
// rest of the graph. Ids the graph does not hold are dropped, not kept:
// the head keeps a tombstone only for a node it has (an Append of such an
// id would revive it anyway). The ids are sorted once and merged into the
// head's sorted tombstones; each new id is looked up in the tail and the
// segments' directory runs and indexes (read once per call, cached), so
// the work is O(n log n) in the ids. Tombstones stay in the head until
// Vacuum removes their nodes: a call whose tombstones would not fit it is
// *TooLargeError and writes nothing.
func (s *Store) TombstoneNodes(ctx context.Context, ids []string) error {
	sid, err := s.boundID()
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := ValidateNodeID(id); err != nil {
			return err
		}
	}
	want := slices.Clone(ids)
	slices.Sort(want)
	want = slices.Compact(want)
	_, err = s.update(ctx, sid, true, func(ctx context.Context, cur snapshot) (plan, error) {
		if !cur.h.live() {
			return plan{}, nil
		}
		held, err := s.heldNodes(ctx, cur.h, sortedMinus(want, cur.h.Tombstones))
		if err != nil || len(held) == 0 {
			return plan{}, err
		}
		next := cur.h.clone()
		next.Branched = true // a tombstone may cut the path
		next.Tombstones = mergeSorted(next.Tombstones, held)
		return plan{next: next}, nil
	})
	return err
}

// heldNodes returns the ids (sorted) of those given (sorted) that name a
// node of h's graph: in the tail, or, unless the tail resets the graph, in
// the live segments.
func (s *Store) heldNodes(ctx context.Context, h *head, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	tail := tailNodes(h)
	reset := slices.ContainsFunc(h.Tail, func(d delta) bool { return d.Reset })
	var out []string
	var l *locator
	for _, id := range ids {
		step("tombstones", 1)
		if _, ok := tail[id]; ok {
			out = append(out, id)
			continue
		}
		if reset || len(h.Segs) == 0 {
			continue
		}
		if l == nil {
			l = newLocator(h)
		}
		_, ok, err := s.locate(ctx, l, id)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, id)
		}
	}
	return out, nil
}

// sortedMinus returns the ids of a (sorted, distinct) not in b (sorted).
func sortedMinus(a, b []string) []string {
	var out []string
	j := 0
	for _, id := range a {
		for j < len(b) && b[j] < id {
			step("tombstones", 1)
			j++
		}
		step("tombstones", 1)
		if j == len(b) || b[j] != id {
			out = append(out, id)
		}
	}
	return out
}

// mergeSorted returns the union of a and b, sorted and disjoint.
func mergeSorted(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		step("tombstones", 1)
		if a[i] < b[j] {
			out, i = append(out, a[i]), i+1
		} else {
			out, j = append(out, b[j]), j+1
		}
	}
	step("tombstones", len(a)-i+len(b)-j)
	return append(append(out, a[i:]...), b[j:]...)
}

// applyTombstones updates h's tombstones for a commit's graph delta: a
// ReplaceFull clears them, an Append revives the ids it writes (a set of
// them: time linear in the tombstones and the nodes).
func applyTombstones(h *head, d GraphDelta) {
	if len(h.Tombstones) == 0 {
		return
	}
	switch d.Kind {
	case DeltaReplaceFull:
		h.Tombstones = nil
	case DeltaAppend:
		written := make(map[string]bool, len(d.Nodes))
		for _, n := range d.Nodes {
			written[n.NodeID] = true
		}
		step("tombstones", len(d.Nodes)+len(h.Tombstones))
		h.Tombstones = slices.DeleteFunc(h.Tombstones, func(id string) bool { return written[id] })
	}
}

// dropTombstoned removes the tombstoned ids (sorted) from nl.
func dropTombstoned(nl nodeList, tombstones []string) nodeList {
	var out nodeList
	for _, n := range nl.nodes {
		if _, dead := slices.BinarySearch(tombstones, n.NodeID); !dead {
			out.put(n)
		}
	}
	return out
}
