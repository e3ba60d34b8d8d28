// Package miniostore is the objstore.Store for S3-compatible servers on
// minio-go v7.
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
// mapErr is the one place minio-go errors become objstore errors. It is
// applied to the SDK's error before anything wraps it, because
// minio.ToErrorResponse is a plain type switch.
package miniostore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"iter"
	"log/slog"
	"sync/atomic"

	"github.com/minio/minio-go/v7"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/s3compat"
)

const backend = "miniostore"

// Store is an objstore.Store on one bucket.
type Store struct {
	core   minio.Core
	bucket string
	quirks s3compat.Quirks
	log    *slog.Logger
	closed atomic.Bool
}

var _ objstore.Store = (*Store)(nil)

// mapErr turns a minio-go error from op on key into the error the Store
// returns. ifMatch says the request carried If-Match (so a 404 means the
// precondition failed).
func mapErr(ctx context.Context, op, key string, err error, ifMatch bool) error {
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
		sentinel = s3compat.Classify(resp.Code, resp.StatusCode, ifMatch)
	}
	return s3compat.Wrap(ctx, backend, op, key, sentinel, err)
}

func (s *Store) start(ctx context.Context, op, key string) error {
	if s.closed.Load() {
		return opErr(op, key, objstore.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return opErr(op, key, err)
	}
	return nil
}

// opErr wraps an error the Store made itself (not the SDK).
func opErr(op, key string, err error) error {
	return &objstore.OpError{Backend: backend, Op: op, Key: key, Err: err}
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
func putOptions(opts *objstore.PutOptions) minio.PutObjectOptions {
	po := minio.PutObjectOptions{ContentType: s3compat.ContentType(opts), DisableContentSha256: true}
	if opts == nil {
		return po
	}
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

// Put implements objstore.Store with a single PUT carrying Content-MD5.
func (s *Store) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	if err := objstore.ValidatePut(key, opts); err != nil {
		return objstore.ObjectInfo{}, opErr(objstore.OpPut, key, err)
	}
	if err := s.quirks.CheckPut(opts); err != nil {
		return objstore.ObjectInfo{}, opErr(objstore.OpPut, key, err)
	}
	if err := s.start(ctx, objstore.OpPut, key); err != nil {
		return objstore.ObjectInfo{}, err
	}
	body := s3compat.NewRequestBody(data)
	defer body.Release()
	up, err := s.core.PutObject(ctx, s.bucket, key, body, int64(len(data)),
		s3compat.ContentMD5(data), "", putOptions(opts))
	if err != nil {
		return objstore.ObjectInfo{}, mapErr(ctx, objstore.OpPut, key, err, opts != nil && opts.IfMatch != "")
	}
	return s3compat.PutInfo(key, int64(len(data)), up.ETag, opts), nil
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

// Get implements objstore.Store.
func (s *Store) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	if err := objstore.ValidateKey(key); err != nil {
		return nil, objstore.ObjectInfo{}, opErr(objstore.OpGet, key, err)
	}
	if opts == nil {
		opts = &objstore.GetOptions{}
	}
	if err := s3compat.CheckGet(opts); err != nil {
		return nil, objstore.ObjectInfo{}, opErr(objstore.OpGet, key, err)
	}
	if r := opts.Range; r != nil && r.Length == 0 && r.Offset >= 0 {
		return s.emptyRange(ctx, key, r.Offset, opts.IfNoneMatch)
	}
	rng, err := s3compat.RangeHeader(opts.Range)
	if err != nil {
		return nil, objstore.ObjectInfo{}, opErr(objstore.OpGet, key, err)
	}
	if err := s.start(ctx, objstore.OpGet, key); err != nil {
		return nil, objstore.ObjectInfo{}, err
	}
	var gopts minio.GetObjectOptions
	if rng != "" {
		gopts.Set("Range", rng)
	}
	if opts.IfNoneMatch != "" {
		if err := gopts.SetMatchETagExcept(s3compat.UnquoteETag(opts.IfNoneMatch)); err != nil {
			return nil, objstore.ObjectInfo{}, opErr(objstore.OpGet, key, errors.Join(objstore.ErrInvalidArgument, err))
		}
	}
	rc, oi, h, err := s.core.GetObject(ctx, s.bucket, key, gopts)
	if err != nil {
		return nil, objstore.ObjectInfo{}, mapErr(ctx, objstore.OpGet, key, err, false)
	}
	info := objectInfo(key, oi, s3compat.ObjectSize(h.Get("Content-Range"), oi.Size))
	body := s3compat.Body(rc, func(err error) error { return mapErr(ctx, objstore.OpGet, key, err, false) })
	return body, info, nil
}

// emptyRange serves a zero-length range, which HTTP cannot express, from a
// HEAD: the object must exist and the offset lie within it.
func (s *Store) emptyRange(ctx context.Context, key string, off int64, ifNoneMatch string) (io.ReadCloser, objstore.ObjectInfo, error) {
	info, err := s.Head(ctx, key)
	switch {
	case err != nil:
		return nil, objstore.ObjectInfo{}, err
	case ifNoneMatch != "" && s3compat.UnquoteETag(ifNoneMatch) == info.ETag:
		return nil, objstore.ObjectInfo{}, opErr(objstore.OpGet, key, objstore.ErrNotModified)
	case off >= info.Size:
		return nil, objstore.ObjectInfo{}, opErr(objstore.OpGet, key, s3compat.ErrRangeNotSatisfiable(off, info.Size))
	}
	return io.NopCloser(bytes.NewReader(nil)), info, nil
}

// Head implements objstore.Store.
func (s *Store) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	if err := objstore.ValidateKey(key); err != nil {
		return objstore.ObjectInfo{}, opErr(objstore.OpHead, key, err)
	}
	if err := s.start(ctx, objstore.OpHead, key); err != nil {
		return objstore.ObjectInfo{}, err
	}
	oi, err := s.core.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return objstore.ObjectInfo{}, mapErr(ctx, objstore.OpHead, key, err, false)
	}
	return objectInfo(key, oi, oi.Size), nil
}

// Delete implements objstore.Store. minio-go cannot send If-Match on
// DELETE, so a conditional Delete returns ErrNotSupported and deletes
// nothing.
func (s *Store) Delete(ctx context.Context, key string, opts *objstore.DeleteOptions) error {
	if err := objstore.ValidateKey(key); err != nil {
		return opErr(objstore.OpDelete, key, err)
	}
	if err := s.quirks.CheckDelete(opts); err != nil {
		return opErr(objstore.OpDelete, key, err)
	}
	if err := s.start(ctx, objstore.OpDelete, key); err != nil {
		return err
	}
	err := mapErr(ctx, objstore.OpDelete, key, s.core.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}), false)
	if errors.Is(err, objstore.ErrNotExist) {
		return nil
	}
	return err
}

// DeleteMany implements objstore.Store with DeleteObjects, 1000 keys a
// request (minio-go asks for every key's result, not quiet mode).
func (s *Store) DeleteMany(ctx context.Context, keys []string) error {
	if err := s.start(ctx, objstore.OpDeleteMany, ""); err != nil {
		return err
	}
	return s3compat.DeleteMany(ctx, keys, func(ctx context.Context, batch []string) (map[string]error, error) {
		objs := func(yield func(minio.ObjectInfo) bool) {
			for _, k := range batch {
				if !yield(minio.ObjectInfo{Key: k}) {
					return
				}
			}
		}
		results, err := s.core.RemoveObjectsWithIter(ctx, s.bucket, objs, minio.RemoveObjectsOptions{})
		if err != nil {
			return nil, mapErr(ctx, objstore.OpDeleteMany, "", err, false)
		}
		failed := map[string]error{}
		for r := range results {
			switch {
			case r.Err == nil:
			case r.ObjectName == "":
				// The response could not be read: the batch's outcome is unknown.
				return nil, mapErr(ctx, objstore.OpDeleteMany, "", r.Err, false)
			default:
				failed[r.ObjectName] = mapErr(ctx, objstore.OpDeleteMany, r.ObjectName, r.Err, false)
			}
		}
		return failed, nil
	})
}

// List implements objstore.Store with ListObjectsV2.
func (s *Store) List(ctx context.Context, prefix string, opts *objstore.ListOptions) iter.Seq2[objstore.ObjectInfo, error] {
	if opts == nil {
		opts = &objstore.ListOptions{}
	}
	if err := objstore.ValidatePrefix(prefix); err != nil {
		return s3compat.Fail[objstore.ObjectInfo](opErr(objstore.OpList, prefix, err))
	}
	if err := s.start(ctx, objstore.OpList, prefix); err != nil {
		return s3compat.Fail[objstore.ObjectInfo](err)
	}
	return s3compat.List(ctx, opts.StartAfter, func(ctx context.Context, token string) (s3compat.Page, error) {
		startAfter := opts.StartAfter
		if token != "" {
			startAfter = ""
		}
		// Core.ListObjectsV2 takes no context; withContext stops waiting
		// for it when ctx ends.
		res, err := withContext(ctx, func() (minio.ListBucketV2Result, error) {
			return s.core.ListObjectsV2(s.bucket, prefix, startAfter, token, opts.Delimiter, 1000)
		})
		if err != nil {
			return s3compat.Page{}, mapErr(ctx, objstore.OpList, prefix, err, false)
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
	})
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

// Capabilities implements objstore.Store from the configured quirks.
func (s *Store) Capabilities() objstore.Capabilities {
	return s.quirks.Capabilities(backend)
}

// Close implements objstore.Store. Later calls fail with ErrClosed.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}
