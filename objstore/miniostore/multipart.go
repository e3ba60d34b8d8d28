package miniostore

import (
	"context"
	"errors"
	"io"
	"iter"

	"github.com/minio/minio-go/v7"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/s3compat"
)

// Upload implements objstore.Store with objstore.StreamUpload on minio-go's
// low-level Core calls: one PUT for a body within one part, otherwise
// NewMultipartUpload (no condition), parallel PutObjectPart calls, and
// CompleteMultipartUpload with the condition.
func (s *Store) Upload(ctx context.Context, key string, body io.Reader, opts *objstore.UploadOptions) (objstore.ObjectInfo, error) {
	if err := s.start(ctx, objstore.OpUpload, key); err != nil {
		return objstore.ObjectInfo{}, err
	}
	return objstore.StreamUpload(ctx, multiparter{s}, key, body, opts)
}

// multiparter is the Store as StreamUpload drives it.
type multiparter struct{ s *Store }

var _ objstore.Multiparter = multiparter{}

func (m multiparter) PutObject(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	return m.s.Put(ctx, key, data, opts)
}

func (m multiparter) CreateUpload(ctx context.Context, key string, opts *objstore.PutOptions) (string, error) {
	// Content type and metadata only: a condition here would be checked by
	// MinIO at initiation, racily, and not at all by others.
	create := objstore.PutOptions{ContentType: opts.ContentType, Metadata: opts.Metadata}
	id, err := m.s.core.NewMultipartUpload(ctx, m.s.bucket, key, putOptions(&create))
	if err != nil {
		return "", mapErr(ctx, objstore.OpUpload, key, err, false)
	}
	return id, nil
}

func (m multiparter) UploadPart(ctx context.Context, key, uploadID string, n int, data []byte) (string, error) {
	body := s3compat.NewRequestBody(data)
	defer body.Release()
	part, err := m.s.core.PutObjectPart(ctx, m.s.bucket, key, uploadID, n, body, int64(len(data)),
		minio.PutObjectPartOptions{Md5Base64: s3compat.ContentMD5(data), DisableContentSha256: true})
	if err != nil {
		return "", mapErr(ctx, objstore.OpUpload, key, err, false)
	}
	return s3compat.UnquoteETag(part.ETag), nil
}

func (m multiparter) CompleteUpload(ctx context.Context, key, uploadID string, parts []objstore.CompletedPart, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	if err := m.s.quirks.CheckComplete(opts); err != nil {
		return objstore.ObjectInfo{}, opErr(objstore.OpUpload, key, err)
	}
	done := make([]minio.CompletePart, len(parts))
	for i, p := range parts {
		done[i] = minio.CompletePart{PartNumber: p.Number, ETag: p.ETag}
	}
	// Only the condition: metadata was given at initiation.
	cond := objstore.PutOptions{IfNoneMatch: opts.IfNoneMatch, IfMatch: opts.IfMatch}
	up, err := m.s.core.CompleteMultipartUpload(ctx, m.s.bucket, key, uploadID, done, putOptions(&cond))
	if err != nil {
		return objstore.ObjectInfo{}, mapErr(ctx, objstore.OpUpload, key, err, opts.IfMatch != "")
	}
	return s3compat.PutInfo(key, 0, up.ETag, opts), nil
}

func (m multiparter) AbortUpload(ctx context.Context, key, uploadID string) error {
	err := m.s.AbortUpload(ctx, key, uploadID)
	if err != nil {
		m.s.log.DebugContext(ctx, "abort upload failed", "key", key, "upload_id", uploadID, "err", err)
	}
	return err
}

// ListUploads implements objstore.Store with ListMultipartUploads. On a
// server with Quirks.ListUploadsExactPrefix (MinIO) it lists every upload
// in the bucket and filters by prefix itself.
func (s *Store) ListUploads(ctx context.Context, prefix string) iter.Seq2[objstore.UploadInfo, error] {
	if err := objstore.ValidatePrefix(prefix); err != nil {
		return s3compat.Fail[objstore.UploadInfo](opErr(objstore.OpListUploads, prefix, err))
	}
	if err := s.start(ctx, objstore.OpListUploads, prefix); err != nil {
		return s3compat.Fail[objstore.UploadInfo](err)
	}
	return s.quirks.ListUploads(ctx, prefix, func(ctx context.Context, ask, keyMarker, idMarker string) (s3compat.UploadPage, error) {
		res, err := s.core.ListMultipartUploads(ctx, s.bucket, ask, keyMarker, idMarker, "", 1000)
		if err != nil {
			return s3compat.UploadPage{}, mapErr(ctx, objstore.OpListUploads, prefix, err, false)
		}
		page := s3compat.UploadPage{Truncated: res.IsTruncated, NextKey: res.NextKeyMarker, NextUploadID: res.NextUploadIDMarker}
		for _, u := range res.Uploads {
			page.Uploads = append(page.Uploads, objstore.UploadInfo{Key: u.Key, UploadID: u.UploadID, Initiated: u.Initiated})
		}
		return page, nil
	})
}

// AbortUpload implements objstore.Store. An upload that no longer exists
// (NoSuchUpload) counts as aborted.
func (s *Store) AbortUpload(ctx context.Context, key, uploadID string) error {
	if err := s3compat.ValidateUpload(key, uploadID); err != nil {
		return opErr(objstore.OpAbortUpload, key, err)
	}
	if err := s.start(ctx, objstore.OpAbortUpload, key); err != nil {
		return err
	}
	err := mapErr(ctx, objstore.OpAbortUpload, key, s.core.AbortMultipartUpload(ctx, s.bucket, key, uploadID), false)
	if errors.Is(err, objstore.ErrNotExist) {
		return nil
	}
	return err
}
