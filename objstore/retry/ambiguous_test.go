package retry_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/retry"
)

// applyThenLose makes the first n puts land and then report ErrUnavailable,
// as when the response is lost; later puts pass through. after, if set, runs
// between the write and the lost response (another writer stepping in).
func applyThenLose(f *fakeStore, n int, after func()) {
	f.put = func(i int, ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
		info, err := f.Store.Put(ctx, key, data, opts)
		if i > n || err != nil {
			return info, err
		}
		if after != nil {
			after()
		}
		return objstore.ObjectInfo{}, fail("put", key, objstore.ErrUnavailable)
	}
}

func wantContent(t *testing.T, s objstore.Store, key, want string) objstore.ObjectInfo {
	t.Helper()
	rc, info, err := s.Get(t.Context(), key, nil)
	if err != nil {
		t.Fatalf("Get %q: %v", key, err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	if string(got) != want {
		t.Fatalf("%q holds %q, want %q", key, got, want)
	}
	return info
}

func wantAmbiguous(t *testing.T, err error, alsoPrecondition bool) *retry.AmbiguousError {
	t.Helper()
	var ae *retry.AmbiguousError
	if !errors.As(err, &ae) || !errors.Is(err, objstore.ErrOutcomeUnknown) {
		t.Fatalf("error = %v, want an *AmbiguousError matching ErrOutcomeUnknown", err)
	}
	if errors.Is(err, objstore.ErrPreconditionFailed) != alsoPrecondition {
		t.Errorf("errors.Is(err, ErrPreconditionFailed) = %v, want %v (err: %v)", !alsoPrecondition, alsoPrecondition, err)
	}
	if objstore.IsRetryable(err) {
		t.Errorf("IsRetryable(%v) = true", err)
	}
	if code := objstore.ErrorCode(err); code != "outcome_unknown" {
		t.Errorf("ErrorCode = %q, want outcome_unknown", code)
	}
	return ae
}

func TestAmbiguousCreateResolvedAsOurs(t *testing.T) {
	f := newFake()
	applyThenLose(f, 1, nil)
	s, _, _ := newRetry(t, f, 5)
	md := map[string]string{"owner": "me"}
	info, err := s.Put(t.Context(), "head", []byte("ours"), &objstore.PutOptions{IfNoneMatch: true, Metadata: md})
	if err != nil {
		t.Fatalf("Put: %v (the write landed, its token should prove it ours)", err)
	}
	stored := wantContent(t, f.Store, "head", "ours")
	if info.ETag != stored.ETag || info.Metadata[retry.WriteTokenKey] == "" || info.Metadata["owner"] != "me" {
		t.Errorf("Put returned %+v, stored %+v", info, stored)
	}
	if !maps.Equal(md, map[string]string{"owner": "me"}) {
		t.Errorf("caller's metadata was modified: %v", md)
	}
	if f.count(objstore.OpPut) != 2 || f.count(objstore.OpHead) != 1 {
		t.Errorf("puts = %d, heads = %d; want 2, 1", f.count(objstore.OpPut), f.count(objstore.OpHead))
	}
}

func TestAmbiguousCASResolvedAsOurs(t *testing.T) {
	f := newFake()
	old, err := f.Store.Put(t.Context(), "head", []byte("v1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	applyThenLose(f, 1, nil)
	s, _, _ := newRetry(t, f, 5)
	if _, err := s.Put(t.Context(), "head", []byte("v2"), &objstore.PutOptions{IfMatch: old.ETag}); err != nil {
		t.Fatalf("Put: %v", err)
	}
	wantContent(t, f.Store, "head", "v2")
}

func TestAmbiguousSupersededByAnotherWriter(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts func(etag string) *objstore.PutOptions
	}{
		{"create", func(string) *objstore.PutOptions { return &objstore.PutOptions{IfNoneMatch: true} }},
		{"cas", func(etag string) *objstore.PutOptions { return &objstore.PutOptions{IfMatch: etag} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			var etag string
			if tc.name == "cas" {
				old, err := f.Store.Put(t.Context(), "head", []byte("v1"), nil)
				if err != nil {
					t.Fatal(err)
				}
				etag = old.ETag
			}
			applyThenLose(f, 1, func() {
				if _, err := f.Store.Put(context.Background(), "head", []byte("theirs"), nil); err != nil {
					t.Error(err)
				}
			})
			s, _, _ := newRetry(t, f, 5)
			_, err := s.Put(t.Context(), "head", []byte("ours"), tc.opts(etag))
			ae := wantAmbiguous(t, err, true)
			if ae.Op != objstore.OpPut || ae.Key != "head" || ae.Attempts != 2 || !errors.Is(ae.Cause, objstore.ErrUnavailable) {
				t.Errorf("AmbiguousError = %+v", ae)
			}
			wantContent(t, f.Store, "head", "theirs")
		})
	}
}

func TestExhaustedAfterLandedWriteResolvedAsOurs(t *testing.T) {
	f := newFake()
	f.put = func(i int, ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
		if i == 1 {
			if _, err := f.Store.Put(ctx, key, data, opts); err != nil {
				return objstore.ObjectInfo{}, err
			}
		}
		return objstore.ObjectInfo{}, fail("put", key, objstore.ErrUnavailable)
	}
	s, _, _ := newRetry(t, f, 3)
	if _, err := s.Put(t.Context(), "head", []byte("ours"), &objstore.PutOptions{IfNoneMatch: true}); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if f.count(objstore.OpPut) != 3 || f.count(objstore.OpHead) != 1 {
		t.Errorf("puts = %d, heads = %d; want 3, 1", f.count(objstore.OpPut), f.count(objstore.OpHead))
	}
}

func TestExhaustedWithoutLandingIsOutcomeUnknown(t *testing.T) {
	f := newFake()
	f.put = func(i int, ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
		return objstore.ObjectInfo{}, fail("put", key, objstore.ErrUnavailable)
	}
	s, _, _ := newRetry(t, f, 3)
	_, err := s.Put(t.Context(), "head", []byte("ours"), &objstore.PutOptions{IfNoneMatch: true})
	wantAmbiguous(t, err, false)
	if !errors.Is(err, objstore.ErrUnavailable) {
		t.Errorf("error %v should still match ErrUnavailable", err)
	}
}

func TestLostRaceIsPlainPreconditionFailure(t *testing.T) {
	f := newFake()
	if _, err := f.Store.Put(t.Context(), "head", []byte("theirs"), nil); err != nil {
		t.Fatal(err)
	}
	// A throttled attempt is an explicit refusal: never applied.
	f.put = func(i int, ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
		if i == 1 {
			return objstore.ObjectInfo{}, fail("put", key, objstore.ErrThrottled)
		}
		return f.Store.Put(ctx, key, data, opts)
	}
	s, _, _ := newRetry(t, f, 5)
	_, err := s.Put(t.Context(), "head", []byte("ours"), &objstore.PutOptions{IfNoneMatch: true})
	if !errors.Is(err, objstore.ErrPreconditionFailed) || errors.Is(err, objstore.ErrOutcomeUnknown) {
		t.Fatalf("error = %v, want a plain precondition failure", err)
	}
	if f.count(objstore.OpHead) != 1 {
		t.Errorf("%d heads for a plain lost race, want exactly 1 (the token read-back)", f.count(objstore.OpHead))
	}
}

// A layer below the decorator (net/http resending an idempotent PUT on a
// reused connection, an SDK retry) can apply a write and then report the
// resend's 412 as the only answer. The decorator sees a first-attempt 412
// and must still find its own token.
func TestSilentResendBelowIsOurs(t *testing.T) {
	f := newFake()
	f.put = func(i int, ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
		if _, err := f.Store.Put(ctx, key, data, opts); err != nil {
			return objstore.ObjectInfo{}, err
		}
		// The first copy landed; the invisible resend fails its condition.
		return f.Store.Put(ctx, key, data, opts)
	}
	s, _, _ := newRetry(t, f, 5)
	info, err := s.Put(t.Context(), "head", []byte("ours"), &objstore.PutOptions{IfNoneMatch: true})
	if err != nil {
		t.Fatalf("put = %v, want success: the object carries our token", err)
	}
	if info.ETag == "" {
		t.Error("resolved put returned no ETag")
	}
}

func TestCallerSuppliedToken(t *testing.T) {
	f := newFake()
	s, _, _ := newRetry(t, f, 5)
	md := map[string]string{retry.WriteTokenKey: "mine-0001"}
	if _, err := s.Put(t.Context(), "k", []byte("x"), &objstore.PutOptions{IfNoneMatch: true, Metadata: md}); err != nil {
		t.Fatal(err)
	}
	info, err := f.Store.Head(t.Context(), "k")
	if err != nil || info.Metadata[retry.WriteTokenKey] != "mine-0001" {
		t.Fatalf("Head = %+v, %v; want the caller's token", info, err)
	}
}

func TestTokenOnlyOnConditionalWrites(t *testing.T) {
	f := newFake()
	s, _, _ := newRetry(t, f, 5)
	if _, err := s.Put(t.Context(), "plain", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(t.Context(), "cond", []byte("x"), &objstore.PutOptions{IfNoneMatch: true}); err != nil {
		t.Fatal(err)
	}
	a, _ := f.Store.Head(t.Context(), "plain")
	b, _ := f.Store.Head(t.Context(), "cond")
	if a.Metadata[retry.WriteTokenKey] != "" || len(b.Metadata[retry.WriteTokenKey]) < 20 {
		t.Errorf("tokens: plain %q, conditional %q", a.Metadata[retry.WriteTokenKey], b.Metadata[retry.WriteTokenKey])
	}
}

func TestNoRoomForTokenStaysUnresolved(t *testing.T) {
	f := newFake()
	applyThenLose(f, 1, nil)
	s, _, _ := newRetry(t, f, 5)
	md := map[string]string{"big": strings.Repeat("x", objstore.MaxMetadataSize-10)}
	_, err := s.Put(t.Context(), "head", []byte("ours"), &objstore.PutOptions{IfNoneMatch: true, Metadata: md})
	wantAmbiguous(t, err, true)
}

func TestCancelledDuringConditionalPutIsOutcomeUnknown(t *testing.T) {
	f := newFake()
	ctx, cancel := context.WithCancel(t.Context())
	f.put = func(i int, _ context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
		cancel() // the request was sent; the caller gave up waiting
		return objstore.ObjectInfo{}, context.Canceled
	}
	s, _, _ := newRetry(t, f, 5)
	_, err := s.Put(ctx, "head", []byte("ours"), &objstore.PutOptions{IfNoneMatch: true})
	wantAmbiguous(t, err, false)
	if !errors.Is(err, context.Canceled) || f.count(objstore.OpPut) != 1 {
		t.Errorf("error = %v after %d puts; want context.Canceled after 1", err, f.count(objstore.OpPut))
	}
	// A context done before the call: nothing was sent, nothing ambiguous.
	_, err = s.Put(ctx, "other", []byte("x"), &objstore.PutOptions{IfNoneMatch: true})
	if !errors.Is(err, context.Canceled) || errors.Is(err, objstore.ErrOutcomeUnknown) {
		t.Errorf("error = %v, want plain context.Canceled", err)
	}
}

func TestConditionalDelete(t *testing.T) {
	t.Run("lost response then retry finds it gone", func(t *testing.T) {
		f := newFake()
		info, _ := f.Store.Put(t.Context(), "k", []byte("x"), nil)
		f.delete = func(i int, ctx context.Context, key string, opts *objstore.DeleteOptions) error {
			err := f.Store.Delete(ctx, key, opts)
			if i == 1 && err == nil {
				return fail("delete", key, objstore.ErrUnavailable)
			}
			return err
		}
		s, _, _ := newRetry(t, f, 5)
		// Deleting a missing key is success, so the retry settles it.
		if err := s.Delete(t.Context(), "k", &objstore.DeleteOptions{IfMatch: info.ETag}); err != nil {
			t.Fatalf("delete = %v, want nil", err)
		}
	})
	t.Run("lost response then recreated", func(t *testing.T) {
		f := newFake()
		info, _ := f.Store.Put(t.Context(), "k", []byte("x"), nil)
		f.delete = func(i int, ctx context.Context, key string, opts *objstore.DeleteOptions) error {
			err := f.Store.Delete(ctx, key, opts)
			if i == 1 && err == nil {
				// Someone recreates the key before our retry.
				f.Store.Put(ctx, key, []byte("new"), nil)
				return fail("delete", key, objstore.ErrUnavailable)
			}
			return err
		}
		s, _, _ := newRetry(t, f, 5)
		wantAmbiguous(t, s.Delete(t.Context(), "k", &objstore.DeleteOptions{IfMatch: info.ETag}), true)
	})
	t.Run("wrong etag is plain", func(t *testing.T) {
		f := newFake()
		f.Store.Put(t.Context(), "k", []byte("x"), nil)
		s, _, _ := newRetry(t, f, 5)
		err := s.Delete(t.Context(), "k", &objstore.DeleteOptions{IfMatch: "nope"})
		if !errors.Is(err, objstore.ErrPreconditionFailed) || errors.Is(err, objstore.ErrOutcomeUnknown) {
			t.Fatalf("error = %v, want a plain precondition failure", err)
		}
	})
}

func TestConditionalUpload(t *testing.T) {
	opts := &objstore.UploadOptions{PutOptions: objstore.PutOptions{IfNoneMatch: true}}
	t.Run("landed then lost", func(t *testing.T) {
		f := newFake()
		f.upload = func(i int, ctx context.Context, key string, body io.Reader, o *objstore.UploadOptions) (objstore.ObjectInfo, error) {
			if _, err := f.Store.Upload(ctx, key, body, o); err != nil {
				return objstore.ObjectInfo{}, err
			}
			return objstore.ObjectInfo{}, fail("upload", key, objstore.ErrUnavailable)
		}
		s, _, _ := newRetry(t, f, 5)
		if _, err := s.Upload(t.Context(), "blob", bytes.NewReader([]byte("data")), opts); err != nil {
			t.Fatalf("Upload: %v", err)
		}
		if f.count(objstore.OpUpload) != 1 {
			t.Errorf("uploads = %d, want 1 (never retried)", f.count(objstore.OpUpload))
		}
	})
	t.Run("failed before landing", func(t *testing.T) {
		f := newFake()
		f.upload = func(i int, ctx context.Context, key string, body io.Reader, o *objstore.UploadOptions) (objstore.ObjectInfo, error) {
			return objstore.ObjectInfo{}, fail("upload", key, objstore.ErrUnavailable)
		}
		s, _, _ := newRetry(t, f, 5)
		_, err := s.Upload(t.Context(), "blob", bytes.NewReader([]byte("data")), opts)
		wantAmbiguous(t, err, false)
	})
	t.Run("lost race", func(t *testing.T) {
		f := newFake()
		f.Store.Put(t.Context(), "blob", []byte("theirs"), nil)
		s, _, _ := newRetry(t, f, 5)
		_, err := s.Upload(t.Context(), "blob", bytes.NewReader([]byte("data")), opts)
		if !errors.Is(err, objstore.ErrPreconditionFailed) || errors.Is(err, objstore.ErrOutcomeUnknown) {
			t.Fatalf("error = %v, want a plain precondition failure", err)
		}
	})
}
