package lashconf

import (
	"testing"

	"github.com/stowage-dev/stowage/session"
)

func init() {
	cases = append(cases, lashCase{"GraphIntegrityReadsAreTolerant", testGraphIntegrity})
}

// graphShape is what a read returned: the active path's node ids (root
// first) and the full graph's node ids with its leaf.
type graphShape struct {
	path, full []string
	leaf       string
}

func (e *env) shape(sid string) graphShape {
	e.t.Helper()
	s := e.cold(sid)
	p, err := s.LoadSession(e.ctx, session.ActivePath(""))
	e.must(err)
	f, err := s.LoadSession(e.ctx, session.FullGraph())
	e.must(err)
	ids := func(g session.Graph) []string {
		out := []string{}
		for _, n := range g.Nodes {
			out = append(out, n.NodeID)
		}
		return out
	}
	// The same handle now holds the decoded graph: its active path is
	// computed from it, not from the segment indexes, and must agree.
	w, err := s.LoadSession(e.ctx, session.ActivePath(""))
	e.must(err)
	if !equal(ids(w.Graph), ids(p.Graph)) {
		e.t.Fatalf("active path %v from the decoded graph, %v from the indexes", ids(w.Graph), ids(p.Graph))
	}
	return graphShape{path: ids(p.Graph), full: ids(f.Graph), leaf: f.Graph.LeafNodeID}
}

// testGraphIntegrity: lash's graph_integrity_conformance injects four
// structural corruptions (an orphan leaf, a duplicate node id, a dangling
// leaf id, a parent cycle) and wants both reads refused with
// StoredDataCorrupt. Deliberate difference (docs/contract.md, "Where
// stowage differs from lash", the graph-read row): stowage's graph is a
// log of node records whose parents the store does not police, so all
// four are states its API reaches (a parent never written, an Append
// replacing a node, a tombstoned leaf, parents that loop), and a read is
// tolerant: the active path is cut at the first missing or tombstoned
// ancestor and at a repeated node, so a parent cycle reads in
// bounded time, and both ways of computing it (a cold handle's walk of the
// segment indexes, a warm handle's decoded graph) agree. Bytes that do not
// decode are still refused as *CorruptError (sessiontest Corruption/*).
// The cold walk ignored tombstones until this case found it.
func testGraphIntegrity(t *testing.T, e *env) {
	s := e.sess("graph-integrity")
	c := appendCommit("graph-integrity", 0, "missing-parent", "orphan")
	e.commit(s, c)
	if got := e.shape("graph-integrity"); !equal(got.path, []string{"orphan"}) || got.leaf != "orphan" {
		t.Fatalf("orphan leaf: %+v", got)
	}
	e.commit(s, appendCommit("graph-integrity", 1, "orphan", "orphan"))
	if got := e.shape("graph-integrity"); !equal(got.full, []string{"orphan"}) || !equal(got.path, []string{"orphan"}) {
		t.Fatalf("a node whose parent is itself: %+v", got)
	}
	cycle := appendCommit("graph-integrity", 2, "", "cycle-a", "cycle-b")
	cycle.Graph.Nodes[0].ParentNodeID = "cycle-b"
	e.commit(s, cycle)
	if got := e.shape("graph-integrity"); !equal(got.path, []string{"cycle-a", "cycle-b"}) {
		t.Fatalf("parent cycle: %+v", got)
	}
	e.must(s.TombstoneNodes(e.ctx, []string{"cycle-b"}))
	if got := e.shape("graph-integrity"); len(got.path) != 0 || got.leaf != "cycle-b" || !equal(got.full, []string{"orphan", "cycle-a"}) {
		t.Fatalf("dangling (tombstoned) leaf: %+v", got)
	}
}
