package session_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/session"
)

func newSession(t *testing.T, sid string) *session.Store {
	t.Helper()
	s, err := session.New(session.Config{Store: memstore.New(nil), SessionID: sid})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ev(id, parent string) session.NodeRecord {
	return session.NodeRecord{NodeID: id, ParentNodeID: parent, Timestamp: "2026-01-02T03:04:05.5Z",
		Kind: session.PayloadEvent, Event: []byte(`{}`)}
}

// TestCommitWithoutConfigKeepsIt: a commit that leaves Config out keeps
// the stored provider and model; one that sets it replaces it.
func TestCommitWithoutConfigKeepsIt(t *testing.T) {
	ctx := context.Background()
	s := newSession(t, "cfg")
	want := session.SessionConfig{ProviderID: "prov", Model: "model-a"}
	commits := []session.RuntimeCommit{
		{SessionID: "cfg", Config: want, Graph: session.GraphDelta{Kind: session.DeltaAppend, Nodes: []session.NodeRecord{ev("a", "")}, Leaf: "a"}},
		{SessionID: "cfg", ExpectedHeadRevision: new(uint64(1)), Graph: session.GraphDelta{Kind: session.DeltaAppend, Nodes: []session.NodeRecord{ev("b", "a")}, Leaf: "b"}},
	}
	for _, c := range commits {
		if _, err := s.CommitRuntimeState(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	r, err := s.LoadSession(ctx, session.FullGraph())
	if err != nil || r.Config != want {
		t.Fatalf("config after a commit without one: %+v, %v (want %+v)", r.Config, err, want)
	}
	next := session.SessionConfig{ProviderID: "prov", Model: "model-b"}
	if _, err := s.CommitRuntimeState(ctx, session.RuntimeCommit{SessionID: "cfg", ExpectedHeadRevision: new(uint64(2)), Config: next}); err != nil {
		t.Fatal(err)
	}
	if r, err = s.LoadSession(ctx, session.FullGraph()); err != nil || r.Config != next {
		t.Fatalf("config after a commit that sets it: %+v, %v (want %+v)", r.Config, err, next)
	}
}

// TestCommitMisuseSaysWhatToDo: common mistakes are refused with
// ErrInvalidCommit, nothing is written, and the message names the fix.
func TestCommitMisuseSaysWhatToDo(t *testing.T) {
	ctx := context.Background()
	s := newSession(t, "misuse")
	if _, err := s.CommitRuntimeState(ctx, session.RuntimeCommit{SessionID: "misuse",
		Graph: session.GraphDelta{Kind: session.DeltaAppend, Nodes: []session.NodeRecord{ev("a", "")}, Leaf: "a"}}); err != nil {
		t.Fatal(err)
	}
	bad := ev("b", "a")
	bad.Timestamp = "yesterday"
	for _, c := range []struct {
		name  string
		graph session.GraphDelta
		hint  string
	}{
		{"no kind", session.GraphDelta{Nodes: []session.NodeRecord{ev("b", "a")}, Leaf: "b"}, "set Graph.Kind to session.DeltaAppend"},
		{"leaf without kind", session.GraphDelta{Leaf: "a"}, "set Graph.Kind to session.DeltaUnchanged"},
		{"leaf names no node", session.GraphDelta{Kind: session.DeltaUnchanged, Leaf: "nope"}, `leaf "nope" names no node`},
		{"appended leaf names no node", session.GraphDelta{Kind: session.DeltaAppend, Nodes: []session.NodeRecord{ev("b", "a")}, Leaf: "c"}, `leaf "c" names no node`},
		{"replacing leaf not in the graph", session.GraphDelta{Kind: session.DeltaReplaceFull, Nodes: []session.NodeRecord{ev("b", "")}, Leaf: "a"}, "set Graph.Leaf to one of Graph.Nodes"},
		{"timestamp", session.GraphDelta{Kind: session.DeltaAppend, Nodes: []session.NodeRecord{bad}, Leaf: "b"}, "want RFC 3339"},
	} {
		_, err := s.CommitRuntimeState(ctx, session.RuntimeCommit{SessionID: "misuse", ExpectedHeadRevision: new(uint64(1)), Graph: c.graph})
		if !errors.Is(err, session.ErrInvalidCommit) || !strings.Contains(err.Error(), c.hint) {
			t.Errorf("%s: %v, want ErrInvalidCommit saying %q", c.name, err, c.hint)
		}
	}
	r, err := s.LoadSession(ctx, session.FullGraph())
	if err != nil || r.HeadRevision != 1 {
		t.Fatalf("after refused commits: %+v, %v (want revision 1)", r, err)
	}
	// A leaf that names a committed node is fine.
	if _, err := s.CommitRuntimeState(ctx, session.RuntimeCommit{SessionID: "misuse", ExpectedHeadRevision: new(uint64(1)),
		Graph: session.GraphDelta{Kind: session.DeltaUnchanged, Leaf: "a"}}); err != nil {
		t.Fatal(err)
	}
}
