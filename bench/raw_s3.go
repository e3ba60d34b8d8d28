package bench

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"

	"github.com/stowage-dev/stowage/objstore/openurl"
)

// s3Raw is the aws-sdk-go-v2 baseline, with the SDK's default configuration
// (its standard retryer and default checksums): what an application calling
// the SDK directly gets.
type s3Raw struct {
	c      *s3.Client
	bucket string
	prefix string
}

func newS3Raw(ctx context.Context, spec openurl.Spec, prefix string) (*s3Raw, error) {
	var opts []func(*config.LoadOptions) error
	if spec.Region != "" {
		opts = append(opts, config.WithRegion(spec.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("bench: load AWS config: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	endpoint := spec.Endpoint
	if endpoint != "" && !strings.Contains(endpoint, "://") {
		scheme := "https://"
		if spec.TLS != nil && !*spec.TLS {
			scheme = "http://"
		}
		endpoint = scheme + endpoint
	}
	pathStyle := endpoint != ""
	if spec.PathStyle != nil {
		pathStyle = *spec.PathStyle
	}
	c := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.UsePathStyle = pathStyle
	})
	return &s3Raw{c: c, bucket: spec.Bucket, prefix: prefix}, nil
}

func (r *s3Raw) Name() string { return "aws-sdk-go-v2" }

func (r *s3Raw) key(k string) *string { return aws.String(r.prefix + k) }

func (r *s3Raw) Put(ctx context.Context, key string, data []byte) (string, error) {
	out, err := r.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &r.bucket, Key: r.key(key), Body: bytes.NewReader(data)})
	if err != nil {
		return "", fmt.Errorf("bench: raw put: %w", err)
	}
	return aws.ToString(out.ETag), nil
}

func (r *s3Raw) PutIfMatch(ctx context.Context, key string, data []byte, etag string) (string, error) {
	in := &s3.PutObjectInput{Bucket: &r.bucket, Key: r.key(key), Body: bytes.NewReader(data)}
	if etag == "" {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(etag)
	}
	out, err := r.c.PutObject(ctx, in)
	if err != nil {
		return "", fmt.Errorf("bench: raw conditional put: %w", err)
	}
	return aws.ToString(out.ETag), nil
}

func (r *s3Raw) Get(ctx context.Context, key string, w io.Writer) (int64, error) {
	out, err := r.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &r.bucket, Key: r.key(key)})
	if err != nil {
		return 0, fmt.Errorf("bench: raw get: %w", err)
	}
	defer out.Body.Close()
	n, err := io.Copy(w, out.Body)
	if err != nil {
		return n, fmt.Errorf("bench: raw get: %w", err)
	}
	return n, nil
}

func (r *s3Raw) GetIfNoneMatch(ctx context.Context, key, etag string) (bool, error) {
	out, err := r.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &r.bucket, Key: r.key(key), IfNoneMatch: aws.String(etag)})
	if err == nil {
		_, _ = io.Copy(io.Discard, out.Body)
		out.Body.Close()
		return false, nil
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) && re.HTTPStatusCode() == 304 {
		return true, nil
	}
	return false, fmt.Errorf("bench: raw conditional get: %w", err)
}

// Upload is a plain SDK multipart upload: CreateMultipartUpload, UploadPart
// with up to concurrency parts in flight (each part buffered once), then
// CompleteMultipartUpload.
func (r *s3Raw) Upload(ctx context.Context, key string, body io.Reader, partSize int64, concurrency int) (int64, error) {
	created, err := r.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &r.bucket, Key: r.key(key)})
	if err != nil {
		return 0, fmt.Errorf("bench: raw create multipart: %w", err)
	}
	abort := func() {
		_, _ = r.c.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{
			Bucket: &r.bucket, Key: r.key(key), UploadId: created.UploadId})
	}
	var (
		mu    sync.Mutex
		parts []types.CompletedPart
		total int64
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	free := make(chan []byte, concurrency+1)
	for i := 0; i < concurrency+1; i++ {
		free <- make([]byte, partSize)
	}
	for n := int32(1); ; n++ {
		var buf []byte
		select {
		case buf = <-free:
		case <-gctx.Done():
			abort()
			return 0, g.Wait()
		}
		m, rerr := io.ReadFull(body, buf)
		if m == 0 && rerr != nil {
			if rerr != io.EOF {
				abort()
				return 0, rerr
			}
			break
		}
		total += int64(m)
		g.Go(func() error {
			defer func() { free <- buf }()
			out, err := r.c.UploadPart(gctx, &s3.UploadPartInput{
				Bucket: &r.bucket, Key: r.key(key), UploadId: created.UploadId,
				PartNumber: aws.Int32(n), Body: bytes.NewReader(buf[:m]),
			})
			if err != nil {
				return fmt.Errorf("bench: raw upload part %d: %w", n, err)
			}
			mu.Lock()
			parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)})
			mu.Unlock()
			return nil
		})
		if rerr != nil {
			break
		}
	}
	if err := g.Wait(); err != nil {
		abort()
		return 0, err
	}
	sortParts(parts)
	_, err = r.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &r.bucket, Key: r.key(key), UploadId: created.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		abort()
		return 0, fmt.Errorf("bench: raw complete multipart: %w", err)
	}
	return total, nil
}

func sortParts(parts []types.CompletedPart) {
	slices.SortFunc(parts, func(a, b types.CompletedPart) int { return cmp.Compare(*a.PartNumber, *b.PartNumber) })
}

// ListDelete pages through ListObjectsV2 and deletes each page with one
// DeleteObjects (S3 pages hold up to 1000 keys, DeleteObjects' limit).
func (r *s3Raw) ListDelete(ctx context.Context, prefix string) (int, error) {
	p := s3.NewListObjectsV2Paginator(r.c, &s3.ListObjectsV2Input{Bucket: &r.bucket, Prefix: r.key(prefix)})
	n := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return n, fmt.Errorf("bench: raw list: %w", err)
		}
		if len(page.Contents) == 0 {
			continue
		}
		keys := make([]string, len(page.Contents))
		for i, o := range page.Contents {
			keys[i] = strings.TrimPrefix(aws.ToString(o.Key), r.prefix)
		}
		if err := r.Delete(ctx, keys); err != nil {
			return n, err
		}
		n += len(keys)
	}
	return n, nil
}

func (r *s3Raw) Delete(ctx context.Context, keys []string) error {
	ids := make([]types.ObjectIdentifier, len(keys))
	for i, k := range keys {
		ids[i] = types.ObjectIdentifier{Key: r.key(k)}
	}
	out, err := r.c.DeleteObjects(ctx, &s3.DeleteObjectsInput{
		Bucket: &r.bucket, Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
	})
	if err != nil {
		return fmt.Errorf("bench: raw delete objects: %w", err)
	}
	if len(out.Errors) > 0 {
		var apiErr smithy.GenericAPIError
		apiErr.Code, apiErr.Message = aws.ToString(out.Errors[0].Code), aws.ToString(out.Errors[0].Message)
		return fmt.Errorf("bench: raw delete objects: %d failed: %w", len(out.Errors), &apiErr)
	}
	return nil
}

func (r *s3Raw) Cleanup(ctx context.Context) error {
	_, err := r.ListDelete(ctx, "")
	return err
}

func (r *s3Raw) Close() error { return nil }
