package sessiontest

import (
	"fmt"
	"testing"

	"github.com/stowage-dev/stowage/session"
)

// testCrashAtEveryVacuumStep: a vacuum that fails, crashes or loses its
// response at any of its writes (the replacement segment, its index packed
// in it, and the head) leaves a session that reads exactly as before (the tombstoned node
// absent, every other node there, nothing named missing), and a vacuum
// retried from a fresh handle finishes the job: it removes the node unless
// the first one landed (then it reports nothing to do).
func testCrashAtEveryVacuumStep(t *testing.T, f *fixture) {
	f.tuning.FlushDeltas = 2
	want := []string{"b0", "b2", "b3", "b4"}
	for _, mode := range []FaultMode{FaultFail, FaultCrash, FaultLostResponse, FaultCrashAfter} {
		for n := 1; ; n++ {
			sid := fmt.Sprintf("vac-%s-%d", mode, n)
			crashBase(f, sid)
			// A fifth delta passes twice the flush threshold: this commit
			// flushes the tail (b0..b3) to a segment before its head PUT.
			f.mustCommit(f.open(sid), appendCommit(sid, 4, "b3", "b4"))
			if err := f.open(sid).TombstoneNodes(f.ctx, []string{"b1"}); err != nil {
				t.Fatal(err)
			}
			fs := NewFaultStore(f.env.Store, n, mode)
			first, err := f.open(sid, fs).Vacuum(f.ctx)
			if !fs.Fired() {
				if err != nil || first.RemovedNodes != 1 {
					t.Fatalf("%s: vacuum without a fault: %+v, %v", sid, first, err)
				}
				if n < 3 {
					t.Fatalf("%s: the vacuum made only %d mutating calls (%v); the test expects segment and head", sid, n-1, fs.Ops())
				}
				break
			}
			f.wantIDs(sid+" after the fault", nodeIDs(f.load(f.open(sid), session.FullGraph()).Graph), want)
			retry, rerr := f.open(sid).Vacuum(f.ctx)
			if rerr != nil || retry.RemovedNodes > 1 || (err == nil && retry.RemovedNodes != 0) {
				t.Fatalf("%s (ops %v): first %+v, %v; retry %+v, %v", sid, fs.Ops(), first, err, retry, rerr)
			}
			f.wantIDs(sid+" after the retry", nodeIDs(f.load(f.open(sid), session.FullGraph()).Graph), want)
			if n, _ := f.open(sid).LoadNode(f.ctx, "b1"); n != nil {
				t.Fatalf("%s: the vacuumed node loads", sid)
			}
		}
	}
}
