package s3store

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/stowage-dev/stowage/internal/s3compat"
	"github.com/stowage-dev/stowage/objstore"
)

func (c *client) CreateMultipartUpload(ctx context.Context, key string, opts *objstore.PutOptions, crc32c bool) (string, error) {
	in := &s3.CreateMultipartUploadInput{
		Bucket:      &c.bucket,
		Key:         &key,
		ContentType: aws.String(s3compat.ContentType(opts)),
		Metadata:    opts.Metadata,
	}
	if crc32c {
		in.ChecksumAlgorithm = types.ChecksumAlgorithmCrc32c
	}
	out, err := c.api.CreateMultipartUpload(ctx, in)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.UploadId), nil
}

// UploadPart sends the part as UNSIGNED-PAYLOAD with its CRC32C if the
// body carries one, else signed with its SHA-256 if it carries that, else
// as UNSIGNED-PAYLOAD with its Content-MD5.
func (c *client) UploadPart(ctx context.Context, key, uploadID string, n int, body *s3compat.RequestBody) (string, error) {
	in := &s3.UploadPartInput{
		Bucket:        &c.bucket,
		Key:           &key,
		UploadId:      &uploadID,
		PartNumber:    aws.Int32(int32(n)),
		Body:          body,
		ContentLength: aws.Int64(body.Size()),
	}
	payload := unsignedPayload
	switch {
	case body.ChecksumCRC32C() != "":
		in.ChecksumCRC32C = aws.String(body.ChecksumCRC32C())
	case body.PayloadSHA256() != "":
		payload = signedPayload(body.PayloadSHA256())
	default:
		in.ContentMD5 = aws.String(body.ContentMD5())
	}
	out, err := c.api.UploadPart(ctx, in, payload)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ETag), nil
}

func (c *client) CompleteMultipartUpload(ctx context.Context, key, uploadID string, parts []objstore.CompletedPart, opts *objstore.PutOptions) (string, error) {
	done := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		done[i] = types.CompletedPart{PartNumber: aws.Int32(int32(p.Number)), ETag: aws.String(s3compat.QuoteETag(p.ETag))}
		if p.ChecksumCRC32C != "" {
			done[i].ChecksumCRC32C = aws.String(p.ChecksumCRC32C)
		}
	}
	in := &s3.CompleteMultipartUploadInput{
		Bucket:          &c.bucket,
		Key:             &key,
		UploadId:        &uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
	}
	in.IfNoneMatch, in.IfMatch = conditions(opts)
	out, err := c.api.CompleteMultipartUpload(ctx, in)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ETag), nil
}

func (c *client) ListMultipartUploads(ctx context.Context, prefix, keyMarker, uploadIDMarker string) (s3compat.UploadPage, error) {
	in := &s3.ListMultipartUploadsInput{Bucket: &c.bucket}
	if prefix != "" {
		in.Prefix = &prefix
	}
	if keyMarker != "" {
		in.KeyMarker = &keyMarker
	}
	if uploadIDMarker != "" {
		in.UploadIdMarker = &uploadIDMarker
	}
	out, err := c.api.ListMultipartUploads(ctx, in)
	if err != nil {
		return s3compat.UploadPage{}, err
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
}

func (c *client) AbortMultipartUpload(ctx context.Context, key, uploadID string) error {
	_, err := c.api.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &c.bucket, Key: &key, UploadId: &uploadID})
	return err
}

func (c *client) ListParts(ctx context.Context, key, uploadID string, partMarker int) (s3compat.PartsPage, error) {
	in := &s3.ListPartsInput{Bucket: &c.bucket, Key: &key, UploadId: &uploadID}
	if partMarker > 0 {
		in.PartNumberMarker = aws.String(strconv.Itoa(partMarker))
	}
	out, err := c.api.ListParts(ctx, in)
	if err != nil {
		return s3compat.PartsPage{}, err
	}
	page := s3compat.PartsPage{Truncated: aws.ToBool(out.IsTruncated)}
	if m := aws.ToString(out.NextPartNumberMarker); m != "" {
		if page.NextMarker, err = strconv.Atoi(m); err != nil {
			return s3compat.PartsPage{}, fmt.Errorf("s3store: ListParts: NextPartNumberMarker %q: %w", m, err)
		}
	}
	for _, p := range out.Parts {
		page.Sizes = append(page.Sizes, aws.ToInt64(p.Size))
	}
	return page, nil
}
