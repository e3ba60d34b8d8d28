package sessiontest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage/session"
)

var faultTests = append([]namedTest{
	{"CrashAtEveryCommitStep", testCrashAtEveryCommitStep},
	{"CrashAtEveryDeleteStep", testCrashAtEveryDeleteStep},
	{"CrashAtEveryBackgroundFlushStep", testCrashAtEveryBackgroundFlushStep},
	{"CrashAtEveryVacuumStep", testCrashAtEveryVacuumStep},
}, ambiguousTests...)

// crashBase builds a session whose next commit flushes its tail before its
// head PUT (FlushDeltas 2: a tail of 4 deltas is at twice the threshold),
// and returns the model of its graph. Each commit is made by a new handle,
// so no background flush is adopted (they stay unnamed, for the sweeper).
func crashBase(f *fixture, sid string) *model {
	f.t.Helper()
	var m model
	parent := ""
	for i := 0; i < 4; i++ {
		c := appendCommit(sid, uint64(i), parent, fmt.Sprintf("b%d", i))
		c.TurnCommit = stamp(sid, fmt.Sprintf("base-%d", i), "h")
		f.mustCommit(f.open(sid), c)
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

// testCrashAtEveryBackgroundFlushStep: commit A fills the tail (FlushDeltas
// 2), so its handle writes the tail's segment and index in the background
// after A's head PUT; commit B names that segment instead of the deltas.
// A fault at every mutating call of that handle (A's head, the segment, the
// index, B's head, the deletes) in every mode must leave the session
// loadable at revision 1, 2 or 3 with the right graph and every object its
// head names present; a reported success must have landed; retries with
// the same stamps settle both commits exactly once.
func testCrashAtEveryBackgroundFlushStep(t *testing.T, f *fixture) {
	f.tuning.FlushDeltas = 2
	for _, mode := range []FaultMode{FaultFail, FaultCrash, FaultLostResponse, FaultCrashAfter} {
		for n := 1; ; n++ {
			sid := fmt.Sprintf("bgflush-%s-%d", mode, n)
			f.mustCommit(f.open(sid), appendCommit(sid, 0, "", "a0"))
			commits := []session.RuntimeCommit{appendCommit(sid, 1, "a0", "a1"), appendCommit(sid, 2, "a1", "a2")}
			for i := range commits {
				commits[i].TurnCommit = stamp(sid, fmt.Sprintf("turn-%d", i), "h")
			}
			fs := NewFaultStore(f.env.Store, n, mode)
			h := f.open(sid, fs)
			var errs [2]error
			for i, c := range commits {
				_, errs[i] = h.CommitRuntimeState(f.ctx, c)
				h.WaitCompaction()
			}
			if !fs.Fired() {
				if errs[0] != nil || errs[1] != nil {
					t.Fatalf("%s: commits without a fault: %v, %v", sid, errs[0], errs[1])
				}
				if !slices.ContainsFunc(fs.Ops(), func(op string) bool { return strings.Contains(op, "/seg/") }) {
					t.Fatalf("%s: no segment was written (%v)", sid, fs.Ops())
				}
				break
			}
			r := f.checkNamed(sid, nil)
			want := []string{"a0", "a1", "a2"}[:r.HeadRevision]
			f.wantIDs(fmt.Sprintf("%s (ops %v) at revision %d", sid, fs.Ops(), r.HeadRevision), nodeIDs(r.Graph), want)
			for i, err := range errs {
				if err == nil && r.HeadRevision < uint64(i+2) {
					t.Fatalf("%s: commit %d reported success but the revision is %d", sid, i, r.HeadRevision)
				}
			}
			for _, c := range commits {
				if _, err := f.open(sid).CommitRuntimeState(f.ctx, c); err != nil {
					t.Fatalf("%s: retry: %v", sid, err)
				}
			}
			r = f.checkNamed(sid, nil)
			if r.HeadRevision != 3 {
				t.Fatalf("%s: revision %d after the retries", sid, r.HeadRevision)
			}
			f.wantIDs(sid+" after the retries", nodeIDs(r.Graph), []string{"a0", "a1", "a2"})
		}
	}
}
