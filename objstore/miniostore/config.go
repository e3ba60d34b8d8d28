package miniostore

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/stowage-dev/stowage/internal/s3compat"
	"github.com/stowage-dev/stowage/objstore"
)

// Config configures a Store.
type Config struct {
	// Bucket is the bucket every key lives in. Required.
	Bucket string
	// Endpoint is the server's host:port, without a scheme. Required.
	Endpoint string
	// Secure selects https.
	Secure bool
	// Region is the signing region; empty makes minio-go ask the server
	// (GetBucketLocation) once.
	Region string
	// AccessKey and SecretKey are static credentials. If both are empty and
	// Credentials is nil, the standard chain is used: AWS_* and MINIO_*
	// environment variables, the shared AWS and mc config files, then IAM.
	AccessKey, SecretKey string
	// Credentials, if set, overrides AccessKey and SecretKey.
	Credentials *credentials.Credentials
	// Transport sends the requests; nil means minio-go's default. Tests
	// inject fault-injecting transports here.
	Transport http.RoundTripper
	// RequestTimeout bounds the silence of each request, as
	// s3compat.DeadlineTransport says; 0 means none.
	RequestTimeout time.Duration
	// Quirks describes the server; the zero value means s3compat.Generic.
	Quirks s3compat.Quirks
	// Logger receives debug records (failed aborts) and, if enabled at
	// debug level, minio-go's request traces (never stderr); nil discards
	// them.
	Logger *slog.Logger
}

// Validate reports whether cfg can make a Store.
func (cfg *Config) Validate() error {
	switch {
	case cfg.Bucket == "":
		return fmt.Errorf("miniostore: config: Bucket is required: %w", objstore.ErrInvalidArgument)
	case cfg.Endpoint == "":
		return fmt.Errorf("miniostore: config: Endpoint (host:port) is required: %w", objstore.ErrInvalidArgument)
	}
	return nil
}

// New returns a Store for cfg. It sends no request.
//
// minio-go's own retries are off (MaxRetries 1): retries belong to the retry
// decorator, which alone can tell whether a conditional write whose
// response was lost landed, and to StreamUpload for parts.
//
// minio-go cannot send If-Match on DELETE, so the Store never reports
// ConditionalDelete, whatever cfg.Quirks says about the server. It always
// sends a delimiter with ListMultipartUploads, empty by default: to a
// server that rolls uploads up on an empty one
// (Quirks.EmptyDelimiterRollsUp) it sends s3compat.NoDelimiter.
func New(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	q := cfg.Quirks.Normalize()
	q.ConditionalDelete = false
	creds := cfg.Credentials
	switch {
	case creds != nil:
	case cfg.AccessKey != "" || cfg.SecretKey != "":
		creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")
	default:
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{},
			&credentials.EnvMinio{},
			&credentials.FileAWSCredentials{},
			&credentials.FileMinioClient{},
			&credentials.IAM{},
		})
	}
	transport := cfg.Transport
	if transport == nil && cfg.RequestTimeout > 0 {
		t, err := minio.DefaultTransport(cfg.Secure)
		if err != nil {
			return nil, fmt.Errorf("miniostore: %w", err)
		}
		transport = t
	}
	if transport != nil {
		transport = s3compat.DeadlineTransport(transport, cfg.RequestTimeout)
	}
	lookup := minio.BucketLookupAuto
	if q.PathStyle {
		lookup = minio.BucketLookupPath
	}
	api, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:        creds,
		Secure:       cfg.Secure,
		Region:       cfg.Region,
		BucketLookup: lookup,
		Transport:    transport,
		MaxRetries:   1,
	})
	if err != nil {
		return nil, fmt.Errorf("miniostore: %w", err)
	}
	if cfg.Logger != nil && cfg.Logger.Enabled(context.Background(), slog.LevelDebug) {
		api.TraceOn(traceLog{cfg.Logger})
	}
	c := &client{core: minio.Core{Client: api}, bucket: cfg.Bucket}
	if q.EmptyDelimiterRollsUp {
		c.uploadsDelimiter = s3compat.NoDelimiter
	}
	return &Store{s3compat.NewStore(backend, c, q, cfg.Logger)}, nil
}
