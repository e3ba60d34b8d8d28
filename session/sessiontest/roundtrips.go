package sessiontest

import (
	"fmt"
	"testing"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

var roundTripTests = []namedTest{
	{"RepeatLoadIsOneConditionalGet", testRepeatLoad},
	{"SmallCommitIsOneRequest", testSmallCommitOneRequest},
	{"ColdLoadReadsOnlyWhatTheHeadNames", testColdLoad},
	{"HeadStaysSmall", testHeadStaysSmall},
}

func testRepeatLoad(t *testing.T, f *fixture) {
	f.tuning.FlushDeltas = 2
	f.chain(f.open("rl"), "rl", 0, "n", 5, "")
	cs := NewCountingStore(f.env.Store)
	s := f.open("rl", cs)
	first := f.load(s, session.FullGraph())
	cs.Reset()
	second := f.load(s, session.FullGraph())
	if cs.Total() != 1 || cs.Count(objstore.OpGet) != 1 || cs.NotModified() != 1 {
		t.Fatalf("repeat load made %d calls (%d GETs, %d not modified), want one conditional GET", cs.Total(), cs.Count(objstore.OpGet), cs.NotModified())
	}
	if !equalIDs(nodeIDs(first.Graph), nodeIDs(second.Graph)) {
		t.Fatalf("cached load differs")
	}
	// A change by another writer is seen at once.
	f.mustCommit(f.open("rl"), appendCommit("rl", 5, "n4", "x"))
	if r := f.load(s, session.FullGraph()); r.HeadRevision != 6 || len(r.Graph.Nodes) != 6 {
		t.Fatalf("stale cached load: revision %d", r.HeadRevision)
	}
}

func testSmallCommitOneRequest(t *testing.T, f *fixture) {
	cs := NewCountingStore(f.env.Store)
	s := f.open("one", cs)
	f.mustCommit(s, appendCommit("one", 0, "", "root"))
	parent := "root"
	for i := 1; i < 10; i++ {
		cs.Reset()
		id := fmt.Sprintf("n%d", i)
		c := appendCommit("one", uint64(i), parent, id)
		c.Checkpoint = &session.HydratedCheckpoint{ExecutionState: []byte(fmt.Sprintf("small state %d", i))}
		c.UsageDeltas = []session.TokenLedgerEntry{{Source: "s", Model: "m", Input: 1}}
		f.mustCommit(s, c)
		parent = id
		if i%s2flush(f) == 0 {
			continue // a flushing commit also writes a segment
		}
		if cs.Total() != 1 || cs.Count(objstore.OpPut) != 1 {
			t.Fatalf("commit %d made %d calls (%d PUTs), want one PUT", i, cs.Total(), cs.Count(objstore.OpPut))
		}
	}
}

// s2flush returns a modulus that never matches when no flush can happen in
// the first ten commits.
func s2flush(f *fixture) int {
	if f.tuning.FlushDeltas > 0 && f.tuning.FlushDeltas < 10 {
		return 1 // every commit may flush: skip the exact check
	}
	return 1 << 30
}

func testColdLoad(t *testing.T, f *fixture) {
	f.tuning.FlushDeltas = 2
	f.chain(f.open("cold"), "cold", 0, "n", 40, "")
	info, err := session.ReadHead(f.ctx, f.env.Store, "cold")
	if err != nil {
		t.Fatal(err)
	}
	cs := NewCountingStore(f.env.Store)
	r := f.load(f.open("cold", cs), session.FullGraph())
	if len(r.Graph.Nodes) != 40 {
		t.Fatalf("%d nodes", len(r.Graph.Nodes))
	}
	segs := 0
	for _, k := range info.Keys {
		if _, kind, _ := session.ParseKey(k); kind == session.KeySegment {
			segs++
		}
	}
	if got := cs.Count(objstore.OpGet); got != 1+segs || cs.Total() != got {
		t.Fatalf("cold load: %d GETs, %d calls; want 1 head + %d segments", got, cs.Total(), segs)
	}
	// Merges run in the background; a flush waits for them only when
	// 3 x SegmentFanout (12) segments are unsealed.
	if segs > 13 {
		t.Fatalf("%d segments for 40 revisions: merging does not keep up", segs)
	}
}

func testHeadStaysSmall(t *testing.T, f *fixture) {
	s := f.open("small")
	stamped := func(from, n int) {
		for i := from; i < from+n; i++ {
			c := appendCommit("small", uint64(i), "", fmt.Sprintf("n%d", i))
			c.TurnCommit = stamp("small", fmt.Sprintf("turn-%d", i), "h")
			f.mustCommit(s, c)
		}
	}
	size := func() int64 {
		info, err := f.env.Store.Head(f.ctx, session.HeadKey("small"))
		if err != nil {
			t.Fatal(err)
		}
		return info.Size
	}
	stamped(0, 64)
	early := size()
	stamped(64, 448)
	late := size()
	t.Logf("head size at revision 64: %d bytes, at 512: %d bytes", early, late)
	if late > 2*early {
		t.Fatalf("head grew from %d to %d bytes between revisions 64 and 512", early, late)
	}
}
