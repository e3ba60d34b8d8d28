package session_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/session"
)

// A caller may modify what a load returns: payloads are copies that reach
// neither the handle's cache nor each other.
func TestLoadedNodesDoNotAliasTheCache(t *testing.T) {
	ctx := t.Context()
	s, err := session.New(session.Config{Store: memstore.New(nil), SessionID: "alias"})
	if err != nil {
		t.Fatal(err)
	}
	first := commitAndLoad(t, s, "alias", 3)
	nodes := first.Graph.Nodes
	want := make([][]byte, len(nodes))
	for i, n := range nodes {
		want[i] = bytes.Clone(n.Event)
	}
	// Appending to one payload must not overwrite the next one.
	nodes[0].Event = append(nodes[0].Event, "overwrite"...)
	if !bytes.Equal(nodes[1].Event, want[1]) {
		t.Fatalf("appending to node 0 changed node 1 to %q", nodes[1].Event)
	}
	// Writing in place must not reach the cache.
	for j := range nodes[2].Event {
		nodes[2].Event[j] = 'X'
	}
	for _, scope := range []session.ReadScope{{}, session.ActivePath(nodes[2].NodeID)} {
		again, err := s.LoadSession(ctx, scope)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range again.Graph.Nodes {
			i := slicesIndex(nodes, n.NodeID)
			if !bytes.Equal(n.Event, want[i]) {
				t.Fatalf("scope %+v: node %s reads %q after the caller modified its copy, want %q", scope, n.NodeID, n.Event, want[i])
			}
		}
	}
}

func slicesIndex(ns []session.NodeRecord, id string) int {
	for i, n := range ns {
		if n.NodeID == id {
			return i
		}
	}
	return -1
}

// A load copies the graph of the head it has cached while it revalidates
// that head; when another writer has moved the head meanwhile, the load
// returns the new graph, never the copy of the old one.
func TestLoadAfterAnotherWriterReturnsTheNewHead(t *testing.T) {
	ctx := t.Context()
	objs := memstore.New(nil)
	open := func() *session.Store {
		s, err := session.New(session.Config{Store: objs, SessionID: "moved"})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	reader, writer := open(), open()
	for r := range uint64(3) {
		c := benchCommit("moved", r, int(r))
		if r > 0 {
			c.Graph.Nodes[0].ParentNodeID = fmt.Sprintf("n%d", r-1)
		}
		if _, err := writer.CommitRuntimeState(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for _, scope := range []session.ReadScope{{}, session.ActivePath("")} {
		for range 2 { // the second load finds the graph cached
			if r, err := reader.LoadSession(ctx, scope); err != nil || len(r.Graph.Nodes) != int(r.HeadRevision) {
				t.Fatalf("scope %+v: %v, %v", scope, r, err)
			}
		}
		rev := uint64(3)
		if scope.ActivePath {
			rev = 4
		}
		c := benchCommit("moved", rev, int(rev))
		c.Graph.Nodes[0].ParentNodeID = fmt.Sprintf("n%d", rev-1)
		if _, err := writer.CommitRuntimeState(ctx, c); err != nil {
			t.Fatal(err)
		}
		r, err := reader.LoadSession(ctx, scope)
		if err != nil || r.HeadRevision != rev+1 || len(r.Graph.Nodes) != int(rev+1) {
			t.Fatalf("scope %+v after another writer's commit: revision %d, %d nodes, %v; want %d of each", scope, r.HeadRevision, len(r.Graph.Nodes), err, rev+1)
		}
	}
}

// A load served from the cache leaves a spare copy for the next load of the
// same head (spare.go); the spare is handed to one load only and is a copy
// of its own: a caller that modifies it, or another handle sharing the
// cache, reaches neither the cache nor the next load.
func TestSpareCopiesDoNotAlias(t *testing.T) {
	ctx := t.Context()
	open := sharedOpener(t, memstore.New(nil), "spare")
	w := open()
	want := deepCopyRead(commitAndLoad(t, w, "spare", 5))
	a, b := open(), open()
	seen := map[*byte]bool{}
	for round := range 6 {
		for _, h := range []*session.Store{w, a, b} {
			h.WaitCompaction() // the spare of the previous load is in the cache
		}
		// Two handles load at once: at most one of them takes the spare.
		got := make([]*session.PersistedRead, 2)
		errs := make(chan error, 2)
		for i, h := range []*session.Store{a, b} {
			go func() {
				var err error
				got[i], err = h.LoadSession(ctx, session.ReadScope{})
				errs <- err
			}()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		for i, r := range got {
			for j, n := range r.Graph.Nodes {
				if !bytes.Equal(n.Event, want.Graph.Nodes[j].Event) {
					t.Fatalf("round %d, handle %d: node %s reads %q, want %q", round, i, n.NodeID, n.Event, want.Graph.Nodes[j].Event)
				}
				if seen[&n.Event[0]] {
					t.Fatalf("round %d, handle %d: node %s shares its payload with a copy returned before", round, i, n.NodeID)
				}
				seen[&n.Event[0]] = true
				for k := range n.Event {
					n.Event[k] = 'X' // the caller's own copy
				}
			}
		}
	}
}

func deepCopyRead(r *session.PersistedRead) *session.PersistedRead {
	out := *r
	out.Graph.Nodes = nil
	for _, n := range r.Graph.Nodes {
		n.Event, n.Body = bytes.Clone(n.Event), bytes.Clone(n.Body)
		out.Graph.Nodes = append(out.Graph.Nodes, n)
	}
	return &out
}

// commitAndLoad commits n one-node turns to sid through s and returns the
// full graph loaded after them.
func commitAndLoad(t *testing.T, s *session.Store, sid string, n int) *session.PersistedRead {
	t.Helper()
	for r := range uint64(n) {
		if _, err := s.CommitRuntimeState(t.Context(), benchCommit(sid, r, int(r))); err != nil {
			t.Fatal(err)
		}
	}
	read, err := s.LoadSession(t.Context(), session.ReadScope{})
	if err != nil || len(read.Graph.Nodes) != n {
		t.Fatalf("load: %v, %v", read, err)
	}
	return read
}

// A cold load of an unbranched session hands its caller the nodes it
// decoded, and fills the shared cache in the background from the
// segments' bytes decoded again (wholeChain): what the caller does to its
// nodes, at once or later, reaches neither the cache nor another handle's
// load, including the walk of cached blocks by a load after the head moved.
func TestColdLoadedNodesDoNotAliasTheCache(t *testing.T) {
	ctx := t.Context()
	objs := memstore.New(nil)
	const n = 150 // about 2 KiB a node: several segments
	w := writeChain(t, objs, "cold", n)
	open := sharedOpener(t, objs, "cold")
	reader := open()
	first, err := reader.LoadSession(ctx, session.ActivePath(""))
	if err != nil || len(first.Graph.Nodes) != n {
		t.Fatalf("cold load: %v, %v", first, err)
	}
	want := deepCopyRead(first)
	scribble := func(r *session.PersistedRead) {
		for i := range r.Graph.Nodes {
			ev := r.Graph.Nodes[i].Event
			for j := range ev {
				ev[j] = 'X'
			}
			r.Graph.Nodes[i].Event = append(ev, "overwrite"...)
		}
	}
	scribble(first) // while the cache is being filled
	reader.WaitCompaction()
	// check loads through s, compares with want and scribbles on what it got.
	check := func(what string, s *session.Store, nodes int) {
		t.Helper()
		got, err := s.LoadSession(ctx, session.ActivePath(""))
		if err != nil || len(got.Graph.Nodes) != nodes {
			t.Fatalf("%s: %v, %v", what, got, err)
		}
		for i, n := range got.Graph.Nodes[:len(want.Graph.Nodes)] {
			if !bytes.Equal(n.Event, want.Graph.Nodes[i].Event) {
				t.Fatalf("%s: node %s reads %q after an earlier load's caller modified its nodes, want %q", what, n.NodeID, n.Event, want.Graph.Nodes[i].Event)
			}
		}
		scribble(got)
		s.WaitCompaction()
	}
	check("another handle's load", open(), n)
	c := benchCommit("cold", n, n)
	c.Graph.Nodes[0].ParentNodeID = fmt.Sprintf("n%d", n-1)
	if _, err := w.CommitRuntimeState(ctx, c); err != nil {
		t.Fatal(err)
	}
	want.Graph.Nodes = append(want.Graph.Nodes, c.Graph.Nodes[0])
	check("a load after the head moved", reader, n+1)
	check("another handle's load after it", open(), n+1)
	info, err := session.ReadHead(ctx, objs, "cold")
	if err != nil {
		t.Fatal(err)
	}
	segs := 0
	for _, k := range info.Keys {
		if _, kind, _ := session.ParseKey(k); kind == session.KeySegment {
			segs++
		}
	}
	if segs < 2 {
		t.Fatalf("the head names %d segments: too few to test", segs)
	}
}

// writeChain commits n one-node turns to sid on objs, each node the child
// of the one before and about 2 KiB, and returns the writer's handle once
// its flushes and merges are done.
func writeChain(t *testing.T, objs objstore.Store, sid string, n int) *session.Store {
	t.Helper()
	w, err := session.New(session.Config{Store: objs, SessionID: sid})
	if err != nil {
		t.Fatal(err)
	}
	for r := range uint64(n) {
		c := benchCommit(sid, r, int(r))
		c.Graph.Nodes[0].Event = []byte(fmt.Sprintf(`{"text":%q}`, strings.Repeat(fmt.Sprint(r), 2000/len(fmt.Sprint(r)))))
		if r > 0 {
			c.Graph.Nodes[0].ParentNodeID = fmt.Sprintf("n%d", r-1)
		}
		if _, err := w.CommitRuntimeState(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	w.WaitCompaction()
	return w
}

// sharedOpener returns a function that opens a new handle of sid on objs,
// every handle sharing one segment cache (as a stowage.Store's do).
func sharedOpener(t *testing.T, objs objstore.Store, sid string) func() *session.Store {
	cache := session.NewSegmentCache(64 << 20)
	return func() *session.Store {
		t.Helper()
		s, err := session.New(session.Config{Store: objs, SessionID: sid, Segments: cache})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}
