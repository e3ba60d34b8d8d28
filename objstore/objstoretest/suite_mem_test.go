package objstoretest_test

import (
	"context"
	"testing"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/objstore/objstoretest"
)

// TestMemstorePrefixed runs the suite on memstore behind objstore.WithPrefix,
// the way the S3 backends share one bucket, with an object outside the prefix
// that the suite must neither see nor touch. (memstore runs the suite on its
// own in its package.)
func TestMemstorePrefixed(t *testing.T) {
	const prefix = "tenant/"
	base := func(s objstore.Store) objstoretest.Ager {
		return s.(interface{ Unwrap() objstore.Store }).Unwrap().(*memstore.Store)
	}
	objstoretest.Run(t, objstoretest.Harness{
		New: func(t *testing.T) objstore.Store {
			m := memstore.New(nil)
			if _, err := m.Put(t.Context(), "outside", []byte("x"), nil); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if _, err := m.Head(context.Background(), "outside"); err != nil {
					t.Errorf("object outside the prefix: %v", err)
				}
				m.Close()
			})
			return objstore.WithPrefix(m, prefix)
		},
		MaxKeyLen: objstore.MaxKeyLen - len(prefix),
		Large:     !testing.Short(),
		InMemory:  true,
		AgeObject: objstoretest.AgeObjectWith(base, prefix),
		AgeUpload: objstoretest.AgeUploadWith(base, prefix),
	})
}
