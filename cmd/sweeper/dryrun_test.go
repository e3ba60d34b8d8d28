package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/internal/s3compat/s3test"
	"github.com/stowage-dev/stowage/internal/testclock"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/internal/testenv/s3env"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/fsstore"
	"github.com/stowage-dev/stowage/objstore/openurl"
	"github.com/stowage-dev/stowage/session"
)

// reviewerFixture writes the reviewer's bucket on s, its stamps by clock
// (before the sweeps' now, so that all of it is past a grace of 0s): a
// committed attachment; a session with an object its head does not name
// and a dead ownerless row (seedSession); a sealed but uncommitted
// attachment put by turn "turn-a" of session "turns", whose turn "turn-b"
// committed after it (its owner is dead); a raw orphan under attach/data/;
// an aborted upload intent whose data was uploaded; and an aborted upload
// intent whose data key the caller leaves an open multipart upload under
// (the returned key).
func reviewerFixture(t *testing.T, s objstore.Store, clock *testclock.Clock) (multipartKey string) {
	t.Helper()
	ctx := context.Background()
	seedReferenced(t, s)
	seedSession(t, s, clock.Now)
	m := manifest.New(s, &manifest.Options{Now: clock.Now})
	a, err := attach.New(m, "turns", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Put(attach.WithOwner(ctx, manifest.TurnOwner("turn-a")), strings.NewReader("sealed"), attach.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	h, err := session.New(session.Config{Store: s, SessionID: "turns", Manifest: m, Hook: m, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	var zero uint64
	if _, err := h.CommitRuntimeState(ctx, session.RuntimeCommit{SessionID: "turns", ExpectedHeadRevision: &zero,
		Graph:      session.GraphDelta{Kind: session.DeltaKeep},
		TurnCommit: &session.TurnCommitStamp{SessionID: "turns", TurnID: "turn-b", TurnCommitHash: "h"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, manifest.DataKey("01KBZ0RPHAN000000000000000"), []byte("orphan"), nil); err != nil {
		t.Fatal(err)
	}
	aborted := func() string {
		u, err := m.BeginUpload(ctx, "turns", manifest.ProcessOwner("p1"), "")
		if err != nil {
			t.Fatal(err)
		}
		if err := m.AbandonUpload(ctx, u); err != nil {
			t.Fatal(err)
		}
		return u.DataKey
	}
	if _, err := s.Put(ctx, aborted(), []byte("abandoned"), nil); err != nil {
		t.Fatal(err)
	}
	return aborted()
}

// reviewerReclaims is what the sweep reclaims on reviewerFixture: the data
// of the dead row and of the sealed attachment, the orphan and the aborted
// intent's data; both dead rows; both aborted intents; the multipart
// upload; the unnamed session object.
var reviewerReclaims = map[gc.Kind]int64{gc.KindAttachmentData: 4, gc.KindRefRow: 2, gc.KindUploadIntent: 2,
	gc.KindMultipart: 1, gc.KindSessionObject: 1}

// listing is everything s holds: each object with its ETag, size and
// time, and each incomplete multipart upload.
func listing(t *testing.T, s objstore.Store) []string {
	t.Helper()
	var out []string
	for info, err := range s.List(context.Background(), "", nil) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %s %d %s", info.Key, info.ETag, info.Size, info.ModTime))
	}
	for u, err := range s.ListUploads(context.Background(), "") {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("upload %s %s %s", u.Key, u.UploadID, u.Initiated))
	}
	return out
}

// dryThenReal runs the sweeper with --dry-run at dryURL, then without at
// storeURL, both with --grace 0s, and fails unless the dry run changed
// nothing s lists (nor what unchanged checks, called after it) and counted
// every kind the sweep reclaimed, as many of each and as many bytes, and
// the sweep reclaimed reviewerReclaims.
func dryThenReal(t *testing.T, s objstore.Store, storeURL, dryURL string, unchanged func()) {
	t.Helper()
	before := listing(t, s)
	dry, text := sweepJSON(t, dryURL, "--dry-run")
	if after := listing(t, s); !slices.Equal(before, after) {
		t.Fatalf("the dry run wrote:\nbefore %q\nafter  %q\n%s", before, after, text)
	}
	unchanged()
	real, text := sweepJSON(t, storeURL)
	sameReclaimed(t, dry, real)
	if !maps.Equal(real.Reclaimed, reviewerReclaims) {
		t.Errorf("the sweep reclaimed %v, want %v\n%s", real.Reclaimed, reviewerReclaims, text)
	}
	for u, err := range s.ListUploads(context.Background(), "") {
		t.Errorf("after the sweep: upload %+v, %v; want it aborted", u, err)
	}
}

// stalledReader yields its data, then, on the next read, closes started
// and blocks until block is closed: a writer stalled in a multipart upload.
type stalledReader struct {
	data           []byte
	started, block chan struct{}
}

func (r *stalledReader) Read(p []byte) (int, error) {
	if len(r.data) > 0 {
		n := copy(p, r.data)
		r.data = r.data[n:]
		return n, nil
	}
	close(r.started)
	<-r.block
	return 0, io.ErrUnexpectedEOF
}

// TestDryRunMatchesTheSweepOnEachStore: on the reviewer's bucket
// (reviewerFixture), on a file store and on each server, a dry run and
// then the sweep, both with --grace 0s, reclaim of every kind as many
// objects and bytes, and the dry run changes nothing the store lists (on a
// server it sends no write either, and on a file store no file of the
// directory changes). Before, the dry run counted neither the aborted
// intents nor the data, the multipart upload and the rows' data that
// forgetting frees in the same sweep.
func TestDryRunMatchesTheSweepOnEachStore(t *testing.T) {
	t.Run("file", func(t *testing.T) {
		dir := t.TempDir()
		clock := testclock.New()
		s, err := fsstore.Open(dir, &fsstore.Options{Clock: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		key := reviewerFixture(t, s, clock)
		started, block, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			_, err := s.Upload(context.Background(), key, &stalledReader{data: []byte("parts"), started: started, block: block}, nil)
			done <- err
		}()
		<-started
		defer func() { close(block); <-done }()
		files := tree(t, dir)
		url := "file://" + dir
		dryThenReal(t, s, url, url, func() {
			if after := tree(t, dir); !reflect.DeepEqual(files, after) {
				t.Fatalf("the dry run changed the directory:\nbefore %q\nafter  %q", files, after)
			}
		})
	})
	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) {
		s3env.Env(t, srv)
		prefix := strings.TrimSuffix(testenv.UniquePrefix(t), "/")
		s, err := openurl.Open(context.Background(), s3env.URL(srv, "s3store", prefix), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		key := reviewerFixture(t, s, testclock.New())
		s3test.OrphanUpload(t, srv, prefix+"/"+key, 1000, 2345)
		watch := testenv.WatchWrites(t, srv)
		watched := srv
		watched.Endpoint = watch.Endpoint
		dryThenReal(t, s, s3env.URL(srv, "s3store", prefix), s3env.URL(watched, "s3store", prefix), func() {
			if w := watch.Writes(5); len(w) > 0 {
				t.Fatalf("the dry run sent writes: %q", w)
			}
		})
	})
}
