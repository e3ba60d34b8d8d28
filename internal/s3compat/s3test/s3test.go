// Package s3test holds the tests both S3 backends run, written once: the
// conformance suite against every local server (versitygw, MinIO), direct
// checks of each server's quirks, and error-mapping checks against a fake
// server that answers with canned failures.
//
// Each backend's _test.go supplies an Opener and calls Conformance, Live
// and Faults.
package s3test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/internal/s3compat"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/objstoretest"
)

// Opener opens the backend on server srv with quirks q, sending requests
// through rt (nil: the backend's default transport).
type Opener func(t testing.TB, srv testenv.Server, q s3compat.Quirks, rt http.RoundTripper) objstore.Store

// Profile returns the quirk profile of a testenv server.
func Profile(t testing.TB, srv testenv.Server) s3compat.Quirks {
	t.Helper()
	q, err := s3compat.Profile(srv.Name)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// Prefixed returns base under a fresh prefix of the shared bucket, emptied
// of objects and uploads when t ends.
func Prefixed(t *testing.T, base objstore.Store) objstore.Store {
	prefix := testenv.UniquePrefix(t)
	t.Cleanup(func() { Clean(t, base, prefix) })
	return objstore.WithPrefix(base, prefix)
}

// Clean deletes every object and aborts every upload under prefix.
func Clean(t testing.TB, s objstore.Store, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var keys []string
	for info, err := range s.List(ctx, prefix, nil) {
		if err != nil {
			t.Errorf("s3test: clean: list %q: %v", prefix, err)
			break
		}
		keys = append(keys, info.Key)
	}
	if err := s.DeleteMany(ctx, keys); err != nil {
		t.Errorf("s3test: clean: %v", err)
	}
	for u, err := range s.ListUploads(ctx, prefix) {
		if err != nil {
			t.Errorf("s3test: clean: list uploads %q: %v", prefix, err)
			break
		}
		if err := s.AbortUpload(ctx, u.Key, u.UploadID); err != nil {
			t.Errorf("s3test: clean: %v", err)
		}
	}
}

// maxPrefixLen bounds testenv.UniquePrefix: "t/", 80 bytes of test name,
// "-", 12 hex digits, "/". The servers' 1024-byte key limit leaves the rest
// to the suite.
const maxPrefixLen = 2 + 80 + 1 + 12 + 1

// Conformance runs the objstore conformance suite against every local
// server, each case under its own prefix of the shared bucket.
func Conformance(t *testing.T, open Opener) {
	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) {
		q := Profile(t, srv)
		base := open(t, srv, q, nil)
		objstoretest.Run(t, objstoretest.Harness{
			New:                 func(t *testing.T) objstore.Store { return Prefixed(t, base) },
			Large:               !testenv.Short(),
			MaxKeyLen:           objstore.MaxKeyLen - maxPrefixLen,
			ReadsRaceOverwrites: q.OverwriteCorruptsReads,
		})
	})
}
