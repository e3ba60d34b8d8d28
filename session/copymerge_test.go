package session

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/internal/codec"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
)

// randomRun writes parts segments of random history (nodes of random
// sizes, some over a block on their own; commits naming attachments;
// receipts) for sid, blocked, and returns their refs, oldest first. Node
// ids are unique across the run unless dup names one to repeat.
func randomRun(t *testing.T, ctx context.Context, st objstore.Store, r *rand.Rand, sid string, parts int) []segRef {
	t.Helper()
	var run []segRef
	rev, node := uint64(0), 0
	for p := range parts {
		seg := &segment{SessionID: sid, FromRev: rev + 1}
		for range r.IntN(6) {
			rev++
			c := commitRecord{Rev: rev, CommitID: fmt.Sprintf("c%d", rev), At: time.Unix(int64(rev), 0).UTC()}
			for range r.IntN(40) {
				size := r.IntN(3000)
				if r.IntN(50) == 0 {
					size = 70 << 10 // a block of its own
				}
				seg.Nodes = append(seg.Nodes, NodeRecord{NodeID: fmt.Sprintf("n%03d-%05d", r.IntN(1000), node), ParentNodeID: fmt.Sprintf("p%05d", node-1),
					Timestamp: "2026-01-02T03:04:05Z", Kind: PayloadEvent, Event: []byte(`"` + strings.Repeat("x", size) + `"`)})
				node++
			}
			for range r.IntN(3) {
				c.AttachmentIDs = append(c.AttachmentIDs, fmt.Sprintf("att-%d", r.IntN(20)))
			}
			if r.IntN(2) == 0 {
				c.TurnID = fmt.Sprintf("turn-%d", rev)
				seg.Receipts = append(seg.Receipts, receipt{TurnID: c.TurnID, Hash: "h", Revision: rev, CommitID: c.CommitID})
			}
			seg.Commits = append(seg.Commits, c)
		}
		seg.ToRev = rev
		seg.Reset = p == 0 && r.IntN(2) == 0
		run = append(run, putSegment(t, ctx, st, sid, fmt.Sprintf("seg%02d", p), seg))
	}
	return run
}

// putSegment writes seg as blocked segment id with its index.
func putSegment(t *testing.T, ctx context.Context, st objstore.Store, sid, id string, seg *segment) segRef {
	t.Helper()
	segData, idxData, idx, err := encodeSegment(seg)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string][]byte{segKey(sid, id): segData, idxKey(sid, id): idxData} {
		if _, err := st.Put(ctx, k, v, nil); err != nil {
			t.Fatal(err)
		}
	}
	return segRef{ID: id, FromRev: seg.FromRev, ToRev: seg.ToRev, Reset: seg.Reset, Nodes: len(idx.NodeIDs),
		Turns: len(idx.TurnIDs), Bytes: segBytes(seg)}
}

// TestCopyMergeEqualsDecodeMerge: merging by copying blocks gives the
// segment merging by decoding gives (nodes in order, commits, receipts,
// revisions, reset) and an index naming the same nodes, parents, turns
// and attachments, with every node in the block the index says; merge
// counts the same nodes and bytes either way.
func TestCopyMergeEqualsDecodeMerge(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(40) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 7))
			mem := memstore.New(nil)
			const sid = "s"
			s, err := New(Config{Store: mem, SessionID: sid})
			if err != nil {
				t.Fatal(err)
			}
			run := randomRun(t, ctx, mem, r, sid, 2+r.IntN(5))
			ids := make([]string, len(run))
			for i := range run {
				ids[i] = run[i].ID
			}
			segData, _, idx, copied, err := s.copyMerge(ctx, sid, run)
			if err != nil || !copied {
				t.Fatalf("copyMerge: copied %v, %v", copied, err)
			}
			want, _, _, wantIdx, err := s.decodeMerge(ctx, sid, ids)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeSegment(segData, false)
			if err != nil {
				t.Fatalf("copied segment does not decode: %v", err)
			}
			// What a walk of its nodes decodes is the same, but for the
			// commits and receipts it skips.
			light, err := decodeSegment(segData, true)
			if err != nil || light.Commits != nil || light.Receipts != nil ||
				!reflect.DeepEqual(segment{SessionID: got.SessionID, Reset: got.Reset, Nodes: got.Nodes, Blocks: got.Blocks}, *light) {
				t.Fatalf("decoded for its nodes: %+v, %v", light, err)
			}
			got.Blocks, want.Blocks = nil, nil
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("copied segment differs from the decoded merge")
			}
			if !reflect.DeepEqual([][]string{idx.NodeIDs, idx.Parents, idx.TurnIDs, idx.AttachmentIDs},
				[][]string{wantIdx.NodeIDs, wantIdx.Parents, wantIdx.TurnIDs, wantIdx.AttachmentIDs}) {
				t.Fatalf("copied index differs from the decoded merge's")
			}
			checkBlocks(t, segData, idx)
			c, err := s.merge(ctx, sid, run)
			if err != nil {
				t.Fatal(err)
			}
			if c.ref.Bytes != segBytes(want) || c.ref.Nodes != len(want.Nodes) || c.ref.Turns != len(wantIdx.TurnIDs) {
				t.Fatalf("merge counts %d nodes, %d turns, %d bytes; the decoded merge has %d, %d, %d",
					c.ref.Nodes, c.ref.Turns, c.ref.Bytes, len(want.Nodes), len(wantIdx.TurnIDs), segBytes(want))
			}
		})
	}
}

// checkBlocks: every node of idx is in the block idx names, and the block
// table and footer are where the object has them.
func checkBlocks(t *testing.T, data []byte, idx *segIndex) {
	t.Helper()
	if idx.Footer.Off+idx.Footer.Len != int64(len(data)) {
		t.Fatalf("footer at %d+%d of %d bytes", idx.Footer.Off, idx.Footer.Len, len(data))
	}
	in := map[string]int{}
	for b, ref := range idx.BlockTable {
		nodes, err := decodeBlock(data[ref.Off:ref.Off+ref.Len], ref.Nodes)
		if err != nil {
			t.Fatalf("block %d: %v", b, err)
		}
		for _, n := range nodes {
			in[n.NodeID] = b
		}
	}
	for i, id := range idx.NodeIDs {
		if b, ok := in[id]; !ok || b != idx.Blocks[i] {
			t.Fatalf("node %s: index says block %d, found in %d (%v)", id, idx.Blocks[i], b, ok)
		}
	}
}

// TestCopyMergeDeclines: a run with a node in two parts, a reset after its
// first part, or a schema-1 part is not copied (its merge decodes), and
// merge still merges it.
func TestCopyMergeDeclines(t *testing.T) {
	ctx := context.Background()
	const sid = "s"
	node := func(id string) NodeRecord {
		return NodeRecord{NodeID: id, Timestamp: "2026-01-02T03:04:05Z", Kind: PayloadEvent, Event: []byte(`"e"`)}
	}
	seg := func(from uint64, reset bool, ids ...string) *segment {
		s := &segment{SessionID: sid, FromRev: from, ToRev: from, Reset: reset,
			Commits: []commitRecord{{Rev: from, CommitID: fmt.Sprint("c", from)}}}
		for _, id := range ids {
			s.Nodes = append(s.Nodes, node(id))
		}
		return s
	}
	for name, c := range map[string]struct {
		segs    []*segment
		schema1 int // part rewritten as schema 1, or -1
	}{
		"node in two parts": {[]*segment{seg(1, false, "a", "b"), seg(2, false, "b", "c")}, -1},
		"reset after first": {[]*segment{seg(1, false, "a"), seg(2, true, "c")}, -1},
		"schema-1 part":     {[]*segment{seg(1, false, "a"), seg(2, false, "c")}, 1},
	} {
		t.Run(name, func(t *testing.T) {
			mem := memstore.New(nil)
			s, err := New(Config{Store: mem, SessionID: sid})
			if err != nil {
				t.Fatal(err)
			}
			var run []segRef
			for i, sg := range c.segs {
				run = append(run, putSegment(t, ctx, mem, sid, fmt.Sprint("p", i), sg))
				if i == c.schema1 {
					writeSchema1(t, ctx, mem, sid, run[i].ID)
				}
			}
			if _, _, _, copied, err := s.copyMerge(ctx, sid, run); err != nil || copied {
				t.Fatalf("copyMerge: copied %v, %v; want declined", copied, err)
			}
			if _, err := s.merge(ctx, sid, run); err != nil {
				t.Fatalf("merge: %v", err)
			}
		})
	}
}

// TestCopyMergeRefusesDamagedPart: a part whose block bytes, footer or
// length no longer match its index is corrupt; nothing is copied on.
func TestCopyMergeRefusesDamagedPart(t *testing.T) {
	ctx := context.Background()
	const sid = "s"
	for name, damage := range map[string]func([]byte, *segIndex) []byte{
		"block byte flipped":  func(d []byte, x *segIndex) []byte { d[x.BlockTable[0].Off+30] ^= 1; return d },
		"footer byte flipped": func(d []byte, x *segIndex) []byte { d[x.Footer.Off+30] ^= 1; return d },
		"truncated":           func(d []byte, _ *segIndex) []byte { return d[:len(d)-1] },
		"block moved":         func(d []byte, x *segIndex) []byte { x.BlockTable[0].Off++; return d },
	} {
		t.Run(name, func(t *testing.T) {
			mem := memstore.New(nil)
			s, err := New(Config{Store: mem, SessionID: sid})
			if err != nil {
				t.Fatal(err)
			}
			run := randomRun(t, ctx, mem, rand.New(rand.NewPCG(1, 2)), sid, 3)
			key := segKey(sid, run[1].ID)
			data, err := s.getObject(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			idxs, err := s.loadIndexes(ctx, sid, run[1:2])
			if err != nil {
				t.Fatal(err)
			}
			x := *idxs[0]
			x.BlockTable = append([]blockRef(nil), x.BlockTable...)
			data = damage(data, &x)
			idxData, err := codec.Encode(indexSchema, &x)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range map[string][]byte{key: data, idxKey(sid, run[1].ID): idxData} {
				if _, err := mem.Put(ctx, k, v, nil); err != nil {
					t.Fatal(err)
				}
			}
			cold, err := New(Config{Store: mem, SessionID: sid})
			if err != nil {
				t.Fatal(err)
			}
			_, _, _, _, err = cold.copyMerge(ctx, sid, run)
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.Key != key || !errors.Is(err, codec.ErrCorrupt) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("copyMerge of a damaged part: %v, want a CorruptError naming %s", err, key)
			}
		})
	}
}
