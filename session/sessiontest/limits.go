package sessiontest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

var limitTests = []namedTest{
	{"TooLargeIsRefusedBeforeEncoding", testTooLarge},
	{"LargeAppendKeepsHeadSmall", testLargeAppend},
	{"LongSessionMergesStayBounded", testLongSession},
	{"BucketStaysNearLiveBytes", testAmplification},
	{"ReaderRacingADeletionRetries", testReaderRacesDeletion},
	{"ActivePathReadsOnlyItsSegments", testActivePathReads},
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
	const segCap = 40 << 10
	f.tuning.SegmentMaxBytes, f.tuning.FlushDeltas = segCap, 2
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
	// cap plus the envelope.
	s.WaitCompaction()
	if limit := segCap + 4<<10; rec.max > limit {
		t.Fatalf("a segment of %d bytes was written; cap %d", rec.max, segCap)
	}
	if flushes := len(ids) / 2; rec.n < flushes+flushes/8 {
		t.Fatalf("%d segments written for %d flushes: merges did not run", rec.n, flushes)
	}
	r := f.load(f.open("long"), session.ActivePath(""))
	if len(r.Graph.Nodes) != len(ids) || r.Graph.Nodes[0].NodeID != ids[0] {
		t.Fatalf("active path of %d nodes, want %d", len(r.Graph.Nodes), len(ids))
	}
	t.Logf("%d commits, %d bytes of nodes, %d segments written, largest %d bytes", len(ids), total, rec.n, rec.max)
}

// Amplification returns the bytes of every object under sid's prefix and
// the bytes of the head and the objects it names.
func Amplification(ctx context.Context, store objstore.Store, sid string) (bucket, live int64, err error) {
	info, err := session.ReadHead(ctx, store, sid)
	if err != nil || info == nil {
		return 0, 0, err
	}
	named := map[string]bool{session.HeadKey(sid): true}
	for _, k := range info.Keys {
		named[k] = true
	}
	for obj, err := range store.List(ctx, session.SessionPrefix(sid), nil) {
		if err != nil {
			return 0, 0, err
		}
		bucket += obj.Size
		if named[obj.Key] {
			live += obj.Size
		}
	}
	return bucket, live, nil
}

// testAmplification commits a session whose segments merge and whose
// checkpoint blob changes every turn: between sweeps, the bucket holds
// little more than what the head names, because the writer deletes what
// its commits supersede.
func testAmplification(t *testing.T, f *fixture) {
	f.tuning.SegmentMaxBytes, f.tuning.FlushDeltas = 16<<10, 4
	s := f.open("amp")
	parent := ""
	for i := range 120 {
		id := fmt.Sprintf("n%04d", i)
		c := appendCommit("amp", uint64(i), parent, id)
		c.Graph.Nodes[0].Event = noise(700, id)
		c.Checkpoint = &session.HydratedCheckpoint{ExecutionState: noise(4<<10, "state"+id)}
		f.mustCommit(s, c)
		parent = id
	}
	bucket, live, err := Amplification(f.ctx, f.env.Store, "amp")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("bucket %d bytes, live %d bytes: %.2fx", bucket, live, float64(bucket)/float64(live))
	if float64(bucket) > 1.5*float64(live) {
		t.Fatalf("bucket holds %d bytes for %d live (%.2fx)", bucket, live, float64(bucket)/float64(live))
	}
	// Every object the head names is there: the session loads from a
	// fresh handle.
	r := f.load(f.open("amp"), session.FullGraph())
	if len(r.Graph.Nodes) != 120 || r.Checkpoint == nil {
		t.Fatalf("load after deletions: %d nodes", len(r.Graph.Nodes))
	}
}

// onFirstSegGet runs hook before the first segment GET it forwards.
type onFirstSegGet struct {
	objstore.Store
	once sync.Once
	hook func(key string)
}

func (s *onFirstSegGet) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	if _, kind, _ := session.ParseKey(key); kind == session.KeySegment {
		s.once.Do(func() { s.hook(key) })
	}
	return s.Store.Get(ctx, key, opts)
}

// testReaderRacesDeletion has a reader read a head, then, before it reads
// a segment that head names, a writer supersede and delete that segment:
// the reader finds it missing, re-reads the head and loads the new state.
func testReaderRacesDeletion(t *testing.T, f *fixture) {
	f.tuning.FlushDeltas = 2
	w := f.open("race")
	ids := f.chain(w, "race", 0, "n", 12, "")
	rev := uint64(12)
	var deleted string
	reader := f.open("race", &onFirstSegGet{Store: f.env.Store, hook: func(key string) {
		named := func() bool {
			info, err := session.ReadHead(f.ctx, f.env.Store, "race")
			if err != nil {
				t.Error(err)
				return false
			}
			return slices.Contains(info.Keys, key)
		}
		extra := 1 // after the head drops it, the next write deletes it
		for i := 0; extra >= 0; i++ {
			if !named() {
				extra--
			}
			if i > 400 {
				t.Error("segment never superseded")
				return
			}
			id := fmt.Sprintf("m%d", i)
			f.mustCommit(w, appendCommit("race", rev, ids[len(ids)-1], id))
			ids = append(ids, id)
			rev++
		}
		if _, err := f.env.Store.Head(f.ctx, key); errors.Is(err, objstore.ErrNotExist) {
			deleted = key
		}
	}})
	r, err := reader.LoadSession(f.ctx, session.FullGraph())
	if err != nil {
		t.Fatalf("load racing a deletion: %v", err)
	}
	if deleted == "" {
		t.Fatal("the segment the reader wanted was not deleted: the race was not exercised")
	}
	f.wantIDs("graph after the race", nodeIDs(r.Graph), ids)
}

// segGets counts the segment GETs made through it.
type segGets struct {
	objstore.Store
	mu sync.Mutex
	n  int
}

func (s *segGets) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	rc, info, err := s.Store.Get(ctx, key, opts)
	kind, rc := readKind(key, opts, rc, err)
	if kind == session.KeySegment {
		s.mu.Lock()
		s.n++
		s.mu.Unlock()
	}
	return rc, info, err
}

// testActivePathReads builds a long branch, then a short one: a cold
// ActivePath of the short branch reads the segments that hold its nodes
// (and the indexes), not the long branch's.
func testActivePathReads(t *testing.T, f *fixture) {
	f.tuning.FlushDeltas, f.tuning.SegmentMaxBytes = 2, 1<<10 // many small segments
	w := f.open("ap")
	long := f.chain(w, "ap", 0, "a", 60, "")
	short := f.chain(w, "ap", 60, "b", 5, "")
	_, segs := f.largestSegment("ap")
	rec := &segGets{Store: f.env.Store}
	r := f.load(f.open("ap", rec), session.ActivePath(""))
	f.wantIDs("short branch", nodeIDs(r.Graph), short)
	if rec.n > 3 || segs < 6 {
		t.Fatalf("a cold active path of %d nodes read %d of %d segments", len(short), rec.n, segs)
	}
	// The long branch's path is still right, from the same handle and a
	// fresh one, and the full graph holds both.
	for _, h := range []*session.Store{f.open("ap", rec), f.open("ap")} {
		r = f.load(h, session.ActivePath(long[len(long)-1]))
		f.wantIDs("long branch", nodeIDs(r.Graph), long)
	}
	if r := f.load(f.open("ap"), session.FullGraph()); len(r.Graph.Nodes) != len(long)+len(short) {
		t.Fatalf("full graph of %d nodes", len(r.Graph.Nodes))
	}
}
