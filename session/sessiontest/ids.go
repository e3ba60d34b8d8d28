package sessiontest

import (
	"errors"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage/session"
)

var idTests = []namedTest{
	{"InvalidSessionIDs", testInvalidSessionIDs},
	{"OddButValidSessionIDs", testOddSessionIDs},
	{"InvalidNodeIDs", testInvalidNodeIDs},
	{"HostileNodeIDs", testHostileNodeIDs},
	{"AppendWithoutLeafOrWithADuplicateNode", testAppendWithoutLeaf},
	{"InvalidCancelIDs", testInvalidCancelIDs},
}

var badSessionIDs = []string{"", ".", "..", "a/b", "/abs", "a\\b", "a\x00b", "a\nb", "a b", "\x7f", "tab\there",
	"é", "../escape", strings.Repeat("a", session.MaxSessionIDLen+1)}

func testInvalidSessionIDs(t *testing.T, f *fixture) {
	for _, id := range badSessionIDs {
		if id == "" {
			continue // empty means unbound for New
		}
		if _, err := session.New(session.Config{Store: f.env.Store, SessionID: id}); !errors.Is(err, session.ErrInvalidID) {
			t.Errorf("New(%q): %v", id, err)
		}
	}
	u, _ := session.New(session.Config{Store: f.env.Store})
	for _, id := range badSessionIDs {
		if _, err := u.CommitRuntimeState(f.ctx, appendCommit(id, 0, "", "x")); !errors.Is(err, session.ErrInvalidID) {
			t.Errorf("commit for %q: %v", id, err)
		}
	}
	if keys := f.listAll(); len(keys) != 0 {
		t.Fatalf("invalid ids wrote %v", keys)
	}
}

func (f *fixture) listAll() []string {
	f.t.Helper()
	var keys []string
	for info, err := range f.env.Store.List(f.ctx, "", nil) {
		if err != nil {
			f.t.Fatal(err)
		}
		keys = append(keys, info.Key)
	}
	return keys
}

func testOddSessionIDs(t *testing.T, f *fixture) {
	for _, id := range []string{"a.b", "..a", "a..", "~!@#$%^&*()_+-=[]{}|;:'\",<>?", strings.Repeat("z", session.MaxSessionIDLen)} {
		s := f.open(id)
		f.mustCommit(s, appendCommit(id, 0, "", "n"))
		f.wantIDs(id, nodeIDs(f.load(f.open(id), session.FullGraph()).Graph), []string{"n"})
		for _, k := range f.listAll() {
			if sid, _, ok := session.ParseKey(k); !ok || (strings.HasPrefix(k, session.SessionPrefix(id)) != (sid == id)) {
				t.Fatalf("key %q does not parse back to its session (%q)", k, sid)
			}
		}
	}
}

func testInvalidNodeIDs(t *testing.T, f *fixture) {
	s := f.open("bad-nodes")
	for _, id := range []string{"", "a\x00", "line\nbreak", "\xff\xfe", "del\x7f", strings.Repeat("n", session.MaxIDLen+1)} {
		_, err := s.CommitRuntimeState(f.ctx, appendCommit("bad-nodes", 0, "", id))
		if !errors.Is(err, session.ErrInvalidID) {
			t.Errorf("node id %q: %v", id, err)
		}
		if _, err := s.LoadNode(f.ctx, id); !errors.Is(err, session.ErrInvalidID) {
			t.Errorf("LoadNode(%q): %v", id, err)
		}
	}
	c := appendCommit("bad-nodes", 0, "", "ok")
	c.Graph.Nodes[0].Kind = "bogus"
	if _, err := s.CommitRuntimeState(f.ctx, c); !errors.Is(err, session.ErrInvalidCommit) {
		t.Errorf("bogus payload kind: %v", err)
	}
	if r := f.load(s, session.FullGraph()); r != nil {
		t.Fatalf("invalid commits wrote revision %d", r.HeadRevision)
	}
}

// testInvalidCancelIDs: the cancel and abandon calls, and a commit's claim
// completions, refuse a malformed batch, input, claim id or source key with
// ErrInvalidID, as every other call does, and write nothing (they answered
// "not found", or matched no claim, before).
func testInvalidCancelIDs(t *testing.T, f *fixture) {
	s := f.open("bad-cancels")
	for _, id := range []string{"a\x00b", "\xff\xfe", "\u0085", "\x7f", "a\nb", strings.Repeat("i", session.MaxIDLen+1)} {
		if _, err := s.CancelQueuedWorkBatch(f.ctx, id); !errors.Is(err, session.ErrInvalidID) {
			t.Errorf("CancelQueuedWorkBatch(%.20q): %v", id, err)
		}
		for _, tg := range []session.CancelTarget{{InputID: id}, {SourceKey: id}} {
			if _, err := s.CancelPendingTurnInput(f.ctx, tg.InputID); tg.InputID != "" && !errors.Is(err, session.ErrInvalidID) {
				t.Errorf("CancelPendingTurnInput(%.20q): %v", id, err)
			}
			if _, err := s.CancelPendingTurnInputs(f.ctx, []session.CancelTarget{tg}); !errors.Is(err, session.ErrInvalidID) {
				t.Errorf("CancelPendingTurnInputs(%+.20v): %v", tg, err)
			}
			if _, err := s.CancelPendingTurnInputSuffix(f.ctx, tg); !errors.Is(err, session.ErrInvalidID) {
				t.Errorf("CancelPendingTurnInputSuffix(%+.20v): %v", tg, err)
			}
		}
	}
	for _, id := range []string{"a\x00b", "\xff\xfe", strings.Repeat("c", session.MaxIDLen+1)} {
		if err := s.AbandonQueuedWorkClaim(f.ctx, session.QueuedWorkClaim{SessionID: "bad-cancels", ClaimID: id}); !errors.Is(err, session.ErrInvalidID) {
			t.Errorf("AbandonQueuedWorkClaim(%.20q): %v", id, err)
		}
		if err := s.AbandonTurnInputClaim(f.ctx, session.TurnInputClaim{SessionID: "bad-cancels", ClaimID: id}); !errors.Is(err, session.ErrInvalidID) {
			t.Errorf("AbandonTurnInputClaim(%.20q): %v", id, err)
		}
		for _, c := range []session.RuntimeCommit{
			{CompletedQueueClaims: []session.QueuedWorkCompletion{{SessionID: "bad-cancels", ClaimID: id}}},
			{CompletedQueueClaims: []session.QueuedWorkCompletion{{SessionID: "bad-cancels", ClaimID: "c", BatchIDs: []string{id}}}},
			{CompletedTurnInputClaims: []session.TurnInputCompletion{{SessionID: "bad-cancels", ClaimID: id}}},
			{CompletedTurnInputClaims: []session.TurnInputCompletion{{SessionID: "bad-cancels", ClaimID: "c", InputIDs: []string{id}}}},
		} {
			c.SessionID = "bad-cancels"
			if _, err := s.CommitRuntimeState(f.ctx, c); !errors.Is(err, session.ErrInvalidID) {
				t.Errorf("a commit completing claim ids %.20q: %v", id, err)
			}
		}
	}
	if _, err := s.CancelQueuedWorkBatch(f.ctx, ""); !errors.Is(err, session.ErrInvalidID) {
		t.Errorf("CancelQueuedWorkBatch(\"\"): %v", err)
	}
	if keys := f.listAll(); len(keys) != 0 {
		t.Fatalf("refused cancels wrote %v", keys)
	}
}

func testHostileNodeIDs(t *testing.T, f *fixture) {
	ids := []string{"../../etc/passwd", "sessions/other/head", "日本語", "a b", "..", "/", "\\"}
	s := f.open("hostile")
	f.mustCommit(s, appendCommit("hostile", 0, "", ids...))
	fresh := f.open("hostile")
	f.wantIDs("graph", nodeIDs(f.load(fresh, session.FullGraph()).Graph), ids)
	for _, id := range ids {
		if n, err := fresh.LoadNode(f.ctx, id); err != nil || n == nil || n.NodeID != id {
			t.Fatalf("LoadNode(%q) = %v, %v", id, n, err)
		}
	}
	for _, k := range f.listAll() {
		if !strings.HasPrefix(k, session.SessionPrefix("hostile")) {
			t.Fatalf("key %q outside the session's prefix", k)
		}
	}
}

// testAppendWithoutLeaf: an append that names no leaf, with nodes or
// without, is ErrInvalidCommit and writes nothing (it would otherwise
// clear the head's leaf), as is one that names a node id twice.
func testAppendWithoutLeaf(t *testing.T, f *fixture) {
	s := f.open("no-leaf")
	f.mustCommit(s, appendCommit("no-leaf", 0, "", "a", "b"))
	for _, c := range []session.RuntimeCommit{appendCommit("no-leaf", 1, "b", "c"), appendCommit("no-leaf", 1, "b")} {
		c.Graph.Leaf = ""
		if _, err := s.CommitRuntimeState(f.ctx, c); !errors.Is(err, session.ErrInvalidCommit) {
			t.Fatalf("append of %d nodes without a leaf: %v", len(c.Graph.Nodes), err)
		}
	}
	dup := appendCommit("no-leaf", 1, "b", "c", "d")
	dup.Graph.Nodes[1].NodeID, dup.Graph.Leaf = "c", "c"
	if _, err := s.CommitRuntimeState(f.ctx, dup); !errors.Is(err, session.ErrInvalidCommit) {
		t.Fatalf("a node id twice in one append: %v", err)
	}
	r := f.load(f.open("no-leaf"), session.FullGraph())
	if r.HeadRevision != 1 || r.Graph.LeafNodeID != "b" {
		t.Fatalf("after refused appends: revision %d, leaf %q", r.HeadRevision, r.Graph.LeafNodeID)
	}
}
