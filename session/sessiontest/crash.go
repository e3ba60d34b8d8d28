package sessiontest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stowage-dev/stowage/session"
)

var faultTests = append([]namedTest{
	{"CrashAtEveryCommitStep", testCrashAtEveryCommitStep},
	{"CrashAtEveryDeleteStep", testCrashAtEveryDeleteStep},
	{"CrashAtEveryVacuumStep", testCrashAtEveryVacuumStep},
}, ambiguousTests...)

// crashBase builds a session whose next commit flushes its tail and merges
// a segment (FlushDeltas 2), and returns the model of its graph.
func crashBase(f *fixture, sid string) *model {
	f.t.Helper()
	var m model
	s := f.open(sid)
	parent := ""
	for i := 0; i < 4; i++ {
		c := appendCommit(sid, uint64(i), parent, fmt.Sprintf("b%d", i))
		c.TurnCommit = stamp(sid, fmt.Sprintf("base-%d", i), "h")
		f.mustCommit(s, c)
		m.apply(c.Graph)
		parent = fmt.Sprintf("b%d", i)
	}
	return &m
}

// crashCommit is the commit under test: a flush with a merge, a blob, an
// outbox batch and a node.
func crashCommit(sid string) session.RuntimeCommit {
	c := appendCommit(sid, 4, "b3", "victim")
	c.TurnCommit = stamp(sid, "victim-turn", "victim-hash")
	c.Checkpoint = &session.HydratedCheckpoint{ExecutionState: bigBytes(20_000, 5)}
	c.EnqueuedQueueBatches = []session.QueuedWorkBatchDraft{{SessionID: sid}}
	return c
}

func testCrashAtEveryCommitStep(t *testing.T, f *fixture) {
	f.tuning.FlushDeltas = 2
	for _, mode := range []FaultMode{FaultFail, FaultCrash, FaultLostResponse, FaultCrashAfter} {
		for n := 1; ; n++ {
			sid := fmt.Sprintf("crash-%s-%d", mode, n)
			m := crashBase(f, sid)
			before := *m
			c := crashCommit(sid)
			after := *m
			after.order = append([]string(nil), m.order...)
			after.nodes = map[string]session.NodeRecord{}
			for k, v := range m.nodes {
				after.nodes[k] = v
			}
			after.apply(c.Graph)

			fs := NewFaultStore(f.env.Store, n, mode)
			_, err := f.open(sid, fs).CommitRuntimeState(f.ctx, c)
			if !fs.Fired() {
				if err != nil {
					t.Fatalf("%s: commit without a fault: %v", sid, err)
				}
				if n < 4 {
					t.Fatalf("%s: the commit made only %d mutating calls (%v); the test expects blob, segment, index and head", sid, n-1, fs.Ops())
				}
				break
			}
			fresh := f.open(sid)
			r, lerr := fresh.LoadSession(f.ctx, session.FullGraph())
			if lerr != nil {
				t.Fatalf("%s (ops %v): unreadable after the fault: %v", sid, fs.Ops(), lerr)
			}
			switch {
			case r.HeadRevision == 4:
				before.check(t, f, fresh, sid+" at revision 4")
			case r.HeadRevision == 5:
				after.check(t, f, fresh, sid+" at revision 5")
			default:
				t.Fatalf("%s: revision %d", sid, r.HeadRevision)
			}
			if err == nil && r.HeadRevision != 5 {
				t.Fatalf("%s: commit reported success but revision is %d", sid, r.HeadRevision)
			}
			if err != nil && r.HeadRevision == 5 && !errors.Is(err, session.ErrCommitOutcomeUnknown) {
				t.Fatalf("%s: commit landed but reported %v", sid, err)
			}
			// The retry with the same stamp settles it exactly once.
			res, err := f.open(sid).CommitRuntimeState(f.ctx, c)
			if err != nil || res.HeadRevision != 5 {
				t.Fatalf("%s: retry: %+v %v", sid, res, err)
			}
			after.check(t, f, f.open(sid), sid+" after retry")
			if q, _ := fresh.ListQueuedWork(f.ctx); len(q) != 1 {
				t.Fatalf("%s: outbox applied %d times", sid, len(q))
			}
		}
	}
}

func testCrashAtEveryDeleteStep(t *testing.T, f *fixture) {
	f.tuning.FlushDeltas = 2
	for _, mode := range []FaultMode{FaultCrash, FaultCrashAfter} {
		for n := 1; ; n++ {
			sid := fmt.Sprintf("del-%s-%d", mode, n)
			m := crashBase(f, sid)
			fs := NewFaultStore(f.env.Store, n, mode)
			err := f.open(sid, fs).Delete(f.ctx)
			if !fs.Fired() {
				if err != nil {
					t.Fatalf("%s: delete: %v", sid, err)
				}
				break
			}
			fresh := f.open(sid)
			r, lerr := fresh.LoadSession(f.ctx, session.FullGraph())
			if lerr != nil {
				t.Fatalf("%s: unreadable after a crashed delete: %v", sid, lerr)
			}
			if r != nil {
				m.check(t, f, fresh, sid+" (not deleted)")
			}
			if err := f.open(sid).Delete(f.ctx); err != nil {
				t.Fatalf("%s: delete retry: %v", sid, err)
			}
			if r := f.load(f.open(sid), session.FullGraph()); r != nil {
				t.Fatalf("%s: still there after delete", sid)
			}
		}
	}
}
