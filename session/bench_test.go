package session_test

import (
	"context"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/session"
)

func benchCommit(sid string, r uint64, turn int) session.RuntimeCommit {
	id := fmt.Sprintf("n%d", r)
	return session.RuntimeCommit{
		SessionID: sid, ExpectedHeadRevision: &r,
		Config:      session.SessionConfig{ProviderID: "p", Model: "m"},
		Graph:       session.GraphDelta{Kind: session.DeltaAppend, Leaf: id, Nodes: []session.NodeRecord{{NodeID: id, Kind: session.PayloadEvent, Timestamp: "2026-01-02T03:04:05Z", Event: []byte(`{"text":"a typical event of a few dozen bytes"}`)}}},
		TurnCommit:  &session.TurnCommitStamp{SessionID: sid, TurnID: fmt.Sprintf("turn-%d", turn), TurnCommitHash: "h"},
		Checkpoint:  &session.HydratedCheckpoint{ExecutionState: []byte(fmt.Sprintf("state %d", r))},
		UsageDeltas: []session.TokenLedgerEntry{{Source: "turn", Model: "m", Input: 10, Output: 5}},
	}
}

// BenchmarkCommitAtRevision reports the p50 latency of a commit (memstore,
// so CPU cost only) at revision 10 and at revision 10,000: the protocol's
// claim is that it does not grow with the session.
func BenchmarkCommitAtRevision(b *testing.B) {
	for _, start := range []uint64{10, 10_000} {
		b.Run(fmt.Sprintf("rev=%d", start), func(b *testing.B) {
			ctx := context.Background()
			s, err := session.New(session.Config{Store: memstore.New(nil), SessionID: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			for r := uint64(0); r < start; r++ {
				if _, err := s.CommitRuntimeState(ctx, benchCommit("bench", r, int(r))); err != nil {
					b.Fatal(err)
				}
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r := start + uint64(i)
				t0 := time.Now()
				if _, err := s.CommitRuntimeState(ctx, benchCommit("bench", r, int(r))); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
		})
	}
}

// BenchmarkCommit8KiB: a turn commit of one 8 KiB node on a memory store
// (CPU only), like the commits of the bench's commit_p50; it reports the
// process CPU per commit, background work included.
func BenchmarkCommit8KiB(b *testing.B) {
	ctx := context.Background()
	s, err := session.New(session.Config{Store: memstore.New(nil), SessionID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	text := make([]byte, 8000)
	for i := range text {
		text[i] = 'a' + byte(i*7%26)
	}
	commit := func(r uint64) {
		c := benchCommit("bench", r, int(r))
		c.Graph.Nodes[0].Event = []byte(fmt.Sprintf(`{"text":%q}`, text))
		if _, err := s.CommitRuntimeState(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	for r := uint64(0); r < 20; r++ {
		commit(r)
	}
	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		commit(20 + uint64(i))
	}
	s.WaitCompaction()
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/op")
}
