package memstore

import (
	"sync"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/objstoretest"
)

// stepClock starts at a fixed instant and advances a millisecond per reading.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Millisecond)
	return c.now
}

func TestConformance(t *testing.T) {
	clock := &stepClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	objstoretest.Run(t, objstoretest.Harness{
		New: func(t *testing.T) objstore.Store {
			s := New(&Options{Clock: clock.Now})
			t.Cleanup(func() { s.Close() })
			return s
		},
		Large:    !testing.Short(),
		InMemory: true,
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
			ageUpload(t, s, key, uploadID, age, s.(*Store).SetUploadInitiated)
		},
		Now: clock.Now,
	})
}

// ageUpload moves the listed upload's Initiated back by age with set.
func ageUpload(t *testing.T, s objstore.Store, key, uploadID string, age time.Duration, set func(key, id string, t time.Time) error) {
	t.Helper()
	ups, err := objstoretest.ListAllUploads(t.Context(), s, key)
	if err != nil {
		t.Fatalf("age upload %q: %v", uploadID, err)
	}
	for _, u := range ups {
		if u.UploadID == uploadID {
			if err := set(key, uploadID, u.Initiated.Add(-age)); err != nil {
				t.Fatalf("age upload %q: %v", uploadID, err)
			}
			return
		}
	}
	t.Fatalf("age upload %q: not listed", uploadID)
}

// TestProbe checks that objstore.Probe confirms every claimed capability.
func TestProbe(t *testing.T) {
	s := New(nil)
	res, err := objstore.Probe(t.Context(), s, &objstore.ProbeOptions{Multipart: true})
	if err != nil || len(res.Problems) > 0 || len(res.Unverified) > 0 || res.Capabilities != s.Capabilities() {
		t.Fatalf("probe: %v; %+v", err, res)
	}
	if keys := objstoretest.ListKeys(t, s, "", nil); len(keys) != 0 {
		t.Fatalf("probe left %q", keys)
	}
}
