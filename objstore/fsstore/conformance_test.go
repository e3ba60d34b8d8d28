package fsstore

import (
	"testing"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/objstoretest"
)

func TestConformance(t *testing.T) {
	objstoretest.Run(t, objstoretest.Harness{
		New: func(t *testing.T) objstore.Store {
			return openTemp(t, nil)
		},
		Large:     !testing.Short(),
		AgeObject: objstoretest.AgeObjectWith(nil, ""),
		AgeUpload: objstoretest.AgeUploadWith(nil, ""),
	})
}

// openTemp opens a store in a fresh temporary directory, closed at cleanup.
func openTemp(t *testing.T, opts *Options) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestProbe checks that objstore.Probe confirms every claimed capability.
func TestProbe(t *testing.T) { objstoretest.CheckProbe(t, openTemp(t, nil)) }
