package attachtest

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/attach"
)

// largeSize is the size of the streamed attachment.
const largeSize = 1 << 30

// heapSampler records the peak of the in-use heap while it runs.
type heapSampler struct {
	stop chan struct{}
	done sync.WaitGroup
	peak uint64
}

func startHeapSampler() *heapSampler {
	s := &heapSampler{stop: make(chan struct{})}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			s.peak = max(s.peak, m.HeapInuse)
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *heapSampler) Stop() uint64 {
	close(s.stop)
	s.done.Wait()
	return s.peak
}

func heapInuse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// A 1 GiB attachment from a generating reader streams in and out with the
// heap bounded by the multipart window, not the size.
func testLarge(t *testing.T, e *env) {
	const part, conc = 8 << 20, 2
	a := e.session("s1", &attach.Options{PartSize: part, Concurrency: conc, MaxSize: -1})
	// Twice the live window (the GC lets the heap double) plus slack.
	bound := uint64(2*part*(conc+1) + 64<<20)

	gen := rand.NewChaCha8([32]byte{42})
	want := sha256.New()
	body := io.TeeReader(io.LimitReader(gen, largeSize), want)
	base := heapInuse()
	sampler := startHeapSampler()
	ref, err := a.Put(e.Ctx, body, attach.PutOptions{MediaType: "application/octet-stream"})
	peak := sampler.Stop()
	e.Must(err)
	if ref.Size != largeSize || ref.ID != hex.EncodeToString(want.Sum(nil)) {
		t.Fatalf("ref %+v, want %d bytes of %x", ref, largeSize, want.Sum(nil))
	}
	if peak > base && peak-base > bound {
		t.Fatalf("heap grew by %d MiB during the put, bound %d MiB", (peak-base)>>20, bound>>20)
	}
	t.Logf("put: heap grew by %d MiB (bound %d MiB)", (max(peak, base)-base)>>20, bound>>20)

	base = heapInuse()
	sampler = startHeapSampler()
	rc, _, err := a.Get(e.Ctx, ref.ID, nil)
	e.Must(err)
	got := sha256.New()
	n, err := io.Copy(got, rc)
	rc.Close()
	peak = sampler.Stop()
	e.Must(err) // a digest mismatch would be ErrChecksum here
	if n != largeSize || hex.EncodeToString(got.Sum(nil)) != ref.ID {
		t.Fatalf("read back %d bytes of %x", n, got.Sum(nil))
	}
	if peak > base && peak-base > bound {
		t.Fatalf("heap grew by %d MiB during the get, bound %d MiB", (peak-base)>>20, bound>>20)
	}
	tail, err := e.get(a, ref.ID, &attach.Range{Offset: largeSize - 100, Length: -1})
	e.Must(err)
	if len(tail) != 100 {
		t.Fatalf("tail read %d bytes", len(tail))
	}
}
