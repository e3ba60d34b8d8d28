package stowage_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/session"
)

// turnCommit commits one node under turn id turnID.
func turnCommit(t *testing.T, s *session.Store, sid, turnID string, rev uint64) error {
	t.Helper()
	node := "n" + string(rune('a'+rev))
	return func() error {
		_, err := s.CommitRuntimeState(t.Context(), session.RuntimeCommit{
			SessionID:            sid,
			ExpectedHeadRevision: &rev,
			TurnCommit:           &session.TurnCommitStamp{SessionID: sid, TurnID: turnID, TurnCommitHash: "h"},
			Graph: session.GraphDelta{Kind: session.DeltaAppend, Leaf: node,
				Nodes: []session.NodeRecord{{NodeID: node, Kind: session.PayloadEvent, Event: []byte(`{}`)}}},
		})
		return err
	}()
}

// Every turn id the session layer accepts commits the same way on a bare
// session.Store and through stowage (where turn ids reach attachment keys),
// and every id it refuses is refused by both with the one ErrInvalidID.
func TestTurnIDsOneGrammar(t *testing.T) {
	valid := []string{"a/b", "café", strings.Repeat("t", 200), "..", "../../x", "x y", "ü/../é", "T1", "t1"}
	invalid := []string{"", "a\x01", "\xff\xfe", "line\nbreak", strings.Repeat("n", session.MaxIDLen+1)}
	st, err := stowage.OpenStore(t.Context(), memstore.New(nil), stowage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range append(valid, invalid...) {
		sid := "s" + string(rune('a'+i))
		bare, err := session.New(session.Config{Store: memstore.New(nil), SessionID: sid})
		if err != nil {
			t.Fatal(err)
		}
		full, err := st.Session(sid)
		if err != nil {
			t.Fatal(err)
		}
		var ref attach.Ref
		if i < len(valid) {
			// An attachment put in the turn's scope: its row's turn marker
			// is the key the turn id reaches.
			a, err := attach.New(st.Manifest(), sid, nil)
			if err != nil {
				t.Fatal(err)
			}
			ref, err = a.Put(attach.WithOwner(t.Context(), manifest.TurnOwner(id)), strings.NewReader("bytes of "+sid), attach.PutOptions{})
			if err != nil {
				t.Fatalf("put owned by turn %.40q: %v", id, err)
			}
		}
		errBare, errFull := turnCommit(t, bare, sid, id, 0), turnCommit(t, full, sid, id, 0)
		if i < len(valid) {
			if errBare != nil || errFull != nil {
				t.Errorf("turn id %.40q: bare commit %v, stowage commit %v; want both to succeed", id, errBare, errFull)
			}
			if row, _, err := st.Manifest().Row(t.Context(), sid, ref.ID); err != nil || !row.Committed() {
				t.Errorf("turn id %.40q: the turn's attachment was not adopted: %+v %v", id, row, err)
			}
			continue
		}
		for _, err := range []error{errBare, errFull} {
			if !errors.Is(err, session.ErrInvalidID) || !errors.Is(err, manifest.ErrInvalidID) || !errors.Is(err, attach.ErrInvalidID) {
				t.Errorf("turn id %.40q: %v, want the one ErrInvalidID", id, err)
			}
		}
	}
}

// Ids are bytes in every layer: NFC and NFD twins and case twins are
// distinct turns of one session (a second turn is no replay of the first)
// and distinct sessions.
func TestIDTwinsAreDistinct(t *testing.T) {
	st, err := stowage.OpenStore(t.Context(), memstore.New(nil), stowage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := st.Session("twins")
	if err != nil {
		t.Fatal(err)
	}
	for rev, turn := range []string{"caf\u00e9", "cafe\u0301", "T1", "t1"} {
		if err := turnCommit(t, s, "twins", turn, uint64(rev)); err != nil {
			t.Fatalf("turn %+q at revision %d: %v (taken for a twin's replay?)", turn, rev, err)
		}
	}
	if r, err := s.LoadSession(t.Context(), session.FullGraph()); err != nil || r.HeadRevision != 4 || len(r.Graph.Nodes) != 4 {
		t.Fatalf("after four twin turns: %+v %v", r, err)
	}
	for _, sid := range []string{"Tenant", "tenant"} {
		h, err := st.Session(sid)
		if err != nil {
			t.Fatal(err)
		}
		if err := turnCommit(t, h, sid, "t1", 0); err != nil {
			t.Fatalf("first commit of session %q: %v (its case twin's head?)", sid, err)
		}
	}
	if got := listSessions(t, st); !slices.Equal(got, []string{"Tenant", "tenant", "twins"}) {
		t.Fatalf("sessions %v", got)
	}
}
