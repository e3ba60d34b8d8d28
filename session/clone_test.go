package session_test

import (
	"bytes"
	"testing"

	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/session"
)

// A caller may modify what a load returns: payloads are copies, and
// appending to one never overwrites its neighbour in the shared copy.
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
	for _, scope := range []session.ReadScope{session.ActivePath(""), {}} {
		first, err := s.LoadSession(ctx, scope)
		if err != nil || len(first.Graph.Nodes) == 0 {
			t.Fatalf("load %+v: %v, %v", scope, first, err)
		}
		last := len(first.Graph.Nodes) - 1 // the leaf: its own chain in ActivePath
		want := bytes.Clone(first.Graph.Nodes[last].Event)
		for i := range first.Graph.Nodes {
			n := &first.Graph.Nodes[i]
			n.Event = append(n.Event, "garbage"...)
			if i == 0 && last > 0 {
				for j := range n.Event {
					n.Event[j] = 'X'
				}
			}
		}
		again, err := s.LoadSession(ctx, scope)
		if err != nil {
			t.Fatal(err)
		}
		if got := again.Graph.Nodes[last].Event; !bytes.Equal(got, want) {
			t.Fatalf("scope %+v: the leaf reads %q after the caller modified its copy, want %q", scope, got, want)
		}
		if bytes.Contains(again.Graph.Nodes[0].Event, []byte("X")) {
			t.Fatalf("scope %+v: node 0 reads %q: the caller's writes reached the cache", scope, again.Graph.Nodes[0].Event)
		}
	}
}
