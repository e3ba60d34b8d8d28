package session

import (
	"context"
	"slices"
)

// nodeLoc is where the newest version of a node lies.
type nodeLoc struct {
	seg    string     // the segment's id
	table  []blockRef // its block table; nil: a schema-1 segment, read whole
	blk    int
	parent string
}

// locator finds nodes in the live segments of one head: the directory
// runs, then the segments after them (u), each with its index once loaded.
type locator struct {
	sid   string
	h     *head
	runs  []dirRef
	docs  []*dirDoc // of runs, once loaded
	u     []segRef  // live segments after the runs, with nodes, oldest first
	uIdx  []*segIndex
	alive map[string]bool // live segments
}

func newLocator(h *head) *locator {
	covered, runs := dirCovered(h.Segs, h.Dirs)
	return newLocatorRuns(h, covered, runs)
}

func newLocatorRuns(h *head, covered int, runs []dirRef) *locator {
	l := &locator{sid: h.SessionID, h: h, alive: map[string]bool{}}
	live := liveSegs(h)
	first := len(h.Segs) - len(live) // position of live[0] in h.Segs
	for i, r := range live {
		l.alive[r.ID] = true
		if first+i >= covered && r.Nodes > 0 {
			l.u = append(l.u, r)
		}
	}
	if first < covered {
		l.runs = runs
	}
	l.uIdx = make([]*segIndex, len(l.u))
	return l
}

// loadRuns reads the directory runs.
func (s *Store) loadRuns(ctx context.Context, l *locator) error {
	if len(l.runs) == 0 || l.docs != nil {
		return nil
	}
	ids := make([]string, len(l.runs))
	for i, r := range l.runs {
		ids[i] = r.ID
	}
	docs, err := s.loadDirs(ctx, l.sid, ids)
	if err != nil {
		return err
	}
	l.docs = docs
	return nil
}

// checkRuns drops, once the runs are loaded, a run whose segments are not
// the head's (one was replaced since, by Vacuum) and every later one: their
// segments are then looked up by index. It reports whether it dropped any
// (the indexes to read changed: call loadU again).
func (l *locator) checkRuns() bool {
	covered, docs := 0, l.docs
	for k, d := range docs {
		lo, hi, _ := dirSpan(l.h.Segs, l.runs[k])
		same := lo == covered && hi-lo+1 == len(d.Segs)
		for j := 0; same && j < len(d.Segs); j++ {
			same = d.Segs[j].ID == l.h.Segs[lo+j].ID
		}
		if !same {
			*l = *newLocatorRuns(l.h, covered, l.runs[:k])
			l.docs = docs[:k]
			return true
		}
		covered = hi + 1
	}
	return false
}

// loadU reads the indexes of the segments after the runs that want picks.
func (s *Store) loadU(ctx context.Context, l *locator, want func(segRef) bool) error {
	var refs []segRef
	var at []int
	for i, r := range l.u {
		if l.uIdx[i] == nil && want(r) {
			refs, at = append(refs, r), append(at, i)
		}
	}
	idxs, err := s.loadIndexes(ctx, l.sid, refs)
	if err != nil {
		return err
	}
	for k, i := range at {
		l.uIdx[i] = idxs[k]
	}
	return nil
}

// inU finds id in the loaded indexes of the segments after the runs,
// newest first.
func (l *locator) inU(id string) (nodeLoc, bool) {
	for i := len(l.u) - 1; i >= 0; i-- {
		x := l.uIdx[i]
		if x == nil {
			continue
		}
		pos, ok := x.find(id)
		if !ok {
			continue
		}
		if !x.blocked() {
			return nodeLoc{seg: l.u[i].ID}, true
		}
		return nodeLoc{seg: l.u[i].ID, table: x.BlockTable, blk: x.Blocks[pos], parent: x.Parents[pos]}, true
	}
	return nodeLoc{}, false
}

// inRuns finds id in the loaded runs, newest first, in live segments.
func (l *locator) inRuns(id string) (nodeLoc, bool) {
	for i := len(l.docs) - 1; i >= 0; i-- {
		d := l.docs[i]
		pos, ok := slices.BinarySearch(d.NodeIDs, id)
		if !ok {
			continue
		}
		sg := d.Segs[d.Seg[pos]]
		if !l.alive[sg.ID] {
			return nodeLoc{}, false // before the newest reset: gone
		}
		if len(sg.Blocks) == 0 {
			return nodeLoc{seg: sg.ID}, true // schema 1: read whole
		}
		return nodeLoc{seg: sg.ID, table: sg.Blocks, blk: d.Blocks[pos], parent: d.Parents[pos]}, true
	}
	return nodeLoc{}, false
}

// locate returns where the newest version of id lies among h's segments:
// for a node the runs list, only the segments after them that are not
// fresh can hold a newer version, so an old node costs the runs and no
// index; otherwise the indexes of the segments after the runs are read.
func (s *Store) locate(ctx context.Context, l *locator, id string) (nodeLoc, bool, error) {
	if err := s.loadRuns(ctx, l); err != nil {
		return nodeLoc{}, false, err
	}
	l.checkRuns()
	if loc, ok := l.inRuns(id); ok {
		if err := s.loadU(ctx, l, func(r segRef) bool { return !r.Fresh }); err != nil {
			return nodeLoc{}, false, err
		}
		if newer, ok := l.inU(id); ok {
			return newer, true, nil
		}
		return loc, true, nil
	}
	if err := s.loadU(ctx, l, func(segRef) bool { return true }); err != nil {
		return nodeLoc{}, false, err
	}
	loc, ok := l.inU(id)
	return loc, ok, nil
}

// readNode returns node id from loc: one block, or a schema-1 segment.
func (s *Store) readNode(ctx context.Context, sid string, loc nodeLoc, id string) (*NodeRecord, error) {
	var nodes []NodeRecord
	if loc.table != nil {
		var err error
		if nodes, err = s.loadBlock(ctx, sid, loc.seg, loc.table, loc.blk); err != nil {
			return nil, err
		}
	} else {
		segs, err := s.loadSegments(ctx, sid, []string{loc.seg})
		if err != nil {
			return nil, err
		}
		nodes = segs[0].Nodes
	}
	for _, n := range nodes {
		if n.NodeID == id {
			n = cloneNode(n)
			return &n, nil
		}
	}
	return nil, &CorruptError{Key: segKey(sid, loc.seg), Err: ErrCorrupt}
}
