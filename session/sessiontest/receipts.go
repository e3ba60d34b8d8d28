package sessiontest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

var receiptTests = []namedTest{
	{"IdenticalRetry", testIdenticalRetry},
	{"RetryReleasesCompletionOnly", testRetryReleasesCompletionOnly},
}

func testIdenticalRetry(t *testing.T, f *fixture) {
	s := f.open("idem")
	c := appendCommit("idem", 0, "", "a")
	c.TurnCommit = stamp("idem", "turn-1", "hash-1")
	c.Checkpoint = &session.HydratedCheckpoint{ExecutionState: []byte("state-1")}
	c.EnqueuedQueueBatches = []session.QueuedWorkBatchDraft{{SessionID: "idem"}}
	first := f.mustCommit(s, c)

	// The revision is not part of the identity: a retry expecting anything
	// returns the stored result, even after the head moved on.
	f.mustCommit(s, appendCommit("idem", 1, "a", "b"))
	c.ExpectedHeadRevision = rev(1)
	for _, h := range []*session.Store{s, f.open("idem")} {
		again, err := h.CommitRuntimeState(f.ctx, c)
		if err != nil {
			t.Fatalf("identical retry: %v", err)
		}
		if again.HeadRevision != 1 || again.CheckpointRef != first.CheckpointRef ||
			len(again.EnqueuedQueueBatches) != 1 || again.EnqueuedQueueBatches[0].BatchID != first.EnqueuedQueueBatches[0].BatchID {
			t.Fatalf("retry result %+v, want %+v", again, first)
		}
	}
	if r := f.load(s, session.FullGraph()); r.HeadRevision != 2 {
		t.Fatalf("retry applied something: revision %d", r.HeadRevision)
	}
	if q, _ := s.ListQueuedWork(f.ctx); len(q) != 1 {
		t.Fatalf("retry enqueued again: %d batches", len(q))
	}
	c.TurnCommit = stamp("idem", "turn-1", "hash-2")
	_, err := s.CommitRuntimeState(f.ctx, c)
	var tc *session.TurnCommitConflictError
	if !errors.As(err, &tc) || tc.TurnID != "turn-1" || tc.SessionID != "idem" {
		t.Fatalf("same turn, new hash: %v", err)
	}
	c.TurnCommit = stamp("other", "turn-9", "h")
	if _, err := s.CommitRuntimeState(f.ctx, c); !errors.Is(err, session.ErrTurnCommitConflict) {
		t.Fatalf("stamp of another session: %v", err)
	}
}

func testRetryReleasesCompletionOnly(t *testing.T, f *fixture) {
	s := f.open("rel")
	owner := session.LeaseOwner{OwnerID: "w", IncarnationID: "i"}
	out, err := s.TryClaimSessionExecutionLease(f.ctx, owner, time.Minute)
	if err != nil || out.Acquired == nil {
		t.Fatal(out, err)
	}
	fence := out.Acquired.Fence()
	c := appendCommit("rel", 0, "", "a")
	c.TurnCommit = stamp("rel", "t1", "h1")
	c.SessionExecutionLease = &fence
	f.mustCommit(s, c)
	// Retry without a fence but with the completion: returns the receipt
	// and releases the lease.
	c.SessionExecutionLease, c.ReleaseSessionExecutionLease = nil, &fence
	if res := f.mustCommit(f.open("rel"), c); res.HeadRevision != 1 {
		t.Fatalf("retry result %+v", res)
	}
	got, err := s.TryClaimSessionExecutionLease(f.ctx, session.LeaseOwner{OwnerID: "w2", IncarnationID: "i"}, time.Minute)
	if err != nil || got.Acquired == nil || got.Acquired.FencingToken != 2 {
		t.Fatalf("lease not released by the retry: %+v %v", got, err)
	}
	// The original holder retrying under its old fence still learns its
	// own receipt, but a fence that never committed this turn is refused.
	c.SessionExecutionLease, c.ReleaseSessionExecutionLease = &fence, nil
	if res, err := s.CommitRuntimeState(f.ctx, c); err != nil || res.HeadRevision != 1 {
		t.Fatalf("own receipt under an old fence: %+v %v", res, err)
	}
	stale := fence
	stale.LeaseToken = "not-the-token"
	c.SessionExecutionLease = &stale
	if _, err := s.CommitRuntimeState(f.ctx, c); !errors.Is(err, session.ErrSessionExecutionLeaseExpired) {
		t.Fatalf("stale fence: %v", err)
	}
}

// ambiguousTests exercise lost responses on the head write.
var ambiguousTests = []namedTest{
	{"LostResponseReportedOnce", testLostResponse},
	{"UndecidableThenRetry", testUndecidableThenRetry},
	{"NotLandedThenRetry", testNotLandedThenRetry},
	{"MixedTuningLostResponse", testMixedTuningLostResponse},
}

// othersFirst is a store whose head PUT lands, then lets others write
// (others), then reports a lost response: the read-back sees the head
// moved on by writes the caller did not make.
type othersFirst struct {
	objstore.Store
	key    string
	others func()
	once   sync.Once
}

func (o *othersFirst) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	info, err := o.Store.Put(ctx, key, data, opts)
	if key != o.key || err != nil {
		return info, err
	}
	fired := false
	o.once.Do(func() { o.others(); fired = true })
	if !fired {
		return info, err
	}
	return objstore.ObjectInfo{}, fmt.Errorf("%w: response lost", objstore.ErrOutcomeUnknown)
}

// testMixedTuningLostResponse: a default handle's commit lands, its
// response is lost, and before it reads the head back a handle tuned to
// remember 2 write ids writes 8 times. The default handle must report its
// own landed commit as the success it was, never take it for lost (a
// conflict, or a second application): the recent-write window is the
// head's, and a handle tuned smaller never shortens it.
func testMixedTuningLostResponse(t *testing.T, f *fixture) {
	const sid = "mixed"
	f.mustCommit(f.open(sid), appendCommit(sid, 0, "", "a"))
	small := f.tuning
	small.RecentWrites = 2
	f.tuning, small = small, f.tuning
	s2 := f.open(sid)
	f.tuning = small
	o := &othersFirst{Store: f.env.Store, key: session.HeadKey(sid), others: func() {
		for i := range 8 {
			if err := s2.SaveSessionMeta(f.ctx, session.SessionMeta{SessionID: sid, SessionName: fmt.Sprint("name ", i)}); err != nil {
				t.Errorf("small handle write %d: %v", i, err)
			}
		}
	}}
	res, err := f.open(sid, o).CommitRuntimeState(f.ctx, appendCommit(sid, 1, "a", "b"))
	if err != nil || res.HeadRevision != 2 {
		t.Fatalf("landed commit behind a small-tuned handle's writes: %+v, %v", res, err)
	}
	r := f.load(f.open(sid), session.FullGraph())
	if r.HeadRevision != 2 {
		t.Fatalf("revision %d, want 2", r.HeadRevision)
	}
	f.wantIDs("graph", nodeIDs(r.Graph), []string{"a", "b"})
}

func testLostResponse(t *testing.T, f *fixture) {
	f.mustCommit(f.open("amb"), appendCommit("amb", 0, "", "a"))
	fs := NewFaultStore(f.env.Store, 1, FaultLostResponse) // the head PUT
	s := f.open("amb", fs)
	c := appendCommit("amb", 1, "a", "b")
	c.TurnCommit = stamp("amb", "t", "h")
	res, err := s.CommitRuntimeState(f.ctx, c)
	if err != nil || !fs.Fired() || res.HeadRevision != 2 {
		t.Fatalf("lost response: fired=%v res=%+v err=%v (ops %v)", fs.Fired(), res, err, fs.Ops())
	}
	again := f.mustCommit(f.open("amb"), c)
	if again.HeadRevision != 2 {
		t.Fatalf("retry %+v", again)
	}
	r := f.load(f.open("amb"), session.FullGraph())
	if r.HeadRevision != 2 {
		t.Fatalf("revision %d, want 2", r.HeadRevision)
	}
	f.wantIDs("graph", nodeIDs(r.Graph), []string{"a", "b"})

	// Without a turn stamp only the read-back can tell: the commit must
	// still be reported as the success it was, not as a conflict.
	fs = NewFaultStore(f.env.Store, 1, FaultLostResponse)
	res, err = f.open("amb", fs).CommitRuntimeState(f.ctx, appendCommit("amb", 2, "b", "c"))
	if err != nil || !fs.Fired() || res.HeadRevision != 3 {
		t.Fatalf("unstamped lost response: fired=%v res=%+v err=%v", fs.Fired(), res, err)
	}
	f.wantIDs("graph", nodeIDs(f.load(f.open("amb"), session.FullGraph()).Graph), []string{"a", "b", "c"})
}

func testUndecidableThenRetry(t *testing.T, f *fixture) {
	f.mustCommit(f.open("und"), appendCommit("und", 0, "", "a"))
	fs := NewFaultStore(f.env.Store, 1, FaultCrashAfter) // PUT lands, then nothing answers
	c := appendCommit("und", 1, "a", "b")
	c.TurnCommit = stamp("und", "t", "h")
	_, err := f.open("und", fs).CommitRuntimeState(f.ctx, c)
	if !errors.Is(err, session.ErrCommitOutcomeUnknown) || !errors.Is(err, objstore.ErrOutcomeUnknown) {
		t.Fatalf("undecidable outcome: %v", err)
	}
	res := f.mustCommit(f.open("und"), c)
	if res.HeadRevision != 2 {
		t.Fatalf("retry after a landed write: %+v", res)
	}
	r := f.load(f.open("und"), session.FullGraph())
	if r.HeadRevision != 2 {
		t.Fatalf("revision %d", r.HeadRevision)
	}
	f.wantIDs("graph", nodeIDs(r.Graph), []string{"a", "b"})
}

func testNotLandedThenRetry(t *testing.T, f *fixture) {
	f.mustCommit(f.open("nl"), appendCommit("nl", 0, "", "a"))
	fs := NewFaultStore(f.env.Store, 1, FaultCrash)
	c := appendCommit("nl", 1, "a", "b")
	c.TurnCommit = stamp("nl", "t", "h")
	if _, err := f.open("nl", fs).CommitRuntimeState(f.ctx, c); err == nil {
		t.Fatalf("commit through a crashed store succeeded")
	}
	res := f.mustCommit(f.open("nl"), c)
	if res.HeadRevision != 2 {
		t.Fatalf("retry %+v", res)
	}
	again := f.mustCommit(f.open("nl"), c)
	if again.HeadRevision != 2 {
		t.Fatalf("second retry %+v", again)
	}
	f.wantIDs("graph", nodeIDs(f.load(f.open("nl"), session.FullGraph()).Graph), []string{"a", "b"})
}
