package attach_test

import (
	"testing"

	"github.com/stowage-dev/stowage/attach/hostiletest"
	"github.com/stowage-dev/stowage/internal/s3compat/s3test"
	"github.com/stowage-dev/stowage/manifest/manifesttest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/fsstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
)

func TestHostileTenantMemstore(t *testing.T) {
	hostiletest.Run(t, hostiletest.Harness{
		New: func(*testing.T) objstore.Store { return memstore.New(nil) },
	})
}

func TestHostileTenantFsstore(t *testing.T) {
	hostiletest.Run(t, hostiletest.Harness{
		New: func(t *testing.T) objstore.Store {
			s, err := fsstore.Open(t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	})
}

// TestHostileTenantS3 runs the suite on s3store and miniostore against each
// local server (MinIO, versitygw).
func TestHostileTenantS3(t *testing.T) {
	manifesttest.ForEachS3(t, func(t *testing.T, base objstore.Store) {
		hostiletest.Run(t, hostiletest.Harness{
			New: func(t *testing.T) objstore.Store { return s3test.Prefixed(t, base) },
		})
	})
}
