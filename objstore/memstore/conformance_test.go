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
		Large:     !testing.Short(),
		InMemory:  true,
		AgeObject: objstoretest.AgeObjectWith(nil, ""),
		AgeUpload: objstoretest.AgeUploadWith(nil, ""),
		Now:       clock.Now,
	})
}

// TestProbe checks that objstore.Probe confirms every claimed capability.
func TestProbe(t *testing.T) { objstoretest.CheckProbe(t, New(nil)) }
