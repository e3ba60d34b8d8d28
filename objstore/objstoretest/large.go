package objstoretest

import (
	"bytes"
	"io"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/objstore"
)

// LargeSize is the body size of the large streaming case.
const LargeSize = 256 << 20

// heapSlack is what the large case allows on top of the parts in flight: the
// test's own allocations, the SDK's and the HTTP stack's buffers.
const heapSlack = 64 << 20

// testLargeUpload streams 256 MiB of unknown size from a generating reader,
// verifies the stored object by streaming hash, and bounds the heap growth
// while uploading to PartSize x (Concurrency+2) + 64 MiB.
func testLargeUpload(t *testing.T, h *Harness) {
	if !h.Large || testing.Short() {
		t.Skip("Harness.Large is false or -short")
	}
	s := h.newStore(t)
	const key = "large/stream"
	opts := &objstore.UploadOptions{PartSize: objstore.DefaultPartSize, Concurrency: objstore.DefaultConcurrency}
	bound := opts.PartSize*int64(opts.Concurrency+2) + heapSlack

	// A low GC target keeps garbage from masquerading as retained memory:
	// what is measured is then close to what the store holds on to.
	defer debug.SetGCPercent(debug.SetGCPercent(20))
	runtime.GC()
	runtime.GC() // the second also empties sync.Pools' victim caches
	m := newHeapMeter()
	base := m.sample()
	stop := m.run(time.Millisecond)
	body := PatternReader(Seed(t), LargeSize)
	start := time.Now()
	info, err := s.Upload(t.Context(), key, &meteredReader{r: body, m: m}, opts)
	elapsed := time.Since(start)
	peak := stop()
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	growth := peak - base
	t.Logf("uploaded %d MiB in %v (%.0f MiB/s); peak heap growth %.1f MiB, bound %d MiB",
		LargeSize>>20, elapsed.Round(time.Millisecond), float64(LargeSize>>20)/elapsed.Seconds(), float64(growth)/(1<<20), bound>>20)
	if h.InMemory {
		t.Logf("heap bound not checked: the store keeps objects on the heap")
	} else if growth > bound {
		t.Errorf("heap grew by %d MiB while uploading, bound is %d MiB (PartSize %d MiB x (Concurrency %d + 2) + %d MiB)",
			growth>>20, bound>>20, opts.PartSize>>20, opts.Concurrency, heapSlack>>20)
	}
	if info.Size != LargeSize {
		t.Errorf("upload returned size %d, want %d", info.Size, LargeSize)
	}
	sum, n := MustHash(t, s, key)
	if n != LargeSize || !bytes.Equal(sum, body.Sum()) {
		t.Errorf("stored %d bytes with sha256 %x, want %d bytes with %x", n, sum, LargeSize, body.Sum())
	}
	wantNoUploads(t, s, key)
	if err := s.Delete(t.Context(), key, nil); err != nil {
		t.Errorf("delete: %v", err)
	}
}

// heapMeter tracks the peak of the bytes in heap objects (live, plus dead but
// not yet swept), read with runtime/metrics, which does not stop the world.
type heapMeter struct {
	mu      sync.Mutex
	samples []metrics.Sample
	peak    uint64
}

func newHeapMeter() *heapMeter {
	return &heapMeter{samples: []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}}
}

// sample reads the heap once, records the peak and returns the reading.
func (m *heapMeter) sample() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	metrics.Read(m.samples)
	v := m.samples[0].Value.Uint64()
	m.peak = max(m.peak, v)
	return int64(v)
}

// run samples every interval until the returned stop is called; stop
// returns the peak.
func (m *heapMeter) run(interval time.Duration) (stop func() int64) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				m.sample()
			}
		}
	}()
	return func() int64 {
		close(done)
		<-finished
		m.sample()
		m.mu.Lock()
		defer m.mu.Unlock()
		return int64(m.peak)
	}
}

// meteredReader samples the heap on every Read, so that peaks between ticks
// while the store fills its buffers are seen too.
type meteredReader struct {
	r io.Reader
	m *heapMeter
}

func (r *meteredReader) Read(b []byte) (int, error) {
	r.m.sample()
	return r.r.Read(b)
}
