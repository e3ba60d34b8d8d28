package miniostore

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/stowage-dev/stowage/internal/s3compat"
	"github.com/stowage-dev/stowage/internal/s3compat/s3test"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/objstore"
)

func open(t testing.TB, srv testenv.Server, q s3compat.Quirks, rt http.RoundTripper) objstore.Store {
	t.Helper()
	s, err := New(Config{
		Bucket:    srv.Bucket,
		Endpoint:  srv.Host(),
		Region:    srv.Region,
		AccessKey: srv.AccessKey,
		SecretKey: srv.SecretKey,
		Transport: rt,
		Quirks:    q,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) { s3test.Conformance(t, open) }

func TestLive(t *testing.T)   { s3test.Live(t, open) }
func TestFaults(t *testing.T) { s3test.Faults(t, open) }

// TestSDKLogging: with a debug-level logger, minio-go's traces reach it,
// and nothing reaches stderr.
func TestSDKLogging(t *testing.T) {
	s3test.SDKLogging(t, func(t testing.TB, srv testenv.Server, q s3compat.Quirks, log *slog.Logger) objstore.Store {
		s, err := New(Config{Bucket: srv.Bucket, Endpoint: srv.Host(), Region: srv.Region,
			AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Quirks: q, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, "minio-go trace")
}
