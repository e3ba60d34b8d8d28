package s3store

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stowage-dev/stowage/internal/s3compat"
	"github.com/stowage-dev/stowage/objstore"
)

// Config configures a Store.
type Config struct {
	// Bucket is the bucket every key lives in. Required.
	Bucket string
	// Endpoint is the server's base URL (http://127.0.0.1:9000); empty means
	// AWS's regional endpoint.
	Endpoint string
	// Region is the signing region; empty means the standard chain's
	// (AWS_REGION, the shared profile), or us-east-1 if that has none.
	Region string
	// UsePathStyle addresses the bucket in the URL path. It is forced on
	// when Quirks.PathStyle is set.
	UsePathStyle bool
	// Credentials signs requests; nil means the SDK's standard chain
	// (environment, shared profile, web identity, instance role).
	Credentials aws.CredentialsProvider
	// HTTPClient sends the requests; nil means the Store's own client: the
	// SDK's default transport with MaxConns idle connections kept, closed
	// by Close. Tests inject fault-injecting transports here.
	HTTPClient *http.Client
	// MaxConns is the number of concurrent requests whose connections the
	// Store's own client keeps for reuse (default DefaultMaxConns, 64).
	// Size it to the concurrency of the process: requests beyond it still
	// run, but open a new connection each.
	MaxConns int
	// RequestTimeout bounds the silence of each request (attempt): no
	// response headers, or no progress on the body, for this long fails it
	// with a *s3compat.TimeoutError (objstore.ErrTimeout, ErrUnavailable).
	// See s3compat.DeadlineTransport. 0 means none.
	RequestTimeout time.Duration
	// Quirks describes the server; the zero value means s3compat.Generic.
	Quirks s3compat.Quirks
	// Logger receives debug records (failed aborts) and the SDK's own log
	// output (its warnings; at debug level also retries and deprecated
	// usage), which never goes to stderr; nil discards them.
	Logger *slog.Logger
}

// Validate reports whether cfg can make a Store.
func (cfg *Config) Validate() error {
	if cfg.Bucket == "" {
		return fmt.Errorf("s3store: config: Bucket is required: %w", objstore.ErrInvalidArgument)
	}
	return nil
}

// New returns a Store for cfg. It sends no request: whether the bucket
// exists and the quirks hold is for a probe to find out.
//
// The SDK's own retries are off for every operation. Retries belong to the
// retry decorator, which alone can tell whether a conditional write whose
// response was lost landed (an SDK-internal retry of a conditional PUT turns
// the first attempt's success into a 412), and to StreamUpload for parts.
// Payload checksums are Content-MD5 headers set by the Store on every put
// and part, which every S3 server verifies (400 BadDigest -> ErrChecksum),
// except that a single put to a server with Quirks.ChecksPutCRC32C carries
// its x-amz-checksum-crc32c instead, the parts of a streamed upload to a
// server with Quirks.ChecksPartCRC32C carry their CRC32C (the upload
// created with that algorithm), and otherwise, with
// Quirks.ChecksPayloadHash, their SHA-256 as the signed payload hash (400
// XAmzContentSHA256Mismatch -> ErrChecksum).
// The SDK's automatic CRC32 is limited to operations that require a
// checksum (DeleteObjects): a part checksum whose algorithm the upload was
// not created with is rejected by some servers ("Checksum Type mismatch").
func New(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	q := cfg.Quirks.Normalize()
	var awsCfg aws.Config
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sdkLog := sdkLogger{log}
	if cfg.Credentials == nil || cfg.Region == "" {
		opts := []func(*config.LoadOptions) error{config.WithLogger(sdkLog)}
		if cfg.Region != "" {
			opts = append(opts, config.WithRegion(cfg.Region))
		}
		loaded, err := config.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("s3store: load AWS config: %w", err)
		}
		awsCfg = loaded
	}
	if cfg.Credentials != nil {
		awsCfg.Credentials = cfg.Credentials
	}
	if cfg.Region != "" {
		awsCfg.Region = cfg.Region
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	httpClient, transport := cfg.HTTPClient, (*http.Transport)(nil)
	if httpClient == nil {
		n := cfg.MaxConns
		if n <= 0 {
			n = DefaultMaxConns
		}
		httpClient, transport = newHTTPClient(n)
	}
	awsCfg.Logger = sdkLog
	awsCfg.ClientLogMode = 0
	doer := s3compat.DeadlineDoer(httpClient, cfg.RequestTimeout)
	api := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.UsePathStyle || q.PathStyle
		o.Retryer = aws.NopRetryer{}
		o.RetryMaxAttempts = 0
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenSupported
		o.DisableLogOutputChecksumValidationSkipped = true
		o.HTTPClient = doer
		o.Logger = sdkLog
		if log.Enabled(ctx, slog.LevelDebug) {
			o.ClientLogMode = aws.LogRetries | aws.LogDeprecatedUsage
		}
	})
	c := &client{api: api, bucket: cfg.Bucket, direct: directFor(ctx, api, cfg.Bucket, doer)}
	return &Store{Store: s3compat.NewStore(backend, c, q, cfg.Logger), c: c, transport: transport}, nil
}
