package session_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/session"
)

// loadBenchSession writes, on a memory store, a 1,000-node session
// committed 4 nodes per turn (about 1 KiB of event per node, like the
// bench's load figures) and returns the store and the writer's handle.
func loadBenchSession(b *testing.B) (objstore.Store, *session.Store) {
	ctx := context.Background()
	objs := memstore.New(nil)
	s, err := session.New(session.Config{Store: objs, SessionID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	text := strings.Repeat("a typical sentence of an agent's output. ", 22)
	for r := uint64(0); r < 250; r++ {
		c := benchCommit("bench", r, int(r))
		c.Graph.Nodes = nil
		for i := range 4 {
			n := 4*r + uint64(i)
			parent := ""
			if n > 0 {
				parent = fmt.Sprintf("n%d", n-1)
			}
			c.Graph.Nodes = append(c.Graph.Nodes, session.NodeRecord{NodeID: fmt.Sprintf("n%d", n), ParentNodeID: parent,
				Kind: session.PayloadEvent, Timestamp: "2026-01-02T03:04:05Z", Event: []byte(fmt.Sprintf(`{"text":%q,"n":%d}`, text, n))})
		}
		c.Graph.Leaf = fmt.Sprintf("n%d", 4*r+3)
		if _, err := s.CommitRuntimeState(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	s.WaitCompaction()
	return objs, s
}

// benchLoad loads h's active path and checks it has 1,000 nodes.
func benchLoad(b *testing.B, h *session.Store) {
	r, err := h.LoadSession(context.Background(), session.ActivePath(""))
	if err != nil || len(r.Graph.Nodes) != 1000 {
		b.Fatalf("%v, %d nodes", err, len(r.Graph.Nodes))
	}
}

// BenchmarkColdLoad: LoadSession(ActivePath) of the 1,000-node session by
// a new handle with nothing cached, on a memory store: the CPU a cold load
// spends decoding. "returned" times the call; "cached" also the work it
// leaves to the background (filling the cache), as WaitCompaction waits
// for it.
func BenchmarkColdLoad(b *testing.B) {
	objs, _ := loadBenchSession(b)
	for _, bg := range []string{"returned", "cached"} {
		b.Run(bg, func(b *testing.B) {
			for range b.N {
				cold, err := session.New(session.Config{Store: objs, SessionID: "bench"})
				if err != nil {
					b.Fatal(err)
				}
				benchLoad(b, cold)
				if bg == "returned" {
					b.StopTimer()
				}
				cold.WaitCompaction()
				b.StartTimer()
			}
		})
	}
}

// BenchmarkCachedLoad: the same load repeated on one handle, session
// unchanged: the CPU a cached load spends besides its revalidation.
func BenchmarkCachedLoad(b *testing.B) {
	_, s := loadBenchSession(b)
	benchLoad(b, s)
	b.ResetTimer()
	for range b.N {
		benchLoad(b, s)
	}
}
