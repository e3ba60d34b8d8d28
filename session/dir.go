package session

import (
	"context"
	"fmt"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/stowage-dev/stowage/internal/codec"
)

// The node directory (docs/format.md): the indexes of the sealed segments
// (a prefix of the head's segments: sealing seals everything older)
// merged into directory runs, kind NDIR, named from the head's dirs. Runs
// are written in the background after a head with uncovered sealed
// segments is published, and named by the handle's next commit (as merges
// are, compact.go). A
// run maps each node id to the newest sealed segment that holds it, the
// node's block and parent, and carries the block tables of its segments,
// so a node it lists is one ranged GET away. The segments after the runs
// are few (unsealed ones, bounded per level) and each says whether it is
// fresh: none of its node ids is in an older segment. A node a run lists
// can then be newer only in an unsealed segment that is not fresh, so a
// cold LoadNode of an old node reads the head, the run and one block.

var dirSchema = codec.Schema{Kind: "NDIR", Current: 1, Min: 1}

// dirRef names a directory run from the head: it covers the head's
// segments from First to Last (ids, inclusive).
type dirRef struct {
	ID    string `json:"id"`
	First string `json:"first"`
	Last  string `json:"last"`
	Nodes int    `json:"nodes"`
}

// dirSeg is one segment of a run: its id and block table (empty for a
// segment of schema 1, which is read whole).
type dirSeg struct {
	ID     string     `json:"id"`
	Blocks []blockRef `json:"blocks"`
}

// dirDoc is a directory run: sorted node ids with, in parallel, the
// position in Segs of the newest segment holding each, its block there and
// its parent's id.
type dirDoc struct {
	SessionID string   `json:"session_id"`
	Segs      []dirSeg `json:"segs"`
	NodeIDs   []string `json:"node_ids"`
	Seg       []int    `json:"seg"`
	Blocks    []int    `json:"blocks"`
	Parents   []string `json:"parents"`
}

func (d *dirDoc) check(sid string) error {
	n := len(d.NodeIDs)
	if d.SessionID != sid || len(d.Seg) != n || len(d.Blocks) != n || len(d.Parents) != n {
		return fmt.Errorf("%w: directory lists disagree", ErrCorrupt)
	}
	for i := range n {
		if d.Seg[i] < 0 || d.Seg[i] >= len(d.Segs) || d.Blocks[i] < 0 ||
			d.Blocks[i] >= max(len(d.Segs[d.Seg[i]].Blocks), 1) {
			return fmt.Errorf("%w: directory entry out of range", ErrCorrupt)
		}
	}
	return nil
}

// maxDirNodes is the most node ids a run holds before a new one starts.
func maxDirNodes(t Tuning) int { return max(t.SegmentMaxBytes/64, 1024) }

// dirSpan returns the positions in segs of the first and last segment run
// covers (ok false if the head does not name them in order).
func dirSpan(segs []segRef, run dirRef) (lo, hi int, ok bool) {
	lo = slices.IndexFunc(segs, func(r segRef) bool { return r.ID == run.First })
	hi = slices.IndexFunc(segs, func(r segRef) bool { return r.ID == run.Last })
	return lo, hi, lo >= 0 && hi >= lo
}

// dirCovered returns how many leading segments of segs the runs cover
// (contiguously from the first), and the runs that count.
func dirCovered(segs []segRef, runs []dirRef) (int, []dirRef) {
	n := 0
	var ok []dirRef
	for _, run := range runs {
		lo, hi, found := dirSpan(segs, run)
		if !found || lo != n {
			break
		}
		n = hi + 1
		ok = append(ok, run)
	}
	return n, ok
}

// dirsBefore returns the runs that end before position i of segs (a
// segment there was replaced: the runs over it, and later ones, are
// stale; background work writes them again).
func dirsBefore(segs []segRef, runs []dirRef, i int) []dirRef {
	_, valid := dirCovered(segs, runs)
	for k, run := range valid {
		if _, hi, _ := dirSpan(segs, run); hi >= i {
			return valid[:k]
		}
	}
	return valid
}

// dirPlan is a run to write: the run it replaces (if it extends the last
// one) and the segments it adds.
type dirPlan struct {
	ref     dirRef
	extends string   // id of the run it rewrites, "" for a new run
	keep    []dirRef // the runs before it
	add     []segRef // segments added, oldest first
}

// planFresh records in fp what the freshness of its segment is judged
// against: the segments before it (segs) and the runs covering some.
func planFresh(fp *flushPlan, segs []segRef, runs []dirRef) {
	fp.older = make([]string, len(segs))
	for i, r := range segs {
		fp.older[i] = r.ID
	}
	_, fp.dirs = dirCovered(segs, runs)
}

// planDir plans the run covering the sealed segments of h the runs do not
// cover yet (nil if none): the last run extended while it stays under
// maxDirNodes, else a new one.
func (s *Store) planDir(h *head) *dirPlan {
	t := s.tune
	covered, runs := dirCovered(h.Segs, h.Dirs)
	sealed := 0
	for sealed < len(h.Segs) && h.Segs[sealed].Sealed {
		sealed++
	}
	if sealed <= covered {
		return nil
	}
	add := h.Segs[covered:sealed]
	nodes := 0
	for _, r := range add {
		nodes += r.Nodes
	}
	p := &dirPlan{ref: dirRef{ID: s.newID(), First: add[0].ID, Last: add[len(add)-1].ID, Nodes: nodes}, add: slices.Clone(add)}
	if k := len(runs) - 1; k >= 0 && runs[k].Nodes+nodes <= maxDirNodes(t) {
		p.extends, p.ref.First, p.ref.Nodes = runs[k].ID, runs[k].First, runs[k].Nodes+nodes
		runs = runs[:k]
	}
	p.keep = slices.Clone(runs)
	return p
}

// pendingDir is a run written in the background after the head it was
// planned on was published, waiting to be named by a commit.
type pendingDir struct {
	sweepGen, inc uint64 // of that head (W1)
	plan          *dirPlan
}

// startDir starts writing, in the background, the run h's sealed segments
// need, if none is in flight or waiting to be adopted. Sealing happens
// once per SegmentMaxBytes or so of history, so runs are written rarely.
func (s *Store) startDir(sid string, h *head) {
	s.mu.Lock()
	if p := s.dirPending; p != nil && slices.ContainsFunc(h.Dirs, func(r dirRef) bool { return r.ID == p.plan.ref.ID }) {
		s.dirPending = nil // published
	}
	busy := s.dirWriting || s.dirPending != nil
	s.mu.Unlock()
	if busy {
		return
	}
	p := s.planDir(h) // its id from the handle's entropy, in call order
	if p == nil {
		return
	}
	s.mu.Lock()
	s.dirWriting = true
	s.compactWG.Add(1)
	s.mu.Unlock()
	pd := &pendingDir{sweepGen: h.SweepGen, inc: h.incarnation(), plan: p}
	go func() {
		defer s.compactWG.Done()
		ctx, cancel := context.WithTimeout(context.Background(), compactionTimeout)
		defer cancel()
		err := s.writeDir(ctx, sid, p)
		s.mu.Lock()
		s.dirWriting = false
		if err == nil {
			s.dirPending = pd
		}
		s.mu.Unlock()
		if err != nil {
			s.log.Debug("session: background directory write failed; a later commit retries", "session_id", sid, "err", err)
		}
	}()
}

// adoptDir names, in next (a clone of base), the pending run instead of
// the runs it replaces, if next still has the runs and sealed segments it
// was planned on, at the same sweep generation and incarnation (W1). A
// run that can no longer be adopted is dropped (left to the sweeper).
func (s *Store) adoptDir(base, next *head) {
	s.mu.Lock()
	pd := s.dirPending
	s.mu.Unlock()
	if pd == nil {
		return
	}
	p := pd.plan
	_, runs := dirCovered(next.Segs, next.Dirs)
	ok := base.SweepGen == pd.sweepGen && base.incarnation() == pd.inc &&
		len(runs) >= len(p.keep) && len(runs) <= len(p.keep)+1
	for i := range p.keep {
		ok = ok && runs[i].ID == p.keep[i].ID
	}
	if ok && len(runs) > len(p.keep) {
		ok = runs[len(p.keep)].ID == p.extends // the run it extends, nothing newer
	}
	cand := append(slices.Clone(p.keep), p.ref)
	n, valid := dirCovered(next.Segs, cand)
	ok = ok && len(valid) == len(cand) && next.Segs[n-1].Sealed
	if !ok {
		if !slices.ContainsFunc(next.Dirs, func(r dirRef) bool { return r.ID == p.ref.ID }) {
			s.mu.Lock()
			if s.dirPending == pd {
				s.dirPending = nil
			}
			s.mu.Unlock()
		}
		return
	}
	next.Dirs = cand
}

// writeDir builds and writes the run of p, create-only.
func (s *Store) writeDir(ctx context.Context, sid string, p *dirPlan) error {
	doc := &dirDoc{SessionID: sid}
	if p.extends != "" {
		docs, err := s.loadDirs(ctx, sid, []string{p.extends})
		if err != nil {
			return err
		}
		doc = docs[0]
	}
	idxs, err := s.loadIndexes(ctx, sid, p.add)
	if err != nil {
		return err
	}
	ids := make([]string, len(p.add))
	for i, r := range p.add {
		ids[i] = r.ID
	}
	out := extendDir(doc, ids, idxs)
	data, err := codec.Encode(dirSchema, out)
	if err != nil {
		return err
	}
	if err := s.createObject(ctx, dirKey(sid, p.ref.ID), data); err != nil {
		return err
	}
	s.segs.putDir(sid, p.ref.ID, out)
	return nil
}

// extendDir returns doc with the segments ids (indexes idxs, oldest
// first) added: a node they hold is theirs from then on.
func extendDir(doc *dirDoc, ids []string, idxs []*segIndex) *dirDoc {
	type entry struct {
		seg, blk int
		parent   string
	}
	at := make(map[string]entry, len(doc.NodeIDs))
	for i, id := range doc.NodeIDs {
		at[id] = entry{doc.Seg[i], doc.Blocks[i], doc.Parents[i]}
	}
	out := &dirDoc{SessionID: doc.SessionID, Segs: slices.Clone(doc.Segs)}
	for k, x := range idxs {
		seg := len(out.Segs)
		out.Segs = append(out.Segs, dirSeg{ID: ids[k], Blocks: x.BlockTable})
		for i, id := range x.NodeIDs {
			if x.blocked() {
				at[id] = entry{seg, x.Blocks[i], x.Parents[i]}
			} else {
				at[id] = entry{seg: seg} // schema 1: no blocks, read whole
			}
		}
	}
	out.NodeIDs = make([]string, 0, len(at))
	for id := range at {
		out.NodeIDs = append(out.NodeIDs, id)
	}
	slices.Sort(out.NodeIDs)
	out.Seg, out.Blocks, out.Parents = make([]int, len(at)), make([]int, len(at)), make([]string, len(at))
	for i, id := range out.NodeIDs {
		e := at[id]
		out.Seg[i], out.Blocks[i], out.Parents[i] = e.seg, e.blk, e.parent
	}
	return out
}

// loadDirs returns the runs with the given ids, cached or read in parallel.
func (s *Store) loadDirs(ctx context.Context, sid string, ids []string) ([]*dirDoc, error) {
	out := make([]*dirDoc, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	for i, id := range ids {
		if d, ok := s.segs.getDir(sid, id); ok {
			out[i] = d
			continue
		}
		g.Go(func() error {
			key := dirKey(sid, id)
			data, err := s.getObject(gctx, key)
			if err != nil {
				return err
			}
			d := new(dirDoc)
			if _, err := codec.Decode(dirSchema, data, d); err != nil {
				return &CorruptError{Key: key, Err: err}
			}
			if err := d.check(sid); err != nil {
				return &CorruptError{Key: key, Err: err}
			}
			s.segs.putDir(sid, id, d)
			out[i] = d
			return nil
		})
	}
	return out, g.Wait()
}

// fresh reports whether none of nodes is in a segment of fp.older, judged
// from cached directory runs and indexes only (a flush adds no read): when
// one is not cached, the segment is not known fresh.
func (s *Store) fresh(sid string, fp flushPlan, nodes []NodeRecord) bool {
	var docs []*dirDoc
	covered := map[string]bool{}
	for _, run := range fp.dirs {
		d, ok := s.segs.getDir(sid, run.ID)
		if !ok {
			return false
		}
		docs = append(docs, d)
		for _, sg := range d.Segs {
			covered[sg.ID] = true
		}
	}
	var idxs []*segIndex
	for _, id := range fp.older {
		if covered[id] {
			continue
		}
		x, ok := s.segs.getIndex(sid, id)
		if !ok {
			return false
		}
		idxs = append(idxs, x)
	}
	for _, n := range nodes {
		for _, d := range docs {
			if _, found := slices.BinarySearch(d.NodeIDs, n.NodeID); found {
				return false
			}
		}
		for _, x := range idxs {
			if x.hasNode(n.NodeID) {
				return false
			}
		}
	}
	return true
}
