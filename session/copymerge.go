package session

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"golang.org/x/sync/errgroup"

	"github.com/stowage-dev/stowage/internal/codec"
)

// Merging by copying blocks (docs/format.md, "Compaction"). When every
// segment of a run is blocked, no segment after the first starts with a
// reset, and no node is in two of them, the merged segment's nodes are the
// parts' nodes in order, unchanged: its blocks are the parts' block
// envelopes, each verified (header and checksum, without decompressing)
// and copied as stored, followed by a new footer. A merge then costs the
// reads and the write of its bytes, not decoding and encoding every node,
// so a background merge takes little CPU from the commits beside it. A run
// that does not qualify is merged by decoding (merge).

// copyPart is one segment of a run: its index, its object and its footer.
type copyPart struct {
	idx  *segIndex
	data []byte
	foot *segment
}

// copyMerge merges run by copying blocks. ok is false, with nothing read
// but indexes, when the run does not qualify.
func (s *Store) copyMerge(ctx context.Context, sid string, run []segRef) (segData, idxData []byte, idx *segIndex, ok bool, err error) {
	ids := make([]string, len(run))
	for i, r := range run {
		ids[i] = r.ID
	}
	idxs, err := s.loadIndexes(ctx, sid, run)
	if err != nil {
		return nil, nil, nil, false, err
	}
	for i, x := range idxs {
		if !x.blocked() || i > 0 && run[i].Reset {
			return nil, nil, nil, false, nil
		}
	}
	merged, ok := mergeIndexes(idxs)
	if !ok {
		return nil, nil, nil, false, nil
	}
	parts := make([]copyPart, len(run))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, id := range ids {
		g.Go(func() error {
			p, err := s.loadCopyPart(gctx, sid, id, idxs[i])
			parts[i] = p
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, nil, false, err
	}
	segData, idxData, err = concatParts(sid, parts, merged)
	if err != nil {
		return nil, nil, nil, false, err
	}
	return segData, idxData, merged, true, nil
}

// loadCopyPart reads segment id whole and checks it against its index x:
// the footer decodes and is where x says, its block table is x's, the
// blocks lie end to end from the start of the object, and each block
// envelope is intact. The bytes come from the shared cache when this
// process wrote the segment (createSegment), checked the same way.
func (s *Store) loadCopyPart(ctx context.Context, sid, id string, x *segIndex) (copyPart, error) {
	key := segKey(sid, id)
	data, ok := s.segs.getRaw(sid, id)
	if !ok {
		var err error
		if data, err = s.getObject(ctx, key); err != nil {
			return copyPart{}, err
		}
	}
	bad := func(why string, args ...any) (copyPart, error) {
		return copyPart{}, &CorruptError{Key: key, Err: fmt.Errorf("%w: "+why, append([]any{ErrCorrupt}, args...)...)}
	}
	data, err := unpackSegment(data)
	if err != nil {
		return copyPart{}, &CorruptError{Key: key, Err: err}
	}
	f := *x.Footer
	if f.Off < 0 || f.Len <= 0 || f.Off+f.Len != int64(len(data)) {
		return bad("footer at %d+%d in an object of %d bytes", f.Off, f.Len, len(data))
	}
	foot := new(segment)
	if v, err := codec.Decode(segSchema, data[f.Off:], foot); err != nil || v < 2 || foot.SessionID != sid {
		return bad("footer does not decode as this session's")
	}
	if len(foot.Nodes) > 0 || !slices.Equal(foot.Blocks, x.BlockTable) {
		return bad("footer and index disagree on the blocks")
	}
	end := int64(0)
	for i, b := range x.BlockTable {
		if b.Off != end || b.Len <= 0 || b.Off+b.Len > f.Off {
			return bad("block %d at %d+%d, expected at %d", i, b.Off, b.Len, end)
		}
		if _, err := codec.Verify(blockSchema, data[b.Off:b.Off+b.Len]); err != nil {
			return copyPart{}, &CorruptError{Key: key, Err: err}
		}
		end += b.Len
	}
	if end != f.Off {
		return bad("blocks end at %d, footer starts at %d", end, f.Off)
	}
	return copyPart{idx: x, data: data, foot: foot}, nil
}

// mergeIndexes returns the index of the parts concatenated, block numbers
// shifted, without block table or footer; ok is false when a node is in
// two parts (the merge must then keep only the newest: it decodes).
func mergeIndexes(idxs []*segIndex) (*segIndex, bool) {
	type at struct{ part, pos int }
	var all []at
	for p, x := range idxs {
		for i := range x.NodeIDs {
			all = append(all, at{p, i})
		}
	}
	id := func(a at) string { return idxs[a.part].NodeIDs[a.pos] }
	sort.Slice(all, func(i, j int) bool { return id(all[i]) < id(all[j]) })
	base := make([]int, len(idxs))
	for p := 1; p < len(idxs); p++ {
		base[p] = base[p-1] + len(idxs[p-1].BlockTable)
	}
	out := &segIndex{AttachmentIDs: []string{}}
	for i, a := range all {
		if i > 0 && id(all[i-1]) == id(a) {
			return nil, false
		}
		x := idxs[a.part]
		out.NodeIDs = append(out.NodeIDs, x.NodeIDs[a.pos])
		out.Blocks = append(out.Blocks, base[a.part]+x.Blocks[a.pos])
		out.Parents = append(out.Parents, x.Parents[a.pos])
	}
	for _, x := range idxs {
		out.TurnIDs = append(out.TurnIDs, x.TurnIDs...)
		out.AttachmentIDs = append(out.AttachmentIDs, x.AttachmentIDs...)
	}
	sort.Strings(out.TurnIDs)
	out.TurnIDs = slices.Compact(out.TurnIDs)
	sort.Strings(out.AttachmentIDs)
	out.AttachmentIDs = slices.Compact(out.AttachmentIDs)
	return out, true
}

// concatParts returns the merged segment object, the parts' blocks as
// stored and then a footer of their commits and receipts, and the
// encoding of idx, which it completes with the block table and the
// footer's place.
func concatParts(sid string, parts []copyPart, idx *segIndex) (segData, idxData []byte, err error) {
	foot := &segment{SessionID: sid, FromRev: parts[0].foot.FromRev, ToRev: parts[len(parts)-1].foot.ToRev,
		Reset: parts[0].foot.Reset}
	size := int64(0)
	for _, p := range parts {
		for _, b := range p.idx.BlockTable {
			foot.Blocks = append(foot.Blocks, blockRef{Off: b.Off + size, Len: b.Len, Nodes: b.Nodes})
		}
		size += p.idx.Footer.Off
		foot.Commits = append(foot.Commits, p.foot.Commits...)
		foot.Receipts = append(foot.Receipts, p.foot.Receipts...)
	}
	env, err := codec.Encode(segSchema, foot)
	if err != nil {
		return nil, nil, err
	}
	idx.BlockTable = foot.Blocks
	idx.Footer = &blockRef{Off: size, Len: int64(len(env))}
	if idxData, err = codec.Encode(indexSchema, idx); err != nil {
		return nil, nil, err
	}
	blocks := make([][]byte, len(parts))
	for i, p := range parts {
		blocks[i] = p.data[:p.idx.Footer.Off]
	}
	return segmentObject(blocks, env, len(idxData)), idxData, nil
}
