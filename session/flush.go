package session

import (
	"context"
	"slices"
)

// Flushes off the critical path (docs/format.md, "Compaction"). A commit
// whose published tail is full does not write the tail's segment before
// its head PUT: after the PUT, its handle writes the segment of the
// published tail in the background, and the handle's next commit whose base
// still holds exactly those deltas at the front of its tail, at the sweep
// generation and incarnation the segment was written under (W1), names the
// segment instead of them (a head change only). Until then the tail keeps
// growing, up to twice the flush thresholds; past that, a commit flushes
// before its PUT as before (after waiting for a flush in flight). A
// segment no commit can adopt any more is deleted with the next head write;
// one a head names is never deleted.

// pendingFlush is a tail segment written in the background after the head
// whose tail it holds was published, waiting to be named by a commit.
type pendingFlush struct {
	sweepGen uint64  // of the published head whose tail it holds (W1)
	inc      uint64  // that head's incarnation
	deltas   []delta // the flushed deltas, oldest first (shared, never modified)
	ref      segRef
}

// tailFull reports whether a published tail is due for a flush.
func tailFull(tail []delta, t Tuning) bool {
	return len(tail) > 0 && (len(tail) >= t.FlushDeltas || tailBytes(tail) >= t.FlushBytes)
}

// tailOverBound reports whether tail, with a delta of dBytes appended,
// would pass twice the flush thresholds: the commit then flushes the tail
// before its PUT.
func tailOverBound(tail []delta, dBytes int, t Tuning) bool {
	return len(tail)+1 > 2*t.FlushDeltas || tailBytes(tail)+dBytes > 2*t.FlushBytes
}

// startFlush starts writing the segment of h's tail in the background, once
// h is published, if the tail is full and no flush of the handle is in
// flight or waiting to be adopted.
func (s *Store) startFlush(sid string, h *head) {
	if !tailFull(h.Tail, s.tune) {
		return
	}
	s.mu.Lock()
	if s.flushing || s.flushed != nil {
		s.mu.Unlock()
		return
	}
	s.flushing = true
	s.flushWG.Add(1)
	s.mu.Unlock()
	// h is published: never modified; the clones keep it so.
	tail, receipts := slices.Clone(h.Tail), slices.Clone(h.Receipts)
	p := &pendingFlush{sweepGen: h.SweepGen, inc: h.incarnation(), deltas: tail}
	// Planned here, not in the goroutine: the segment's id is drawn from
	// the handle's entropy in call order (a seed replays exactly).
	fp := s.planFlush(nil, tail) // what it seals is decided on adoption
	planFresh(&fp, h.Segs, h.Dirs)
	go func() {
		defer s.flushWG.Done()
		ctx, cancel := context.WithTimeout(context.Background(), compactionTimeout)
		defer cancel()
		err := s.writeFlush(ctx, sid, fp, tail, receipts, &p.ref)
		s.mu.Lock()
		s.flushing = false
		if err == nil {
			s.flushed = p
		}
		s.mu.Unlock()
		if err != nil {
			// Never named: its objects, if any landed, may go (both
			// keys: fp.ref does not say whether it was packed).
			s.retire([]string{segKey(sid, fp.ref.ID), idxKey(sid, fp.ref.ID)})
			s.log.Debug("session: background flush failed; a later commit flushes", "session_id", sid, "err", err)
		}
	}()
}

// adoptFlush names, in next (a clone of base), the pending background
// flush's segment instead of the deltas it holds, if base's tail starts
// with exactly those deltas at the sweep generation and incarnation the
// segment was written under (W1). It reports whether it did. A flush that
// no commit can adopt any more is dropped, and its objects retired unless
// base names them (a commit of this handle whose outcome it did not learn
// may have published it).
func (s *Store) adoptFlush(sid string, base, next *head) bool {
	s.mu.Lock()
	p := s.flushed
	s.mu.Unlock()
	if p == nil {
		return false
	}
	if names(base, p.ref.ID) {
		s.dropFlush(sid, p, false)
		return false
	}
	same := base.SweepGen == p.sweepGen && base.incarnation() == p.inc
	held, changed := holdsDeltas(base.Tail, p.deltas)
	if same && held {
		fp := flushPlan{ref: p.ref}
		if p.ref.Sealed {
			fp.seal = len(next.Segs) // as planFlush does for a segment over the cap
		}
		next.Segs = fp.apply(next.Segs)
		sealFull(next.Segs, s.tune)
		next.Tail = slices.Clone(next.Tail[len(p.deltas):])
		next.FlushedRev = p.ref.ToRev
		return true
	}
	// Retire it only when base is later than every head that could adopt
	// it: a commit adopting it is built on a head of its generation and
	// incarnation whose tail starts with its deltas, so it can no longer
	// publish over base (revisions, sweep generations and incarnations
	// never decrease; a vacuum only ever removes nodes from the deltas).
	if base.SweepGen > p.sweepGen || base.incarnation() > p.inc || same && (changed || base.FlushedRev >= p.ref.FromRev) {
		s.dropFlush(sid, p, true)
	}
	return false
}

// dropFlush forgets p, retiring its objects if retire is set.
func (s *Store) dropFlush(sid string, p *pendingFlush, retire bool) {
	s.mu.Lock()
	if s.flushed == p {
		s.flushed = nil
	}
	s.mu.Unlock()
	if retire {
		s.retire(segmentKeys(sid, p.ref))
	}
}

// flushPublished clears the pending flush once a published head names it.
func (s *Store) flushPublished(h *head) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flushed != nil && names(h, s.flushed.ref.ID) {
		s.flushed = nil
	}
}

// waitFlush waits for the handle's flush in flight, if any (not for a
// merge), so that a commit whose tail passed its bound adopts it instead
// of writing the same deltas again.
func (s *Store) waitFlush() { s.flushWG.Wait() }

// holdsDeltas reports whether tail starts with exactly the given deltas:
// the same commits holding the same nodes. changed reports the same
// commits holding other nodes (a vacuum removed some since).
func holdsDeltas(tail, deltas []delta) (held, changed bool) {
	if len(tail) < len(deltas) {
		return false, false
	}
	for i, d := range deltas {
		if tail[i].CommitID != d.CommitID {
			return false, false
		}
		if !slices.EqualFunc(tail[i].Nodes, d.Nodes, func(a, b NodeRecord) bool { return a.NodeID == b.NodeID }) {
			changed = true
		}
	}
	return !changed, changed
}

// names reports whether h names the segment id.
func names(h *head, id string) bool {
	return slices.ContainsFunc(h.Segs, func(r segRef) bool { return r.ID == id })
}
