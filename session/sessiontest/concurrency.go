package sessiontest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stowage-dev/stowage/session"
)

var concurrencyTests = []namedTest{
	{"TwoFirstCommits", testTwoFirstCommits},
	{"SameRevision64", testSameRevision64},
	{"RetryLoop64", testRetryLoop64},
}

func testTwoFirstCommits(t *testing.T, f *fixture) {
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.open("two").CommitRuntimeState(f.ctx, appendCommit("two", 0, "", fmt.Sprintf("w%d", i)))
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		var hc *session.HeadRevisionConflictError
		switch {
		case err == nil:
			winner = i
		case errors.As(err, &hc) && hc.Actual == 1 && hc.Expected != nil && *hc.Expected == 0:
		default:
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	if winner < 0 || (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("want exactly one winner: %v", errs)
	}
	r := f.load(f.open("two"), session.FullGraph())
	if r.HeadRevision != 1 {
		t.Fatalf("revision %d", r.HeadRevision)
	}
	f.wantIDs("graph", nodeIDs(r.Graph), []string{fmt.Sprintf("w%d", winner)})
}

const racers = 64

func testSameRevision64(t *testing.T, f *fixture) {
	f.mustCommit(f.open("race"), appendCommit("race", 0, "", "root"))
	var wg sync.WaitGroup
	errs := make([]error, racers)
	start := make(chan struct{})
	for i := 0; i < racers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := f.open("race")
			if _, err := s.LoadSession(f.ctx, session.FullGraph()); err != nil {
				errs[i] = err
				return
			}
			<-start
			c := appendCommit("race", 1, "root", fmt.Sprintf("r%d", i))
			c.TurnCommit = stamp("race", fmt.Sprintf("turn-%d", i), "h")
			_, errs[i] = s.CommitRuntimeState(f.ctx, c)
		}()
	}
	close(start)
	wg.Wait()
	wins := 0
	winner := ""
	for i, err := range errs {
		if err == nil {
			wins++
			winner = fmt.Sprintf("r%d", i)
			continue
		}
		var hc *session.HeadRevisionConflictError
		if !errors.As(err, &hc) || hc.Actual != 2 {
			t.Fatalf("racer %d: %v", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d winners, want 1", wins)
	}
	r := f.load(f.open("race"), session.FullGraph())
	if r.HeadRevision != 2 {
		t.Fatalf("revision %d", r.HeadRevision)
	}
	f.wantIDs("graph", nodeIDs(r.Graph), []string{"root", winner})
}

func testRetryLoop64(t *testing.T, f *fixture) {
	f.tuning.FlushDeltas = 8 // cross flushes and merges under contention
	var wg sync.WaitGroup
	errs := make([]error, racers)
	revs := make([]uint64, racers)
	for i := 0; i < racers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := f.open("loop")
			c := appendCommit("loop", 0, "", fmt.Sprintf("l%d", i))
			c.TurnCommit = stamp("loop", fmt.Sprintf("turn-%d", i), "h")
			for attempt := 0; attempt < 10*racers; attempt++ {
				r, err := s.LoadSession(f.ctx, session.ActivePath(""))
				if err != nil {
					errs[i] = err
					return
				}
				var cur uint64
				if r != nil {
					cur = r.HeadRevision
				}
				c.ExpectedHeadRevision = rev(cur)
				res, err := s.CommitRuntimeState(f.ctx, c)
				if errors.Is(err, session.ErrHeadRevisionConflict) {
					continue
				}
				if err == nil {
					revs[i] = res.HeadRevision
				}
				errs[i] = err
				return
			}
			errs[i] = fmt.Errorf("racer %d never committed", i)
		}()
	}
	wg.Wait()
	seen := map[uint64]int{}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("racer %d: %v", i, err)
		}
		if j, dup := seen[revs[i]]; dup {
			t.Fatalf("racers %d and %d both got revision %d", i, j, revs[i])
		}
		seen[revs[i]] = i
	}
	r := f.load(f.open("loop"), session.FullGraph())
	if r.HeadRevision != racers || len(r.Graph.Nodes) != racers {
		t.Fatalf("revision %d with %d nodes, want %d", r.HeadRevision, len(r.Graph.Nodes), racers)
	}
	counts := map[string]int{}
	for _, n := range r.Graph.Nodes {
		counts[n.NodeID]++
	}
	for i := 0; i < racers; i++ {
		if counts[fmt.Sprintf("l%d", i)] != 1 {
			t.Fatalf("node l%d appears %d times", i, counts[fmt.Sprintf("l%d", i)])
		}
		// Each racer's receipt names the revision it was told.
		c := appendCommit("loop", 0, "", "x")
		c.TurnCommit = stamp("loop", fmt.Sprintf("turn-%d", i), "h")
		if res := f.mustCommit(f.open("loop"), c); res.HeadRevision != revs[i] {
			t.Fatalf("receipt of racer %d: revision %d, told %d", i, res.HeadRevision, revs[i])
		}
	}
}
