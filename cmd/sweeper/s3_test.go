package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/fence"
	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/internal/testenv/s3env"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/openurl"
)

// TestSweepRealServers runs the command against the local S3 servers
// (localstack/up.sh): MinIO, which ignores If-Match on DELETE, and
// versitygw. A grace of zero makes fresh orphans eligible (a real server's
// modification times cannot be backdated).
func TestSweepRealServers(t *testing.T) {
	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) {
		s3env.Env(t, srv)
		ctx := context.Background()
		storeURL := s3env.PrefixURL(t, srv)
		s, err := openurl.Open(ctx, storeURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()

		kept := seedReferenced(t, s)
		orphan := manifest.DataKey("01KBZ0RPHAN000000000000000")
		if _, err := s.Put(ctx, orphan, []byte("orphan"), nil); err != nil {
			t.Fatal(err)
		}
		stray, deadID := seedSession(t, s, time.Now)

		var out, errb bytes.Buffer
		code := run(ctx, []string{"--store", storeURL, "--grace", "0s", "--json", "--forget-dead-intents"}, func(string) string { return "" }, &out, &errb)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		var rep output
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Reclaimed[gc.KindAttachmentData] != 2 || rep.Reclaimed[gc.KindSessionObject] != 1 || rep.Reclaimed[gc.KindRefRow] != 1 {
			t.Fatalf("report: %s", out.String())
		}
		checkSessionSwept(t, s, stray, deadID)
		if _, err := s.Head(ctx, orphan); !errors.Is(err, objstore.ErrNotExist) {
			t.Fatalf("orphan after the sweep: %v", err)
		}
		if _, err := s.Head(ctx, kept); err != nil {
			t.Fatalf("referenced data after the sweep: %v", err)
		}
		snap, err := fence.New(s, nil).Load(ctx, fence.ShardOf(orphan))
		if err != nil || snap.State.Phase != fence.Idle || snap.State.Epoch != 1 {
			t.Fatalf("fence after the sweep: %+v, %v", snap.State, err)
		}

		if _, err := gc.AcquireLease(ctx, s, gc.LeaseKey(gc.Shard{}), "other", time.Hour, time.Now); err != nil {
			t.Fatal(err)
		}
		out.Reset()
		if code := run(ctx, []string{"--store", storeURL, "--grace", "0s"}, func(string) string { return "" }, &out, &errb); code != exitLeaseHeld {
			t.Fatalf("with the lease held: exit %d, want %d", code, exitLeaseHeld)
		}
	})
}

// TestNoSuchBucketExits2 runs the sweeper at a bucket that does not exist
// on each server: the configuration class (exit 2), with the JSON report's
// error naming the bucket, not "retry later" (1).
func TestNoSuchBucketExits2(t *testing.T) {
	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) {
		s3env.Env(t, srv)
		q := url.Values{"endpoint": {srv.Endpoint}, "region": {srv.Region}, "quirks": {srv.Name}}
		storeURL := "s3://no-such-bucket-stowage/x?" + q.Encode()
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"--store", storeURL, "--json"}, func(string) string { return "" }, &out, &errb)
		var rep output
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("no JSON report: %v\n%s", err, errb.String())
		}
		if code != exitUsage || rep.ExitCode != exitUsage || !strings.Contains(rep.Error, "bucket") {
			t.Fatalf("exit %d, report %+v\n%s", code, rep, errb.String())
		}
	})
}

// seedReferenced writes an attachment of session s1 through the writer
// protocol, committed, and returns its data key.
func seedReferenced(t *testing.T, s objstore.Store) string {
	t.Helper()
	ctx := context.Background()
	m := manifest.New(s, nil)
	u, err := m.BeginUpload(ctx, "s1", manifest.Owner{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, u.DataKey, []byte("kept"), nil); err != nil {
		t.Fatal(err)
	}
	id := strings.Repeat("cd", 32)
	if _, err := m.RecordRef(ctx, manifest.Intent{AttachmentID: id, SessionID: "s1"}, manifest.Info{},
		func(*manifest.Row) (manifest.Data, error) {
			return manifest.Data{Key: u.DataKey, Size: 4, StoredSize: 4}, nil
		}); err != nil {
		t.Fatal(err)
	}
	if err := m.Protect(ctx, u.DataKey); err != nil {
		t.Fatal(err)
	}
	if err := m.CommitRefs(ctx, "s1", []string{id}); err != nil {
		t.Fatal(err) // committed: not a dead intent
	}
	m.EndUpload(ctx, u)
	return u.DataKey
}

// TestDryRunWritesNothing runs sweeper --dry-run on each server through a
// proxy that records writes: there are none (on main the dry run opened the
// store read-write and probed it with PUTs and DELETEs), and it still
// reports what it would reclaim.
func TestDryRunWritesNothing(t *testing.T) {
	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) {
		s3env.Env(t, srv)
		ctx := context.Background()
		prefix := strings.TrimSuffix(testenv.UniquePrefix(t), "/")
		s, err := openurl.Open(ctx, s3env.URL(srv, "s3store", prefix), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		seedReferenced(t, s)
		seedSession(t, s, time.Now)
		watch := testenv.WatchWrites(t, srv)
		watched := srv
		watched.Endpoint = watch.Endpoint
		var out, errb bytes.Buffer
		code := run(ctx, []string{"--store", s3env.URL(watched, "s3store", prefix), "--dry-run", "--grace", "0s", "--json"},
			func(string) string { return "" }, &out, &errb)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		var rep output
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil || !rep.DryRun || rep.Total() == 0 {
			t.Fatalf("dry-run report: %v\n%s", err, out.String())
		}
		if w := watch.Writes(5); len(w) > 0 {
			t.Fatalf("the dry run sent writes: %q", w)
		}
	})
}

// TestNoStoreAtURL: the sweeper and its dry run at a target that holds no
// stowage store (a typo in the prefix) exit 2 with "no stowage store at
// URL" in the JSON report, on a file store and on each server, without a
// write (the sweeper without --dry-run used to probe the prefix with PUTs
// and DELETEs before refusing it); on main they reported "scanned 0" and
// exited 0.
func TestNoStoreAtURL(t *testing.T) {
	check := func(t *testing.T, storeURL string) {
		for _, extra := range [][]string{nil, {"--dry-run"}} {
			var out, errb bytes.Buffer
			code := run(context.Background(), append([]string{"--store", storeURL, "--json"}, extra...), func(string) string { return "" }, &out, &errb)
			var rep output
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				t.Fatal(err)
			}
			if code != exitUsage || rep.ExitCode != exitUsage || !strings.Contains(rep.Error, "no stowage store at") {
				t.Fatalf("%v at %s: exit %d, report %+v\n%s", extra, storeURL, code, rep, errb.String())
			}
		}
	}
	t.Run("file", func(t *testing.T) { check(t, "file://"+t.TempDir()) })
	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) {
		s3env.Env(t, srv)
		q := url.Values{"endpoint": {srv.Endpoint}, "region": {srv.Region}, "quirks": {srv.Name}}
		prefix := strings.TrimSuffix(testenv.UniquePrefix(t), "/")
		s, err := openurl.Open(context.Background(), "s3://"+srv.Bucket+"/"+prefix+"?"+q.Encode(), nil)
		if err != nil {
			t.Fatal(err)
		}
		seedReferenced(t, s)
		s.Close()
		watch := testenv.WatchWrites(t, srv)
		q.Set("endpoint", watch.Endpoint)
		check(t, "s3://"+srv.Bucket+"/"+prefix+"-typo?"+q.Encode())
		if w := watch.Writes(5); len(w) > 0 {
			t.Fatalf("the sweeper wrote at a target with no store: %q", w)
		}
	})
}
