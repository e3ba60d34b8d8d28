// Package s3store is the objstore.Store for S3 and S3-compatible servers on
// aws-sdk-go-v2.
//
// Conditions map to S3's headers: PutOptions.IfNoneMatch to If-None-Match: *
// and IfMatch to If-Match on PutObject and on CompleteMultipartUpload (never
// on CreateMultipartUpload, where AWS takes none and MinIO's check would be
// racy); DeleteOptions.IfMatch to If-Match on DeleteObject where the server
// enforces it (Quirks.ConditionalDelete), ErrNotSupported elsewhere.
//
// # Errors
//
// mapErr is the one place SDK errors become objstore errors, through
// s3compat.Classify; the SDK error stays reachable with errors.As.
package s3store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"iter"
	"log/slog"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/s3compat"
)

const backend = "s3store"

// Store is an objstore.Store on one S3 bucket.
type Store struct {
	client *s3.Client
	bucket string
	quirks s3compat.Quirks
	log    *slog.Logger
	closed atomic.Bool
}

var _ objstore.Store = (*Store)(nil)

// mapErr turns an SDK error from op on key into the error the Store
// returns. ifMatch says the request carried If-Match (so a 404 means the
// precondition failed).
func mapErr(ctx context.Context, op, key string, err error, ifMatch bool) error {
	if err == nil {
		return nil
	}
	var (
		code   string
		status int
		apiErr smithy.APIError
		resp   interface{ HTTPStatusCode() int }
	)
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	if errors.As(err, &resp) {
		status = resp.HTTPStatusCode()
	}
	var sentinel error
	if code != "" || status != 0 {
		sentinel = s3compat.Classify(code, status, ifMatch)
	}
	return s3compat.Wrap(ctx, backend, op, key, sentinel, err)
}

// unsignedPayload sends a put's or part's body as UNSIGNED-PAYLOAD: its
// integrity rests on the Content-MD5 header (itself signed), so the client
// hashes the body once, not twice, and a body corrupted in transit fails
// as 400 BadDigest (ErrChecksum) on every server.
func unsignedPayload(o *s3.Options) {
	o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
}

// start checks what every method checks before any request.
func (s *Store) start(ctx context.Context, op, key string) error {
	if s.closed.Load() {
		return &objstore.OpError{Backend: backend, Op: op, Key: key, Err: objstore.ErrClosed}
	}
	if err := ctx.Err(); err != nil {
		return &objstore.OpError{Backend: backend, Op: op, Key: key, Err: err}
	}
	return nil
}

// opErr wraps an error the Store made itself (not the SDK).
func opErr(op, key string, err error) error {
	return &objstore.OpError{Backend: backend, Op: op, Key: key, Err: err}
}

// Put implements objstore.Store.
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
	in := &s3.PutObjectInput{
		Bucket:        &s.bucket,
		Key:           &key,
		Body:          body,
		ContentLength: aws.Int64(int64(len(data))),
		ContentMD5:    aws.String(s3compat.ContentMD5(data)),
		ContentType:   aws.String(s3compat.ContentType(opts)),
	}
	var ifMatch bool
	if opts != nil {
		in.Metadata = opts.Metadata
		if opts.IfNoneMatch {
			in.IfNoneMatch = aws.String("*")
		}
		if opts.IfMatch != "" {
			in.IfMatch = aws.String(s3compat.QuoteETag(opts.IfMatch))
			ifMatch = true
		}
	}
	out, err := s.client.PutObject(ctx, in, unsignedPayload)
	if err != nil {
		return objstore.ObjectInfo{}, mapErr(ctx, objstore.OpPut, key, err, ifMatch)
	}
	return s3compat.PutInfo(key, int64(len(data)), aws.ToString(out.ETag), opts), nil
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
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: &key}
	if rng != "" {
		in.Range = &rng
	}
	if opts.IfNoneMatch != "" {
		in.IfNoneMatch = aws.String(s3compat.QuoteETag(opts.IfNoneMatch))
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		return nil, objstore.ObjectInfo{}, mapErr(ctx, objstore.OpGet, key, err, false)
	}
	info := objstore.ObjectInfo{
		Key:         key,
		Size:        s3compat.ObjectSize(aws.ToString(out.ContentRange), aws.ToInt64(out.ContentLength)),
		ETag:        s3compat.UnquoteETag(aws.ToString(out.ETag)),
		ModTime:     aws.ToTime(out.LastModified),
		ContentType: aws.ToString(out.ContentType),
		Metadata:    s3compat.Metadata(out.Metadata),
	}
	body := s3compat.Body(out.Body, func(err error) error { return mapErr(ctx, objstore.OpGet, key, err, false) })
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
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return objstore.ObjectInfo{}, mapErr(ctx, objstore.OpHead, key, err, false)
	}
	return objstore.ObjectInfo{
		Key:         key,
		Size:        aws.ToInt64(out.ContentLength),
		ETag:        s3compat.UnquoteETag(aws.ToString(out.ETag)),
		ModTime:     aws.ToTime(out.LastModified),
		ContentType: aws.ToString(out.ContentType),
		Metadata:    s3compat.Metadata(out.Metadata),
	}, nil
}

// Delete implements objstore.Store. An If-Match delete is sent only to a
// server that enforces it (Quirks.ConditionalDelete); elsewhere it returns
// ErrNotSupported and deletes nothing. If-Match on a missing key fails with
// ErrPreconditionFailed.
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
	in := &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key}
	ifMatch := opts != nil && opts.IfMatch != ""
	if ifMatch {
		in.IfMatch = aws.String(s3compat.QuoteETag(opts.IfMatch))
	}
	_, err := s.client.DeleteObject(ctx, in)
	// A missing key is success, conditional or not (the contract; AWS
	// answers 404 to an If-Match delete of a missing key, versitygw 204).
	err = mapErr(ctx, objstore.OpDelete, key, err, false)
	if errors.Is(err, objstore.ErrNotExist) {
		return nil
	}
	return err
}

// DeleteMany implements objstore.Store with DeleteObjects in quiet mode,
// 1000 keys a request.
func (s *Store) DeleteMany(ctx context.Context, keys []string) error {
	if err := s.start(ctx, objstore.OpDeleteMany, ""); err != nil {
		return err
	}
	return s3compat.DeleteMany(ctx, keys, func(ctx context.Context, batch []string) (map[string]error, error) {
		objs := make([]types.ObjectIdentifier, len(batch))
		for i := range batch {
			objs[i] = types.ObjectIdentifier{Key: &batch[i]}
		}
		out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: &s.bucket,
			Delete: &types.Delete{Objects: objs, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return nil, mapErr(ctx, objstore.OpDeleteMany, "", err, false)
		}
		failed := make(map[string]error, len(out.Errors))
		for _, e := range out.Errors {
			k, code := aws.ToString(e.Key), aws.ToString(e.Code)
			failed[k] = s3compat.KeyError(backend, objstore.OpDeleteMany, k, code, aws.ToString(e.Message))
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
		in := &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix, MaxKeys: aws.Int32(1000)}
		if opts.Delimiter != "" {
			in.Delimiter = &opts.Delimiter
		}
		if token != "" {
			in.ContinuationToken = &token
		} else if opts.StartAfter != "" {
			in.StartAfter = &opts.StartAfter
		}
		out, err := s.client.ListObjectsV2(ctx, in)
		if err != nil {
			return s3compat.Page{}, mapErr(ctx, objstore.OpList, prefix, err, false)
		}
		page := s3compat.Page{Truncated: aws.ToBool(out.IsTruncated), Next: aws.ToString(out.NextContinuationToken)}
		for _, o := range out.Contents {
			page.Objects = append(page.Objects, objstore.ObjectInfo{
				Key:     aws.ToString(o.Key),
				Size:    aws.ToInt64(o.Size),
				ETag:    s3compat.UnquoteETag(aws.ToString(o.ETag)),
				ModTime: aws.ToTime(o.LastModified),
			})
		}
		for _, p := range out.CommonPrefixes {
			page.Prefixes = append(page.Prefixes, aws.ToString(p.Prefix))
		}
		return page, nil
	})
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
