// Package miniostore is the objstore.Store for S3-compatible servers on
// minio-go v7.
//
// The Store is s3compat.Store, which holds everything both S3 backends do
// alike, over this package's client: minio-go's low-level Core calls and the
// mapping of their errors.
//
// Conditional puts go in one PUT (Core.PutObject) with If-None-Match: * or
// If-Match set through PutObjectOptions. Multipart uploads use only the
// low-level Core calls, with the condition on CompleteMultipartUpload: the
// high-level PutObject sends conditions on initiation only, where AWS
// ignores them and MinIO checks them racily, and drops them at completion.
// minio-go cannot send If-Match on DELETE, so ConditionalDelete is never
// reported and an If-Match Delete returns ErrNotSupported.
//
// # Errors
//
// client.MapErr is the one place minio-go errors become objstore errors. It
// is applied to the SDK's error before anything wraps it, because
// minio.ToErrorResponse is a plain type switch.
package miniostore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/minio/minio-go/v7"

	"github.com/stowage-dev/stowage/internal/s3compat"
	"github.com/stowage-dev/stowage/objstore"
)

const backend = "miniostore"

// Store is an objstore.Store on one bucket: s3compat.Store over minio-go.
type Store struct {
	*s3compat.Store
}

var _ objstore.Store = (*Store)(nil)

// client is the s3compat.Client of one bucket.
type client struct {
	core   minio.Core
	bucket string
	// uploadsDelimiter is the delimiter of ListMultipartUploads, which
	// minio-go always sends (see New).
	uploadsDelimiter string
}

var _ s3compat.Client = (*client)(nil)

// MapErr turns a minio-go error from op on key into the error the Store
// returns. ifMatch says the request carried If-Match (so a 404 means the
// precondition failed).
func (c *client) MapErr(ctx context.Context, op, key string, err error, ifMatch bool) error {
	if err == nil {
		return nil
	}
	var sentinel error
	resp := minio.ToErrorResponse(err)
	if resp.Code == "" && resp.StatusCode == 0 {
		var wrapped minio.ErrorResponse
		if errors.As(err, &wrapped) {
			resp = wrapped
		}
	}
	if resp.Code != "" || resp.StatusCode != 0 {
		sentinel = s3compat.Classify(responseCode(resp), resp.StatusCode, ifMatch)
	}
	return s3compat.Wrap(ctx, backend, op, key, sentinel, err)
}

// responseCode returns the server's error code of resp. minio-go names a
// bodiless 403 (a HEAD's) AccessDenied after its status unless MinIO's
// X-Minio-Error-Code header gave the code; with no XML body and a server
// other than MinIO, that AccessDenied is minio-go's, and the code is ""
// (credentials or policy: s3compat.Classify cannot tell).
func responseCode(resp minio.ErrorResponse) string {
	if resp.StatusCode == http.StatusForbidden && resp.Code == minio.AccessDenied &&
		resp.XMLName.Local == "" && resp.Server != "MinIO" {
		return ""
	}
	return resp.Code
}

// putOptions returns minio-go's options for a write with opts. User
// metadata keys get their x-amz-meta- prefix here: minio-go would send a
// bare key that looks like a standard header ("expires", "content-type")
// as that header.
//
// The payload is protected by Content-MD5 (a signed header) rather than by
// minio-go's streaming chunk signatures: a corrupted body then fails as 400
// BadDigest (ErrChecksum), not as 403 SignatureDoesNotMatch, which reads as
// a credentials problem, and the client hashes once instead of twice.
// (A put to a server with Quirks.ChecksPutCRC32C carries its CRC32C
// instead, see PutObject; parts, see UploadPart.)
func putOptions(opts *objstore.PutOptions) minio.PutObjectOptions {
	po := minio.PutObjectOptions{ContentType: s3compat.ContentType(opts), DisableContentSha256: true}
	if len(opts.Metadata) > 0 {
		po.UserMetadata = make(map[string]string, len(opts.Metadata))
		for k, v := range opts.Metadata {
			po.UserMetadata["x-amz-meta-"+k] = v
		}
	}
	if opts.IfNoneMatch {
		po.SetMatchETagExcept("*")
	}
	if opts.IfMatch != "" {
		po.SetMatchETag(s3compat.UnquoteETag(opts.IfMatch)) // it adds the quotes
	}
	return po
}

func (c *client) PutObject(ctx context.Context, key string, body *s3compat.RequestBody, opts *objstore.PutOptions) (string, error) {
	po := putOptions(opts)
	if sum := body.ChecksumCRC32C(); sum != "" {
		// minio-go sends an x-amz-checksum- key as that header, and then
		// adds no checksum of its own.
		if po.UserMetadata == nil {
			po.UserMetadata = map[string]string{}
		}
		po.UserMetadata["x-amz-checksum-crc32c"] = sum
	}
	up, err := c.core.PutObject(ctx, c.bucket, key, body, body.Size(), body.ContentMD5(), "", po)
	if err != nil {
		return "", err
	}
	return up.ETag, nil
}

// objectInfo converts minio-go's description of an object.
func objectInfo(key string, oi minio.ObjectInfo, size int64) objstore.ObjectInfo {
	return objstore.ObjectInfo{
		Key:         key,
		Size:        size,
		ETag:        s3compat.UnquoteETag(oi.ETag),
		ModTime:     oi.LastModified,
		ContentType: oi.ContentType,
		Metadata:    s3compat.Metadata(oi.UserMetadata),
	}
}

func (c *client) GetObject(ctx context.Context, key, rng, ifNoneMatch string) (io.ReadCloser, objstore.ObjectInfo, error) {
	var gopts minio.GetObjectOptions
	if rng != "" {
		gopts.Set("Range", rng)
	}
	if ifNoneMatch != "" {
		if err := gopts.SetMatchETagExcept(s3compat.UnquoteETag(ifNoneMatch)); err != nil {
			// An ETag of nothing but quotes; MapErr reads minio-go's
			// InvalidArgument response.
			return nil, objstore.ObjectInfo{}, errors.Join(objstore.ErrInvalidArgument, err)
		}
	}
	rc, oi, h, err := c.core.GetObject(ctx, c.bucket, key, gopts)
	if err != nil {
		return nil, objstore.ObjectInfo{}, err
	}
	return rc, objectInfo(key, oi, s3compat.ObjectSize(h.Get("Content-Range"), oi.Size)), nil
}

func (c *client) HeadObject(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	oi, err := c.core.StatObject(ctx, c.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	return objectInfo(key, oi, oi.Size), nil
}

// DeleteObject cannot send If-Match: the Store never asks it to, because
// New clears Quirks.ConditionalDelete.
func (c *client) DeleteObject(ctx context.Context, key, ifMatch string) error {
	if ifMatch != "" {
		return fmt.Errorf("miniostore: minio-go cannot send If-Match on DELETE: %w", objstore.ErrNotSupported)
	}
	return c.core.RemoveObject(ctx, c.bucket, key, minio.RemoveObjectOptions{})
}

// DeleteObjects sends DeleteObjects (minio-go asks for every key's result,
// not quiet mode).
func (c *client) DeleteObjects(ctx context.Context, keys []string) (map[string]error, error) {
	objs := func(yield func(minio.ObjectInfo) bool) {
		for _, k := range keys {
			if !yield(minio.ObjectInfo{Key: k}) {
				return
			}
		}
	}
	results, err := c.core.RemoveObjectsWithIter(ctx, c.bucket, objs, minio.RemoveObjectsOptions{})
	if err != nil {
		return nil, c.MapErr(ctx, objstore.OpDeleteMany, "", err, false)
	}
	failed := map[string]error{}
	for r := range results {
		switch {
		case r.Err == nil:
		case r.ObjectName == "":
			// The response could not be read: the batch's outcome is unknown.
			return nil, c.MapErr(ctx, objstore.OpDeleteMany, "", r.Err, false)
		default:
			failed[r.ObjectName] = c.MapErr(ctx, objstore.OpDeleteMany, r.ObjectName, r.Err, false)
		}
	}
	return failed, nil
}

func (c *client) ListObjectsV2(ctx context.Context, prefix, delimiter, startAfter, token string) (s3compat.Page, error) {
	// Core.ListObjectsV2 takes no context; withContext stops waiting for it
	// when ctx ends.
	res, err := withContext(ctx, func() (minio.ListBucketV2Result, error) {
		return c.core.ListObjectsV2(c.bucket, prefix, startAfter, token, delimiter, 1000)
	})
	if err != nil {
		return s3compat.Page{}, err
	}
	page := s3compat.Page{Truncated: res.IsTruncated, Next: res.NextContinuationToken}
	for _, o := range res.Contents {
		page.Objects = append(page.Objects, objstore.ObjectInfo{
			Key:     o.Key,
			Size:    o.Size,
			ETag:    s3compat.UnquoteETag(o.ETag),
			ModTime: o.LastModified,
		})
	}
	for _, p := range res.CommonPrefixes {
		page.Prefixes = append(page.Prefixes, p.Prefix)
	}
	return page, nil
}

// withContext runs f, which ignores contexts, and returns early with ctx's
// error if ctx ends first. f then finishes in the background; its request
// is bounded by the transport's timeouts.
func withContext[T any](ctx context.Context, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
