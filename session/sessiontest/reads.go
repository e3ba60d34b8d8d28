package sessiontest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

// Reads proportional to what they return (docs/format.md, blocked
// segments): a cold read of an old node or of a short active path in a
// long session reads the blocks that hold its nodes, not whole segments.
var readTests = []namedTest{
	{"ColdLoadNodeReadsOneBlock", testColdLoadNodeBlock},
	{"ColdActivePathReadsItsBlocks", testColdActivePathBlocks},
	{"ColdActivePathOfOneChainReadsSegmentsWhole", testColdWholePath},
}

// ReadBytes is an objstore.Store decorator that counts the GETs made
// through it and the bytes they return, per session key kind.
type ReadBytes struct {
	objstore.Store
	mu     sync.Mutex
	gets   map[session.KeyKind]int
	ranged map[session.KeyKind]int
	bytes  map[session.KeyKind]int64
}

// NewReadBytes wraps inner.
func NewReadBytes(inner objstore.Store) *ReadBytes {
	return &ReadBytes{Store: inner, gets: map[session.KeyKind]int{}, ranged: map[session.KeyKind]int{}, bytes: map[session.KeyKind]int64{}}
}

func (r *ReadBytes) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	rc, info, err := r.Store.Get(ctx, key, opts)
	kind, rc := readKind(key, opts, rc, err)
	r.mu.Lock()
	r.gets[kind]++
	if opts != nil && opts.Range != nil {
		r.ranged[kind]++
	}
	r.mu.Unlock()
	if err != nil {
		return rc, info, err
	}
	return &countedBody{ReadCloser: rc, add: func(n int) {
		r.mu.Lock()
		r.bytes[kind] += int64(n)
		r.mu.Unlock()
	}}, info, nil
}

// Gets returns the GETs of keys of kind, and how many of them were ranged.
func (r *ReadBytes) Gets(kind session.KeyKind) (all, ranged int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gets[kind], r.ranged[kind]
}

// Bytes returns the bytes read from keys of kind.
func (r *ReadBytes) Bytes(kind session.KeyKind) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bytes[kind]
}

// readKind returns the kind of what a GET of key read (rc, unless err):
// the key's, except that a ranged GET of a packed segment's index, which
// starts with an index envelope, is an index read (docs/format.md,
// "Packed segments"). It returns rc, or what replaces it.
func readKind(key string, opts *objstore.GetOptions, rc io.ReadCloser, err error) (session.KeyKind, io.ReadCloser) {
	_, kind, _ := session.ParseKey(key)
	if err != nil || kind != session.KeySegment || opts == nil || opts.Range == nil {
		return kind, rc
	}
	br := bufio.NewReader(rc)
	if head, _ := br.Peek(12); len(head) == 12 && string(head[8:12]) == "SIDX" {
		kind = session.KeyIndex
	}
	return kind, struct {
		io.Reader
		io.Closer
	}{br, rc}
}

type countedBody struct {
	io.ReadCloser
	add func(int)
}

func (b *countedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.add(n)
	return n, err
}

// oldHistory commits a branch of n nodes of about 2 KiB of incompressible
// text each, with a segment cap of 320 KiB, so that its oldest nodes lie in
// sealed segments of about the cap (and in the node directory); it returns
// the ids and the encoded size of a node.
func oldHistory(f *fixture, sid string, n int) ([]string, int) {
	f.tuning.SegmentMaxBytes, f.tuning.FlushDeltas = 320<<10, 8
	s := f.open(sid)
	var ids []string
	parent, size := "", 0
	for i := range n {
		id := fmt.Sprintf("a%04d", i)
		c := appendCommit(sid, uint64(i), parent, id)
		c.Graph.Nodes[0].Event = noise(2000, id)
		size = len(c.Graph.Nodes[0].Event) + 2*len(id) + len(c.Graph.Nodes[0].Timestamp) + 64
		f.mustCommit(s, c)
		ids = append(ids, id)
		parent = id
		if i%64 == 63 {
			s.WaitCompaction() // keep merges in step with the commits
		}
	}
	s.WaitCompaction()
	return ids, size
}

// largestSegment returns the size of the largest segment the head names.
func (f *fixture) largestSegment(sid string) (largest int64, segs int) {
	info, err := session.ReadHead(f.ctx, f.env.Store, sid)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, k := range info.Keys {
		if _, kind, _ := session.ParseKey(k); kind == session.KeySegment {
			oi, err := f.env.Store.Head(f.ctx, k)
			if err != nil {
				f.t.Fatal(err)
			}
			largest, segs = max(largest, oi.Size), segs+1
		}
	}
	return largest, segs
}

// testColdLoadNodeBlock: a cold LoadNode of an old node makes at most 3
// requests, the head, the node directory and one ranged GET of the block
// that holds it (not the segment); a recent one reads the indexes of the
// segments after the directory instead, still one block. The release
// before blocked segments read the head, every index and the whole
// segment (over 100 KiB here).
func testColdLoadNodeBlock(t *testing.T, f *fixture) {
	ids, _ := oldHistory(f, "ln", 1000)
	largest, segs := f.largestSegment("ln")
	if largest < 100<<10 || segs < 6 {
		t.Fatalf("history of %d segments, largest %d bytes: not long enough", segs, largest)
	}
	for k, id := range []string{ids[3], ids[200], ids[len(ids)-20], ids[len(ids)-1]} {
		cs := NewCountingStore(f.env.Store)
		rb := NewReadBytes(cs)
		n, err := f.open("ln", rb).LoadNode(f.ctx, id)
		if err != nil || n == nil || n.NodeID != id {
			t.Fatalf("load node %s: %+v, %v", id, n, err)
		}
		all, ranged := rb.Gets(session.KeySegment)
		idxGets, _ := rb.Gets(session.KeyIndex)
		got := rb.Bytes(session.KeySegment)
		t.Logf("cold LoadNode %s: %d requests (%d indexes), %d segment bytes, %d index bytes", id, cs.Total(), idxGets, got, rb.Bytes(session.KeyIndex))
		if all > 1 || ranged != all || got > 66<<10 {
			t.Fatalf("cold LoadNode %s: %d segment GETs (%d ranged), %d bytes; want one ranged GET of one block", id, all, ranged, got)
		}
		dirGets, _ := rb.Gets(session.KeyDir)
		if cs.Total() != 1+dirGets+idxGets+all {
			t.Fatalf("cold LoadNode %s: %d requests, want the head, %d directory runs, %d indexes and the block", id, cs.Total(), dirGets, idxGets)
		}
		if k < 2 && cs.Total() > 3 {
			t.Fatalf("cold LoadNode of old node %s: %d requests (%d directory runs, %d indexes), want at most 3", id, cs.Total(), dirGets, idxGets)
		}
	}
	// An Append of an old id replaces it: the newer version, flushed to a
	// segment that is not fresh, wins over the directory's.
	w := f.open("ln")
	c := appendCommit("ln", uint64(len(ids)), ids[2], ids[3])
	c.Graph.Leaf = ids[len(ids)-1]
	c.Graph.Nodes[0].Event = []byte(`"replaced"`)
	f.mustCommit(w, c)
	for i := range 10 {
		f.mustCommit(w, appendCommit("ln", uint64(len(ids)+1+i), ids[len(ids)-1], fmt.Sprintf("z%d", i)))
	}
	for _, h := range []*session.Store{f.open("ln"), w} {
		n, err := h.LoadNode(f.ctx, ids[3])
		if err != nil || n == nil || string(n.Event) != `"replaced"` {
			t.Fatalf("load node %s after its replacement: %+v, %v", ids[3], n, err)
		}
	}
	r := f.load(f.open("ln"), session.ActivePath(ids[5]))
	if len(r.Graph.Nodes) != 6 || string(r.Graph.Nodes[3].Event) != `"replaced"` {
		t.Fatalf("active path after a replacement: %d nodes", len(r.Graph.Nodes))
	}
}

// testColdActivePathBlocks: a cold ActivePath of a short path reads at
// most 4x the bytes of its nodes from segments, plus indexes and directory
// runs under 256 KiB: of a path of 10 old nodes (in a sealed segment that
// the release before blocked segments read whole, over 100 KiB here), and
// of a branch of 40 nodes after the long history.
func testColdActivePathBlocks(t *testing.T, f *fixture) {
	ids, size := oldHistory(f, "ap2", 700)
	const short, old = 40, 10
	var branch []string
	w := f.open("ap2")
	for i := range short {
		id := fmt.Sprintf("b%02d", i)
		parent := ""
		if i > 0 {
			parent = branch[i-1]
		}
		c := appendCommit("ap2", uint64(len(ids)+i), parent, id)
		c.Graph.Nodes[0].Event = noise(2000, id)
		f.mustCommit(w, c)
		branch = append(branch, id)
	}
	w.WaitCompaction()
	for _, tc := range []struct {
		leaf string
		want []string
	}{{ids[old-1], ids[:old]}, {"", branch}} {
		rb := NewReadBytes(f.env.Store)
		r := f.load(f.open("ap2", rb), session.ActivePath(tc.leaf))
		f.wantIDs("active path of "+tc.leaf, nodeIDs(r.Graph), tc.want)
		segBytes, idxBytes := rb.Bytes(session.KeySegment), rb.Bytes(session.KeyIndex)
		idxBytes += rb.Bytes(session.KeyDir)
		n := len(tc.want)
		t.Logf("cold ActivePath(%q) of %d nodes (%d bytes): %d segment bytes, %d index and directory bytes", tc.leaf, n, n*size, segBytes, idxBytes)
		if segBytes > int64(4*n*size) || idxBytes > 256<<10 {
			t.Fatalf("cold ActivePath(%q) of %d nodes of %d bytes read %d bytes of segments and %d of indexes", tc.leaf, n, size, segBytes, idxBytes)
		}
	}
}

// testColdWholePath: a cold ActivePath of the leaf of a session that is one
// chain (every commit appended from the leaf before it) holds every node:
// it reads the head, then every segment whole in one round, and no index
// (docs/format.md, the head field branched). Once the leaf moves back, the session
// may have nodes off the path: the load reads indexes and only the blocks
// of the path, and returns the shorter path.
func testColdWholePath(t *testing.T, f *fixture) {
	f.tuning.FlushDeltas = 2
	w := f.open("whole")
	ids := f.chain(w, "whole", 0, "n", 20, "")
	w.WaitCompaction()
	_, segs := f.largestSegment("whole")
	load := func(what string, want []string) (reqs, idxGets, segGets int) {
		t.Helper()
		cs := NewCountingStore(f.env.Store)
		rb := NewReadBytes(cs)
		f.wantIDs(what, nodeIDs(f.load(f.open("whole", rb), session.ActivePath("")).Graph), want)
		idxGets, _ = rb.Gets(session.KeyIndex)
		segGets, _ = rb.Gets(session.KeySegment)
		return cs.Total(), idxGets, segGets
	}
	reqs, idx, seg := load("one chain", ids)
	if segs < 3 || reqs != 1+segs || idx != 0 || seg != segs {
		t.Fatalf("cold ActivePath of one chain in %d segments: %d requests, %d index and %d segment reads; want the head and each segment once",
			segs, reqs, idx, seg)
	}
	c := appendCommit("whole", 20, "", "unused")
	c.Graph = session.GraphDelta{Kind: session.DeltaUnchanged, Leaf: ids[4]}
	f.mustCommit(w, c)
	if _, idx, _ = load("leaf moved back", ids[:5]); idx == 0 {
		t.Fatal("a cold ActivePath after the leaf moved back read no index")
	}
}
