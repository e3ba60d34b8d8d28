package retry_test

import (
	"context"
	"io"
	"iter"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/objstore/retry"
)

// fakeStore is a func-field fake: each set field replaces one method, and
// receives the 1-based number of its call; unset methods go to the embedded
// memstore. It counts calls per operation.
type fakeStore struct {
	*memstore.Store

	put        func(n int, ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error)
	head       func(n int, ctx context.Context, key string) (objstore.ObjectInfo, error)
	delete     func(n int, ctx context.Context, key string, opts *objstore.DeleteOptions) error
	deleteMany func(n int, ctx context.Context, keys []string) error
	list       func(n int, ctx context.Context, prefix string, opts *objstore.ListOptions) iter.Seq2[objstore.ObjectInfo, error]
	upload     func(n int, ctx context.Context, key string, body io.Reader, opts *objstore.UploadOptions) (objstore.ObjectInfo, error)

	mu    sync.Mutex
	calls map[string]int
}

func newFake() *fakeStore {
	return &fakeStore{Store: memstore.New(nil), calls: map[string]int{}}
}

func (f *fakeStore) call(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	return f.calls[op]
}

func (f *fakeStore) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func (f *fakeStore) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	n := f.call(objstore.OpPut)
	if f.put != nil {
		return f.put(n, ctx, key, data, opts)
	}
	return f.Store.Put(ctx, key, data, opts)
}

func (f *fakeStore) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	n := f.call(objstore.OpHead)
	if f.head != nil {
		return f.head(n, ctx, key)
	}
	return f.Store.Head(ctx, key)
}

func (f *fakeStore) Delete(ctx context.Context, key string, opts *objstore.DeleteOptions) error {
	n := f.call(objstore.OpDelete)
	if f.delete != nil {
		return f.delete(n, ctx, key, opts)
	}
	return f.Store.Delete(ctx, key, opts)
}

func (f *fakeStore) DeleteMany(ctx context.Context, keys []string) error {
	n := f.call(objstore.OpDeleteMany)
	if f.deleteMany != nil {
		return f.deleteMany(n, ctx, keys)
	}
	return f.Store.DeleteMany(ctx, keys)
}

func (f *fakeStore) List(ctx context.Context, prefix string, opts *objstore.ListOptions) iter.Seq2[objstore.ObjectInfo, error] {
	n := f.call(objstore.OpList)
	if f.list != nil {
		return f.list(n, ctx, prefix, opts)
	}
	return f.Store.List(ctx, prefix, opts)
}

func (f *fakeStore) Upload(ctx context.Context, key string, body io.Reader, opts *objstore.UploadOptions) (objstore.ObjectInfo, error) {
	n := f.call(objstore.OpUpload)
	if f.upload != nil {
		return f.upload(n, ctx, key, body, opts)
	}
	return f.Store.Upload(ctx, key, body, opts)
}

// sleeper records backoff delays and returns at once.
type sleeper struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (s *sleeper) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.delays = append(s.delays, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeper) n() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.delays)
}

// retryRecord records OnRetry calls.
type retryRecord struct {
	mu    sync.Mutex
	calls []string
}

func (r *retryRecord) OnRetry(op string, attempt int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, op+":"+objstore.ErrorCode(err))
}

// newRetry wraps f with a seeded, sleep-free retry decorator.
func newRetry(t *testing.T, f objstore.Store, attempts int) (objstore.Store, *sleeper, *retryRecord) {
	t.Helper()
	sl, rec := &sleeper{}, &retryRecord{}
	const seed = 1
	s := retry.New(f, retry.Options{
		MaxAttempts: attempts,
		Sleep:       sl.Sleep,
		Rand:        rand.New(rand.NewPCG(seed, seed)),
		OnRetry:     rec.OnRetry,
	})
	return s, sl, rec
}
