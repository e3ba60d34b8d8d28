package manifesttest

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/stowage-dev/stowage/internal/s3compat/s3test"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/miniostore"
	"github.com/stowage-dev/stowage/objstore/retry"
	"github.com/stowage-dev/stowage/objstore/s3store"
)

// ForEachS3 runs fn as a subtest per local S3 server (see testenv) and per
// S3 backend (s3store, miniostore), each behind the retry decorator (as
// openurl composes them) on the server's shared bucket; fn's tests take
// fresh prefixes of it with s3test.Prefixed. Servers not configured are
// skipped (or fail the test when required).
func ForEachS3(t *testing.T, fn func(t *testing.T, base objstore.Store)) {
	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) {
		opens := []struct {
			name string
			open func() (objstore.Store, error)
		}{
			{"s3store", func() (objstore.Store, error) {
				return s3store.New(t.Context(), s3store.Config{
					Bucket:      srv.Bucket,
					Endpoint:    srv.Endpoint,
					Region:      srv.Region,
					Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
					Quirks:      s3test.Profile(t, srv),
				})
			}},
			{"miniostore", func() (objstore.Store, error) {
				return miniostore.New(miniostore.Config{
					Bucket:    srv.Bucket,
					Endpoint:  srv.Host(),
					Region:    srv.Region,
					AccessKey: srv.AccessKey,
					SecretKey: srv.SecretKey,
					Quirks:    s3test.Profile(t, srv),
				})
			}},
		}
		for _, o := range opens {
			t.Run(o.name, func(t *testing.T) {
				s, err := o.open()
				if err != nil {
					t.Fatal(err)
				}
				base := retry.New(s, retry.Options{})
				t.Cleanup(func() { base.Close() })
				fn(t, base)
			})
		}
	})
}
