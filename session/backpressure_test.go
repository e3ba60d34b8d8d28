package session

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stowage-dev/stowage/internal/codec"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
)

// gatedStore holds, while its gate is closed, every whole-segment GET
// (only a merge reads segment objects whole in a single writer's session:
// flushes write them, commits read nothing) and every DeleteMany (the
// deletion of superseded objects).
type gatedStore struct {
	objstore.Store
	gate    chan struct{} // closed: open
	held    atomic.Int32
	holdDel bool
}

func (g *gatedStore) wait() {
	g.held.Add(1)
	<-g.gate
	g.held.Add(-1)
}

func (g *gatedStore) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	if _, kind, _ := ParseKey(key); kind == KeySegment && (opts == nil || opts.Range == nil) {
		g.wait()
	}
	return g.Store.Get(ctx, key, opts)
}

func (g *gatedStore) DeleteMany(ctx context.Context, keys []string) error {
	if g.holdDel {
		g.wait()
	}
	return g.Store.DeleteMany(ctx, keys)
}

// warmCodec makes the codec's shared zstd encoder and decoder outside any
// bubble: a bubble may not use channels another bubble created.
func warmCodec(t *testing.T) {
	data, err := codec.EncodeRaw(headSchema, bytes.Repeat([]byte("warm "), 1000))
	if err == nil {
		_, _, err = codec.DecodeRaw(headSchema, data)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// steadyRevisions: 3 flushes of 2 deltas at each of levels 0-3 in base
// 4, then one delta in the tail.
const steadyRevisions = 2*(3+3*4+3*16+3*64) + 1

// steadySession returns a handle whose session holds, unsealed, 3 segments
// of each of levels 3, 2, 1 and 0 and one tail delta (fanout 4, flush
// every 2 deltas, no merge running): the most segments a session holds
// with merges keeping up (12; the next flush starts a merge of level 0).
func steadySession(t *testing.T, ctx context.Context, st objstore.Store) (*Store, string) {
	t.Helper()
	w, err := New(Config{Store: st, SessionID: "steady", Tuning: Tuning{FlushDeltas: 2, SegmentFanout: 4}})
	if err != nil {
		t.Fatal(err)
	}
	parent := ""
	for i := range steadyRevisions {
		parent = commitNode(t, ctx, w, i, parent)
		w.WaitCompaction()
	}
	h, _, err := w.current(ctx, w.SessionID())
	if err != nil {
		t.Fatal(err)
	}
	levels := map[int]int{}
	for _, r := range h.h.Segs {
		if r.Sealed {
			t.Fatalf("sealed segment %s", r.ID)
		}
		levels[r.Level]++
	}
	if fmt.Sprint(levels) != "map[0:3 1:3 2:3 3:3]" || len(h.h.Tail) != 1 {
		t.Fatalf("segments per level %v, tail %d; want 3 of each of levels 0-3", levels, len(h.h.Tail))
	}
	return w, parent
}

// forgetWrittenSegments drops from c the bytes of the segments this
// process wrote, so that a merge reads them (a new process would).
func forgetWrittenSegments(c *SegmentCache) {
	c.mu.Lock()
	var raw []string
	for k := range c.items {
		if strings.Contains(k, "/raw/") {
			raw = append(raw, k)
		}
	}
	c.mu.Unlock()
	for _, k := range raw {
		c.putKey(k, nil, c.max+1) // removes k, stores nothing
	}
}

// gatedSteadySession is steadySession on a memstore behind an open gate.
func gatedSteadySession(t *testing.T, ctx context.Context) (*gatedStore, *Store, string) {
	g := &gatedStore{Store: memstore.New(nil), gate: make(chan struct{})}
	close(g.gate)
	w, parent := steadySession(t, ctx, g)
	return g, w, parent
}

// TestFlushDoesNotWaitForAMergeInTheSteadyState: in a session holding the
// most segments merges leave when they keep up, a merge in flight (held)
// does not stall the commits after it, flushes included: they wait only
// when one level holds two runs to merge. Counting every unsealed segment
// instead (12 here) stalls the first flush after the merge starts.
func TestFlushDoesNotWaitForAMergeInTheSteadyState(t *testing.T) {
	warmCodec(t)
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		g, w, parent := gatedSteadySession(t, ctx)
		forgetWrittenSegments(w.segs)
		g.gate = make(chan struct{})
		// The first two commits flush (level 0 reaches 4: a merge starts
		// and is held reading the 3 segments the cache no longer holds;
		// the 4th it wrote itself); the next six flush three times more
		// (level 0 reaches 7).
		const commits = 8
		var done atomic.Int32
		go func() {
			for i := range commits {
				parent = commitNode(t, ctx, w, steadyRevisions+i, parent)
				done.Add(1)
			}
		}()
		synctest.Wait()
		if g.held.Load() != 3 || done.Load() != commits {
			t.Fatalf("with a merge held: %d of %d commits done, %d requests held; want all done, the merge's 3 reads held",
				done.Load(), commits, g.held.Load())
		}
		close(g.gate)
		w.WaitCompaction()
	})
}

// TestCommitDoesNotWaitForDeletes: the deletion of what a merge superseded
// runs beside the next commit's head PUT, and the commit returns while it
// is still held; WaitCompaction waits for it.
func TestCommitDoesNotWaitForDeletes(t *testing.T) {
	warmCodec(t)
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		g, w, parent := gatedSteadySession(t, ctx)
		for i := range 2 { // a flush, then a merge of level 0
			parent = commitNode(t, ctx, w, steadyRevisions+i, parent)
			w.WaitCompaction()
		}
		g.gate, g.holdDel = make(chan struct{}), true
		committed := make(chan struct{})
		go func() {
			p := commitNode(t, ctx, w, steadyRevisions+2, parent) // adopts the merge
			commitNode(t, ctx, w, steadyRevisions+3, p)           // deletes its run
			close(committed)
		}()
		synctest.Wait()
		select {
		case <-committed:
		default:
			t.Fatal("a commit waited for the deletion of superseded objects")
		}
		if g.held.Load() == 0 {
			t.Fatal("no deletion held: the test shows nothing")
		}
		waited := make(chan struct{})
		go func() { w.WaitCompaction(); close(waited) }()
		synctest.Wait()
		select {
		case <-waited:
			t.Fatal("WaitCompaction returned with a deletion held")
		default:
		}
		close(g.gate)
		<-waited
	})
}

// segmentReads counts the whole-object reads of segments.
type segmentReads struct {
	objstore.Store
	n atomic.Int32
}

func (c *segmentReads) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	if _, kind, _ := ParseKey(key); kind == KeySegment && (opts == nil || opts.Range == nil) {
		c.n.Add(1)
	}
	return c.Store.Get(ctx, key, opts)
}

// TestMergesDoNotReadBackWhatTheyWrote: the merges of a session written by
// one process copy the segments' bytes it
// kept when it wrote them, instead of reading them back; a process that
// did not write them reads them.
func TestMergesDoNotReadBackWhatTheyWrote(t *testing.T) {
	ctx := t.Context()
	c := &segmentReads{Store: memstore.New(nil)}
	w, parent := steadySession(t, ctx, c)
	if n := c.n.Load(); n != 0 {
		t.Fatalf("the merges read %d segments back", n)
	}
	forgetWrittenSegments(w.segs)
	for i := range 2 { // a flush, then a merge of level 0
		parent = commitNode(t, ctx, w, steadyRevisions+i, parent)
		w.WaitCompaction()
	}
	if n := c.n.Load(); n != 3 {
		t.Fatalf("a merge of 3 segments the cache forgot and 1 it wrote read %d segments, want 3", n)
	}
}
