package gc

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

// dryRunFixture is the reviewer's bucket: a committed attachment; a
// sealed-but-uncommitted attachment (put by turn "turn-a" of session
// "sess", whose turn "turn-b" committed after it: its owner is dead); a
// raw orphan under attach/data/; an aged aborted upload intent whose data
// was uploaded; and an aged aborted upload intent with an open multipart
// upload under its data key (its writer blocked until unblock is called).
func (e *env) dryRunFixture() (unblock func()) {
	e.t.Helper()
	e.attach("s1", []byte("kept"))
	a, err := attach.New(e.m, "sess", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := a.Put(attach.WithOwner(e.ctx, manifest.TurnOwner("turn-a")), bytes.NewReader([]byte("sealed")), attach.PutOptions{}); err != nil {
		e.t.Fatal(err)
	}
	e.advance(time.Second)
	h, err := session.New(session.Config{Store: e.store, SessionID: "sess", Manifest: e.m, Hook: e.m, Now: e.clock})
	if err != nil {
		e.t.Fatal(err)
	}
	var zero uint64
	if _, err := h.CommitRuntimeState(e.ctx, session.RuntimeCommit{SessionID: "sess", ExpectedHeadRevision: &zero,
		Graph:      session.GraphDelta{Kind: session.DeltaKeep},
		TurnCommit: &session.TurnCommitStamp{SessionID: "sess", TurnID: "turn-b", TurnCommitHash: "h"}}); err != nil {
		e.t.Fatal(err)
	}
	e.orphan()
	aborted := func() manifest.Upload {
		u, err := e.m.BeginUpload(e.ctx, "sess", manifest.ProcessOwner("p1"), "")
		if err != nil {
			e.t.Fatal(err)
		}
		if err := e.m.AbandonUpload(e.ctx, u); err != nil {
			e.t.Fatal(err)
		}
		return u
	}
	if _, err := e.store.Put(e.ctx, aborted().DataKey, []byte("abandoned"), nil); err != nil {
		e.t.Fatal(err)
	}
	block, started, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		_, err := e.store.Upload(e.ctx, aborted().DataKey, &blockingReader{data: []byte("parts"), started: started, block: block}, nil)
		done <- err
	}()
	<-started
	return func() {
		close(block)
		<-done
	}
}

// listing is everything a bucket holds: each object with its ETag, size
// and time, and each incomplete multipart upload.
func listing(ctx context.Context, st objstore.Store) ([]string, error) {
	var out []string
	for info, err := range st.List(ctx, "", nil) {
		if err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprintf("%s %s %d %s", info.Key, info.ETag, info.Size, info.ModTime))
	}
	for u, err := range st.ListUploads(ctx, "") {
		if err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprintf("upload %s %s %s", u.Key, u.UploadID, u.Initiated))
	}
	return out, nil
}

func (e *env) listing() []string {
	e.t.Helper()
	out, err := listing(e.ctx, e.store)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// TestDryRunMatchesTheSweep: on the reviewer's bucket (dryRunFixture), a
// dry run and then the sweep at the same clock with no grace reclaim, of
// every kind, as many objects and bytes, and the dry run writes nothing.
// Before, the dry run counted neither the aborted intents the sweep
// forgets, nor the data and the multipart upload that forgetting them and
// the dead row frees in the same sweep.
func TestDryRunMatchesTheSweep(t *testing.T) {
	e := newEnv(t)
	unblock := e.dryRunFixture()
	e.advance(time.Minute)
	sweep := func(dry bool) Report {
		sw := e.sweeper()
		sw.Grace, sw.DryRun, sw.ForgetDeadIntents = 0, dry, true
		rep, err := sw.Run(e.ctx)
		if err != nil {
			t.Fatalf("dry run %v: %v", dry, err)
		}
		return rep
	}
	before := e.listing()
	dry := sweep(true)
	if after := e.listing(); !slices.Equal(before, after) {
		t.Fatalf("the dry run wrote:\nbefore %q\nafter  %q", before, after)
	}
	real := sweep(false)
	for u, err := range e.store.ListUploads(e.ctx, "") {
		t.Errorf("after the sweep: upload %+v, %v; want it aborted", u, err)
	}
	unblock()
	want := map[Kind]int64{KindAttachmentData: 3, KindRefRow: 1, KindUploadIntent: 2, KindMultipart: 1}
	if !maps.Equal(real.Reclaimed, want) {
		t.Errorf("the sweep reclaimed %v, want %v", real.Reclaimed, want)
	}
	if !maps.Equal(dry.Reclaimed, real.Reclaimed) || dry.BytesReclaimed != real.BytesReclaimed || dry.Roots != real.Roots {
		t.Errorf("the dry run would reclaim %v (%d bytes, %d roots), the sweep reclaimed %v (%d bytes, %d roots)",
			dry.Reclaimed, dry.BytesReclaimed, dry.Roots, real.Reclaimed, real.BytesReclaimed, real.Roots)
	}
	if dry.Deferred+real.Deferred+dry.Failed+real.Failed != 0 {
		t.Errorf("deferred or failed: dry run %+v, sweep %+v", dry, real)
	}
}
