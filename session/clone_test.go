package session_test

import (
	"bytes"
	"fmt"
	"testing"

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
	for r := range uint64(3) {
		if _, err := s.CommitRuntimeState(ctx, benchCommit("alias", r, int(r))); err != nil {
			t.Fatal(err)
		}
	}
	first, err := s.LoadSession(ctx, session.ReadScope{})
	if err != nil || len(first.Graph.Nodes) != 3 {
		t.Fatalf("load: %v, %v", first, err)
	}
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
