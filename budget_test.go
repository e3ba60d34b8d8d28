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
	"github.com/stowage-dev/stowage/internal/soak"
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

// budgetRun is one run of the budget table's operations on one session.
type budgetRun struct {
	t   *testing.T
	st  *stowage.Store
	c   opCounter
	s   *session.Store
	sid string
	rev uint64
	out map[string]int // operation -> requests
}

// count runs fn as operation op and records the requests it made.
func (b *budgetRun) count(op string, fn func()) {
	b.t.Helper()
	before := b.c.byOp(b.t)
	fn()
	var detail []string
	for name, n := range b.c.byOp(b.t) {
		if d := n - before[name]; d > 0 {
			b.out[op] += d
			detail = append(detail, fmt.Sprintf("%s %d", name, d))
		}
	}
	slices.Sort(detail)
	b.t.Logf("%s: %s", op, strings.Join(detail, ", "))
}

// commit commits one node at the next revision, edited by edit, and waits
// for what it leaves to the background (counted with it).
func (b *budgetRun) commit(edit func(c *session.RuntimeCommit)) {
	b.t.Helper()
	id := fmt.Sprintf("n%d", b.rev)
	parent := ""
	if b.rev > 0 {
		parent = fmt.Sprintf("n%d", b.rev-1)
	}
	c := session.RuntimeCommit{SessionID: b.sid, ExpectedHeadRevision: &b.rev, Graph: session.GraphDelta{Kind: session.DeltaAppend, Leaf: id,
		Nodes: []session.NodeRecord{{NodeID: id, ParentNodeID: parent, Kind: session.PayloadEvent, Event: []byte(`{"text":"a small turn"}`)}}}}
	if edit != nil {
		edit(&c)
	}
	if _, err := b.s.CommitRuntimeState(b.t.Context(), c); err != nil {
		b.t.Fatalf("commit at revision %d: %v", b.rev, err)
	}
	b.rev++
	b.s.WaitCompaction()
}

// stamp gives a commit a turn stamp.
func (b *budgetRun) stamp(c *session.RuntimeCommit) {
	c.TurnCommit = &session.TurnCommitStamp{SessionID: b.sid, TurnID: fmt.Sprintf("turn-%d", b.rev), TurnCommitHash: "h"}
}

// measureBudgetOps runs each operation of the budget table once and
// returns the requests it made, background work included.
func measureBudgetOps(t *testing.T, st *stowage.Store, c opCounter) map[string]int {
	b := &budgetRun{t: t, st: st, c: c, sid: "budget", out: map[string]int{}}
	var err error
	if b.s, err = st.Session(b.sid); err != nil {
		t.Fatal(err)
	}
	b.commit(nil) // the first commit creates the head
	b.count("commit", func() { b.commit(nil) })
	b.count("stamped commit", func() { b.commit(b.stamp) })
	b.attachmentOps()
	// The 16th delta fills the tail: its commit flushes it to a segment
	// (in the background, after its head PUT), which the next names.
	for b.rev < 15 {
		b.commit(nil)
	}
	b.count("flush commit", func() { b.commit(nil) })
	b.commit(nil)
	if segs := segmentsOf(t, st, b.sid); segs != 1 {
		t.Fatalf("%d segments after %d commits: the flush commit did not flush", segs, b.rev)
	}
	b.loadOps()
	b.steadyCommits()
	b.count("large commit", func() {
		b.commit(func(c *session.RuntimeCommit) {
			c.Graph.Nodes[0].Event = []byte(`{"text":"` + strings.Repeat("x", 32<<10) + `"}`)
		})
	})
	return b.out
}

// steadyCommits measures 100 turn commits of one 8 KiB node each (the
// bench's commit_p50 and concurrent_commits turns) on a new session, with
// every flush and merge they leave to the background.
func (b *budgetRun) steadyCommits() {
	s, err := b.st.Session("budget-steady")
	if err != nil {
		b.t.Fatal(err)
	}
	a := soak.NewAgent(s, nil)
	b.count("100 turn commits of 8 KiB", func() {
		for i := range 100 {
			spec := soak.TurnSpec{TurnID: fmt.Sprintf("t%d", i), Nodes: 1, NodeBytes: 8000}
			if _, err := a.Commit(b.t.Context(), spec, nil); err != nil {
				b.t.Fatal(err)
			}
		}
		s.WaitCompaction()
	})
}

// attachmentOps measures a turn's attachment put, the turn's commit naming
// it, and a read of it.
func (b *budgetRun) attachmentOps() {
	t, ctx := b.t, b.t.Context()
	a, err := attach.New(b.st.Manifest(), b.sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ref attach.Ref
	turn := fmt.Sprintf("turn-%d", b.rev)
	b.count("attachment put", func() {
		tctx := attach.WithOwner(ctx, manifest.TurnOwner(turn))
		if ref, err = a.Put(tctx, bytes.NewReader([]byte("a small tool output")), attach.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	b.count("stamped commit with an attachment", func() {
		b.commit(func(c *session.RuntimeCommit) {
			b.stamp(c)
			c.CommittedAttachmentIDs = []string{ref.ID}
		})
	})
	b.count("attachment get", func() {
		body, _, err := a.Get(ctx, ref.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		body.Close()
	})
}

// loadOps measures the loads: by a new Store, through a fresh handle of
// the writing Store, and repeated on the writing handle.
func (b *budgetRun) loadOps() {
	t := b.t
	fresh, err := stowage.OpenStore(t.Context(), b.st.Objects(), stowage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var reader *session.Store
	b.count("load, new Store", func() { reader = loadOnce(t, fresh, b.sid) })
	b.count("load, fresh handle", func() { loadOnce(t, b.st, b.sid) })
	b.commit(nil)
	b.count("load after another writer's commit", func() { reloadAll(t, reader, int(b.rev)) })
	loadOnce(t, b.st, b.sid)
	b.count("cached load", func() {
		if _, err := b.s.LoadSession(t.Context(), session.ActivePath("")); err != nil {
			t.Fatal(err)
		}
	})
}

// loadOnce loads sid's active path through a new handle of st, and
// returns the handle once what the load left to the background is done.
func loadOnce(t *testing.T, st *stowage.Store, sid string) *session.Store {
	t.Helper()
	h, err := st.Session(sid)
	if err != nil {
		t.Fatal(err)
	}
	r, err := h.LoadSession(t.Context(), session.ActivePath(""))
	if err != nil || r == nil || len(r.Graph.Nodes) == 0 {
		t.Fatalf("load: %+v %v", r, err)
	}
	h.WaitCompaction()
	return h
}

// reloadAll loads h's active path, which must hold n nodes.
func reloadAll(t *testing.T, h *session.Store, n int) {
	t.Helper()
	r, err := h.LoadSession(t.Context(), session.ActivePath(""))
	if err != nil || r == nil || len(r.Graph.Nodes) != n {
		t.Fatalf("load: %+v %v, want %d nodes", r, err, n)
	}
	h.WaitCompaction()
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
