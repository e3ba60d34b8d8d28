package retry_test

import (
	"context"
	"errors"
	"iter"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/retry"
)

func fail(op, key string, err error) error {
	return &objstore.OpError{Backend: "fake", Op: op, Key: key, Err: err}
}

func TestRetriesTransientThenSucceeds(t *testing.T) {
	f := newFake()
	failures := []error{objstore.ErrUnavailable, objstore.ErrThrottled, objstore.ErrConflict}
	f.put = func(n int, ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
		if n <= len(failures) {
			return objstore.ObjectInfo{}, fail("put", key, failures[n-1])
		}
		return f.Store.Put(ctx, key, data, opts)
	}
	s, sl, rec := newRetry(t, f, 5)
	if _, err := s.Put(t.Context(), "k", []byte("v"), nil); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if got := f.count(objstore.OpPut); got != 4 {
		t.Errorf("attempts = %d, want 4", got)
	}
	if sl.n() != 3 {
		t.Errorf("sleeps = %d, want 3", sl.n())
	}
	want := []string{"put:unavailable", "put:throttled", "put:conflict"}
	if !slices.Equal(rec.calls, want) {
		t.Errorf("OnRetry calls = %v, want %v", rec.calls, want)
	}
}

func TestNoRetryOnPermanentErrors(t *testing.T) {
	for _, perm := range []error{objstore.ErrPermission, objstore.ErrNotExist, objstore.ErrInvalidArgument, objstore.ErrOutcomeUnknown, errors.New("boom")} {
		t.Run(objstore.ErrorCode(perm), func(t *testing.T) {
			f := newFake()
			f.head = func(n int, ctx context.Context, key string) (objstore.ObjectInfo, error) {
				return objstore.ObjectInfo{}, fail("head", key, perm)
			}
			s, sl, _ := newRetry(t, f, 5)
			_, err := s.Head(t.Context(), "k")
			if !errors.Is(err, perm) {
				t.Fatalf("Head error = %v, want %v", err, perm)
			}
			if f.count(objstore.OpHead) != 1 || sl.n() != 0 {
				t.Errorf("attempts = %d, sleeps = %d; want 1, 0", f.count(objstore.OpHead), sl.n())
			}
		})
	}
}

func TestNoRetryOnCancelledContext(t *testing.T) {
	f := newFake()
	f.head = func(n int, ctx context.Context, key string) (objstore.ObjectInfo, error) {
		return objstore.ObjectInfo{}, fail("head", key, objstore.ErrUnavailable)
	}
	s, sl, _ := newRetry(t, f, 5)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Head(ctx, "k"); !errors.Is(err, objstore.ErrUnavailable) {
		t.Fatalf("Head error = %v", err)
	}
	if f.count(objstore.OpHead) != 1 || sl.n() != 0 {
		t.Errorf("attempts = %d, sleeps = %d; want 1, 0", f.count(objstore.OpHead), sl.n())
	}
}

func TestStopsWhenSleepIsCancelled(t *testing.T) {
	f := newFake()
	f.head = func(n int, ctx context.Context, key string) (objstore.ObjectInfo, error) {
		return objstore.ObjectInfo{}, fail("head", key, objstore.ErrThrottled)
	}
	s := retry.New(f, retry.Options{Sleep: func(ctx context.Context, d time.Duration) error { return context.Canceled }})
	if _, err := s.Head(t.Context(), "k"); !errors.Is(err, objstore.ErrThrottled) {
		t.Fatalf("Head error = %v", err)
	}
	if f.count(objstore.OpHead) != 1 {
		t.Errorf("attempts = %d, want 1", f.count(objstore.OpHead))
	}
}

func TestMaxAttempts(t *testing.T) {
	f := newFake()
	f.delete = func(n int, ctx context.Context, key string, opts *objstore.DeleteOptions) error {
		return fail("delete", key, objstore.ErrThrottled)
	}
	s, sl, _ := newRetry(t, f, 3)
	if err := s.Delete(t.Context(), "k", nil); !errors.Is(err, objstore.ErrThrottled) {
		t.Fatalf("Delete error = %v", err)
	}
	if f.count(objstore.OpDelete) != 3 || sl.n() != 2 {
		t.Errorf("attempts = %d, sleeps = %d; want 3, 2", f.count(objstore.OpDelete), sl.n())
	}
}

func TestBackoffIsCappedFullJitter(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	base, max := 10*time.Millisecond, 50*time.Millisecond
	var delays []time.Duration
	run := func() []time.Duration {
		delays = nil
		f := newFake()
		f.head = func(n int, ctx context.Context, key string) (objstore.ObjectInfo, error) {
			return objstore.ObjectInfo{}, fail("head", key, objstore.ErrUnavailable)
		}
		s := retry.New(f, retry.Options{
			MaxAttempts: 8, BaseDelay: base, MaxDelay: max,
			Rand: rand.New(rand.NewPCG(seed, 0)),
			Sleep: func(ctx context.Context, d time.Duration) error {
				delays = append(delays, d)
				return nil
			},
		})
		_, _ = s.Head(t.Context(), "k")
		return delays
	}
	got := run()
	if len(got) != 7 {
		t.Fatalf("%d sleeps, want 7", len(got))
	}
	var sum time.Duration
	for i, d := range got {
		limit := min(max, base<<i)
		if d < 0 || d > limit {
			t.Errorf("delay %d = %v, want within [0, %v]", i+1, d, limit)
		}
		sum += d
	}
	if sum == 0 {
		t.Errorf("all delays are zero: no jitter drawn")
	}
	if again := run(); !slices.Equal(got, again) {
		t.Errorf("same seed gave delays %v then %v", got, again)
	}
}

func TestDeleteManyRetriesOnlyRetryableKeys(t *testing.T) {
	f := newFake()
	var seen [][]string
	f.deleteMany = func(n int, ctx context.Context, keys []string) error {
		seen = append(seen, slices.Clone(keys))
		if n == 1 {
			return &objstore.DeleteManyError{Failed: map[string]error{
				"b": fail("delete", "b", objstore.ErrUnavailable),
				"c": fail("delete", "c", objstore.ErrPermission),
			}}
		}
		return nil
	}
	s, _, _ := newRetry(t, f, 5)
	err := s.DeleteMany(t.Context(), []string{"a", "b", "c", "d"})
	var dme *objstore.DeleteManyError
	if !errors.As(err, &dme) || len(dme.Failed) != 1 || dme.Failed["c"] == nil {
		t.Fatalf("DeleteMany error = %v, want a DeleteManyError for c only", err)
	}
	want := [][]string{{"a", "b", "c", "d"}, {"b"}}
	if !slices.EqualFunc(seen, want, slices.Equal) {
		t.Errorf("calls = %v, want %v", seen, want)
	}
}

func TestDeleteManyWholeRequestRetried(t *testing.T) {
	f := newFake()
	f.deleteMany = func(n int, ctx context.Context, keys []string) error {
		if n == 1 {
			return fail("delete_many", "", objstore.ErrUnavailable)
		}
		return f.Store.DeleteMany(ctx, keys)
	}
	s, _, _ := newRetry(t, f, 5)
	if err := s.DeleteMany(t.Context(), []string{"a"}); err != nil {
		t.Fatalf("DeleteMany: %v", err)
	}
	if f.count(objstore.OpDeleteMany) != 2 {
		t.Errorf("attempts = %d, want 2", f.count(objstore.OpDeleteMany))
	}
}

// failingAfter yields the listing of seq but fails with err after n entries.
func failingAfter(seq iter.Seq2[objstore.ObjectInfo, error], n int, err error) iter.Seq2[objstore.ObjectInfo, error] {
	return func(yield func(objstore.ObjectInfo, error) bool) {
		i := 0
		for info, e := range seq {
			if i == n {
				yield(objstore.ObjectInfo{}, err)
				return
			}
			i++
			if !yield(info, e) {
				return
			}
		}
	}
}

func TestListResumesAfterLastKey(t *testing.T) {
	for _, delim := range []string{"", "/"} {
		t.Run("delimiter="+delim, func(t *testing.T) {
			f := newFake()
			for _, k := range []string{"p/a", "p/b/1", "p/b/2", "p/c", "p/d/1", "p/e"} {
				if _, err := f.Store.Put(t.Context(), k, nil, nil); err != nil {
					t.Fatal(err)
				}
			}
			var starts []string
			f.list = func(n int, ctx context.Context, prefix string, opts *objstore.ListOptions) iter.Seq2[objstore.ObjectInfo, error] {
				starts = append(starts, opts.StartAfter)
				seq := f.Store.List(ctx, prefix, opts)
				if n <= 2 {
					return failingAfter(seq, 2, fail("list", "", objstore.ErrUnavailable))
				}
				return seq
			}
			s, _, _ := newRetry(t, f, 2) // 2 attempts suffice: progress resets the count
			var keys []string
			for info, err := range s.List(t.Context(), "p/", &objstore.ListOptions{Delimiter: delim}) {
				if err != nil {
					t.Fatalf("List: %v", err)
				}
				keys = append(keys, info.Key)
			}
			var want []string
			for info, err := range f.Store.List(t.Context(), "p/", &objstore.ListOptions{Delimiter: delim}) {
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, info.Key)
			}
			if !slices.Equal(keys, want) {
				t.Errorf("keys = %v, want %v", keys, want)
			}
			if starts[0] != "" || starts[1] != want[1] {
				t.Errorf("StartAfter of the listings = %q, want \"\" then %q", starts, want[1])
			}
		})
	}
}

func TestListGivesUpWithoutProgress(t *testing.T) {
	f := newFake()
	f.list = func(n int, ctx context.Context, prefix string, opts *objstore.ListOptions) iter.Seq2[objstore.ObjectInfo, error] {
		return func(yield func(objstore.ObjectInfo, error) bool) {
			yield(objstore.ObjectInfo{}, fail("list", "", objstore.ErrUnavailable))
		}
	}
	s, _, _ := newRetry(t, f, 3)
	var errs int
	for _, err := range s.List(t.Context(), "", nil) {
		if !errors.Is(err, objstore.ErrUnavailable) {
			t.Fatalf("List yielded %v", err)
		}
		errs++
	}
	if errs != 1 || f.count(objstore.OpList) != 3 {
		t.Errorf("errors = %d, listings = %d; want 1, 3", errs, f.count(objstore.OpList))
	}
}

func TestConcurrentUse(t *testing.T) {
	f := newFake()
	var tried sync.Map
	f.put = func(n int, ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
		if _, again := tried.LoadOrStore(key, true); !again {
			return objstore.ObjectInfo{}, fail("put", key, objstore.ErrThrottled)
		}
		return f.Store.Put(ctx, key, data, opts)
	}
	s, _, _ := newRetry(t, f, 2)
	errs := make(chan error)
	for i := range 16 {
		go func() {
			_, err := s.Put(context.Background(), "k"+string(rune('a'+i)), []byte("x"), &objstore.PutOptions{IfNoneMatch: true})
			errs <- err
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Errorf("Put: %v", err)
		}
	}
}
