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
// (about 1 KiB of event per node, like the bench's load figures) by a new
// handle with nothing cached, on a memory store: the CPU a cold load
// spends decoding.
func BenchmarkColdLoad(b *testing.B) {
	ctx := context.Background()
	objs := memstore.New(nil)
	s, err := session.New(session.Config{Store: objs, SessionID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	text := strings.Repeat("a typical sentence of an agent's output. ", 24)
	for r := uint64(0); r < 1000; r++ {
		c := benchCommit("bench", r, int(r))
		c.Graph.Nodes[0].ParentNodeID = ""
		if r > 0 {
			c.Graph.Nodes[0].ParentNodeID = fmt.Sprintf("n%d", r-1)
		}
		c.Graph.Nodes[0].Event = []byte(fmt.Sprintf(`{"text":%q,"n":%d}`, text, r))
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
