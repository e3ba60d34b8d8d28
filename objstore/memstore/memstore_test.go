package memstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/objstoretest"
)

var ctx = context.Background()

// get reads the object under key with opts and fails the test on error.
func get(t *testing.T, s *Store, key string, opts *objstore.GetOptions) (string, objstore.ObjectInfo) {
	t.Helper()
	b, info, err := objstoretest.ReadAll(ctx, s, key, opts)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	return string(b), info
}

func TestPutGetHead(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := New(&Options{Clock: func() time.Time { return now }})
	data := []byte("hello")
	md := map[string]string{"owner": "a"}
	put, err := s.Put(ctx, "k", data, &objstore.PutOptions{ContentType: "text/plain", Metadata: md})
	if err != nil {
		t.Fatal(err)
	}
	data[0], md["owner"] = 'X', "changed" // the store must have copied both
	body, info := get(t, s, "k", nil)
	if body != "hello" || info.Size != 5 || info.ETag != put.ETag || !info.ModTime.Equal(now) ||
		info.ContentType != "text/plain" || info.Metadata["owner"] != "a" {
		t.Fatalf("get = %q %+v, put = %+v", body, info, put)
	}
	head, err := s.Head(ctx, "k")
	if err != nil || head.ETag != put.ETag || head.Metadata["owner"] != "a" {
		t.Fatalf("head = %+v, %v", head, err)
	}
	objstoretest.MustPut(t, s, "plain", nil, nil)
	if head, _ := s.Head(ctx, "plain"); head.ContentType != "application/octet-stream" || head.Size != 0 {
		t.Fatalf("default content type / empty object: %+v", head)
	}
	for _, op := range []func() error{
		func() error { _, _, err := s.Get(ctx, "missing", nil); return err },
		func() error { _, err := s.Head(ctx, "missing"); return err },
	} {
		if err := op(); !errors.Is(err, objstore.ErrNotExist) {
			t.Fatalf("missing key: %v", err)
		}
	}
}

func TestETagNeverRepeats(t *testing.T) {
	s := New(nil)
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		info := objstoretest.MustPut(t, s, "k", []byte("same bytes"), nil)
		if seen[info.ETag] {
			t.Fatalf("etag %q repeated at write %d", info.ETag, i)
		}
		seen[info.ETag] = true
	}
}

func TestConditionalPut(t *testing.T) {
	s := New(nil)
	first := objstoretest.MustPut(t, s, "k", []byte("1"), &objstore.PutOptions{IfNoneMatch: true})
	if _, err := s.Put(ctx, "k", []byte("2"), &objstore.PutOptions{IfNoneMatch: true}); !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Fatalf("create-only over existing: %v", err)
	}
	if _, err := s.Put(ctx, "missing", []byte("x"), &objstore.PutOptions{IfMatch: first.ETag}); !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Fatalf("if-match on missing key: %v", err)
	}
	second := objstoretest.MustPut(t, s, "k", []byte("2"), &objstore.PutOptions{IfMatch: first.ETag})
	if _, err := s.Put(ctx, "k", []byte("3"), &objstore.PutOptions{IfMatch: first.ETag}); !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Fatalf("stale if-match: %v", err)
	}
	if body, info := get(t, s, "k", nil); body != "2" || info.ETag != second.ETag {
		t.Fatalf("after failed puts: %q %q", body, info.ETag)
	}
	var oe *objstore.OpError
	_, err := s.Put(ctx, "k", nil, &objstore.PutOptions{IfNoneMatch: true})
	if !errors.As(err, &oe) || oe.Backend != "memstore" || oe.Op != "put" || oe.Key != "k" {
		t.Fatalf("error is not an OpError: %#v", err)
	}
}

func TestValidationAndCancelHaveNoSideEffects(t *testing.T) {
	s := New(nil)
	if _, err := s.Put(ctx, "", nil, nil); !errors.Is(err, objstore.ErrInvalidKey) {
		t.Fatalf("empty key: %v", err)
	}
	if _, err := s.Put(ctx, "k", nil, &objstore.PutOptions{IfNoneMatch: true, IfMatch: "x"}); !errors.Is(err, objstore.ErrInvalidArgument) {
		t.Fatalf("both conditions: %v", err)
	}
	if _, err := s.Put(ctx, "k", nil, &objstore.PutOptions{Metadata: map[string]string{"Bad": "v"}}); !errors.Is(err, objstore.ErrInvalidArgument) {
		t.Fatalf("bad metadata: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Put(cctx, "k", []byte("x"), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled put: %v", err)
	}
	if _, err := s.Upload(cctx, "k", nil, nil); !errors.Is(err, objstore.ErrInvalidArgument) {
		t.Fatalf("nil body: %v", err)
	}
	if keys := s.Keys(); len(keys) != 0 {
		t.Fatalf("keys after failed writes: %q", keys)
	}
}

func TestConcurrentCreateOnlyHasOneWinner(t *testing.T) {
	s := New(nil)
	const n = 32
	var wg sync.WaitGroup
	results := make(chan error, n)
	start := make(chan struct{})
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			defer wg.Done()
			<-start
			_, err := s.Put(ctx, "k", []byte(strconv.Itoa(i)), &objstore.PutOptions{IfNoneMatch: true})
			results <- err
		}()
	}
	close(start)
	wg.Wait()
	close(results)
	won := 0
	for err := range results {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, objstore.ErrPreconditionFailed):
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d create-only puts won, want 1", won)
	}
}

func TestConcurrentCASLosesNoUpdate(t *testing.T) {
	s := New(nil)
	objstoretest.MustPut(t, s, "counter", []byte("0"), nil)
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; {
				rc, info, err := s.Get(ctx, "counter", nil)
				if err != nil {
					errs <- err
					return
				}
				b, _ := io.ReadAll(rc)
				rc.Close()
				v, _ := strconv.Atoi(string(b))
				_, err = s.Put(ctx, "counter", []byte(strconv.Itoa(v+1)), &objstore.PutOptions{IfMatch: info.ETag})
				switch {
				case err == nil:
					i++
				case !errors.Is(err, objstore.ErrPreconditionFailed):
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if body, _ := get(t, s, "counter", nil); body != strconv.Itoa(workers*each) {
		t.Fatalf("counter = %s, want %d", body, workers*each)
	}
}

func TestGetRangeAndIfNoneMatch(t *testing.T) {
	s := New(nil)
	put := objstoretest.MustPut(t, s, "k", []byte("0123456789"), nil)
	for _, tc := range []struct {
		r    objstore.Range
		want string
	}{
		{objstore.Range{Offset: 0, Length: -1}, "0123456789"},
		{objstore.Range{Offset: 2, Length: 3}, "234"},
		{objstore.Range{Offset: 7, Length: 100}, "789"},
		{objstore.Range{Offset: 4, Length: 0}, ""},
	} {
		body, info := get(t, s, "k", &objstore.GetOptions{Range: &tc.r})
		if body != tc.want || info.Size != 10 {
			t.Errorf("range %+v = %q (size %d), want %q", tc.r, body, info.Size, tc.want)
		}
	}
	for _, r := range []objstore.Range{{Offset: -1, Length: 1}, {Offset: 10, Length: -1}, {Offset: 11, Length: 1}} {
		if _, _, err := s.Get(ctx, "k", &objstore.GetOptions{Range: &r}); !errors.Is(err, objstore.ErrInvalidArgument) {
			t.Errorf("range %+v: %v", r, err)
		}
	}
	rc, _, err := s.Get(ctx, "k", &objstore.GetOptions{IfNoneMatch: put.ETag})
	if !errors.Is(err, objstore.ErrNotModified) || rc != nil {
		t.Fatalf("if-none-match current etag: %v", err)
	}
	if body, _ := get(t, s, "k", &objstore.GetOptions{IfNoneMatch: "stale"}); body != "0123456789" {
		t.Fatalf("if-none-match stale etag: %q", body)
	}
}

func TestGetReadsSnapshot(t *testing.T) {
	s := New(nil)
	objstoretest.MustPut(t, s, "k", []byte("old"), nil)
	rc, _, err := s.Get(ctx, "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	objstoretest.MustPut(t, s, "k", []byte("new!"), nil)
	if err := s.Delete(ctx, "k", nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(rc); string(b) != "old" {
		t.Fatalf("body changed under reader: %q", b)
	}
}

func TestDelete(t *testing.T) {
	s := New(nil)
	info := objstoretest.MustPut(t, s, "k", []byte("v"), nil)
	if err := s.Delete(ctx, "k", &objstore.DeleteOptions{IfMatch: "stale"}); !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Fatalf("stale conditional delete: %v", err)
	}
	if err := s.Delete(ctx, "k", &objstore.DeleteOptions{IfMatch: info.ETag}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "k", nil); err != nil {
		t.Fatalf("delete of missing key: %v", err)
	}
	if err := s.Delete(ctx, "k", &objstore.DeleteOptions{IfMatch: info.ETag}); err != nil {
		t.Fatalf("conditional delete of missing key: %v, want nil (absent either way)", err)
	}
	if !s.Capabilities().ConditionalDelete || s.Capabilities().Durable {
		t.Fatalf("capabilities: %+v", s.Capabilities())
	}
}

func TestDeleteMany(t *testing.T) {
	s := New(nil)
	for _, k := range []string{"a", "b", "c"} {
		objstoretest.MustPut(t, s, k, []byte(k), nil)
	}
	err := s.DeleteMany(ctx, []string{"a", "", "c", "missing"})
	var dme *objstore.DeleteManyError
	if !errors.As(err, &dme) || len(dme.Failed) != 1 || !errors.Is(dme.Failed[""], objstore.ErrInvalidKey) {
		t.Fatalf("delete many: %v", err)
	}
	if keys := s.Keys(); !slices.Equal(keys, []string{"b"}) {
		t.Fatalf("keys = %q", keys)
	}
}

// list returns the entries of a listing, rolled-up prefixes marked with
// a trailing "*".
func list(t *testing.T, s *Store, prefix string, opts *objstore.ListOptions) []string {
	t.Helper()
	infos, err := objstoretest.ListAll(ctx, s, prefix, opts)
	if err != nil {
		t.Fatalf("list %q: %v", prefix, err)
	}
	out := make([]string, len(infos))
	for i, info := range infos {
		out[i] = info.Key
		if info.IsPrefix {
			out[i] += "*"
		}
	}
	return out
}

func TestList(t *testing.T) {
	s := New(nil)
	keys := []string{"a", "a/b", "a/b/c", "a/c", "a!", "a0", "b", "日本", ".x/y", "a b"}
	for _, k := range keys {
		objstoretest.MustPut(t, s, k, []byte(k), nil)
	}
	sorted := slices.Sorted(slices.Values(keys))
	if got := list(t, s, "", nil); !slices.Equal(got, sorted) {
		t.Fatalf("list all = %q, want %q", got, sorted)
	}
	for _, tc := range []struct {
		prefix string
		opts   objstore.ListOptions
		want   []string
	}{
		{"a/", objstore.ListOptions{}, []string{"a/b", "a/b/c", "a/c"}},
		{"a/", objstore.ListOptions{Delimiter: "/"}, []string{"a/b", "a/b/*", "a/c"}},
		{"", objstore.ListOptions{Delimiter: "/"}, []string{".x/*", "a", "a b", "a!", "a/*", "a0", "b", "日本"}},
		{"a", objstore.ListOptions{StartAfter: "a/b"}, []string{"a/b/c", "a/c", "a0"}},
		{"", objstore.ListOptions{Delimiter: "/", StartAfter: "a/"}, []string{"a0", "b", "日本"}},
		{"a/b/c", objstore.ListOptions{}, []string{"a/b/c"}},
		{"zz", objstore.ListOptions{}, nil},
	} {
		if got := list(t, s, tc.prefix, &tc.opts); !slices.Equal(got, tc.want) {
			t.Errorf("list %q %+v = %q, want %q", tc.prefix, tc.opts, got, tc.want)
		}
	}
}

func TestListPagesAndRollsUpAcrossPages(t *testing.T) {
	s := New(nil)
	var want []string
	for i := 0; i < 2*listPageSize+7; i++ {
		k := fmt.Sprintf("k/%05d", i)
		objstoretest.MustPut(t, s, k, nil, nil)
		want = append(want, k)
	}
	objstoretest.MustPut(t, s, "k0", nil, nil)
	if got := list(t, s, "k/", nil); !slices.Equal(got, want) {
		t.Fatalf("paged list: %d keys, want %d", len(got), len(want))
	}
	if got := list(t, s, "", &objstore.ListOptions{Delimiter: "/"}); !slices.Equal(got, []string{"k/*", "k0"}) {
		t.Fatalf("roll-up = %q", got)
	}
	n := 0
	for range s.List(ctx, "", nil) {
		n++
		if n == 3 {
			break // stopping early must not panic
		}
	}
}

func TestUploadRegistersAndAborts(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := New(&Options{Clock: func() time.Time { return t0 }})
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := s.Upload(ctx, "big", pr, nil)
		done <- err
	}()
	if _, err := pw.Write([]byte("first bytes")); err != nil { // the upload is streaming now
		t.Fatal(err)
	}
	ups, err := objstoretest.ListAllUploads(ctx, s, "b")
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 1 || ups[0].Key != "big" || !ups[0].Initiated.Equal(t0) {
		t.Fatalf("uploads while streaming = %+v", ups)
	}
	if err := s.SetUploadInitiated("big", ups[0].UploadID, t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.AbortUpload(ctx, "other", ups[0].UploadID); err != nil { // wrong key: a no-op
		t.Fatal(err)
	}
	if err := s.AbortUpload(ctx, "big", ups[0].UploadID); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := <-done; !errors.Is(err, objstore.ErrNotExist) {
		t.Fatalf("upload after abort: %v", err)
	}
	if _, err := s.Head(ctx, "big"); !errors.Is(err, objstore.ErrNotExist) {
		t.Fatalf("aborted upload became visible: %v", err)
	}
	if err := s.AbortUpload(ctx, "big", ups[0].UploadID); err != nil {
		t.Fatalf("second abort: %v", err)
	}
}

func countUploads(t *testing.T, s *Store) int {
	t.Helper()
	ups, err := objstoretest.ListAllUploads(ctx, s, "")
	if err != nil {
		t.Fatal(err)
	}
	return len(ups)
}

func TestUploadConditionAtCompletion(t *testing.T) {
	s := New(nil)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := s.Upload(ctx, "k", pr, &objstore.UploadOptions{PutOptions: objstore.PutOptions{IfNoneMatch: true}})
		done <- err
	}()
	pw.Write([]byte("streaming"))
	// The key is created while the upload streams: completion must fail.
	objstoretest.MustPut(t, s, "k", []byte("winner"), nil)
	pw.Close()
	if err := <-done; !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Fatalf("upload completed over a new object: %v", err)
	}
	if body, _ := get(t, s, "k", nil); body != "winner" {
		t.Fatalf("body = %q", body)
	}
	if n := countUploads(t, s); n != 0 {
		t.Fatalf("%d uploads left after failure", n)
	}
	info, err := s.Upload(ctx, "k2", io.LimitReader(zeros{}, 3*uploadChunk+5), nil)
	if err != nil || info.Size != 3*uploadChunk+5 {
		t.Fatalf("upload: %+v %v", info, err)
	}
}

func TestUploadCancelLeavesNothing(t *testing.T) {
	s := New(nil)
	cctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := s.Upload(cctx, "k", pr, nil)
		done <- err
	}()
	pw.Write([]byte("x"))
	cancel()
	pw.Close() // the upload sees the cancellation at its next check, at the latest at completion
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled upload: %v", err)
	}
	if n := countUploads(t, s); n != 0 || len(s.Keys()) != 0 {
		t.Fatalf("cancelled upload left %d uploads, keys %q", n, s.Keys())
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestSetModTimeKeepsETag(t *testing.T) {
	s := New(nil)
	put := objstoretest.MustPut(t, s, "k", []byte("v"), nil)
	old := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.SetModTime("k", old); err != nil {
		t.Fatal(err)
	}
	for info, err := range s.List(ctx, "", nil) {
		if err != nil || !info.ModTime.Equal(old) || info.ETag != put.ETag {
			t.Fatalf("listed %+v, %v", info, err)
		}
	}
	if err := s.SetModTime("missing", old); !errors.Is(err, objstore.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
}

func TestClosed(t *testing.T) {
	s := New(nil)
	objstoretest.MustPut(t, s, "k", []byte("v"), nil)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "k", nil, nil); !errors.Is(err, objstore.ErrClosed) {
		t.Fatalf("put after close: %v", err)
	}
	for _, err := range s.List(ctx, "", nil) {
		if !errors.Is(err, objstore.ErrClosed) {
			t.Fatalf("list after close: %v", err)
		}
	}
}
