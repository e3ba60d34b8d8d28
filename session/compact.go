package session

import (
	"context"
	"slices"
	"time"
)

// Background compaction (docs/format.md, "Compaction"). A commit that
// flushes its tail writes only the tail's own segment; merges run after the
// commit has published, off its critical path: the handle merges one run of
// SegmentFanout segments of one level in the background, and its next
// commit whose base still names that run, at the sweep generation the
// merged segment was written under (W1), names the merged segment instead
// (a head change only: the commit stays one PUT plus what it writes
// anyway). A merged segment no commit adopted is deleted with the next
// head write (it was never named, so nothing can need it).

// compactionTimeout bounds one background merge.
const compactionTimeout = 5 * time.Minute

// compaction is a merged segment waiting to be named by a commit.
type compaction struct {
	sweepGen uint64
	inputs   []string // ids of the merged run, oldest first
	ref      segRef
}

// mergeRun finds, newest first, a run of SegmentFanout contiguous unsealed
// segments of one level: the oldest Fanout of the run [lo, lo+Fanout). If
// they would merge into more than SegmentMaxBytes, fits is false: the run
// is to be sealed (with everything older: only trailing runs are merged).
func mergeRun(segs []segRef, t Tuning) (lo int, fits, ok bool) {
	i := len(segs)
	for i > 0 && !segs[i-1].Sealed {
		j := i
		for j > 0 && !segs[j-1].Sealed && segs[j-1].Level == segs[i-1].Level {
			j--
		}
		if i-j >= t.SegmentFanout {
			var sum int64
			for _, r := range segs[j : j+t.SegmentFanout] {
				sum += r.Bytes
			}
			return j, sum <= int64(t.SegmentMaxBytes), true
		}
		i = j
	}
	return 0, false, false
}

// sealFull seals, in segs, every run that can no longer merge within the
// cap, and everything older than it.
func sealFull(segs []segRef, t Tuning) {
	for {
		lo, fits, ok := mergeRun(segs, t)
		if !ok || fits {
			return
		}
		for k := range lo + t.SegmentFanout {
			segs[k].Sealed = true
		}
	}
}

// adoptCompaction replaces, in segs, the run the pending merged segment
// covers, if segs (of a base of sweep generation gen) still names it. It
// reports whether it did; a merge that can never be adopted is dropped and
// its objects retired.
func (s *Store) adoptCompaction(sid string, segs []segRef, gen uint64) ([]segRef, bool) {
	s.mu.Lock()
	c := s.compacted
	s.mu.Unlock()
	if c == nil {
		return segs, false
	}
	for lo := range segs {
		if segs[lo].ID != c.inputs[0] || lo+len(c.inputs) > len(segs) {
			continue
		}
		same := gen == c.sweepGen
		for k, id := range c.inputs {
			same = same && segs[lo+k].ID == id && !segs[lo+k].Sealed
		}
		if !same {
			break
		}
		out := append(append(append([]segRef(nil), segs[:lo]...), c.ref), segs[lo+len(c.inputs):]...)
		return out, true
	}
	// The run is gone (merged by another writer, deleted, fenced by a
	// sweep): the merged segment will never be named, unless it already
	// is (a commit of this handle whose outcome it did not learn).
	s.mu.Lock()
	if s.compacted == c {
		s.compacted = nil
	}
	s.mu.Unlock()
	if !slices.ContainsFunc(segs, func(r segRef) bool { return r.ID == c.ref.ID }) {
		s.retire(segmentKeys(sid, c.ref))
	}
	return segs, false
}

// compactedPublished clears the pending merge once a published head names it.
func (s *Store) compactedPublished(h *head) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.compacted == nil {
		return
	}
	for _, r := range h.Segs {
		if r.ID == s.compacted.ref.ID {
			s.compacted = nil
			return
		}
	}
}

// startCompaction starts a background merge of a run of h's segments, if
// one is due and none is running or waiting to be adopted.
func (s *Store) startCompaction(sid string, h *head) {
	lo, fits, ok := mergeRun(h.Segs, s.tune)
	if !ok || !fits {
		return
	}
	s.mu.Lock()
	if s.compacting || s.compacted != nil {
		s.mu.Unlock()
		return
	}
	s.compacting = true
	s.compactWG.Add(1)
	s.mu.Unlock()
	run := append([]segRef(nil), h.Segs[lo:lo+s.tune.SegmentFanout]...)
	gen := h.SweepGen
	go func() {
		defer s.compactWG.Done()
		ctx, cancel := context.WithTimeout(context.Background(), compactionTimeout)
		defer cancel()
		c, err := s.merge(ctx, sid, run)
		s.mu.Lock()
		s.compacting = false
		if err == nil {
			c.sweepGen = gen
			s.compacted = c
		}
		s.mu.Unlock()
		if err != nil {
			s.log.Debug("session: background merge failed; the next flush retries", "session_id", sid, "err", err)
		}
	}()
}

// merge writes the merge of run as a new segment and index: by copying
// blocks when the run allows it (copymerge.go), else by decoding it.
func (s *Store) merge(ctx context.Context, sid string, run []segRef) (*compaction, error) {
	ids := make([]string, len(run))
	for i, r := range run {
		ids[i] = r.ID
	}
	ref := segRef{ID: s.newID(), Level: run[0].Level + 1, FromRev: run[0].FromRev, ToRev: run[len(run)-1].ToRev}
	ref.Fresh = true // fresh if every input is (dir.go)
	for _, r := range run {
		ref.Reset = ref.Reset || r.Reset
		ref.Fresh = ref.Fresh && r.Fresh
		ref.Bytes += r.Bytes - 256 // segBytes of the merge: one header, not len(run)
	}
	ref.Bytes = max(ref.Bytes+256, 256)
	segData, idxData, idx, copied, err := s.copyMerge(ctx, sid, run)
	var seg *segment
	if err == nil && !copied {
		seg, segData, idxData, idx, err = s.decodeMerge(ctx, sid, ids)
	}
	if err != nil {
		return nil, err
	}
	ref.Nodes, ref.Turns = len(idx.NodeIDs), len(idx.TurnIDs)
	if seg != nil {
		ref.Nodes, ref.Bytes = len(seg.Nodes), segBytes(seg)
	}
	data, at := packSegment(segData, idxData)
	if err := s.createSegment(ctx, sid, ref.ID, data); err != nil {
		return nil, err
	}
	ref.Index = at
	if seg != nil {
		s.segs.put(sid, ref.ID, seg)
	}
	s.segs.putIndex(sid, ref.ID, idx)
	return &compaction{inputs: ids, ref: ref}, nil
}

// decodeMerge merges the segments ids by decoding them: the newest copy of
// a node wins and a reset drops what came before it.
func (s *Store) decodeMerge(ctx context.Context, sid string, ids []string) (seg *segment, segData, idxData []byte, idx *segIndex, err error) {
	parts, err := s.loadSegments(ctx, sid, ids)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	seg = mergeSegments(sid, parts)
	segData, idxData, idx, err = encodeSegment(seg)
	return seg, segData, idxData, idx, err
}

// longestLevelRun is the length of the longest run of contiguous unsealed
// segments of one level in segs. Merging keeps each level under
// SegmentFanout segments plus the run being merged; a level of twice that
// means merges have fallen behind.
func longestLevelRun(segs []segRef) int {
	longest, n := 0, 0
	for i, r := range segs {
		switch {
		case r.Sealed:
			n = 0
		case i > 0 && !segs[i-1].Sealed && segs[i-1].Level == r.Level:
			n++
		default:
			n = 1
		}
		longest = max(longest, n)
	}
	return longest
}

// WaitCompaction waits for the handle's background merge, flush,
// deletion of superseded objects, attachment stamps and spare copy for the
// next load, if any is running. The merged and
// flushed segments are named by the handle's next commit.
func (s *Store) WaitCompaction() {
	s.flushWG.Wait()
	s.compactWG.Wait()
	s.retireWG.Wait()
	s.stampWG.Wait()
	s.spareWG.Wait()
}
