package session

import (
	"fmt"
	"testing"

	"github.com/stowage-dev/stowage/objstore/memstore"
)

// A load served from the cache hands over the spare copy the load before
// it left (spare.go: nothing is copied on its critical path) and leaves a
// new one; a load that read objects (a new handle with a cache of its own)
// leaves none, a load of another scope leaves the spare in place, and a
// spare of another head is never handed over.
func TestCachedLoadTakesTheSpare(t *testing.T) {
	ctx := t.Context()
	objs := memstore.New(nil)
	w, err := New(Config{Store: objs, SessionID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	commit := func(r uint64) {
		t.Helper()
		id := fmt.Sprintf("n%d", r)
		c := RuntimeCommit{SessionID: "s", ExpectedHeadRevision: &r, Graph: GraphDelta{Kind: DeltaAppend, Leaf: id,
			Nodes: []NodeRecord{{NodeID: id, Kind: PayloadEvent, Timestamp: "2026-01-02T03:04:05Z", Event: []byte(`{"n":1}`)}}}}
		if _, err := w.CommitRuntimeState(ctx, c); err != nil {
			t.Fatal(err)
		}
		w.WaitCompaction()
	}
	spare := func(h *Store) *spareCopy {
		sp, _ := h.segs.getKey(spareCacheKey("s")).(*spareCopy)
		return sp
	}
	commit(0)
	cold, err := New(Config{Store: objs, SessionID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cold.LoadSession(ctx, FullGraph()); err != nil {
		t.Fatal(err)
	}
	cold.WaitCompaction()
	if sp := spare(cold); sp != nil {
		t.Fatal("a load that read the session's objects left a spare copy")
	}
	for r := range 3 {
		for range 2 { // the first load after a commit builds the graph
			if _, err := w.LoadSession(ctx, FullGraph()); err != nil {
				t.Fatal(err)
			}
		}
		w.WaitCompaction()
		sp := spare(w)
		if sp == nil {
			t.Fatalf("round %d: a load served from the cache left no spare copy", r)
		}
		got, err := w.LoadSession(ctx, FullGraph())
		if err != nil {
			t.Fatal(err)
		}
		if &got.Graph.Nodes[0] != &sp.graph.Nodes[0] {
			t.Fatalf("round %d: the load copied the graph instead of taking the spare", r)
		}
		w.WaitCompaction()
		if next := spare(w); next == nil || &next.graph.Nodes[0] == &sp.graph.Nodes[0] {
			t.Fatalf("round %d: the load that took the spare left no new one", r)
		}
		// A load of another scope leaves the spare as it is, and makes none.
		next := spare(w)
		if _, err := w.LoadSession(ctx, ActivePath("")); err != nil {
			t.Fatal(err)
		}
		w.WaitCompaction()
		if sp := spare(w); sp != next {
			t.Fatalf("round %d: a load of another scope replaced or took the spare", r)
		}
		// The head moves: the spare of the old head is not handed over.
		commit(uint64(r + 1))
		old := spare(w)
		got, err = w.LoadSession(ctx, FullGraph())
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Graph.Nodes) != r+2 || (old != nil && &got.Graph.Nodes[0] == &old.graph.Nodes[0]) {
			t.Fatalf("round %d: the load after a commit returned %d nodes (the spare of the old head: %v)", r, len(got.Graph.Nodes), old != nil && &got.Graph.Nodes[0] == &old.graph.Nodes[0])
		}
		w.WaitCompaction()
	}
}
