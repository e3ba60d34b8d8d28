package sessiontest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stowage-dev/stowage/session"
)

var graphTests = []namedTest{
	{"Scopes", testScopes},
	{"Tombstones", testTombstones},
	{"VacuumBeforeFlushAdoption", testVacuumBeforeFlushAdoption},
	{"AppendUpserts", testAppendUpserts},
	{"LongHistory", testLongHistory},
	{"UnpublishedNodeInvisible", testUnpublishedNodeInvisible},
}

func testScopes(t *testing.T, f *fixture) {
	s := f.open("sc")
	f.mustCommit(s, appendCommit("sc", 0, "", "root"))
	f.mustCommit(s, appendCommit("sc", 1, "root", "right"))
	f.mustCommit(s, appendCommit("sc", 2, "root", "left")) // persisted leaf: left
	for _, s := range []*session.Store{s, f.open("sc")} {
		full := f.load(s, session.FullGraph())
		f.wantIDs("full graph", nodeIDs(full.Graph), []string{"root", "right", "left"})
		if full.Graph.LeafNodeID != "left" {
			t.Fatalf("full graph leaf %q", full.Graph.LeafNodeID)
		}
		active := f.load(s, session.ActivePath(""))
		f.wantIDs("active path (persisted leaf)", nodeIDs(active.Graph), []string{"root", "left"})
		right := f.load(s, session.ActivePath("right"))
		f.wantIDs("active path (right)", nodeIDs(right.Graph), []string{"root", "right"})
		if right.Graph.LeafNodeID != "right" {
			t.Fatalf("active path leaf %q", right.Graph.LeafNodeID)
		}
		missing := f.load(s, session.ActivePath("nope"))
		f.wantIDs("active path (unknown leaf)", nodeIDs(missing.Graph), []string{})
	}
	// No leaf at all: the active path is empty.
	c := appendCommit("sc", 3, "", "x")
	c.Graph = session.GraphDelta{Kind: session.DeltaUnchanged}
	f.mustCommit(s, c)
	f.wantIDs("active path without leaf", nodeIDs(f.load(s, session.ActivePath("")).Graph), []string{})
}

func testTombstones(t *testing.T, f *fixture) {
	s := f.open("tomb")
	f.mustCommit(s, appendCommit("tomb", 0, "", "root", "mid", "leaf"))
	f.mustCommit(s, appendCommit("tomb", 1, "root", "side"))
	// ReplaceFull without "mid": mid is tombstoned; leaf's chain is cut.
	g := session.Graph{Nodes: []session.NodeRecord{node("root", ""), node("leaf", "mid"), node("side", "root")}, LeafNodeID: "leaf"}
	c := appendCommit("tomb", 2, "", "unused")
	c.Graph = session.GraphDelta{Kind: session.DeltaReplaceFull, Nodes: g.Nodes, Leaf: g.LeafNodeID}
	f.mustCommit(s, c)
	for _, s := range []*session.Store{s, f.open("tomb")} {
		f.wantIDs("full graph", nodeIDs(f.load(s, session.FullGraph()).Graph), []string{"root", "leaf", "side"})
		f.wantIDs("active path", nodeIDs(f.load(s, session.ActivePath("")).Graph), []string{"leaf"})
		if n, err := s.LoadNode(f.ctx, "mid"); n != nil || err != nil {
			t.Fatalf("tombstoned node loaded: %v %v", n, err)
		}
		if n, err := s.LoadNode(f.ctx, "side"); n == nil || err != nil {
			t.Fatalf("live node not loaded: %v", err)
		}
	}
	// Appending the tombstoned id again brings it back (upsert).
	f.mustCommit(s, appendCommit("tomb", 3, "root", "mid"))
	if n, _ := f.open("tomb").LoadNode(f.ctx, "mid"); n == nil {
		t.Fatalf("re-appended node not visible")
	}
}

func testAppendUpserts(t *testing.T, f *fixture) {
	s := f.open("up")
	f.mustCommit(s, appendCommit("up", 0, "", "a", "b", "c"))
	c := appendCommit("up", 1, "a", "b")
	c.Graph.Nodes[0].Event = json.RawMessage(`{"text":"rewritten"}`)
	f.mustCommit(s, c)
	r := f.load(f.open("up"), session.FullGraph())
	f.wantIDs("order after upsert", nodeIDs(r.Graph), []string{"a", "b", "c"})
	if string(r.Graph.Nodes[1].Event) != `{"text":"rewritten"}` {
		t.Fatalf("upsert did not replace content: %s", r.Graph.Nodes[1].Event)
	}
}

// model is the expected graph of a session: insertion order and contents.
type model struct {
	order []string
	nodes map[string]session.NodeRecord
	leaf  string
}

func (m *model) apply(d session.GraphDelta) {
	if m.nodes == nil {
		m.nodes = map[string]session.NodeRecord{}
	}
	switch d.Kind {
	case session.DeltaReplaceFull:
		m.order, m.nodes = nil, map[string]session.NodeRecord{}
		fallthrough
	case session.DeltaAppend:
		for _, n := range d.Nodes {
			if _, ok := m.nodes[n.NodeID]; !ok {
				m.order = append(m.order, n.NodeID)
			}
			m.nodes[n.NodeID] = n
		}
		m.leaf = d.Leaf
	case session.DeltaUnchanged:
		m.leaf = d.Leaf
	}
}

func (m *model) activePath(leaf string) []string {
	out := []string{}
	for id := leaf; id != ""; {
		n, ok := m.nodes[id]
		if !ok {
			break
		}
		out = append([]string{id}, out...)
		id = n.ParentNodeID
	}
	return out
}

// check compares a loaded session against the model.
func (m *model) check(t *testing.T, f *fixture, s *session.Store, what string) {
	t.Helper()
	full := f.load(s, session.FullGraph())
	if !equalIDs(nodeIDs(full.Graph), m.order) || full.Graph.LeafNodeID != m.leaf {
		t.Fatalf("%s: full graph %v leaf %q, want %v leaf %q", what, nodeIDs(full.Graph), full.Graph.LeafNodeID, m.order, m.leaf)
	}
	for _, n := range full.Graph.Nodes {
		if string(n.Event) != string(m.nodes[n.NodeID].Event) {
			t.Fatalf("%s: node %s content %s, want %s", what, n.NodeID, n.Event, m.nodes[n.NodeID].Event)
		}
	}
	active := f.load(s, session.ActivePath(""))
	if want := m.activePath(m.leaf); !equalIDs(nodeIDs(active.Graph), want) {
		t.Fatalf("%s: active path %v, want %v", what, nodeIDs(active.Graph), want)
	}
}

// testLongHistory drives a session through many flushes and merges (small
// flush knobs) with random appends, upserts, leaf moves and full
// replacements, checking against a model from fresh handles.
func testLongHistory(t *testing.T, f *fixture) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	defer func() {
		if t.Failed() {
			t.Logf("reproduce with seed %d", seed)
		}
	}()
	r := rand.New(rand.NewPCG(seed, 1))
	f.tuning.FlushDeltas, f.tuning.RecentReceipts = 3, 2
	s := f.open("long")
	var m model
	next := 0
	commits := 150
	if testing.Short() {
		commits = 60
	}
	for i := 0; i < commits; i++ {
		c := appendCommit("long", uint64(i), "", "unused")
		c.TurnCommit = stamp("long", fmt.Sprintf("turn-%d", i), fmt.Sprintf("hash-%d", i))
		c.Graph = randomDelta(r, &m, i, &next)
		f.mustCommit(s, c)
		m.apply(c.Graph)
		if i%37 == 0 {
			m.check(t, f, f.open("long"), fmt.Sprintf("after commit %d", i))
		}
	}
	m.check(t, f, s, "final (writer)")
	checkLongHistoryEnd(t, f, &m, next, commits)
}

// randomDelta returns commit i's graph change for the model m: mostly
// appends of 1-3 nodes (named from *next on) under the leaf or a random
// node, sometimes a replacement by a random subset, a leaf move or an
// upsert of an existing node.
func randomDelta(r *rand.Rand, m *model, i int, next *int) session.GraphDelta {
	switch k := r.IntN(20); {
	case k == 0 && len(m.order) > 0: // replace with a random subset
		var nodes []session.NodeRecord
		for _, id := range m.order {
			if r.IntN(2) == 0 {
				nodes = append(nodes, m.nodes[id])
			}
		}
		leaf := ""
		if len(nodes) > 0 {
			leaf = nodes[len(nodes)-1].NodeID
		}
		return session.GraphDelta{Kind: session.DeltaReplaceFull, Nodes: nodes, Leaf: leaf}
	case k == 1 && len(m.order) > 0: // move the leaf
		return session.GraphDelta{Kind: session.DeltaUnchanged, Leaf: m.order[r.IntN(len(m.order))]}
	case k == 2 && len(m.order) > 0: // upsert an existing node
		id := m.order[r.IntN(len(m.order))]
		n := m.nodes[id]
		n.Event = json.RawMessage(fmt.Sprintf(`{"rev":%d}`, i))
		return session.GraphDelta{Kind: session.DeltaAppend, Nodes: []session.NodeRecord{n}, Leaf: id}
	}
	// append 1-3 nodes under the leaf or a random node
	parent := m.leaf
	if len(m.order) > 0 && r.IntN(4) == 0 {
		parent = m.order[r.IntN(len(m.order))]
	}
	var nodes []session.NodeRecord
	for j := 0; j <= r.IntN(3); j++ {
		nodes = append(nodes, node(fmt.Sprintf("n%d", *next), parent))
		parent = fmt.Sprintf("n%d", *next)
		*next++
	}
	return session.GraphDelta{Kind: session.DeltaAppend, Nodes: nodes, Leaf: parent}
}

// checkLongHistoryEnd checks session "long" after its commits from fresh
// handles: the model's graph, every live node, no tombstoned one among
// the next nodes named, and every turn's receipt long after it left the
// head.
func checkLongHistoryEnd(t *testing.T, f *fixture, m *model, next, commits int) {
	fresh := f.open("long")
	m.check(t, f, fresh, "final (fresh handle)")
	for _, id := range m.order {
		n, err := f.open("long").LoadNode(f.ctx, id)
		if err != nil || n == nil || string(n.Event) != string(m.nodes[id].Event) {
			t.Fatalf("LoadNode(%s) = %v, %v", id, n, err)
		}
	}
	for i := 0; i < next; i++ {
		id := fmt.Sprintf("n%d", i)
		if _, live := m.nodes[id]; live {
			continue
		}
		if n, err := fresh.LoadNode(f.ctx, id); n != nil || err != nil {
			t.Fatalf("tombstoned %s loaded: %v %v", id, n, err)
		}
	}
	for _, i := range []int{0, 1, commits / 2, commits - 1} {
		c := appendCommit("long", 0, "", "x")
		c.TurnCommit = stamp("long", fmt.Sprintf("turn-%d", i), fmt.Sprintf("hash-%d", i))
		res, err := f.open("long").CommitRuntimeState(f.ctx, c)
		if err != nil || res.HeadRevision != uint64(i+1) {
			t.Fatalf("replay of turn %d: %+v %v", i, res, err)
		}
	}
}

func testUnpublishedNodeInvisible(t *testing.T, f *fixture) {
	f.mustCommit(f.open("unp"), appendCommit("unp", 0, "", "a"))
	// Fail the head write (the last mutating call of a small commit).
	fs := NewFaultStore(f.env.Store, 1, FaultFail)
	f.tuning.MaxAttempts = 1
	s := f.open("unp", fs)
	if _, err := s.LoadSession(f.ctx, session.FullGraph()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CommitRuntimeState(f.ctx, appendCommit("unp", 1, "a", "b")); err == nil {
		t.Fatalf("commit with a failed head write succeeded")
	}
	if n, err := f.open("unp").LoadNode(f.ctx, "b"); n != nil || err != nil {
		t.Fatalf("node of an unpublished commit visible: %v %v", n, err)
	}
}
