// Package s3store is the objstore.Store for S3 and S3-compatible servers on
// aws-sdk-go-v2.
//
// The Store is s3compat.Store, which holds everything both S3 backends do
// alike, over this package's client: the aws-sdk-go-v2 calls and the
// mapping of their errors.
//
// Conditions map to S3's headers: PutOptions.IfNoneMatch to If-None-Match: *
// and IfMatch to If-Match on PutObject and on CompleteMultipartUpload (never
// on CreateMultipartUpload, where AWS takes none and MinIO's check would be
// racy); DeleteOptions.IfMatch to If-Match on DeleteObject where the server
// enforces it (Quirks.ConditionalDelete), ErrNotSupported elsewhere.
//
// # Errors
//
// client.MapErr is the one place SDK errors become objstore errors, through
// s3compat.Classify; the SDK error stays reachable with errors.As.
package s3store

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/stowage-dev/stowage/internal/s3compat"
	"github.com/stowage-dev/stowage/objstore"
)

const backend = "s3store"

// Store is an objstore.Store on one S3 bucket: s3compat.Store over
// aws-sdk-go-v2.
type Store struct {
	*s3compat.Store
	c         *client         // for presigning (presign.go)
	transport *http.Transport // the Store's own client's; nil with Config.HTTPClient
}

var _ objstore.Store = (*Store)(nil)

// client is the s3compat.Client of one bucket.
type client struct {
	api    *s3.Client
	bucket string
	direct *direct // nil: every request through the SDK
}

var _ s3compat.Client = (*client)(nil)

// MapErr turns an SDK error from op on key into the error the Store
// returns. ifMatch says the request carried If-Match (so a 404 means the
// precondition failed).
func (c *client) MapErr(ctx context.Context, op, key string, err error, ifMatch bool) error {
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
	code = responseCode(err, code, status)
	var sentinel error
	if code != "" || status != 0 {
		sentinel = s3compat.Classify(code, status, ifMatch)
	}
	return s3compat.Wrap(ctx, backend, op, key, sentinel, err)
}

// responseCode returns the server's error code of a response whose SDK
// error has code: a bodiless response (HEAD) carries none, and the SDK
// names its 403 "Forbidden" after the status; MinIO sends the code in its
// X-Minio-Error-Code header. A 403 with no code is "" (credentials or
// policy: s3compat.Classify cannot tell).
func responseCode(err error, code string, status int) string {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		if h := re.Response.Header.Get("X-Minio-Error-Code"); h != "" {
			return h
		}
	}
	if status == http.StatusForbidden && code == "Forbidden" {
		return ""
	}
	return code
}

// unsignedPayload sends a put's or part's body as UNSIGNED-PAYLOAD: its
// integrity rests on the Content-MD5 or x-amz-checksum-crc32c header
// (itself signed), so the client
// hashes the body once, not twice, and a body corrupted in transit fails
// as 400 BadDigest (ErrChecksum) on every server. Parts to a server that
// checks signed payloads go with signedPayload instead.
func unsignedPayload(o *s3.Options) {
	o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
}

// signedPayload signs a part's body with sum, its hex SHA-256, as the
// payload hash (x-amz-content-sha256), over HTTP and HTTPS alike (the SDK
// would send UploadPart unsigned over HTTPS): a server that checks it
// (s3compat.Quirks.ChecksPayloadHash) refuses a body corrupted in transit
// with 400 XAmzContentSHA256Mismatch (ErrChecksum). The SDK does not hash
// the body again.
func signedPayload(sum string) func(*s3.Options) {
	set := middleware.FinalizeMiddlewareFunc(computePayloadHashID, func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		return next.HandleFinalize(v4.SetPayloadHash(ctx, sum), in)
	})
	return func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			_, err := st.Finalize.Swap(computePayloadHashID, set)
			return err
		})
	}
}

// computePayloadHashID is the ID of the SDK's middleware that sets the
// payload hash (v4.ComputePayloadSHA256 or, for UploadPart, its choice
// between that and UNSIGNED-PAYLOAD by scheme).
const computePayloadHashID = "ComputePayloadHash"

// conditions returns the If-None-Match and If-Match headers of opts.
func conditions(opts *objstore.PutOptions) (ifNoneMatch, ifMatch *string) {
	if opts.IfNoneMatch {
		ifNoneMatch = aws.String("*")
	}
	if opts.IfMatch != "" {
		ifMatch = aws.String(s3compat.QuoteETag(opts.IfMatch))
	}
	return ifNoneMatch, ifMatch
}

func (c *client) PutObject(ctx context.Context, key string, body *s3compat.RequestBody, opts *objstore.PutOptions) (string, error) {
	if c.direct != nil {
		return c.direct.putObject(ctx, key, body, opts)
	}
	in := &s3.PutObjectInput{
		Bucket:        &c.bucket,
		Key:           &key,
		Body:          body,
		ContentLength: aws.Int64(body.Size()),
		ContentType:   aws.String(s3compat.ContentType(opts)),
		Metadata:      opts.Metadata,
	}
	if sum := body.ChecksumCRC32C(); sum != "" {
		in.ChecksumCRC32C = aws.String(sum)
	} else {
		in.ContentMD5 = aws.String(body.ContentMD5())
	}
	in.IfNoneMatch, in.IfMatch = conditions(opts)
	out, err := c.api.PutObject(ctx, in, unsignedPayload)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ETag), nil
}

func (c *client) GetObject(ctx context.Context, key, rng, ifNoneMatch string) (io.ReadCloser, objstore.ObjectInfo, error) {
	if c.direct != nil {
		return c.direct.getObject(ctx, key, rng, ifNoneMatch)
	}
	in := &s3.GetObjectInput{Bucket: &c.bucket, Key: &key}
	if rng != "" {
		in.Range = &rng
	}
	if ifNoneMatch != "" {
		in.IfNoneMatch = aws.String(s3compat.QuoteETag(ifNoneMatch))
	}
	out, err := c.api.GetObject(ctx, in)
	if err != nil {
		return nil, objstore.ObjectInfo{}, err
	}
	info := objstore.ObjectInfo{
		Key:         key,
		Size:        s3compat.ObjectSize(aws.ToString(out.ContentRange), aws.ToInt64(out.ContentLength)),
		ETag:        s3compat.UnquoteETag(aws.ToString(out.ETag)),
		ModTime:     aws.ToTime(out.LastModified),
		ContentType: aws.ToString(out.ContentType),
		Metadata:    s3compat.Metadata(out.Metadata),
	}
	return out.Body, info, nil
}

func (c *client) HeadObject(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	if c.direct != nil {
		return c.direct.headObject(ctx, key)
	}
	out, err := c.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &c.bucket, Key: &key})
	if err != nil {
		return objstore.ObjectInfo{}, err
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

func (c *client) DeleteObject(ctx context.Context, key, ifMatch string) error {
	if c.direct != nil {
		return c.direct.deleteObject(ctx, key, ifMatch)
	}
	in := &s3.DeleteObjectInput{Bucket: &c.bucket, Key: &key}
	if ifMatch != "" {
		in.IfMatch = aws.String(s3compat.QuoteETag(ifMatch))
	}
	_, err := c.api.DeleteObject(ctx, in)
	return err
}

// DeleteObjects sends DeleteObjects in quiet mode.
func (c *client) DeleteObjects(ctx context.Context, keys []string) (map[string]error, error) {
	objs := make([]types.ObjectIdentifier, len(keys))
	for i := range keys {
		objs[i] = types.ObjectIdentifier{Key: &keys[i]}
	}
	out, err := c.api.DeleteObjects(ctx, &s3.DeleteObjectsInput{
		Bucket: &c.bucket,
		Delete: &types.Delete{Objects: objs, Quiet: aws.Bool(true)},
	})
	if err != nil {
		return nil, c.MapErr(ctx, objstore.OpDeleteMany, "", err, false)
	}
	failed := make(map[string]error, len(out.Errors))
	for _, e := range out.Errors {
		k, code := aws.ToString(e.Key), aws.ToString(e.Code)
		failed[k] = s3compat.KeyError(backend, objstore.OpDeleteMany, k, code, aws.ToString(e.Message))
	}
	return failed, nil
}

func (c *client) ListObjectsV2(ctx context.Context, prefix, delimiter, startAfter, token string) (s3compat.Page, error) {
	in := &s3.ListObjectsV2Input{Bucket: &c.bucket, Prefix: &prefix, MaxKeys: aws.Int32(1000)}
	if delimiter != "" {
		in.Delimiter = &delimiter
	}
	if token != "" {
		in.ContinuationToken = &token
	}
	if startAfter != "" {
		in.StartAfter = &startAfter
	}
	out, err := c.api.ListObjectsV2(ctx, in)
	if err != nil {
		return s3compat.Page{}, err
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
}
