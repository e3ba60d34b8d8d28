package session_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/session"
)

// TestKeptHandlesStayWithinTheCacheBudget keeps 40 handles of 512 KiB
// sessions that share a 2 MiB cache: after their loads, the memory they
// hold is the budget plus each handle's head, not the 20 MiB of graphs.
func TestKeptHandlesStayWithinTheCacheBudget(t *testing.T) {
	ctx := context.Background()
	objs := memstore.New(nil)
	const sessions, perSession, nodeSize = 40, 512 << 10, 16 << 10
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range sessions {
		sid := fmt.Sprintf("s%02d", i)
		w, err := session.New(session.Config{Store: objs, SessionID: sid})
		if err != nil {
			t.Fatal(err)
		}
		parent := ""
		for r := range perSession / nodeSize {
			raw := make([]byte, nodeSize/2)
			for k := range raw {
				raw[k] = byte(rng.Uint32())
			}
			id := fmt.Sprintf("n%d", r)
			ev, _ := json.Marshal(hex.EncodeToString(raw))
			c := session.RuntimeCommit{SessionID: sid, ExpectedHeadRevision: ptr(uint64(r)),
				Graph: session.GraphDelta{Kind: session.DeltaAppend, Leaf: id, Nodes: []session.NodeRecord{
					{NodeID: id, ParentNodeID: parent, Timestamp: "2026-01-02T03:04:05Z", Kind: session.PayloadEvent, Event: ev}}}}
			if _, err := w.CommitRuntimeState(ctx, c); err != nil {
				t.Fatal(err)
			}
			parent = id
		}
	}
	const budget = 2 << 20
	cache := session.NewSegmentCache(budget)
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	handles := make([]*session.Store, sessions)
	for i := range handles {
		h, err := session.New(session.Config{Store: objs, SessionID: fmt.Sprintf("s%02d", i), Segments: cache})
		if err != nil {
			t.Fatal(err)
		}
		r, err := h.LoadSession(ctx, session.FullGraph())
		if err != nil || len(r.Graph.Nodes) != perSession/nodeSize {
			t.Fatalf("load %d: %v", i, err)
		}
		handles[i] = h
	}
	held := int64(heap()) - int64(before)
	runtime.KeepAlive(handles)
	if got := cache.Bytes(); got > budget {
		t.Fatalf("cache holds %d bytes, budget %d", got, budget)
	}
	// Each head keeps at most its tail (under twice FlushBytes: 48 KiB) of
	// nodes; 64 KiB per head is a loose bound.
	if limit := int64(budget + sessions*(64<<10) + 4<<20); held > limit {
		t.Fatalf("%d kept handles hold %d bytes, want at most %d", sessions, held, limit)
	}
	t.Logf("%d kept handles of 512 KiB sessions hold %d KiB (cache %d KiB)", sessions, held>>10, cache.Bytes()>>10)
	// Every handle still loads right (from the store where evicted).
	for i, h := range handles {
		if n, err := h.LoadNode(ctx, "n3"); err != nil || n == nil {
			t.Fatalf("handle %d: load node: %v", i, err)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestManyKeptHandlesHoldNoHeads keeps 400 handles of small sessions
// (three commits of 18 KiB, all in each head's tail) sharing a 2 MiB cache:
// the heads live in the cache, within its budget, not in the handles.
func TestManyKeptHandlesHoldNoHeads(t *testing.T) {
	ctx := context.Background()
	objs := memstore.New(nil)
	const sessions, commits = 400, 3
	text, _ := json.Marshal(string(make([]byte, 3<<10)))
	for i := range sessions {
		sid := fmt.Sprintf("h%04d", i)
		w, err := session.New(session.Config{Store: objs, SessionID: sid})
		if err != nil {
			t.Fatal(err)
		}
		for r := range commits {
			id := fmt.Sprintf("n%d", r)
			c := session.RuntimeCommit{SessionID: sid, ExpectedHeadRevision: ptr(uint64(r)),
				Graph: session.GraphDelta{Kind: session.DeltaAppend, Leaf: id, Nodes: []session.NodeRecord{
					{NodeID: id, Timestamp: "2026-01-02T03:04:05Z", Kind: session.PayloadEvent, Event: text}}}}
			if _, err := w.CommitRuntimeState(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
	}
	const budget = 2 << 20
	cache := session.NewSegmentCache(budget)
	heap := func() int64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	before := heap()
	handles := make([]*session.Store, sessions)
	for i := range handles {
		h, err := session.New(session.Config{Store: objs, SessionID: fmt.Sprintf("h%04d", i), Segments: cache})
		if err != nil {
			t.Fatal(err)
		}
		if r, err := h.LoadSession(ctx, session.FullGraph()); err != nil || len(r.Graph.Nodes) != commits {
			t.Fatalf("load %d: %v", i, err)
		}
		handles[i] = h
	}
	held := heap() - before
	runtime.KeepAlive(handles)
	t.Logf("%d kept handles hold %d KiB (cache %d KiB); their heads' tails alone are %d KiB",
		sessions, held>>10, cache.Bytes()>>10, sessions*commits*len(text)>>10)
	if limit := int64(budget + sessions*2<<10 + 2<<20); held > limit {
		t.Fatalf("%d kept handles hold %d bytes, want at most %d", sessions, held, limit)
	}
}
