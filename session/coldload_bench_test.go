package session_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/session"
)

// BenchmarkColdLoad: LoadSession(ActivePath) of a 1,000-node session
// written 4 nodes per turn commit (about 1 KiB of event per node, like
// the bench's load figures) by a new
// handle with nothing cached, on a memory store: the CPU a cold load
// spends decoding.
func BenchmarkColdLoad(b *testing.B) {
	ctx := context.Background()
	objs := memstore.New(nil)
	s, err := session.New(session.Config{Store: objs, SessionID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	text := strings.Repeat("a typical sentence of an agent's output. ", 22)
	for r := uint64(0); r < 250; r++ { // 4 nodes per turn, like the bench's load session
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
	b.ResetTimer()
	for range b.N {
		cold, err := session.New(session.Config{Store: objs, SessionID: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		r, err := cold.LoadSession(ctx, session.ActivePath(""))
		if err != nil || len(r.Graph.Nodes) != 1000 {
			b.Fatalf("%v, %d nodes", err, len(r.Graph.Nodes))
		}
	}
}
