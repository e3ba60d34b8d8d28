package session

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stowage-dev/stowage/internal/codec"
	"github.com/stowage-dev/stowage/objstore/memstore"
)

// BenchmarkEncodeHead encodes a head whose tail holds deltas of one
// 8 KiB node of text drawn from 37 letters (the bench's turns): with the
// deltas' cached encodings (what a commit does) and without (every delta
// encoded again); 3 deltas is the tail of the bench's 8 KiB turns before
// a flush, 16 a long one.
func BenchmarkEncodeHead(b *testing.B) {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 "
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{3, 16} {
		h := &head{SessionID: "bench", Revision: uint64(n)}
		for i := range n {
			text := make([]byte, 8000)
			for j := range text {
				text[j] = alphabet[r.IntN(len(alphabet))]
			}
			d := delta{Rev: uint64(i + 1), CommitID: (&Store{}).newID(), Nodes: []NodeRecord{{NodeID: fmt.Sprint(i), Kind: PayloadEvent,
				Event: []byte(fmt.Sprintf(`{"text":%q}`, text))}}}
			h.Tail = append(h.Tail, d)
		}
		b.Run(fmt.Sprintf("deltas=%d/uncached", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := encodeHead(h); err != nil {
					b.Fatal(err)
				}
			}
		})
		for i := range h.Tail {
			if err := h.Tail[i].cacheJSON(); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(fmt.Sprintf("deltas=%d/cached", n), func(b *testing.B) {
			var size int
			for b.Loop() {
				data, err := encodeHead(h)
				if err != nil {
					b.Fatal(err)
				}
				size = len(data)
			}
			b.ReportMetric(float64(size), "bytes")
		})
	}
}

// TestEncodeHeadCachedTail: a head encoded from its deltas' cached
// encodings decodes to the same head, and a delta whose nodes were
// replaced since its encoding was cached is encoded again.
func TestEncodeHeadCachedTail(t *testing.T) {
	h := &head{SessionID: "s", Revision: 3, Leaf: "c"}
	for r, id := range []string{"a", "b", "c"} {
		d := delta{Rev: uint64(r + 1), CommitID: (&Store{}).newID(), TurnID: "t" + id, AttachmentIDs: []string{"x"},
			Nodes: []NodeRecord{{NodeID: id, Kind: PayloadEvent, Event: []byte(`{"k": "<v>"}`)}}}
		if r < 2 {
			if err := d.cacheJSON(); err != nil {
				t.Fatal(err)
			}
		}
		h.Tail = append(h.Tail, d)
	}
	// A vacuum replaces the nodes of a delta whose encoding is cached.
	h.Tail[1].Nodes = []NodeRecord{{NodeID: "b2", Kind: PayloadEvent, Event: []byte(`{}`)}}
	data, err := encodeHead(h)
	if err != nil {
		t.Fatal(err)
	}
	// The delta whose cache is its own is sent as its commit compressed
	// it, the replaced one not; the frames decode to the head's JSON, as
	// if encoded whole.
	if !bytes.Contains(data, h.Tail[0].frame) || bytes.Contains(data, h.Tail[1].frame) {
		t.Fatal("the head does not hold exactly the cached frame that is still its delta's")
	}
	payload, _, err := codec.DecodeRaw(headSchema, data)
	if err != nil {
		t.Fatal(err)
	}
	if whole, err := codec.MarshalJSON(h); err != nil || !bytes.Equal(payload, whole) {
		t.Fatalf("the head's payload\n%s\nis not its JSON\n%s (%v)", payload, whole, err)
	}
	got, err := decodeHead(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.SessionID != "s" || got.Revision != 3 || got.Leaf != "c" || len(got.Tail) != 3 {
		t.Fatalf("decoded %+v", got)
	}
	for i, want := range []string{"a", "b2", "c"} {
		d := got.Tail[i]
		if d.Rev != uint64(i+1) || d.CommitID != h.Tail[i].CommitID || len(d.Nodes) != 1 || d.Nodes[0].NodeID != want ||
			d.TurnID != h.Tail[i].TurnID || len(d.AttachmentIDs) != 1 {
			t.Fatalf("delta %d decoded as %+v", i, d)
		}
	}
	if string(got.Tail[0].Nodes[0].Event) != `{"k":"\u003cv\u003e"}` {
		t.Fatalf("event %s", got.Tail[0].Nodes[0].Event)
	}
}

// TestCommitCachesTheTailItRead: a process that commits over a head another
// wrote (its tail's deltas read, not encoded here) caches every delta of
// the tail it writes, so that its next head write compresses none of them
// again.
func TestCommitCachesTheTailItRead(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New(nil)
	open := func() *Store {
		s, err := New(Config{Store: mem, SessionID: "s", Tuning: Tuning{FlushDeltas: 8}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, parent := open(), ""
	for i := range 3 {
		parent = commitNode(t, ctx, a, i, parent)
	}
	b := open()
	commitNode(t, ctx, b, 3, parent)
	snap, _, err := b.current(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.h.Tail) != 4 {
		t.Fatalf("tail of %d deltas, want 4 (nothing flushed)", len(snap.h.Tail))
	}
	data, err := encodeHead(snap.h)
	if err != nil {
		t.Fatal(err)
	}
	for i := range snap.h.Tail {
		if d := &snap.h.Tail[i]; !d.cached() || !bytes.Contains(data, d.frame) {
			t.Fatalf("delta %d: cached %v; its frame not sent as cached", i, d.cached())
		}
	}
}
