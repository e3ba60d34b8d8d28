package s3store

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/stowage-dev/stowage/objstore"
)

var _ objstore.Presigner = (*Store)(nil)

// signer signs at a chosen time (PresignInput.SignedAt), or now.
type signer struct {
	at time.Time
	v4 *v4.Signer
}

func (s signer) PresignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string, t time.Time, optFns ...func(*v4.SignerOptions)) (string, http.Header, error) {
	if !s.at.IsZero() {
		t = s.at
	}
	return s.v4.PresignHTTP(ctx, creds, r, payloadHash, service, region, t, optFns...)
}

// Presign signs one PutObject, UploadPart or GetObject (see
// objstore.Presigner). It sends nothing.
func (s *Store) Presign(ctx context.Context, in objstore.PresignInput) (objstore.PresignedRequest, error) {
	if err := objstore.ValidatePresign(in); err != nil {
		return objstore.PresignedRequest{}, fmt.Errorf("s3store: presign: %w", err)
	}
	at := in.SignedAt
	if at.IsZero() {
		at = time.Now()
	}
	pc := s3.NewPresignClient(s.c.api, func(o *s3.PresignOptions) {
		o.Expires = in.Expires
		o.Presigner = signer{at: at, v4: v4.NewSigner()}
	})
	var (
		req *v4.PresignedHTTPRequest
		err error
	)
	switch {
	case in.Method == http.MethodGet:
		req, err = pc.PresignGetObject(ctx, &s3.GetObjectInput{
			Bucket:                     &s.c.bucket,
			Key:                        &in.Key,
			ResponseContentType:        optString(in.ResponseContentType),
			ResponseContentDisposition: optString(in.ResponseContentDisposition),
		})
	case in.UploadID != "":
		req, err = pc.PresignUploadPart(ctx, &s3.UploadPartInput{
			Bucket:        &s.c.bucket,
			Key:           &in.Key,
			UploadId:      &in.UploadID,
			PartNumber:    aws.Int32(int32(in.PartNumber)),
			ContentLength: optInt64(in.ContentLength),
		})
	default:
		put := &s3.PutObjectInput{
			Bucket:        &s.c.bucket,
			Key:           &in.Key,
			ContentLength: optInt64(in.ContentLength),
			ContentType:   optString(in.ContentType),
		}
		if in.ChecksumSHA256 != nil {
			put.ChecksumSHA256 = aws.String(base64.StdEncoding.EncodeToString(in.ChecksumSHA256))
		}
		if in.IfNoneMatch {
			put.IfNoneMatch = aws.String("*")
		}
		req, err = pc.PresignPutObject(ctx, put)
	}
	if err != nil {
		return objstore.PresignedRequest{}, s.c.MapErr(ctx, "Presign", in.Key, err, false)
	}
	h := req.SignedHeader.Clone()
	h.Del("Host")
	return objstore.PresignedRequest{Method: req.Method, URL: req.URL, Header: h, Expires: at.Add(in.Expires)}, nil
}

// CreateUpload starts a multipart upload for presigned parts.
func (s *Store) CreateUpload(ctx context.Context, key string, opts *objstore.PutOptions) (string, error) {
	if err := objstore.ValidatePut(key, opts); err != nil {
		return "", fmt.Errorf("s3store: create upload: %w", err)
	}
	if opts == nil {
		opts = &objstore.PutOptions{}
	}
	id, err := s.c.CreateMultipartUpload(ctx, key, opts, false) // clients send the parts
	return id, s.c.MapErr(ctx, "CreateMultipartUpload", key, err, false)
}

// CompleteUpload lists the upload's parts and completes it with all of them.
func (s *Store) CompleteUpload(ctx context.Context, key, uploadID string, maxSize int64, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	parts, total, err := s.listParts(ctx, key, uploadID)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	for i, p := range parts {
		if p.Number != i+1 {
			return objstore.ObjectInfo{}, fmt.Errorf("s3store: complete upload %q: part %d missing: %w", key, i+1, objstore.ErrInvalidArgument)
		}
	}
	if len(parts) == 0 || total > maxSize {
		return objstore.ObjectInfo{}, fmt.Errorf("s3store: complete upload %q: %d parts of %d bytes, at most %d allowed: %w",
			key, len(parts), total, maxSize, objstore.ErrInvalidArgument)
	}
	etag, err := s.c.CompleteMultipartUpload(ctx, key, uploadID, parts, opts)
	if err != nil {
		return objstore.ObjectInfo{}, s.c.MapErr(ctx, "CompleteMultipartUpload", key, err, opts != nil && opts.IfMatch != "")
	}
	return objstore.ObjectInfo{Key: key, Size: total, ETag: etag}, nil
}

func (s *Store) listParts(ctx context.Context, key, uploadID string) ([]objstore.CompletedPart, int64, error) {
	var (
		parts  []objstore.CompletedPart
		total  int64
		marker *string
	)
	for {
		out, err := s.c.api.ListParts(ctx, &s3.ListPartsInput{
			Bucket: &s.c.bucket, Key: &key, UploadId: &uploadID, PartNumberMarker: marker,
		})
		if err != nil {
			return nil, 0, s.c.MapErr(ctx, "ListParts", key, err, false)
		}
		for _, p := range out.Parts {
			parts = append(parts, objstore.CompletedPart{Number: int(aws.ToInt32(p.PartNumber)), ETag: aws.ToString(p.ETag)})
			total += aws.ToInt64(p.Size)
		}
		if !aws.ToBool(out.IsTruncated) || out.NextPartNumberMarker == nil {
			break
		}
		marker = out.NextPartNumberMarker
	}
	slices.SortFunc(parts, func(a, b objstore.CompletedPart) int { return a.Number - b.Number })
	return parts, total, nil
}

// ChecksumSHA256 asks the server for the object's verified SHA-256.
func (s *Store) ChecksumSHA256(ctx context.Context, key string) ([]byte, bool, error) {
	out, err := s.c.api.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: &s.c.bucket, Key: &key, ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		return nil, false, s.c.MapErr(ctx, "HeadObject", key, err, false)
	}
	if out.ChecksumSHA256 == nil || out.ChecksumType == types.ChecksumTypeComposite {
		return nil, false, nil
	}
	sum, err := base64.StdEncoding.DecodeString(aws.ToString(out.ChecksumSHA256))
	if err != nil || len(sum) != 32 {
		return nil, false, nil
	}
	return sum, true, nil
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optInt64(n int64) *int64 {
	if n <= 0 {
		return nil
	}
	return &n
}
