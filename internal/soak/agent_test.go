package soak

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/fsck"
	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/session"
)

// TestAgentRoundTrip commits a few turns with attachments on a file store,
// reads them back, and checks that fsck finds the bucket clean and a sweep
// finds nothing to reclaim.
func TestAgentRoundTrip(t *testing.T) {
	ctx := context.Background()
	st, err := stowage.Open(ctx, "file://"+t.TempDir(), stowage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sess, err := st.Session("agent-1")
	if err != nil {
		t.Fatal(err)
	}
	att, err := attach.New(st.Manifest(), "agent-1", &attach.Options{PartSize: 5 << 20})
	if err != nil {
		t.Fatal(err)
	}
	a := NewAgent(sess, att)
	specs := []TurnSpec{
		{TurnID: "t1", Nodes: 3, NodeBytes: 100},
		{TurnID: "t2", Nodes: 2, NodeBytes: 2000, Attachments: []AttachmentSpec{{Size: 10, Seed: 1}, {Size: 11 << 20, Seed: 2}}},
		{TurnID: "t3", Nodes: 1, NodeBytes: 10, Attachments: []AttachmentSpec{{Size: 0, Seed: 3}, {Size: 5000, Seed: 1, MediaType: "text/plain"}}},
	}
	for _, s := range specs {
		if _, err := a.Turn(ctx, s); err != nil {
			t.Fatalf("turn %s: %v", s.TurnID, err)
		}
	}
	got, err := Verify(ctx, sess, att, a.Acked(), false)
	if err != nil {
		t.Fatal(err)
	}
	if got.Revision != 3 || got.Nodes != 6 || got.Attachments != 4 {
		t.Fatalf("read back %+v", got)
	}
	rep, err := fsck.Check(ctx, st, &fsck.Options{Grace: time.Nanosecond, Deep: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Clean() {
		t.Fatalf("fsck: %v", rep.Problems)
	}
	t.Logf("fsck: %+v orphans %v", rep.Counts, rep.Orphans)
	sw := &gc.Sweeper{Store: st.Objects(), Manifest: st.Manifest(), Grace: time.Nanosecond}
	srep, err := sw.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sweep: %+v", srep)
}

// TestMadeEventsAreTheSame: a turn whose events were made before the
// commit (TurnSpec.Events, as the bench makes them untimed) commits the
// same nodes as the turn that makes them in the commit call.
func TestMadeEventsAreTheSame(t *testing.T) {
	ctx := context.Background()
	st, err := stowage.Open(ctx, "mem://", stowage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var graphs [2][]session.NodeRecord
	for i, sid := range []string{"made-in-commit", "made-before"} {
		sess, err := st.Session(sid)
		if err != nil {
			t.Fatal(err)
		}
		a := NewAgent(sess, nil)
		spec := TurnSpec{TurnID: "t1", Nodes: 3, NodeBytes: 300}
		if i == 1 {
			spec.Events = NodeEvents(spec)
		}
		if _, err := a.Commit(ctx, spec, nil); err != nil {
			t.Fatal(err)
		}
		read, err := sess.LoadSession(ctx, session.FullGraph())
		if err != nil {
			t.Fatal(err)
		}
		graphs[i] = read.Graph.Nodes
	}
	if len(graphs[0]) != 3 || !reflect.DeepEqual(graphs[0], graphs[1]) {
		t.Fatalf("made in the commit:\n%+v\nmade before:\n%+v", graphs[0], graphs[1])
	}
}
