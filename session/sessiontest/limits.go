package sessiontest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

var limitTests = []namedTest{
	{"TooLargeIsRefusedBeforeEncoding", testTooLarge},
	{"LargeAppendKeepsHeadSmall", testLargeAppend},
	{"LongSessionMergesStayBounded", testLongSession},
}

// wantTooLarge checks that err is a *TooLargeError for limit.
func wantTooLarge(t *testing.T, what string, err error, limit int64) *session.TooLargeError {
	t.Helper()
	var tl *session.TooLargeError
	if !errors.Is(err, session.ErrTooLarge) || !errors.As(err, &tl) || tl.Limit != limit || tl.Size <= limit {
		t.Fatalf("%s: err %v, want a *TooLargeError with limit %d", what, err, limit)
	}
	return tl
}

func testTooLarge(t *testing.T, f *fixture) {
	cs := NewCountingStore(f.env.Store)
	s := f.open("big", cs)

	// One node over MaxNodeBytes.
	c := appendCommit("big", 0, "", "huge")
	c.Graph.Nodes[0].Event = quoted(session.MaxNodeBytes)
	_, err := s.CommitRuntimeState(f.ctx, c)
	wantTooLarge(t, "node", err, session.MaxNodeBytes)

	// A commit of 1.1 GiB made of 1 MiB nodes that share one buffer: it is
	// refused by adding lengths, without copying or encoding anything.
	shared := quoted(1 << 20)
	var nodes []session.NodeRecord
	for i := 0; i < 1127; i++ {
		n := node(fmt.Sprintf("n%d", i), "")
		n.Event = shared
		nodes = append(nodes, n)
	}
	c = appendCommit("big", 0, "", "x")
	c.Graph.Nodes = nodes
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = s.CommitRuntimeState(f.ctx, c)
	runtime.ReadMemStats(&after)
	tl := wantTooLarge(t, "1.1 GiB commit", err, session.MaxCommitBytes)
	if tl.Size < 1127<<20 {
		t.Fatalf("commit size %d, want at least 1.1 GiB", tl.Size)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Fatalf("refusing the commit allocated %d bytes", alloc)
	}

	// Agent frames that cannot fit in the head on their own.
	c = appendCommit("big", 0, "", "a")
	c.AgentFrames = quoted(session.MaxHeadBytes)
	_, err = s.CommitRuntimeState(f.ctx, c)
	wantTooLarge(t, "agent frames", err, session.MaxHeadBytes)

	if cs.Total() != 0 {
		t.Fatalf("refused commits made %d requests", cs.Total())
	}
	// The session is untouched and works.
	f.mustCommit(s, appendCommit("big", 0, "", "a"))
}

// quoted returns a JSON string of exactly n bytes, quotes included.
func quoted(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	b[0], b[n-1] = '"', '"'
	return b
}

// noise returns a JSON string of about n bytes that does not compress.
func noise(n int, seed string) []byte {
	out := make([]byte, 0, n+2)
	out = append(out, '"')
	sum := sha256.Sum256([]byte(seed))
	for len(out) < n+1 {
		out = hex.AppendEncode(out, sum[:])
		sum = sha256.Sum256(sum[:])
	}
	return append(out[:n+1], '"')
}

func testLargeAppend(t *testing.T, f *fixture) {
	s := f.open("la")
	f.mustCommit(s, appendCommit("la", 0, "", "root"))
	c := appendCommit("la", 1, "root", "big")
	c.Graph.Nodes[0].Event = noise(1<<20, "big")
	f.mustCommit(s, c)
	head := f.get(session.HeadKey("la"))
	if len(head) > 16<<10 {
		t.Fatalf("a 1 MiB append left a head of %d bytes", len(head))
	}
	f.mustCommit(s, appendCommit("la", 2, "big", "after"))
	fresh := f.open("la")
	n, err := fresh.LoadNode(f.ctx, "big")
	if err != nil || n == nil || string(n.Event) != string(c.Graph.Nodes[0].Event) {
		t.Fatalf("load node: %v", err)
	}
	r := f.load(f.open("la"), session.ActivePath(""))
	f.wantIDs("active path", nodeIDs(r.Graph), []string{"root", "big", "after"})
}

// segSizes records the size of every segment object written.
type segSizes struct {
	objstore.Store
	mu  sync.Mutex
	max int
	n   int
}

func (s *segSizes) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	if _, kind, _ := session.ParseKey(key); kind == session.KeySegment {
		s.mu.Lock()
		s.max, s.n = max(s.max, len(data)), s.n+1
		s.mu.Unlock()
	}
	return s.Store.Put(ctx, key, data, opts)
}

// testLongSession drives a session to many times its segment cap and
// checks that no segment written (hence no merge) outgrows the cap, and
// that every load stays right.
func testLongSession(t *testing.T, f *fixture) {
	const segCap = 16 << 10
	f.tuning.SegmentMaxBytes, f.tuning.FlushDeltas = segCap, 4
	rec := &segSizes{Store: f.env.Store}
	s := f.open("long", rec)
	var ids []string
	parent := ""
	total := 0
	for i := 0; total < 10*segCap; i++ {
		id := fmt.Sprintf("n%04d", i)
		c := appendCommit("long", uint64(i), parent, id)
		c.Graph.Nodes[0].Event = noise(700, id)
		total += len(c.Graph.Nodes[0].Event)
		f.mustCommit(s, c)
		ids = append(ids, id)
		parent = id
		if i%50 == 49 {
			r := f.load(f.open("long"), session.FullGraph())
			f.wantIDs(fmt.Sprintf("full graph at %d", i+1), nodeIDs(r.Graph), ids)
			n, err := f.open("long").LoadNode(f.ctx, ids[i/3])
			if err != nil || n == nil || n.NodeID != ids[i/3] {
				t.Fatalf("load node %s at %d: %+v, %v", ids[i/3], i+1, n, err)
			}
		}
	}
	// A segment's object is its JSON compressed: never larger than the
	// cap plus the envelope and the flushed tail that joined it.
	if limit := segCap + 8<<10; rec.max > limit {
		t.Fatalf("a segment of %d bytes was written; cap %d", rec.max, segCap)
	}
	r := f.load(f.open("long"), session.ActivePath(""))
	if len(r.Graph.Nodes) != len(ids) || r.Graph.Nodes[0].NodeID != ids[0] {
		t.Fatalf("active path of %d nodes, want %d", len(r.Graph.Nodes), len(ids))
	}
	t.Logf("%d commits, %d bytes of nodes, %d segments written, largest %d bytes", len(ids), total, rec.n, rec.max)
}
