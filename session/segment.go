package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/stowage-dev/stowage/internal/codec"
	"github.com/stowage-dev/stowage/objstore"
)

// segment is an immutable run of history: the graph nodes of revisions
// FromRev..ToRev (deduplicated, in insertion order; Reset if the run starts
// with a ReplaceFull), their commit records and their turn receipts.
type segment struct {
	SessionID string         `json:"session_id"`
	FromRev   uint64         `json:"from_rev"`
	ToRev     uint64         `json:"to_rev"`
	Reset     bool           `json:"reset,omitempty"`
	Nodes     []NodeRecord   `json:"nodes,omitempty"`
	Commits   []commitRecord `json:"commits"`
	Receipts  []receipt      `json:"receipts,omitempty"`
	// Blocks is the block table of a blocked segment's footer (schema 2):
	// where each block envelope lies in the object, and its node count.
	Blocks []blockRef `json:"blocks,omitempty"`
}

// commitRecord is the history entry of one commit.
type commitRecord struct {
	Rev           uint64    `json:"rev"`
	CommitID      string    `json:"commit_id"`
	At            time.Time `json:"at"`
	TurnID        string    `json:"turn_id,omitempty"`
	AttachmentIDs []string  `json:"attachment_ids,omitempty"`
}

// segIndex lists, sorted, the node ids, turn ids and committed attachment
// ids a segment holds, so a node, receipt or attachment lookup reads one
// segment, not all.
//
// AttachmentIDs is always written (an empty list when the commits named
// none): an index without the field was written before it existed, and
// says nothing about attachments (hasAttachment then reports unknown).
//
// Schema 2 (a blocked segment's index) adds, parallel to NodeIDs, the block
// of each node and its parent's id, and the segment's block table and
// footer location: a node is then one ranged GET, and an active path is
// computed from indexes alone.
type segIndex struct {
	NodeIDs       []string   `json:"node_ids,omitempty"`
	Blocks        []int      `json:"blocks,omitempty"`
	Parents       []string   `json:"parents,omitempty"`
	TurnIDs       []string   `json:"turn_ids,omitempty"`
	AttachmentIDs []string   `json:"attachment_ids"`
	BlockTable    []blockRef `json:"block_table,omitempty"`
	Footer        *blockRef  `json:"footer,omitempty"`
}

func (x *segIndex) hasNode(id string) bool {
	_, ok := slices.BinarySearch(x.NodeIDs, id)
	return ok
}

func (x *segIndex) hasTurn(id string) bool {
	_, ok := slices.BinarySearch(x.TurnIDs, id)
	return ok
}

// hasAttachment reports whether the segment's commits named attachment id;
// known is false for an index that predates the attachment list.
func (x *segIndex) hasAttachment(id string) (found, known bool) {
	if x.AttachmentIDs == nil {
		return false, false
	}
	_, ok := slices.BinarySearch(x.AttachmentIDs, id)
	return ok, true
}

func indexOf(seg *segment) *segIndex {
	x := &segIndex{AttachmentIDs: []string{}}
	for _, n := range seg.Nodes {
		x.NodeIDs = append(x.NodeIDs, n.NodeID)
	}
	for _, r := range seg.Receipts {
		x.TurnIDs = append(x.TurnIDs, r.TurnID)
	}
	for _, c := range seg.Commits {
		x.AttachmentIDs = append(x.AttachmentIDs, c.AttachmentIDs...)
	}
	sort.Strings(x.NodeIDs)
	x.NodeIDs = slices.Compact(x.NodeIDs)
	sort.Strings(x.TurnIDs)
	x.TurnIDs = slices.Compact(x.TurnIDs)
	sort.Strings(x.AttachmentIDs)
	x.AttachmentIDs = slices.Compact(x.AttachmentIDs)
	return x
}

// nodeList is an insertion-ordered node set with upsert-in-place.
type nodeList struct {
	nodes []NodeRecord
	pos   map[string]int
}

func (l *nodeList) reset() { l.nodes, l.pos = l.nodes[:0], map[string]int{} }

func (l *nodeList) put(n NodeRecord) {
	if l.pos == nil {
		l.pos = map[string]int{}
	}
	if i, ok := l.pos[n.NodeID]; ok {
		l.nodes[i] = n
		return
	}
	l.pos[n.NodeID] = len(l.nodes)
	l.nodes = append(l.nodes, n)
}

// mergeSegments merges runs, oldest first, into one run.
func mergeSegments(sid string, parts []*segment) *segment {
	out := &segment{SessionID: sid}
	var nl nodeList
	for i, p := range parts {
		if i == 0 {
			out.FromRev = p.FromRev
		}
		out.ToRev = p.ToRev
		if p.Reset {
			nl.reset()
			out.Reset = true
		}
		for _, n := range p.Nodes {
			nl.put(n)
		}
		out.Commits = append(out.Commits, p.Commits...)
		out.Receipts = append(out.Receipts, p.Receipts...)
	}
	out.Nodes = nl.nodes
	return out
}

// tailSegment turns tail deltas (and their receipts) into a run.
func tailSegment(sid string, tail []delta, receipts []receipt) *segment {
	out := &segment{SessionID: sid}
	var nl nodeList
	for i, d := range tail {
		if i == 0 {
			out.FromRev = d.Rev
		}
		out.ToRev = d.Rev
		if d.Reset {
			nl.reset()
			out.Reset = true
		}
		for _, n := range d.Nodes {
			nl.put(n)
		}
		out.Commits = append(out.Commits, commitRecord{Rev: d.Rev, CommitID: d.CommitID, At: d.At, TurnID: d.TurnID, AttachmentIDs: d.AttachmentIDs})
	}
	for _, r := range receipts {
		if r.Revision >= out.FromRev && r.Revision <= out.ToRev {
			out.Receipts = append(out.Receipts, r)
		}
	}
	out.Nodes = nl.nodes
	return out
}

// flushPlan is the segment a flush writes from the tail, and which
// segments the flush seals. Merges are not part of a flush: they run in the
// background (compact.go). A tail over SegmentMaxBytes on its own (one
// large commit) makes a sealed segment, and seals every older segment: only
// trailing runs merge, so they could never merge again anyway.
type flushPlan struct {
	ref  segRef // the new segment (ID, revs, Reset, Sealed known upfront)
	seal int    // the flush seals the segments before this index
	// Set by planFresh: the segments before the new one and the directory
	// runs covering some of them: what the new segment's freshness is
	// judged against (nil: not judged, the segment is not fresh).
	older []string
	dirs  []dirRef
}

func (s *Store) planFlush(segs []segRef, tail []delta) flushPlan {
	t := s.tune
	p := flushPlan{ref: segRef{ID: s.newID(), FromRev: tail[0].Rev, ToRev: tail[len(tail)-1].Rev}}
	if int64(tailBytes(tail)) > int64(t.SegmentMaxBytes) {
		p.ref.Sealed, p.seal = true, len(segs)
	}
	for _, d := range tail {
		p.ref.Reset = p.ref.Reset || d.Reset
	}
	return p
}

// apply returns segs with the plan applied: sealed segments marked, the
// new one appended (writeFlush fills in its counts).
func (p flushPlan) apply(segs []segRef) []segRef {
	out := slices.Clone(segs)
	for k := range p.seal {
		out[k].Sealed = true
	}
	return append(out, p.ref)
}

// writeFlush builds and writes the segment of p and its index,
// create-only, and fills in ref's counts (keeping a seal set since).
func (s *Store) writeFlush(ctx context.Context, sid string, p flushPlan, tail []delta, receipts []receipt, ref *segRef) error {
	seg := tailSegment(sid, tail, receipts)
	segData, idxData, idx, err := encodeSegment(seg)
	if err != nil {
		return err
	}
	data, at := packSegment(segData, idxData)
	if err := s.createSegment(ctx, sid, p.ref.ID, data); err != nil {
		return err
	}
	sealed := ref.Sealed
	*ref = p.ref
	ref.Sealed, ref.Index = ref.Sealed || sealed, at
	ref.Nodes, ref.Turns, ref.Bytes = len(seg.Nodes), len(idx.TurnIDs), segBytes(seg)
	ref.Fresh = p.older != nil && s.fresh(sid, p, seg.Nodes)
	s.segs.put(sid, p.ref.ID, seg)
	s.segs.putIndex(sid, p.ref.ID, idx)
	return nil
}

// createObject writes an immutable object create-only. Its key is fresh, so
// a failed condition means our own earlier attempt landed.
func (s *Store) createObject(ctx context.Context, key string, data []byte) error {
	_, err := s.objs.Put(ctx, key, data, &objstore.PutOptions{IfNoneMatch: true})
	if errors.Is(err, objstore.ErrPreconditionFailed) {
		return nil
	}
	return backendErr("put "+key, err)
}

// createSegment writes segment id's object create-only, as createObject,
// and keeps its bytes in the shared cache when this call created it, so
// that a merge of the segment copies them without reading them back.
func (s *Store) createSegment(ctx context.Context, sid, id string, data []byte) error {
	key := segKey(sid, id)
	_, err := s.objs.Put(ctx, key, data, &objstore.PutOptions{IfNoneMatch: true})
	switch {
	case err == nil:
		s.segs.putRaw(sid, id, data)
		return nil
	case errors.Is(err, objstore.ErrPreconditionFailed):
		return nil
	}
	return backendErr("put "+key, err)
}

// getObject reads a whole object written once (createObject,
// createSegment): each is an envelope its reader checks (codec).
func (s *Store) getObject(ctx context.Context, key string) ([]byte, error) {
	rc, info, err := s.objs.Get(ctx, key, &objstore.GetOptions{Immutable: true})
	if err != nil {
		if errors.Is(err, objstore.ErrNotExist) {
			// Named by a published head, so it must exist.
			return nil, &CorruptError{Key: key, Err: err}
		}
		return nil, backendErr("get "+key, err)
	}
	defer rc.Close()
	return readBody(rc, key, info.Size)
}

// sizedRead is the largest body readBody reads into a buffer of the size
// its response announced before a byte arrives.
const sizedRead = 64 << 20

// readBody reads a body of the n bytes its response announced (-1: not
// announced) into one buffer of that size: a body of another length is
// corrupt.
func readBody(rc io.Reader, key string, n int64) ([]byte, error) {
	var data []byte
	var got int64
	var err error
	if n >= 0 && n <= sizedRead {
		data, got, err = objstore.ReadSized(rc, n)
	} else {
		data, err = io.ReadAll(rc)
		got = int64(len(data))
	}
	if err != nil {
		return nil, backendErr("read "+key, err)
	}
	if n >= 0 && got != n {
		return nil, &CorruptError{Key: key, Err: fmt.Errorf("%w: body of %d bytes held %d", ErrCorrupt, n, got)}
	}
	return data, nil
}

// loadSegments returns the segments with the given ids, from the cache or
// read in parallel.
func (s *Store) loadSegments(ctx context.Context, sid string, ids []string) ([]*segment, error) {
	segs, _, err := s.readSegments(ctx, sid, ids, true)
	return segs, err
}

// readSegments is loadSegments; keep says whether the segments it reads
// are cached and whole. A caller that only walks their nodes, and caches
// what it builds from them, passes false: their footers' commits and
// receipts are then skipped, not decoded (decodeSegment). It also returns
// the stored bytes of each segment it read, nil for one the cache held: a
// segment decoded from them is this call's alone, one from the cache is
// shared.
func (s *Store) readSegments(ctx context.Context, sid string, ids []string, keep bool) ([]*segment, [][]byte, error) {
	out, raws := make([]*segment, len(ids)), make([][]byte, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, id := range ids {
		if seg, ok := s.segs.get(sid, id); ok {
			out[i] = seg
			continue
		}
		if !keep {
			if seg, ok := s.segs.walkable(sid, id); ok {
				out[i] = seg
				continue
			}
		}
		g.Go(func() error {
			key := segKey(sid, id)
			data, err := s.getObject(gctx, key)
			if err != nil {
				return err
			}
			seg, err := decodeSegment(data, !keep)
			if err != nil {
				return &CorruptError{Key: key, Err: err}
			}
			if seg.SessionID != sid {
				return &CorruptError{Key: key, Err: errors.New("segment of another session")}
			}
			if keep {
				s.segs.put(sid, id, seg)
			}
			out[i], raws[i] = seg, data
			return nil
		})
	}
	return out, raws, g.Wait()
}

// loadIndexes returns the indexes of the segments refs names, cached or
// read in parallel: a packed segment's by a ranged GET of its object,
// another's from its index object.
func (s *Store) loadIndexes(ctx context.Context, sid string, refs []segRef) ([]*segIndex, error) {
	out := make([]*segIndex, len(refs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, ref := range refs {
		id := ref.ID
		if x, ok := s.segs.getIndex(sid, id); ok {
			out[i] = x
			continue
		}
		g.Go(func() error {
			key := idxKey(sid, id)
			var data []byte
			var err error
			if at := ref.Index; at != nil {
				key = segKey(sid, id)
				data, err = s.getRange(gctx, key, at.Off, at.Len)
			} else {
				data, err = s.getObject(gctx, key)
			}
			if err != nil {
				return err
			}
			x := new(segIndex)
			if _, err := codec.Decode(indexSchema, data, x); err != nil {
				return &CorruptError{Key: key, Err: err}
			}
			if err := x.check(); err != nil {
				return &CorruptError{Key: key, Err: fmt.Errorf("%w: %v", ErrCorrupt, err)}
			}
			s.segs.putIndex(sid, id, x)
			out[i] = x
			return nil
		})
	}
	return out, g.Wait()
}

// segBytes estimates the decoded size of a segment (what merging it costs
// and what it weighs in a cache).
func segBytes(seg *segment) int64 {
	n := int64(256 + 160*len(seg.Commits) + 256*len(seg.Receipts))
	for _, nd := range seg.Nodes {
		n += int64(nodeBytes(nd))
	}
	for _, c := range seg.Commits {
		n += int64(72 * len(c.AttachmentIDs))
	}
	return n
}

// tailBytes estimates the encoded size of deltas' nodes.
func tailBytes(tail []delta) int {
	n := 0
	for _, d := range tail {
		for _, nd := range d.Nodes {
			n += nodeBytes(nd)
		}
	}
	return n
}

func nodeBytes(nd NodeRecord) int {
	return 96 + len(nd.NodeID) + len(nd.ParentNodeID) + len(nd.CausedBy) + len(nd.AgentFrameID) +
		len(nd.Timestamp) + len(nd.Event) + len(nd.PluginType) + len(nd.Body)
}
