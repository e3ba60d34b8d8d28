package stowage_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/instrument"
	"github.com/stowage-dev/stowage/session"
)

// budgetDoc is where the round-trip budgets are documented: the test reads
// them from there, so the table and the test cannot drift apart.
const budgetDoc = "docs/performance.md"

// readBudgets parses the "Round-trip budgets" table of budgetDoc: operation
// (in backquotes) -> the most requests it may make.
func readBudgets(t *testing.T) map[string]int {
	t.Helper()
	f, err := os.Open(budgetDoc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]int{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## Round-trip budgets"):
			in = true
		case in && strings.HasPrefix(line, "## "):
			in = false
		case in && strings.HasPrefix(line, "| `"):
			cells := strings.Split(line, "|")
			if len(cells) < 4 {
				t.Fatalf("%s: malformed budget row %q", budgetDoc, line)
			}
			op := strings.Trim(strings.TrimSpace(cells[1]), "`")
			n, err := strconv.Atoi(strings.TrimSpace(cells[3]))
			if err != nil {
				t.Fatalf("%s: budget of %s: %v", budgetDoc, op, err)
			}
			out[op] = n
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s has no round-trip budget table", budgetDoc)
	}
	return out
}

// opCounter reads the request counts of the instrument decorator.
type opCounter struct {
	reg *prometheus.Registry
}

// byOp returns the requests made so far per operation, all outcomes.
func (c opCounter) byOp(t *testing.T) map[string]int {
	t.Helper()
	mfs, err := c.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, mf := range mfs {
		if mf.GetName() != "stowage_objstore_operations_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "op" {
					out[l.GetValue()] += int(m.GetCounter().GetValue())
				}
			}
		}
	}
	return out
}

// TestRoundTripBudgets counts the requests of each operation of the
// budget table through the instrument decorator, on every backend, and
// fails when one exceeds its documented budget (a count, never a timing).
func TestRoundTripBudgets(t *testing.T) {
	budgets := readBudgets(t)
	raceBackends(t, func(t *testing.T, objs objstore.Store) {
		reg := prometheus.NewRegistry()
		counted := instrument.New(objs, reg, "budget")
		st, err := stowage.OpenStore(t.Context(), counted, stowage.Config{})
		if err != nil {
			t.Fatal(err)
		}
		measured := measureBudgetOps(t, st, opCounter{reg})
		for op, budget := range budgets {
			got, ok := measured[op]
			if !ok {
				t.Errorf("%s documents a budget for %q, which the test does not measure", budgetDoc, op)
				continue
			}
			t.Logf("%s: %d requests (budget %d)", op, got, budget)
			if got > budget {
				t.Errorf("%s: %d requests, over its budget of %d (%s)", op, got, budget, budgetDoc)
			}
		}
		for op := range measured {
			if _, ok := budgets[op]; !ok {
				t.Errorf("%q is measured but has no budget in %s", op, budgetDoc)
			}
		}
	})
}

// measureBudgetOps runs each operation of the budget table once and
// returns the requests it made, background work included.
func measureBudgetOps(t *testing.T, st *stowage.Store, c opCounter) map[string]int {
	ctx := t.Context()
	out := map[string]int{}
	count := func(op string, fn func()) {
		t.Helper()
		before := c.byOp(t)
		fn()
		var detail []string
		for name, n := range c.byOp(t) {
			if d := n - before[name]; d > 0 {
				out[op] += d
				detail = append(detail, fmt.Sprintf("%s %d", name, d))
			}
		}
		slices.Sort(detail)
		t.Logf("%s: %s", op, strings.Join(detail, ", "))
	}
	const sid = "budget"
	s, err := st.Session(sid)
	if err != nil {
		t.Fatal(err)
	}
	a, err := attach.New(st.Manifest(), sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	rev := uint64(0)
	node := func(c *session.RuntimeCommit) {
		id := fmt.Sprintf("n%d", rev)
		c.Graph = session.GraphDelta{Kind: session.DeltaAppend, Leaf: id,
			Nodes: []session.NodeRecord{{NodeID: id, Kind: session.PayloadEvent, Event: []byte(`{"text":"a small turn"}`)}}}
	}
	commitTurn := func(edit func(c *session.RuntimeCommit)) {
		t.Helper()
		c := session.RuntimeCommit{SessionID: sid, ExpectedHeadRevision: &rev}
		node(&c)
		if edit != nil {
			edit(&c)
		}
		if _, err := s.CommitRuntimeState(ctx, c); err != nil {
			t.Fatalf("commit at revision %d: %v", rev, err)
		}
		rev++
		s.WaitCompaction() // what a commit leaves to the background counts too
	}
	stamp := func(c *session.RuntimeCommit) {
		c.TurnCommit = &session.TurnCommitStamp{SessionID: sid, TurnID: fmt.Sprintf("turn-%d", rev), TurnCommitHash: "h"}
	}
	commitTurn(nil) // the first commit creates the head
	count("commit", func() { commitTurn(nil) })
	count("stamped commit", func() { commitTurn(stamp) })

	var ref attach.Ref
	turn := fmt.Sprintf("turn-%d", rev)
	count("attachment put", func() {
		tctx := attach.WithOwner(ctx, manifest.TurnOwner(turn))
		if ref, err = a.Put(tctx, bytes.NewReader([]byte("a small tool output")), attach.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	count("stamped commit with an attachment", func() {
		commitTurn(func(c *session.RuntimeCommit) {
			stamp(c)
			c.CommittedAttachmentIDs = []string{ref.ID}
		})
	})
	count("attachment get", func() {
		body, _, err := a.Get(ctx, ref.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		body.Close()
	})
	// The 16th delta fills the tail: its commit flushes it to a segment
	// (in the background, after its head PUT), which the next names.
	for rev < 15 {
		commitTurn(nil)
	}
	count("flush commit", func() { commitTurn(nil) })
	commitTurn(nil)
	if segs := segmentsOf(t, st, sid); segs != 1 {
		t.Fatalf("%d segments after %d commits: the flush commit did not flush", segs, rev)
	}
	fresh, err := stowage.OpenStore(ctx, st.Objects(), stowage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	count("load, new Store", func() { loadOnce(t, fresh, sid) })
	count("load, fresh handle", func() { loadOnce(t, st, sid) })
	loadOnce(t, st, sid)
	count("cached load", func() {
		if _, err := s.LoadSession(ctx, session.ActivePath("")); err != nil {
			t.Fatal(err)
		}
	})
	return out
}

// loadOnce loads sid's active path through a new handle of st.
func loadOnce(t *testing.T, st *stowage.Store, sid string) {
	t.Helper()
	h, err := st.Session(sid)
	if err != nil {
		t.Fatal(err)
	}
	r, err := h.LoadSession(t.Context(), session.ActivePath(""))
	if err != nil || r == nil || len(r.Graph.Nodes) == 0 {
		t.Fatalf("load: %+v %v", r, err)
	}
}

// segmentsOf counts the segments sid's head names.
func segmentsOf(t *testing.T, st *stowage.Store, sid string) int {
	t.Helper()
	info, err := session.ReadHead(t.Context(), st.Objects(), sid)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, k := range info.Keys {
		if _, kind, _ := session.ParseKey(k); kind == session.KeySegment {
			n++
		}
	}
	return n
}
