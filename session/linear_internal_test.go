package session

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestLinearChainIsTheWalk: on graphs of every shape a session can hold
// (chains, upserts of an earlier id, branches, resets, cycles, tombstones,
// a leaf anywhere), linearChain either declines or returns exactly the
// active path the walk over buildGraph returns, and it takes every plain
// chain, however it is split over segments and tail.
func TestLinearChainIsTheWalk(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	taken := 0
	for round := range 20000 {
		h, segs, leaf, plain := randomGraph(rng)
		want := buildGraph("", h, segs).activePath(leaf)
		got, ok := linearChain(h, segs, leaf)
		if plain && !ok {
			t.Fatalf("round %d: a plain chain of %d nodes was declined", round, len(want))
		}
		if !ok {
			continue
		}
		taken++
		if !slices.EqualFunc(got, want, func(a, b NodeRecord) bool {
			return a.NodeID == b.NodeID && a.ParentNodeID == b.ParentNodeID && string(a.Event) == string(b.Event)
		}) {
			t.Fatalf("round %d: linear chain %v, walk %v", round, nodeIDs(got), nodeIDs(want))
		}
	}
	if taken < 2000 {
		t.Fatalf("only %d of 20000 graphs took the linear path", taken)
	}
}

func nodeIDs(ns []NodeRecord) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.NodeID + "<" + n.ParentNodeID
	}
	return out
}

// randomGraph returns a head and segments whose nodes, in order, mostly
// chain, with now and then one of the irregularities above; plain is true
// when none was applied and the leaf is the last node.
func randomGraph(rng *rand.Rand) (h *head, segs []*segment, leaf string, plain bool) {
	n := rng.IntN(12)
	nodes := make([]NodeRecord, n)
	parent := ""
	for i := range nodes {
		nodes[i] = NodeRecord{NodeID: fmt.Sprint("n", i), ParentNodeID: parent, Event: []byte(fmt.Sprint(i))}
		parent = nodes[i].NodeID
	}
	plain = true
	if n > 1 && rng.IntN(3) == 0 { // an upsert, a branch or a foreign root
		i, j := rng.IntN(n), rng.IntN(n)
		switch rng.IntN(4) {
		case 0:
			nodes[i].NodeID = nodes[j].NodeID
		case 1:
			nodes[i].ParentNodeID = nodes[j].NodeID
		case 2:
			nodes[0].ParentNodeID = nodes[j].NodeID
		case 3:
			nodes[i].ParentNodeID = "elsewhere"
		}
		plain = slices.EqualFunc(nodes, chainOf(n), func(a, b NodeRecord) bool {
			return a.NodeID == b.NodeID && a.ParentNodeID == b.ParentNodeID
		})
	}
	h = &head{}
	for len(nodes) > 0 { // split over segments, then the tail
		k := 1 + rng.IntN(len(nodes))
		part := nodes[:k:k]
		nodes = nodes[k:]
		if rng.IntN(2) == 0 && len(h.Tail) == 0 {
			segs = append(segs, &segment{Nodes: part})
		} else {
			h.Tail = append(h.Tail, delta{Nodes: part})
		}
	}
	if n > 0 {
		leaf = fmt.Sprint("n", n-1)
	}
	switch rng.IntN(8) {
	case 0: // a reset part-way: what came before it is gone
		if len(segs) > 1 {
			segs[1].Reset, plain = true, false
		} else if len(h.Tail) > 1 {
			h.Tail[1].Reset, plain = true, false
		}
	case 1:
		if n > 0 {
			leaf, plain = fmt.Sprint("n", rng.IntN(n)), plain && n == 1
		}
	case 2:
		if n > 0 {
			h.Tombstones, plain = []string{fmt.Sprint("n", rng.IntN(n))}, false
		}
	}
	return h, segs, leaf, plain && n > 0
}

func chainOf(n int) []NodeRecord {
	out := make([]NodeRecord, n)
	parent := ""
	for i := range out {
		out[i] = NodeRecord{NodeID: fmt.Sprint("n", i), ParentNodeID: parent}
		parent = out[i].NodeID
	}
	return out
}

// BenchmarkActivePathOfChain: the active path of a 1,000-node chain held
// in 5 segments and a tail, as a cold load of an unbranched session finds
// it: walked over the graph, and taken as it is (linearChain).
func BenchmarkActivePathOfChain(b *testing.B) {
	nodes := chainOf(1000)
	h := &head{Tail: []delta{{Nodes: nodes[960:]}}}
	var segs []*segment
	for i := 0; i < 960; i += 192 {
		segs = append(segs, &segment{Nodes: nodes[i : i+192]})
	}
	leaf := nodes[999].NodeID
	b.Run("walk", func(b *testing.B) {
		for b.Loop() {
			if len(buildGraph("", h, segs).activePath(leaf)) != 1000 {
				b.Fatal("short path")
			}
		}
	})
	b.Run("linear", func(b *testing.B) {
		for b.Loop() {
			if chain, ok := linearChain(h, segs, leaf); !ok || len(chain) != 1000 {
				b.Fatal("declined")
			}
		}
	})
}
