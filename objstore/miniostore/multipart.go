package miniostore

import (
	"context"
	"net/http"

	"github.com/minio/minio-go/v7"

	"github.com/stowage-dev/stowage/internal/s3compat"
	"github.com/stowage-dev/stowage/objstore"
)

func (c *client) CreateMultipartUpload(ctx context.Context, key string, opts *objstore.PutOptions, crc32c bool) (string, error) {
	po := putOptions(opts)
	if crc32c {
		if po.UserMetadata == nil {
			po.UserMetadata = map[string]string{}
		}
		po.UserMetadata["x-amz-checksum-algorithm"] = "CRC32C" // an x-amz- key is sent as the header itself
	}
	return c.core.NewMultipartUpload(ctx, c.bucket, key, po)
}

// UploadPart sends the part with its Content-MD5, or its CRC32C as
// UNSIGNED-PAYLOAD if the body carries one, or, if the body carries its
// SHA-256, signed with that as the payload hash (DisableContentSha256 only
// turns off minio-go's streaming signature, which hashes again).
func (c *client) UploadPart(ctx context.Context, key, uploadID string, n int, body *s3compat.RequestBody) (string, error) {
	opts := minio.PutObjectPartOptions{Md5Base64: body.ContentMD5(), Sha256Hex: body.PayloadSHA256(), DisableContentSha256: true}
	if sum := body.ChecksumCRC32C(); sum != "" {
		opts.CustomHeader = http.Header{"X-Amz-Checksum-Crc32c": []string{sum}}
	}
	part, err := c.core.PutObjectPart(ctx, c.bucket, key, uploadID, n, body, body.Size(), opts)
	if err != nil {
		return "", err
	}
	return part.ETag, nil
}

func (c *client) CompleteMultipartUpload(ctx context.Context, key, uploadID string, parts []objstore.CompletedPart, opts *objstore.PutOptions) (string, error) {
	done := make([]minio.CompletePart, len(parts))
	for i, p := range parts {
		done[i] = minio.CompletePart{PartNumber: p.Number, ETag: p.ETag, ChecksumCRC32C: p.ChecksumCRC32C}
	}
	up, err := c.core.CompleteMultipartUpload(ctx, c.bucket, key, uploadID, done, putOptions(opts))
	if err != nil {
		return "", err
	}
	return up.ETag, nil
}

func (c *client) ListMultipartUploads(ctx context.Context, prefix, keyMarker, uploadIDMarker string) (s3compat.UploadPage, error) {
	res, err := c.core.ListMultipartUploads(ctx, c.bucket, prefix, keyMarker, uploadIDMarker, c.uploadsDelimiter, 1000)
	if err != nil {
		return s3compat.UploadPage{}, err
	}
	page := s3compat.UploadPage{Truncated: res.IsTruncated, NextKey: res.NextKeyMarker, NextUploadID: res.NextUploadIDMarker}
	for _, u := range res.Uploads {
		page.Uploads = append(page.Uploads, objstore.UploadInfo{Key: u.Key, UploadID: u.UploadID, Initiated: u.Initiated})
	}
	return page, nil
}

func (c *client) AbortMultipartUpload(ctx context.Context, key, uploadID string) error {
	return c.core.AbortMultipartUpload(ctx, c.bucket, key, uploadID)
}

func (c *client) ListParts(ctx context.Context, key, uploadID string, partMarker int) (s3compat.PartsPage, error) {
	res, err := c.core.ListObjectParts(ctx, c.bucket, key, uploadID, partMarker, 1000)
	if err != nil {
		return s3compat.PartsPage{}, err
	}
	page := s3compat.PartsPage{Truncated: res.IsTruncated, NextMarker: res.NextPartNumberMarker}
	for _, p := range res.ObjectParts {
		page.Sizes = append(page.Sizes, p.Size)
	}
	return page, nil
}
