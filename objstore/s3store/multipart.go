package s3store

import (
	"context"
	"errors"
	"io"
	"iter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/s3compat"
)

// Upload implements objstore.Store with objstore.StreamUpload: one PutObject
// for a body within one part, otherwise CreateMultipartUpload (no
// condition), parallel UploadPart calls, and CompleteMultipartUpload with
// the condition.
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
	out, err := m.s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:      &m.s.bucket,
		Key:         &key,
		ContentType: aws.String(s3compat.ContentType(opts)),
		Metadata:    opts.Metadata,
	})
	if err != nil {
		return "", mapErr(ctx, objstore.OpUpload, key, err, false)
	}
	return aws.ToString(out.UploadId), nil
}

func (m multiparter) UploadPart(ctx context.Context, key, uploadID string, n int, data []byte) (string, error) {
	body := s3compat.NewRequestBody(data)
	defer body.Release()
	out, err := m.s.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket:        &m.s.bucket,
		Key:           &key,
		UploadId:      &uploadID,
		PartNumber:    aws.Int32(int32(n)),
		Body:          body,
		ContentLength: aws.Int64(int64(len(data))),
		ContentMD5:    aws.String(s3compat.ContentMD5(data)),
	}, unsignedPayload)
	if err != nil {
		return "", mapErr(ctx, objstore.OpUpload, key, err, false)
	}
	return s3compat.UnquoteETag(aws.ToString(out.ETag)), nil
}

func (m multiparter) CompleteUpload(ctx context.Context, key, uploadID string, parts []objstore.CompletedPart, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	if err := m.s.quirks.CheckComplete(opts); err != nil {
		return objstore.ObjectInfo{}, opErr(objstore.OpUpload, key, err)
	}
	done := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		done[i] = types.CompletedPart{PartNumber: aws.Int32(int32(p.Number)), ETag: aws.String(s3compat.QuoteETag(p.ETag))}
	}
	in := &s3.CompleteMultipartUploadInput{
		Bucket:          &m.s.bucket,
		Key:             &key,
		UploadId:        &uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
	}
	ifMatch := opts.IfMatch != ""
	if opts.IfNoneMatch {
		in.IfNoneMatch = aws.String("*")
	}
	if ifMatch {
		in.IfMatch = aws.String(s3compat.QuoteETag(opts.IfMatch))
	}
	out, err := m.s.client.CompleteMultipartUpload(ctx, in)
	if err != nil {
		return objstore.ObjectInfo{}, mapErr(ctx, objstore.OpUpload, key, err, ifMatch)
	}
	return s3compat.PutInfo(key, 0, aws.ToString(out.ETag), opts), nil
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
		in := &s3.ListMultipartUploadsInput{Bucket: &s.bucket}
		if ask != "" {
			in.Prefix = &ask
		}
		if keyMarker != "" {
			in.KeyMarker = &keyMarker
		}
		if idMarker != "" {
			in.UploadIdMarker = &idMarker
		}
		out, err := s.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return s3compat.UploadPage{}, mapErr(ctx, objstore.OpListUploads, prefix, err, false)
		}
		page := s3compat.UploadPage{
			Truncated:    aws.ToBool(out.IsTruncated),
			NextKey:      aws.ToString(out.NextKeyMarker),
			NextUploadID: aws.ToString(out.NextUploadIdMarker),
		}
		for _, u := range out.Uploads {
			page.Uploads = append(page.Uploads, objstore.UploadInfo{
				Key:       aws.ToString(u.Key),
				UploadID:  aws.ToString(u.UploadId),
				Initiated: aws.ToTime(u.Initiated),
			})
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
	_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: &key, UploadId: &uploadID})
	err = mapErr(ctx, objstore.OpAbortUpload, key, err, false)
	if errors.Is(err, objstore.ErrNotExist) {
		return nil
	}
	return err
}
