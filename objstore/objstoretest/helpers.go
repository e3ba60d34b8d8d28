package objstoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/objstore"
)

// MustPut puts data under key and fails the test on error.
func MustPut(t testing.TB, s objstore.Store, key string, data []byte, opts *objstore.PutOptions) objstore.ObjectInfo {
	t.Helper()
	info, err := s.Put(t.Context(), key, data, opts)
	if err != nil {
		t.Fatalf("put %q (%s): %v", key, opts.Condition(), err)
	}
	return info
}

// ReadAll gets key and reads its whole body.
func ReadAll(ctx context.Context, s objstore.Store, key string, opts *objstore.GetOptions) ([]byte, objstore.ObjectInfo, error) {
	rc, info, err := s.Get(ctx, key, opts)
	if err != nil {
		if rc != nil {
			rc.Close()
		}
		return nil, info, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, info, fmt.Errorf("read body of %q: %w", key, err)
	}
	return b, info, nil
}

// MustGet reads the whole object under key and fails the test on error.
func MustGet(t testing.TB, s objstore.Store, key string) ([]byte, objstore.ObjectInfo) {
	t.Helper()
	b, info, err := ReadAll(t.Context(), s, key, nil)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	return b, info
}

// MustHash streams the object under key through SHA-256 without holding it in
// memory and fails the test on error.
func MustHash(t testing.TB, s objstore.Store, key string) (sum []byte, n int64) {
	t.Helper()
	rc, _, err := s.Get(t.Context(), key, nil)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	defer rc.Close()
	sum, n, err = HashReader(rc)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return sum, n
}

// ListAll collects a listing. It stops at the first error.
func ListAll(ctx context.Context, s objstore.Store, prefix string, opts *objstore.ListOptions) ([]objstore.ObjectInfo, error) {
	var out []objstore.ObjectInfo
	for info, err := range s.List(ctx, prefix, opts) {
		if err != nil {
			return out, err
		}
		out = append(out, info)
	}
	return out, nil
}

// ListKeys returns the keys (and rolled-up prefixes) of a listing and fails
// the test on error.
func ListKeys(t testing.TB, s objstore.Store, prefix string, opts *objstore.ListOptions) []string {
	t.Helper()
	infos, err := ListAll(t.Context(), s, prefix, opts)
	if err != nil {
		t.Fatalf("list %q: %v", prefix, err)
	}
	keys := make([]string, len(infos))
	for i, info := range infos {
		keys[i] = info.Key
	}
	return keys
}

// ListAllUploads collects ListUploads. It stops at the first error.
func ListAllUploads(ctx context.Context, s objstore.Store, prefix string) ([]objstore.UploadInfo, error) {
	var out []objstore.UploadInfo
	for u, err := range s.ListUploads(ctx, prefix) {
		if err != nil {
			return out, err
		}
		out = append(out, u)
	}
	return out, nil
}

// RequireEmpty fails the test at once if s holds any object or incomplete
// upload: the suite deletes what it writes, so it refuses to run where it
// could destroy data it did not write.
func RequireEmpty(t testing.TB, s objstore.Store) {
	t.Helper()
	for info, err := range s.List(t.Context(), "", nil) {
		if err != nil {
			t.Fatalf("list store to check it is empty: %v", err)
		}
		t.Fatalf("store is not empty (holds %q): refusing to run on a store with data", info.Key)
	}
	for u, err := range s.ListUploads(t.Context(), "") {
		if err != nil {
			t.Fatalf("list uploads to check the store is empty: %v", err)
		}
		t.Fatalf("store is not empty (upload %q of %q): refusing to run on a store with data", u.UploadID, u.Key)
	}
}

// Race runs fn(0) ... fn(n-1) in n goroutines released together by a barrier
// once all of them are running, and returns their errors by index.
func Race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	return errs
}

// Seed returns a seed derived from the test's name, so that every run of a
// test sees the same data, and logs it if the test fails.
func Seed(t testing.TB) uint64 {
	h := fnv.New64a()
	h.Write([]byte(t.Name()))
	seed := h.Sum64()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("objstoretest: data seed %d (derived from the test name)", seed)
		}
	})
	return seed
}

// WaitFor polls cond with a growing interval until it reports true, fails
// the test on error, and fails it after timeout. It is for state another
// goroutine reaches asynchronously (an upload being initiated); it never
// stands in for a fixed sleep.
func WaitFor(t testing.TB, what string, timeout time.Duration, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		ok, err := cond()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not reached after %v", what, timeout)
		}
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-t.Context().Done():
			timer.Stop()
			t.Fatalf("waiting for %s: %v", what, t.Context().Err())
		}
	}
}

// wantErr reports a failure unless errors.Is(err, target).
func wantErr(t testing.TB, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: err = %v, want %v", what, err, target)
	}
}

// getErr calls Get, closes any body, and returns the error.
func getErr(ctx context.Context, s objstore.Store, key string, opts *objstore.GetOptions) error {
	rc, _, err := s.Get(ctx, key, opts)
	if rc != nil {
		rc.Close()
	}
	return err
}

// wantContent fails unless the object under key holds want.
func wantContent(t testing.TB, s objstore.Store, key string, want []byte) objstore.ObjectInfo {
	t.Helper()
	got, info := MustGet(t, s, key)
	if !bytes.Equal(got, want) {
		t.Errorf("content of %q = %s, want %s", key, abbrev(got), abbrev(want))
	}
	return info
}

// wantMissing fails unless key has no object.
func wantMissing(t testing.TB, s objstore.Store, key string) {
	t.Helper()
	if info, err := s.Head(t.Context(), key); !errors.Is(err, objstore.ErrNotExist) {
		t.Errorf("head %q: (size %d, err %v), want ErrNotExist", key, info.Size, err)
	}
}

// wantNoUploads fails if an incomplete upload of key is listed.
func wantNoUploads(t testing.TB, s objstore.Store, key string) {
	t.Helper()
	ups, err := ListAllUploads(t.Context(), s, key)
	if err != nil {
		t.Fatalf("list uploads %q: %v", key, err)
	}
	for _, u := range ups {
		if u.Key == key {
			t.Errorf("incomplete upload %q of %q left behind", u.UploadID, key)
		}
	}
}

// abbrev renders a body for an error message.
func abbrev(b []byte) string {
	if len(b) <= 48 {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("%q... (%d bytes)", b[:48], len(b))
}

// CheckProbe runs objstore.Probe, multipart included, on the empty store s
// and fails the test unless the probe finds no problem, leaves nothing
// unverified, confirms exactly the capabilities s claims, and leaves no
// object behind.
func CheckProbe(t testing.TB, s objstore.Store) {
	t.Helper()
	res, err := objstore.Probe(t.Context(), s, &objstore.ProbeOptions{Multipart: true})
	if err != nil || len(res.Problems) > 0 || len(res.Unverified) > 0 || res.Capabilities != s.Capabilities() {
		t.Fatalf("probe: %v; %+v", err, res)
	}
	if keys := ListKeys(t, s, "", nil); len(keys) != 0 {
		t.Fatalf("probe left %q", keys)
	}
}
