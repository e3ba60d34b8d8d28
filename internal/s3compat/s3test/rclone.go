package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/stowage-dev/stowage/internal/s3compat"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/objstoretest"
)

// The quirks first measured on rclone serve s3. Each check runs on every
// server: a store opened without the quirk shows whether the server has
// the behaviour, the profile must agree, and the store with the profile
// must not show it.

// liveListUploadsMissing: on a bucket where no multipart upload was ever
// created, ListMultipartUploads answers an empty listing, or NoSuchUpload
// (ListUploadsMissingIsEmpty).
func liveListUploadsMissing(t *testing.T, open Opener, srv testenv.Server, q s3compat.Quirks) {
	fresh := freshBucket(t, srv)
	raw := q
	raw.ListUploadsMissingIsEmpty = false
	ups, err := objstoretest.ListAllUploads(t.Context(), open(t, fresh, raw, nil), "")
	t.Logf("ListMultipartUploads on a bucket without uploads: %d uploads, %v", len(ups), err)
	missing := errors.Is(err, objstore.ErrNotExist)
	switch {
	case err != nil && !missing:
		t.Fatalf("list uploads of a fresh bucket: %v", err)
	case missing != q.ListUploadsMissingIsEmpty:
		t.Errorf("server answers NoSuchUpload: %v; profile %s says ListUploadsMissingIsEmpty=%v", missing, q.Name, q.ListUploadsMissingIsEmpty)
	}
	if ups, err := objstoretest.ListAllUploads(t.Context(), open(t, fresh, q, nil), ""); err != nil || len(ups) != 0 {
		t.Errorf("store with profile %s: %+v, %v; want no uploads and no error", q.Name, ups, err)
	}
}

// liveEmptyDelimiter: an upload under "dir/" is listed by a listing of its
// parent, whatever delimiter parameter the SDK sends (minio-go sends an
// empty one, which EmptyDelimiterRollsUp works around).
func liveEmptyDelimiter(t *testing.T, open Opener, srv testenv.Server, q s3compat.Quirks) {
	raw := q
	raw.EmptyDelimiterRollsUp = false
	prefix := testenv.UniquePrefix(t)
	base := open(t, srv, raw, nil)
	t.Cleanup(func() { Clean(t, base, prefix) })
	rawStore := objstore.WithPrefix(base, prefix)
	body, wait := startPending(t, rawStore, "dir/object", objstore.PutOptions{})
	defer func() {
		body.fail()
		if _, err := wait(); err == nil {
			t.Errorf("upload succeeded although its body failed")
		}
	}()
	found := func(s objstore.Store) bool {
		ups, err := objstoretest.ListAllUploads(t.Context(), s, "")
		if err != nil {
			t.Fatalf("list uploads: %v", err)
		}
		return slices.ContainsFunc(ups, func(u objstore.UploadInfo) bool { return u.Key == "dir/object" })
	}
	rollsUp := !found(rawStore)
	sendsEmpty := strings.HasPrefix(base.Capabilities().Provider, "miniostore/")
	t.Logf("empty delimiter sent: %v; upload rolled up: %v", sendsEmpty, rollsUp)
	if want := sendsEmpty && q.EmptyDelimiterRollsUp; rollsUp != want {
		t.Errorf("upload rolled up: %v, want %v (profile %s says EmptyDelimiterRollsUp=%v)", rollsUp, want, q.Name, q.EmptyDelimiterRollsUp)
	}
	if !found(objstore.WithPrefix(open(t, srv, q, nil), prefix)) {
		t.Errorf("store with profile %s does not list the upload", q.Name)
	}
}

// liveDeleteDirectory: deleting a missing key K while keys under "K/"
// exist succeeds and keeps them; a server that fails it is marked
// DeleteDirectoryFails.
func liveDeleteDirectory(t *testing.T, open Opener, srv testenv.Server, q s3compat.Quirks) {
	raw := q
	raw.DeleteDirectoryFails = false
	prefix := testenv.UniquePrefix(t)
	base := open(t, srv, raw, nil)
	t.Cleanup(func() { Clean(t, base, prefix) })
	rawStore := objstore.WithPrefix(base, prefix)
	objstoretest.MustPut(t, rawStore, "dir/child", []byte("x"), nil)
	err := rawStore.Delete(t.Context(), "dir", nil)
	t.Logf("DELETE of missing key %q holding %q: %v", "dir", "dir/child", err)
	fails := err != nil
	switch {
	case fails && !errors.Is(err, objstore.ErrUnavailable):
		t.Fatalf("delete of a missing directory key: %v, want success or ErrUnavailable (5xx)", err)
	case fails != q.DeleteDirectoryFails:
		t.Errorf("server fails the delete: %v; profile %s says DeleteDirectoryFails=%v", fails, q.Name, q.DeleteDirectoryFails)
	}
	s := objstore.WithPrefix(open(t, srv, q, nil), prefix)
	if err := s.Delete(t.Context(), "dir", nil); err != nil {
		t.Errorf("store with profile %s: delete of missing key %q: %v, want success", q.Name, "dir", err)
	}
	if err := s.DeleteMany(t.Context(), []string{"dir"}); err != nil {
		t.Errorf("store with profile %s: batch delete of missing key %q: %v, want success", q.Name, "dir", err)
	}
	if _, err := s.Head(t.Context(), "dir/child"); err != nil {
		t.Errorf("head of %q after deleting %q: %v", "dir/child", "dir", err)
	}
}

// freshBucket creates a new empty bucket on srv, removed when t ends, and
// returns srv pointing at it.
func freshBucket(t *testing.T, srv testenv.Server) testenv.Server {
	t.Helper()
	c := rawCore(t, srv)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "stowage-fresh-" + hex.EncodeToString(b[:])
	if err := c.MakeBucket(t.Context(), name, minio.MakeBucketOptions{Region: srv.Region}); err != nil {
		t.Fatalf("make bucket %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := c.RemoveBucket(context.Background(), name); err != nil {
			t.Errorf("remove bucket %s: %v", name, err)
		}
	})
	srv.Bucket = name
	return srv
}
