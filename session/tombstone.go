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
// rest of the graph. Ids the graph does not hold are ignored.
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
	_, err = s.update(ctx, sid, true, func(_ context.Context, cur snapshot) (plan, error) {
		if !cur.h.live() {
			return plan{}, nil
		}
		next := cur.h.clone()
		next.Branched = true // a tombstone may cut the path
		n := len(next.Tombstones)
		for _, id := range ids {
			if i, found := slices.BinarySearch(next.Tombstones, id); !found {
				next.Tombstones = slices.Insert(next.Tombstones, i, id)
			}
		}
		if len(next.Tombstones) == n {
			return plan{}, nil
		}
		return plan{next: next}, nil
	})
	return err
}

// applyTombstones updates h's tombstones for a commit's graph delta: a
// ReplaceFull clears them, an Append revives the ids it writes.
func applyTombstones(h *head, d GraphDelta) {
	if len(h.Tombstones) == 0 {
		return
	}
	switch d.Kind {
	case DeltaReplaceFull:
		h.Tombstones = nil
	case DeltaAppend:
		h.Tombstones = slices.DeleteFunc(h.Tombstones, func(id string) bool {
			return slices.ContainsFunc(d.Nodes, func(n NodeRecord) bool { return n.NodeID == id })
		})
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
