// Package all links the S3 backends into a program and registers their URL
// schemes with package openurl: s3 (s3store, aws-sdk-go-v2) and minio
// (miniostore, minio-go). openurl itself holds only the local backends
// (mem, file). The operator commands import it, and so does a library user
// who opens S3 stores by URL:
//
//	import _ "github.com/stowage-dev/stowage/objstore/all"
//
// A program without it opens mem: and file: URLs only, and links no S3 SDK
// (a test of the module's root package checks that).
package all

import (
	"context"
	"fmt"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/miniostore"
	"github.com/stowage-dev/stowage/objstore/openurl"
	"github.com/stowage-dev/stowage/objstore/s3store"
)

func init() {
	openurl.Register(openurl.SchemeS3, openS3)
	openurl.Register(openurl.SchemeMinIO, openMinIO)
}

// openS3 opens an s3 URL with s3store. Its errors are configuration
// errors: s3store.New sends no request.
func openS3(ctx context.Context, spec openurl.Spec, o *openurl.Options) (objstore.Store, error) {
	cfg, err := s3Config(spec, o)
	if err != nil {
		return nil, openurl.ConfigError(err)
	}
	s, err := s3store.New(ctx, cfg)
	if err != nil {
		return nil, openurl.ConfigError(err)
	}
	return s, nil
}

// openMinIO opens a minio URL with miniostore. Its errors are
// configuration errors: miniostore.New sends no request.
func openMinIO(_ context.Context, spec openurl.Spec, o *openurl.Options) (objstore.Store, error) {
	cfg, err := minioConfig(spec, o)
	if err != nil {
		return nil, openurl.ConfigError(err)
	}
	s, err := miniostore.New(cfg)
	if err != nil {
		return nil, openurl.ConfigError(err)
	}
	return s, nil
}

func s3Config(spec openurl.Spec, o *openurl.Options) (s3store.Config, error) {
	q, err := spec.QuirksProfile()
	if err != nil {
		return s3store.Config{}, err
	}
	cfg := s3store.Config{
		Bucket:         spec.Bucket,
		Region:         spec.Region,
		UsePathStyle:   q.PathStyle,
		HTTPClient:     o.HTTPClient,
		RequestTimeout: o.RequestTimeoutFor(spec),
		Quirks:         q,
		Logger:         o.Logger,
	}
	if spec.Endpoint != "" {
		u, err := spec.EndpointURL()
		if err != nil {
			return cfg, err
		}
		cfg.Endpoint = u.String()
	}
	return cfg, nil
}

func minioConfig(spec openurl.Spec, o *openurl.Options) (miniostore.Config, error) {
	q, err := spec.QuirksProfile()
	if err != nil {
		return miniostore.Config{}, err
	}
	if spec.Endpoint == "" {
		return miniostore.Config{}, fmt.Errorf("a minio URL needs endpoint= (or AWS_ENDPOINT_URL_S3): %w", objstore.ErrInvalidArgument)
	}
	u, err := spec.EndpointURL()
	if err != nil {
		return miniostore.Config{}, err
	}
	cfg := miniostore.Config{
		Bucket:   spec.Bucket,
		Endpoint: u.Host,
		Secure:   u.Scheme == "https",
		Region:   spec.Region,
		Quirks:   q,
		Logger:   o.Logger,

		RequestTimeout: o.RequestTimeoutFor(spec),
	}
	if o.HTTPClient != nil {
		cfg.Transport = o.HTTPClient.Transport
	}
	return cfg, nil
}
