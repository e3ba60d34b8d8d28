package s3test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/stowage-dev/stowage/internal/s3compat"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/objstoretest"
)

// OrphanUpload starts a multipart upload of key (the full key in srv's
// bucket) with a raw S3 client, not through stowage, uploads one part of
// each size in order (numbered from 1; parts below 5 MiB are accepted
// until completion) and leaves it incomplete, as a writer that died would.
// It returns the upload id. The upload is aborted when t ends, if it is
// still there.
func OrphanUpload(t testing.TB, srv testenv.Server, key string, sizes ...int) string {
	t.Helper()
	c := rawCore(t, srv)
	id, err := c.NewMultipartUpload(t.Context(), srv.Bucket, key, minio.PutObjectOptions{})
	if err != nil {
		t.Fatalf("initiate upload of %q: %v", key, err)
	}
	t.Cleanup(func() { _ = c.AbortMultipartUpload(context.Background(), srv.Bucket, key, id) })
	for i, n := range sizes {
		data := objstoretest.PatternBytes(uint64(i), n)
		if _, err := c.PutObjectPart(t.Context(), srv.Bucket, key, id, i+1, bytes.NewReader(data), int64(n), minio.PutObjectPartOptions{}); err != nil {
			t.Fatalf("upload part %d (%d bytes) of %q: %v", i+1, n, key, err)
		}
	}
	return id
}

// rawCore is a minio-go client of srv that no stowage code wraps.
func rawCore(t testing.TB, srv testenv.Server) *minio.Core {
	t.Helper()
	c, err := minio.NewCore(srv.Host(), &minio.Options{
		Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""), Region: srv.Region, BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// liveUploadSize: UploadSize of an upload whose parts a raw client sent
// (small, of odd sizes) is the sum of the parts' sizes as the server lists
// them, also after a part was sent again: with the same bytes (a retry,
// which every server accepts) or with different bytes (replaced where the
// server accepts it; rclone refuses); another key's, an unknown and an
// aborted upload are ErrNotExist.
func liveUploadSize(t *testing.T, open Opener, srv testenv.Server, q s3compat.Quirks) {
	prefix := testenv.UniquePrefix(t)
	base := open(t, srv, q, nil)
	t.Cleanup(func() { Clean(t, base, prefix) })
	s := objstore.WithPrefix(base, prefix)
	ctx := t.Context()
	key := prefix + "parts/object"
	id := OrphanUpload(t, srv, key, 1000, 2345, 1)
	resend := func(n int, data []byte) error {
		_, err := rawCore(t, srv).PutObjectPart(ctx, srv.Bucket, key, id, n, bytes.NewReader(data), int64(len(data)), minio.PutObjectPartOptions{})
		return err
	}
	if err := resend(1, objstoretest.PatternBytes(0, 1000)); err != nil {
		t.Errorf("part 1 sent again with the same bytes (a retry): %v", err)
	}
	want := int64(1000 + 2345 + 1)
	err := resend(2, objstoretest.PatternBytes(9, 777))
	t.Logf("part 2 sent again with other bytes: %v", err)
	if refused := err != nil; refused != (srv.Name == testenv.RClone) {
		t.Errorf("part sent again with other bytes refused: %v; docs/objstore.md says only rclone refuses", refused)
	}
	if err == nil {
		want += 777 - 2345
	}
	size, err := s.UploadSize(ctx, "parts/object", id)
	t.Logf("UploadSize: %d, %v", size, err)
	if err != nil || size != want {
		t.Errorf("UploadSize = %d, %v; want %d", size, err, want)
	}
	for _, c := range []struct{ what, key, id string }{
		{"another key's upload id", "parts/other", id},
		{"an unknown upload id", "parts/object", "bm8tc3VjaC11cGxvYWQ"},
	} {
		n, err := s.UploadSize(ctx, c.key, c.id)
		t.Logf("UploadSize of %s: %d, %v", c.what, n, err)
		if !errors.Is(err, objstore.ErrNotExist) {
			t.Errorf("UploadSize of %s: (%d, %v), want ErrNotExist", c.what, n, err)
		}
	}
	if err := s.AbortUpload(ctx, "parts/object", id); err != nil {
		t.Fatal(err)
	}
	if n, err := s.UploadSize(ctx, "parts/object", id); !errors.Is(err, objstore.ErrNotExist) {
		t.Errorf("UploadSize of an aborted upload: (%d, %v), want ErrNotExist", n, err)
	}
}
