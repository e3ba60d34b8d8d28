package manifest_test

import (
	"testing"

	"github.com/stowage-dev/stowage/internal/s3compat/s3test"
	"github.com/stowage-dev/stowage/manifest/manifesttest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/fsstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
)

func TestMemstore(t *testing.T) {
	manifesttest.Run(t, manifesttest.Harness{
		New: func(*testing.T) objstore.Store { return memstore.New(nil) },
	})
}

func TestFsstore(t *testing.T) {
	manifesttest.Run(t, manifesttest.Harness{
		New: func(t *testing.T) objstore.Store {
			s, err := fsstore.Open(t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		RaceSeeds: 24,
	})
}

func TestS3(t *testing.T) {
	manifesttest.ForEachS3(t, func(t *testing.T, base objstore.Store) {
		manifesttest.Run(t, manifesttest.Harness{
			New:       func(t *testing.T) objstore.Store { return s3test.Prefixed(t, base) },
			RaceSeeds: 16,
		})
	})
}
