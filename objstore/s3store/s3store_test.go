package s3store

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/stowage-dev/stowage/internal/s3compat"
	"github.com/stowage-dev/stowage/internal/s3compat/s3test"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/objstore"
)

func open(t testing.TB, srv testenv.Server, q s3compat.Quirks, rt http.RoundTripper) objstore.Store {
	t.Helper()
	var client *http.Client
	if rt != nil {
		client = &http.Client{Transport: rt}
	}
	s, err := New(t.Context(), Config{
		Bucket:      srv.Bucket,
		Endpoint:    srv.Endpoint,
		Region:      srv.Region,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
		HTTPClient:  client,
		Quirks:      q,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) { s3test.Conformance(t, open) }

func TestLive(t *testing.T)   { s3test.Live(t, open) }
func TestFaults(t *testing.T) { s3test.Faults(t, open) }

// TestSDKLogging: aws-sdk-go-v2's warnings reach the injected logger, not
// stderr.
func TestSDKLogging(t *testing.T) {
	s3test.SDKLogging(t, func(t testing.TB, srv testenv.Server, q s3compat.Quirks, log *slog.Logger) objstore.Store {
		s, err := New(t.Context(), Config{Bucket: srv.Bucket, Endpoint: srv.Endpoint, Region: srv.Region,
			Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""), Quirks: q, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, "failed to parse response Date header")
}
