package session

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/stowage-dev/stowage/internal/codec"
	"github.com/stowage-dev/stowage/objstore"
)

// Blocked segments (segment schema 2, docs/format.md): a segment object is
// a sequence of envelopes, its nodes in block envelopes of at most
// maxBlockBytes of nodes each (compressed on their own), then a footer
// envelope (kind SEGM, schema 2) holding everything else and the block
// table. Its index (schema 2) gives the block and the parent of every
// node, and the block table: a node is one ranged GET of its block, and an
// active path is computed from indexes, then only its blocks are read.
// Schema-1 segments (one envelope, nodes inline) and schema-1 indexes (no
// blocks, no parents) are read whole, as before.

// blockSchema is the envelope of one block: schema 1 the JSON array of its
// nodes, schema 2 their binary encoding (nodecodec.go). A merge copies
// blocks of either schema as they are.
var blockSchema = codec.Schema{Kind: "SEGB", Current: 2, Min: 1}

// maxBlockBytes is the most a block holds, in nodeBytes estimates; a node
// larger than that has a block of its own.
const maxBlockBytes = 64 << 10

// blockRef locates one envelope of a segment object.
type blockRef struct {
	Off   int64 `json:"off"`
	Len   int64 `json:"len"`
	Nodes int   `json:"nodes,omitempty"`
}

// blocked reports whether x is a schema-2 index (its segment is blocked).
func (x *segIndex) blocked() bool { return x.Footer != nil }

// find returns the position of node id in x.NodeIDs.
func (x *segIndex) find(id string) (int, bool) {
	return slices.BinarySearch(x.NodeIDs, id)
}

// check verifies the parallel lists of a schema-2 index.
func (x *segIndex) check() error {
	if !x.blocked() {
		return nil
	}
	if len(x.Blocks) != len(x.NodeIDs) || len(x.Parents) != len(x.NodeIDs) {
		return fmt.Errorf("index of %d nodes with %d blocks and %d parents", len(x.NodeIDs), len(x.Blocks), len(x.Parents))
	}
	for _, b := range x.Blocks {
		if b < 0 || b >= len(x.BlockTable) {
			return fmt.Errorf("block %d of %d", b, len(x.BlockTable))
		}
	}
	return nil
}

// splitBlocks cuts nodes, in order, into runs of at most maxBlockBytes.
func splitBlocks(nodes []NodeRecord) [][]NodeRecord {
	var out [][]NodeRecord
	for start := 0; start < len(nodes); {
		end, size := start, 0
		for end < len(nodes) && (end == start || size+nodeBytes(nodes[end]) <= maxBlockBytes) {
			size += nodeBytes(nodes[end])
			end++
		}
		out = append(out, nodes[start:end])
		start = end
	}
	return out
}

// encodeSegment encodes seg (its nodes deduplicated) as a blocked segment
// and returns it with its schema-2 index.
func encodeSegment(seg *segment) (segData, idxData []byte, idx *segIndex, err error) {
	var envs [][]byte
	var table []blockRef
	size := int64(0)
	where := make(map[string]int, len(seg.Nodes)) // node id -> block
	parent := make(map[string]string, len(seg.Nodes))
	for _, nodes := range splitBlocks(seg.Nodes) {
		env, err := codec.EncodeRaw(blockSchema, encodeNodes(nodes))
		if err != nil {
			return nil, nil, nil, err
		}
		for _, n := range nodes {
			where[n.NodeID], parent[n.NodeID] = len(table), n.ParentNodeID
		}
		table = append(table, blockRef{Off: size, Len: int64(len(env)), Nodes: len(nodes)})
		envs, size = append(envs, env), size+int64(len(env))
	}
	foot := *seg
	foot.Nodes, foot.Blocks = nil, table
	env, err := codec.Encode(segSchema, &foot)
	if err != nil {
		return nil, nil, nil, err
	}
	footer := blockRef{Off: size, Len: int64(len(env))}

	idx = indexOf(seg)
	idx.Blocks = make([]int, len(idx.NodeIDs))
	idx.Parents = make([]string, len(idx.NodeIDs))
	for i, id := range idx.NodeIDs {
		idx.Blocks[i], idx.Parents[i] = where[id], parent[id]
	}
	idx.BlockTable, idx.Footer = table, &footer
	if idxData, err = codec.Encode(indexSchema, idx); err != nil {
		return nil, nil, nil, err
	}
	return segmentObject(envs, env, len(idxData)), idxData, idx, nil
}

// segmentObject returns a segment's block envelopes and its footer end to
// end, in one allocation with room for room more bytes: its index
// envelope, which packSegment appends in place.
func segmentObject(blocks [][]byte, footer []byte, room int) []byte {
	n := len(footer) + room
	for _, b := range blocks {
		n += len(b)
	}
	buf := make([]byte, 0, n)
	for _, b := range blocks {
		buf = append(buf, b...)
	}
	return append(buf, footer...)
}

// packSegment appends a segment's index envelope to its object (a packed
// segment: docs/format.md, "Packed segments") and returns the object and where
// the index lies in it, for segRef.Index. It takes segData over: the
// object is segData itself when it has room for the index.
func packSegment(segData, idxData []byte) ([]byte, *blockRef) {
	at := &blockRef{Off: int64(len(segData)), Len: int64(len(idxData))}
	return append(segData, idxData...), at
}

// unpackSegment returns the segment envelopes of a whole segment object:
// all of it, or, for a packed segment, all but its last envelope, which
// must then be an intact index (its header and checksum).
func unpackSegment(data []byte) ([]byte, error) {
	var last int
	for off := 0; off < len(data); {
		env, _, _, err := codec.Split(data[off:])
		if err != nil {
			return nil, err
		}
		last, off = off, off+len(env)
	}
	if _, kind, _, _ := codec.Split(data[last:]); kind != indexSchema.Kind {
		return data, nil
	}
	if _, err := codec.Verify(indexSchema, data[last:]); err != nil {
		return nil, err
	}
	return data[:last], nil
}

// segmentNodes is what a walk of a segment's nodes reads of its footer:
// the commits and receipts are skipped, not decoded (in a cold load of
// the bench's session they were a fifth of the decoding CPU).
type segmentNodes struct {
	SessionID string       `json:"session_id"`
	Reset     bool         `json:"reset,omitempty"`
	Nodes     []NodeRecord `json:"nodes,omitempty"`
	Blocks    []blockRef   `json:"blocks,omitempty"`
}

// decodeFooter decodes a segment's footer envelope: with nodesOnly, only
// what segmentNodes holds, if the segment is blocked (schema 2; a schema-1
// segment, whose nodes live in its footer, is decoded whole).
func decodeFooter(env []byte, nodesOnly bool) (*segment, uint16, error) {
	seg, f := new(segment), (*segmentNodes)(nil)
	version, err := codec.DecodeInto(segSchema, env, func(version uint16) any {
		if nodesOnly && version >= 2 {
			f = new(segmentNodes)
			return f
		}
		return seg
	})
	if f != nil {
		seg.SessionID, seg.Reset, seg.Nodes, seg.Blocks = f.SessionID, f.Reset, f.Nodes, f.Blocks
	}
	return seg, version, err
}

// decodeSegment decodes a segment object of either schema: whole, or with
// nodesOnly what decodeFooter leaves of it.
func decodeSegment(data []byte, nodesOnly bool) (*segment, error) {
	envs, offs, err := segmentEnvelopes(data)
	if err != nil {
		return nil, err
	}
	seg, version, err := decodeFooter(envs[len(envs)-1], nodesOnly)
	if err != nil {
		return nil, err
	}
	if version < 2 {
		if len(envs) != 1 {
			return nil, fmt.Errorf("%w: schema-1 segment of %d envelopes", codec.ErrCorrupt, len(envs))
		}
		return seg, nil
	}
	if len(seg.Nodes) > 0 {
		return nil, fmt.Errorf("%w: blocked segment with nodes in its footer", codec.ErrCorrupt)
	}
	seg.Nodes, err = decodeBlocks(envs[:len(envs)-1], offs, seg.Blocks)
	return seg, err
}

// redecodeNodes decodes the nodes of segment object data again, as
// decodeSegment with nodesOnly did into like: their blocks, against like's
// block table, without decoding the footer a second time. A segment with
// no blocks (schema 1, or empty) is decoded again whole. The result shares
// like's block table, which no one writes.
func redecodeNodes(data []byte, like *segment) (*segment, error) {
	if len(like.Blocks) == 0 {
		return decodeSegment(data, true)
	}
	envs, offs, err := segmentEnvelopes(data)
	if err != nil {
		return nil, err
	}
	out := &segment{SessionID: like.SessionID, Reset: like.Reset, Blocks: like.Blocks}
	out.Nodes, err = decodeBlocks(envs[:len(envs)-1], offs, like.Blocks)
	return out, err
}

// segmentEnvelopes splits a segment object into its envelopes (an index
// packed at its end left out) and their offsets; the last is the footer.
func segmentEnvelopes(data []byte) (envs [][]byte, offs []int64, err error) {
	if data, err = unpackSegment(data); err != nil {
		return nil, nil, err
	}
	for off := int64(0); len(data) > 0; {
		env, _, rest, err := codec.Split(data)
		if err != nil {
			return nil, nil, err
		}
		envs, offs = append(envs, env), append(offs, off)
		off += int64(len(env))
		data = rest
	}
	if len(envs) == 0 {
		return nil, nil, codec.ErrCorrupt
	}
	return envs, offs, nil
}

// decodeBlocks decodes the block envelopes envs, at offs, whose block
// table is table, into one slice of their nodes. The blocks are decoded on
// all cores at once: a cold load's segments arrive nearly together, and it
// returns when the last one is decoded.
func decodeBlocks(envs [][]byte, offs []int64, table []blockRef) ([]NodeRecord, error) {
	if len(table) != len(envs) {
		return nil, fmt.Errorf("%w: footer names %d blocks, object holds %d", codec.ErrCorrupt, len(table), len(envs))
	}
	for i, b := range table {
		if b.Off != offs[i] || b.Len != int64(len(envs[i])) {
			return nil, fmt.Errorf("%w: block %d is not where the footer says", codec.ErrCorrupt, i)
		}
	}
	blocks := make([][]NodeRecord, len(table))
	decode := func(i int) (err error) {
		blocks[i], err = decodeBlock(envs[i], table[i].Nodes)
		return err
	}
	if len(table) == 1 {
		if err := decode(0); err != nil {
			return nil, err
		}
		return blocks[0], nil
	}
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range table {
		g.Go(func() error { return decode(i) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return slices.Concat(blocks...), nil // one allocation, not a growing slice
}

// decodeBlock decodes one block envelope of want nodes.
func decodeBlock(env []byte, want int) ([]NodeRecord, error) {
	payload, version, err := codec.DecodeRaw(blockSchema, env)
	if err != nil {
		return nil, err
	}
	var nodes []NodeRecord
	if version >= 2 {
		nodes, err = decodeNodes(payload)
	} else if err = codec.UnmarshalJSON(payload, &nodes); err != nil {
		err = fmt.Errorf("%w: %s payload: %v", codec.ErrCorrupt, blockSchema.Kind, err)
	}
	if err != nil {
		return nil, err
	}
	if len(nodes) != want {
		return nil, fmt.Errorf("%w: block of %d nodes, table says %d", codec.ErrCorrupt, len(nodes), want)
	}
	return nodes, nil
}

// getRange reads n bytes at off of an immutable object the head names.
func (s *Store) getRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	rc, _, err := s.objs.Get(ctx, key, &objstore.GetOptions{Range: &objstore.Range{Offset: off, Length: n}})
	if err != nil {
		if errors.Is(err, objstore.ErrNotExist) {
			return nil, &CorruptError{Key: key, Err: err}
		}
		if errors.Is(err, objstore.ErrInvalidArgument) { // past the end
			return nil, &CorruptError{Key: key, Err: ErrCorrupt}
		}
		return nil, backendErr("get "+key, err)
	}
	defer rc.Close()
	return readBody(rc, key, n)
}

// loadBlock returns block b of segment id, whose block table is table:
// from the cache (the block, or the whole segment), else one ranged GET.
func (s *Store) loadBlock(ctx context.Context, sid, id string, table []blockRef, b int) ([]NodeRecord, error) {
	if nodes, ok := s.segs.getBlock(sid, id, b); ok {
		return nodes, nil
	}
	if seg, ok := s.segs.get(sid, id); ok {
		start := 0
		for _, r := range table[:b] {
			start += r.Nodes
		}
		if end := start + table[b].Nodes; end <= len(seg.Nodes) {
			return seg.Nodes[start:end], nil
		}
	}
	key := segKey(sid, id)
	r := table[b]
	data, err := s.getRange(ctx, key, r.Off, r.Len)
	if err != nil {
		return nil, err
	}
	nodes, err := decodeBlock(data, r.Nodes)
	if err != nil {
		return nil, &CorruptError{Key: key, Err: err}
	}
	s.segs.putBlock(sid, id, b, nodes)
	return nodes, nil
}

// loadFooter returns the footer of segment id (its commits and receipts,
// no nodes): one ranged GET for a blocked segment, else the whole segment.
func (s *Store) loadFooter(ctx context.Context, sid, id string, x *segIndex) (*segment, error) {
	if seg, ok := s.segs.get(sid, id); ok || !x.blocked() {
		if ok {
			return seg, nil
		}
		segs, err := s.loadSegments(ctx, sid, []string{id})
		if err != nil {
			return nil, err
		}
		return segs[0], nil
	}
	key := segKey(sid, id)
	data, err := s.getRange(ctx, key, x.Footer.Off, x.Footer.Len)
	if err != nil {
		return nil, err
	}
	foot := new(segment)
	if v, err := codec.Decode(segSchema, data, foot); err != nil || v < 2 || foot.SessionID != sid {
		return nil, &CorruptError{Key: key, Err: ErrCorrupt}
	}
	return foot, nil
}
