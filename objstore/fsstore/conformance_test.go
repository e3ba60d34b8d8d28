package fsstore

import (
	"testing"
	"time"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/objstoretest"
)

func TestConformance(t *testing.T) {
	objstoretest.Run(t, objstoretest.Harness{
		New: func(t *testing.T) objstore.Store {
			return openTemp(t, nil)
		},
		Large: !testing.Short(),
		AgeObject: func(t *testing.T, s objstore.Store, key string, age time.Duration) {
			info, err := s.Head(t.Context(), key)
			if err == nil {
				err = s.(*Store).SetModTime(key, info.ModTime.Add(-age))
			}
			if err != nil {
				t.Fatalf("age %q: %v", key, err)
			}
		},
		AgeUpload: func(t *testing.T, s objstore.Store, key, uploadID string, age time.Duration) {
			ups, err := objstoretest.ListAllUploads(t.Context(), s, key)
			if err != nil {
				t.Fatalf("age upload %q: %v", uploadID, err)
			}
			for _, u := range ups {
				if u.UploadID == uploadID {
					if err := s.(*Store).SetUploadInitiated(key, uploadID, u.Initiated.Add(-age)); err != nil {
						t.Fatalf("age upload %q: %v", uploadID, err)
					}
					return
				}
			}
			t.Fatalf("age upload %q: not listed", uploadID)
		},
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
func TestProbe(t *testing.T) {
	s := openTemp(t, nil)
	res, err := objstore.Probe(t.Context(), s, &objstore.ProbeOptions{Multipart: true})
	if err != nil || len(res.Problems) > 0 || len(res.Unverified) > 0 || res.Capabilities != s.Capabilities() {
		t.Fatalf("probe: %v; %+v", err, res)
	}
	if keys := objstoretest.ListKeys(t, s, "", nil); len(keys) != 0 {
		t.Fatalf("probe left %q", keys)
	}
}
