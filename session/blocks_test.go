package session

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage/internal/codec"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
)

// writeSchema1 rewrites segment id of sid as the release before blocked
// segments wrote it: one SEGM envelope of schema 1 with the nodes inline,
// and an SIDX index of schema 1 (no blocks, parents or block table).
func writeSchema1(t *testing.T, ctx context.Context, st objstore.Store, sid, id string) {
	t.Helper()
	rc, _, err := st.Get(ctx, segKey(sid, id), nil)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	seg, err := decodeSegment(data, false)
	if err != nil {
		t.Fatal(err)
	}
	seg.Blocks = nil
	old := indexOf(seg)
	segData, err := codec.Encode(codec.Schema{Kind: "SEGM", Current: 1, Min: 1}, seg)
	if err != nil {
		t.Fatal(err)
	}
	// A schema-1 segment may be cached whole from a walk of its nodes
	// (cacheBlocks), so that walk decodes it whole too.
	whole, err := decodeSegment(segData, false)
	if light, lerr := decodeSegment(segData, true); err != nil || lerr != nil || !reflect.DeepEqual(whole, light) {
		t.Fatalf("schema-1 segment decoded for its nodes differs from the whole: %v, %v", err, lerr)
	}
	idxData, err := codec.Encode(codec.Schema{Kind: "SIDX", Current: 1, Min: 1}, old)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string][]byte{segKey(sid, id): segData, idxKey(sid, id): idxData} {
		if _, err := st.Put(ctx, k, v, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// commitNode commits node n<i> (revision i+1) under parent, stamped as
// turn-n<i>, and returns its id.
func commitNode(t *testing.T, ctx context.Context, w *Store, i int, parent string) string {
	t.Helper()
	sid, id, rev := w.SessionID(), fmt.Sprintf("n%02d", i), uint64(i)
	c := RuntimeCommit{SessionID: sid, ExpectedHeadRevision: &rev,
		TurnCommit: &TurnCommitStamp{SessionID: sid, TurnID: "turn-" + id, TurnCommitHash: "h"},
		Graph: GraphDelta{Kind: DeltaAppend, Leaf: id, Nodes: []NodeRecord{{NodeID: id, ParentNodeID: parent,
			Timestamp: "2026-01-02T03:04:05Z", Kind: PayloadEvent, Event: []byte(`"` + strings.Repeat(id, 100) + `"`)}}}}
	if _, err := w.CommitRuntimeState(ctx, c); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestSchema1SegmentsStayReadable: a session whose segments are partly of
// schema 1 (written by the previous release) and partly blocked loads the
// same graph, path, nodes and receipts as before the rewrite.
func TestSchema1SegmentsStayReadable(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New(nil)
	const sid = "old"
	w, err := New(Config{Store: mem, SessionID: sid, Tuning: Tuning{FlushDeltas: 3, SegmentMaxBytes: 8 << 10}})
	if err != nil {
		t.Fatal(err)
	}
	parent := ""
	for i := range 60 {
		parent = commitNode(t, ctx, w, i, parent)
	}
	w.WaitCompaction()
	fresh := func() *Store {
		s, err := New(Config{Store: mem, SessionID: sid})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	before, err := fresh().LoadSession(ctx, FullGraph())
	if err != nil {
		t.Fatal(err)
	}
	h, err := fresh().readLive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Segs) < 3 {
		t.Fatalf("%d segments", len(h.Segs))
	}
	for i, r := range h.Segs {
		if i%2 == 0 {
			writeSchema1(t, ctx, mem, sid, r.ID)
			h.Segs[i].Index = nil // the previous release packed nothing
		}
		h.Segs[i].Fresh = false
	}
	// The previous release wrote no directory and no freshness.
	h.Dirs = nil
	data, err := encodeHead(h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mem.Put(ctx, HeadKey(sid), data, nil); err != nil {
		t.Fatal(err)
	}
	after, err := fresh().LoadSession(ctx, FullGraph())
	if err != nil || !slices.EqualFunc(before.Graph.Nodes, after.Graph.Nodes, func(a, b NodeRecord) bool {
		return a.NodeID == b.NodeID && string(a.Event) == string(b.Event)
	}) {
		t.Fatalf("full graph changed: %v", err)
	}
	checkSession(t, ctx, fresh, h, before.Graph.Nodes)

	// This release keeps committing: sealing writes a directory over the
	// schema-1 segments, and everything still reads the same.
	w, err = New(Config{Store: mem, SessionID: sid, Tuning: Tuning{FlushDeltas: 3, SegmentMaxBytes: 8 << 10}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 60; ; i++ {
		parent = commitNode(t, ctx, w, i, parent)
		if h, err = fresh().readLive(ctx); err != nil {
			t.Fatal(err)
		}
		if len(h.Dirs) > 0 || i > 400 {
			break
		}
	}
	if len(h.Dirs) == 0 {
		t.Fatal("no directory written")
	}
	checkSession(t, ctx, fresh, h, before.Graph.Nodes)
}

// checkSession checks that nodes (the first of the session, each the
// parent of the next, with receipts turn-<id>) load from fresh handles.
func checkSession(t *testing.T, ctx context.Context, fresh func() *Store, h *head, nodes []NodeRecord) {
	t.Helper()
	path, err := fresh().LoadSession(ctx, ActivePath(nodes[len(nodes)-1].NodeID))
	if err != nil || len(path.Graph.Nodes) != len(nodes) {
		t.Fatalf("active path: %v", err)
	}
	for i, want := range nodes {
		id := want.NodeID
		n, err := fresh().LoadNode(ctx, id)
		if err != nil || n == nil || string(n.Event) != string(want.Event) {
			t.Fatalf("load node %s: %+v, %v", id, n, err)
		}
		s := fresh()
		if r, err := s.findReceipt(ctx, h.SessionID, h, "turn-"+id); err != nil || r == nil || r.Revision != uint64(i+1) {
			t.Fatalf("receipt of %s: %+v, %v", id, r, err)
		}
	}
}

// TestVacuumUnderDirectory: Vacuum replaces a segment a directory run
// covers; every live node of it still loads, the removed one does not.
func TestVacuumUnderDirectory(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New(nil)
	w, err := New(Config{Store: mem, SessionID: "vac", Tuning: Tuning{FlushDeltas: 3, SegmentMaxBytes: 8 << 10}})
	if err != nil {
		t.Fatal(err)
	}
	parent := ""
	for i := range 200 {
		parent = commitNode(t, ctx, w, i, parent)
		if i%20 == 19 {
			w.WaitCompaction()
		}
	}
	h, err := w.readLive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, runs := dirCovered(h.Segs, h.Dirs)
	if len(runs) == 0 {
		t.Fatal("no directory")
	}
	lo, hi, _ := dirSpan(h.Segs, runs[0])
	if hi < lo+2 {
		t.Fatalf("run over %d segments", hi-lo+1)
	}
	x, err := w.loadIndexes(ctx, "vac", h.Segs[lo+1:lo+2])
	if err != nil || len(x[0].NodeIDs) < 2 {
		t.Fatalf("index: %v", err)
	}
	gone, kept := x[0].NodeIDs[0], x[0].NodeIDs[1]
	if err := w.TombstoneNodes(ctx, []string{gone}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Vacuum(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := New(Config{Store: mem, SessionID: "vac"})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r.LoadNode(ctx, kept); err != nil || n == nil {
		t.Fatalf("kept node %s: %v, %v", kept, n, err)
	}
	if n, err := r.LoadNode(ctx, gone); err != nil || n != nil {
		t.Fatalf("vacuumed node %s: %v, %v", gone, n, err)
	}
	if p, err := r.LoadSession(ctx, ActivePath(kept)); err != nil || p.Graph.Nodes[len(p.Graph.Nodes)-1].NodeID != kept {
		t.Fatalf("path of %s: %v", kept, err)
	}
}
