package stowage_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/session"
)

func commit(t *testing.T, s *session.Store, sid string, node string) {
	t.Helper()
	_, err := s.CommitRuntimeState(t.Context(), session.RuntimeCommit{
		SessionID: sid,
		Graph: session.GraphDelta{Kind: session.DeltaAppend, Leaf: node,
			Nodes: []session.NodeRecord{{NodeID: node, Kind: session.PayloadEvent, Event: []byte(`{}`)}}},
	})
	if err != nil {
		t.Fatalf("commit %s: %v", sid, err)
	}
}

func listSessions(t *testing.T, st *stowage.Store) []string {
	t.Helper()
	var out []string
	for sid, err := range st.ListSessions(t.Context()) {
		if err != nil {
			t.Fatalf("list sessions: %v", err)
		}
		out = append(out, sid)
	}
	return out
}

func TestOpenURLAndSessions(t *testing.T) {
	ctx := t.Context()
	st, err := stowage.Open(ctx, "mem://", stowage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, sid := range []string{"b", "a", "c"} {
		s, err := st.Session(sid)
		if err != nil {
			t.Fatal(err)
		}
		commit(t, s, sid, "n-"+sid)
	}
	// A prefix with objects but no head (an abandoned first commit) is not
	// a session.
	if _, err := st.Objects().Put(ctx, session.SessionPrefix("orphan")+"seg/01", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	if got := listSessions(t, st); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("sessions %v", got)
	}
	// Nor is it once a sweeper fenced it with a placeholder head.
	if _, err := session.SweepHead(ctx, st.Objects(), "orphan", ""); err != nil {
		t.Fatal(err)
	}
	if got := listSessions(t, st); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("sessions with a placeholder %v", got)
	}
	s, _ := st.Session("a")
	r, err := s.LoadSession(ctx, session.FullGraph())
	if err != nil || r == nil || r.Graph.Nodes[0].NodeID != "n-a" {
		t.Fatalf("load: %+v %v", r, err)
	}
	if s.DurabilityTier() != session.Inline {
		t.Fatalf("memory store reported durable")
	}
}

func TestSessionIDValidation(t *testing.T) {
	st, err := stowage.OpenStore(t.Context(), memstore.New(nil), stowage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"", ".", "..", "a/b", "a\\b", "a\x01", "a b", string(make([]byte, 129))} {
		if _, err := st.Session(id); !errors.Is(err, session.ErrInvalidID) {
			t.Errorf("Session(%q): %v", id, err)
		}
		if err := st.DeleteSession(t.Context(), id); !errors.Is(err, session.ErrInvalidID) {
			t.Errorf("DeleteSession(%q): %v", id, err)
		}
	}
}

func TestDeleteSessionForgetsAttachments(t *testing.T) {
	ctx := t.Context()
	st, err := stowage.OpenStore(ctx, memstore.New(nil), stowage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := st.Session("gone")
	commit(t, s, "gone", "n")
	a, err := attach.New(st.Manifest(), "gone", nil)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := a.Put(ctx, bytes.NewReader([]byte("attachment bytes")), attach.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := st.Manifest().HoldsRef(ctx, "gone", ref.ID); !ok {
		t.Fatal("ref not held after put")
	}
	keep, _ := st.Session("keep")
	commit(t, keep, "keep", "k")
	if err := st.DeleteSession(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteSession(ctx, "gone"); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if got := listSessions(t, st); !slices.Equal(got, []string{"keep"}) {
		t.Fatalf("sessions after delete %v", got)
	}
	if ok, _ := st.Manifest().HoldsRef(ctx, "gone", ref.ID); ok {
		t.Fatal("deleted session still holds its attachment ref")
	}
	if r, err := s.LoadSession(ctx, session.FullGraph()); r != nil || err != nil {
		t.Fatalf("deleted session loads: %+v %v", r, err)
	}
}

// noCAS hides compare-and-swap support.
type noCAS struct{ objstore.Store }

func (n noCAS) Capabilities() objstore.Capabilities {
	c := n.Store.Capabilities()
	c.CompareAndSwap = false
	return c
}

func TestOpenStoreRequiresConditionalWrites(t *testing.T) {
	_, err := stowage.OpenStore(context.Background(), noCAS{memstore.New(nil)}, stowage.Config{})
	if !errors.Is(err, objstore.ErrNotSupported) {
		t.Fatalf("store without CAS: %v", err)
	}
}
