package session

import (
	"fmt"
	"testing"
)

// BenchmarkEncodeHead encodes a head whose tail holds 16 deltas of one
// 8 KiB node: with the deltas' cached encodings (what a commit does) and
// without (every delta encoded again).
func BenchmarkEncodeHead(b *testing.B) {
	text := make([]byte, 8000)
	for i := range text {
		text[i] = 'a' + byte(i*7%26)
	}
	h := &head{SessionID: "bench", Revision: 16}
	for r := range 16 {
		d := delta{Rev: uint64(r + 1), CommitID: (&Store{}).newID(), Nodes: []NodeRecord{{NodeID: fmt.Sprint(r), Kind: PayloadEvent,
			Event: []byte(fmt.Sprintf(`{"text":%q}`, text))}}}
		h.Tail = append(h.Tail, d)
	}
	b.Run("uncached", func(b *testing.B) {
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
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			if _, err := encodeHead(h); err != nil {
				b.Fatal(err)
			}
		}
	})
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
