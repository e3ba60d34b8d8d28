package objstoretest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/stowage-dev/stowage/objstore"
)

// multipartOpts are the options of the multipart cases: the smallest parts,
// so that a few MiB make several of them.
func multipartOpts(concurrency int) *objstore.UploadOptions {
	return &objstore.UploadOptions{PartSize: objstore.MinPartSize, Concurrency: concurrency}
}

// testCancelledPut: a Put with a cancelled context fails with
// context.Canceled and changes nothing.
func testCancelledPut(t *testing.T, h *Harness) {
	s := h.newStore(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.Put(ctx, "cancelled/new", []byte("x"), nil)
	wantErr(t, "cancelled put", err, context.Canceled)
	wantMissing(t, s, "cancelled/new")

	old := MustPut(t, s, "cancelled/old", []byte("old"), nil)
	_, err = s.Put(ctx, "cancelled/old", []byte("new"), &objstore.PutOptions{IfMatch: old.ETag})
	wantErr(t, "cancelled compare-and-swap", err, context.Canceled)
	wantContent(t, s, "cancelled/old", []byte("old"))
}

// testCancelledUpload: an Upload whose context is cancelled before or while
// it streams fails with context.Canceled and leaves neither an object nor an
// incomplete upload, even though the body would have run to its end.
func testCancelledUpload(t *testing.T, h *Harness) {
	s := h.newStore(t)
	seed := Seed(t)
	for _, c := range []struct {
		name           string
		size, cancelAt int64
	}{
		{"Before", 1000, 0},
		{"SmallBody", 1000, 100},
		{"MidMultipart", 3 * objstore.MinPartSize, objstore.MinPartSize + objstore.MinPartSize/2},
	} {
		t.Run(c.name, func(t *testing.T) {
			key := "cancelled/" + c.name
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var body = OnlyReader(PatternReader(seed, c.size))
			if c.cancelAt == 0 {
				cancel()
			} else {
				body = &cancelReader{r: body, after: c.cancelAt, cancel: cancel}
			}
			_, err := s.Upload(ctx, key, body, multipartOpts(2))
			wantErr(t, "cancelled upload", err, context.Canceled)
			wantMissing(t, s, key)
			wantNoUploads(t, s, key)
		})
	}
}

// testUploadReadError: an Upload whose body fails, even with
// io.ErrUnexpectedEOF (a net/http request body whose client went away),
// fails with that error and commits nothing: neither the bytes read before
// the failure as the whole object (where io.ReadFull would report a short
// body) nor an incomplete upload; an object already under the key stays.
func testUploadReadError(t *testing.T, h *Harness) {
	s := h.newStore(t)
	seed := Seed(t)
	other := errors.New("objstoretest: disk on fire")
	for _, c := range []struct {
		name string
		size int64 // bytes before the failure
		err  error
	}{
		{"UnexpectedEOFSmall", 10, io.ErrUnexpectedEOF},
		{"UnexpectedEOFFirstByte", 0, io.ErrUnexpectedEOF},
		{"UnexpectedEOFAtPartEnd", objstore.MinPartSize, io.ErrUnexpectedEOF},
		{"UnexpectedEOFMidPart", objstore.MinPartSize + 10, io.ErrUnexpectedEOF},
		{"UnexpectedEOFThirdPart", 2*objstore.MinPartSize + 10, io.ErrUnexpectedEOF},
		{"OtherErrorSmall", 10, other},
	} {
		t.Run(c.name, func(t *testing.T) {
			fresh, old := "readerr/"+c.name+"/new", "readerr/"+c.name+"/old"
			MustPut(t, s, old, []byte("old"), nil)
			for _, key := range []string{fresh, old} {
				body := io.MultiReader(PatternReader(seed, c.size), errReader{c.err})
				_, err := s.Upload(t.Context(), key, body, multipartOpts(2))
				wantErr(t, "upload of a failing body", err, c.err)
				wantNoUploads(t, s, key)
			}
			wantMissing(t, s, fresh)
			wantContent(t, s, old, []byte("old"))
		})
	}
}

// errReader fails every read with err.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// testUploadSmall: bodies up to one part, of unknown size, round-trip with
// their metadata and content type.
func testUploadSmall(t *testing.T, h *Harness) {
	s := h.newStore(t)
	seed := Seed(t)
	md := map[string]string{"kind": "small"}
	for _, c := range []struct {
		name string
		size int
	}{{"OneByte", 1}, {"KiB", 1000}, {"ExactlyOnePart", objstore.MinPartSize}} {
		t.Run(c.name, func(t *testing.T) {
			key := "upload/" + c.name
			data := PatternBytes(seed, c.size)
			opts := multipartOpts(2)
			opts.ContentType, opts.Metadata = "application/x-test", md
			info, err := s.Upload(t.Context(), key, OnlyReader(bytes.NewReader(data)), opts)
			if err != nil {
				t.Fatalf("upload: %v", err)
			}
			head, err := s.Head(t.Context(), key)
			if err != nil {
				t.Fatalf("head: %v", err)
			}
			checkInfo(t, "head", head, key, int64(c.size), info.ETag, "application/x-test", md)
			if info.Size != int64(c.size) {
				t.Errorf("upload returned size %d, want %d", info.Size, c.size)
			}
			wantContent(t, s, key, data)
			wantNoUploads(t, s, key)
		})
	}
}

// testUploadMultipart: a body of several parts, of unknown size, arrives
// whole (verified by hash and by ranges across part boundaries) with its
// metadata, and leaves no incomplete upload.
func testUploadMultipart(t *testing.T, h *Harness) {
	s := h.newStore(t)
	seed := Seed(t)
	const key = "upload/multipart"
	const size = 3*objstore.MinPartSize + 12345
	md := map[string]string{"kind": "multipart"}
	opts := multipartOpts(2)
	opts.ContentType, opts.Metadata = "application/x-test", md
	body := PatternReader(seed, size)
	info, err := s.Upload(t.Context(), key, body, opts)
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	if info.Size != size || info.ETag == "" {
		t.Errorf("upload returned size %d etag %q, want %d and an ETag", info.Size, info.ETag, size)
	}
	sum, n := MustHash(t, s, key)
	if n != size || !bytes.Equal(sum, body.Sum()) {
		t.Errorf("stored %d bytes with sha256 %x, want %d bytes with %x", n, sum, int64(size), body.Sum())
	}
	head, err := s.Head(t.Context(), key)
	if err != nil {
		t.Fatalf("head: %v", err)
	}
	checkInfo(t, "head", head, key, size, info.ETag, "application/x-test", md)
	data := PatternBytes(seed, size)
	for _, off := range []int64{objstore.MinPartSize - 10, 2*objstore.MinPartSize - 1, size - 5} {
		got, _, err := ReadAll(t.Context(), s, key, &objstore.GetOptions{Range: &objstore.Range{Offset: off, Length: 20}})
		end := min(off+20, size)
		if err != nil || !bytes.Equal(got, data[off:end]) {
			t.Errorf("range at %d across a part boundary: %s, %v", off, abbrev(got), err)
		}
	}
	wantNoUploads(t, s, key)
}

// testConditionalUpload: Upload conditions hold on the single-put path and on
// multipart completion; a failed condition leaves the old object and no
// incomplete upload. A store without ConditionalMultipart must refuse a
// conditional multipart upload rather than write unconditionally.
func testConditionalUpload(t *testing.T, h *Harness) {
	s := h.newStore(t)
	seed := Seed(t)
	const size = objstore.MinPartSize + 1000 // two parts
	condMP := s.Capabilities().ConditionalMultipart
	upload := func(t *testing.T, key string, seed uint64, put objstore.PutOptions) (objstore.ObjectInfo, error) {
		t.Helper()
		before, headErr := s.Head(t.Context(), key)
		opts := multipartOpts(2)
		opts.PutOptions = put
		info, err := s.Upload(t.Context(), key, PatternReader(seed, size), opts)
		if !condMP && errors.Is(err, objstore.ErrNotSupported) {
			after, headErr2 := s.Head(t.Context(), key)
			if after.ETag != before.ETag || !errors.Is(headErr2, objstore.ErrNotExist) != !errors.Is(headErr, objstore.ErrNotExist) {
				t.Fatalf("a refused conditional upload changed %q", key)
			}
			wantNoUploads(t, s, key)
			t.Skip("conditional multipart upload refused with ErrNotSupported (no ConditionalMultipart)")
		}
		return info, err
	}
	wantPattern := func(t *testing.T, key string, seed uint64) {
		t.Helper()
		if sum, _ := MustHash(t, s, key); !bytes.Equal(sum, PatternSum(seed, size)) {
			t.Errorf("%q does not hold the expected body (seed %d)", key, seed)
		}
	}

	t.Run("SmallCreateOnly", func(t *testing.T) {
		const key = "cond/small"
		MustPut(t, s, key, []byte("old"), nil)
		_, err := s.Upload(t.Context(), key, OnlyReader(bytes.NewReader([]byte("new"))), &objstore.UploadOptions{PutOptions: objstore.PutOptions{IfNoneMatch: true}})
		wantErr(t, "create-only small upload over an object", err, objstore.ErrPreconditionFailed)
		wantContent(t, s, key, []byte("old"))
	})
	t.Run("CreateOnlyNew", func(t *testing.T) {
		const key = "cond/new"
		if _, err := upload(t, key, seed, objstore.PutOptions{IfNoneMatch: true}); err != nil {
			t.Fatalf("create-only multipart upload of a new key: %v", err)
		}
		wantPattern(t, key, seed)
	})
	t.Run("CreateOnlyExisting", func(t *testing.T) {
		const key = "cond/existing"
		MustPut(t, s, key, []byte("old"), nil)
		_, err := upload(t, key, seed, objstore.PutOptions{IfNoneMatch: true})
		wantErr(t, "create-only multipart upload over an object", err, objstore.ErrPreconditionFailed)
		wantContent(t, s, key, []byte("old"))
		wantNoUploads(t, s, key)
	})
	t.Run("IfMatch", func(t *testing.T) {
		const key = "cond/ifmatch"
		v1 := MustPut(t, s, key, []byte("v1"), nil)
		v2, err := upload(t, key, seed, objstore.PutOptions{IfMatch: v1.ETag})
		if err != nil {
			t.Fatalf("multipart upload with the current ETag: %v", err)
		}
		wantPattern(t, key, seed)
		_, err = upload(t, key, seed+1, objstore.PutOptions{IfMatch: v1.ETag})
		wantErr(t, "multipart upload with a stale ETag", err, objstore.ErrPreconditionFailed)
		wantPattern(t, key, seed)
		if head, err := s.Head(t.Context(), key); err != nil || head.ETag != v2.ETag {
			t.Errorf("after a failed upload: etag %q, %v; want %q", head.ETag, err, v2.ETag)
		}
		wantNoUploads(t, s, key)
	})
	t.Run("IfMatchMissing", func(t *testing.T) {
		const key = "cond/missing"
		_, err := upload(t, key, seed, objstore.PutOptions{IfMatch: "0123456789abcdef0123456789abcdef"})
		wantErr(t, "multipart upload with If-Match on a missing key", err, objstore.ErrPreconditionFailed)
		wantMissing(t, s, key)
		wantNoUploads(t, s, key)
	})
}

// EndsAtUnexpectedEOF wraps s so that its Upload reads a body as
// io.ReadFull's callers once did: the body's io.ErrUnexpectedEOF ends it,
// and what was read is stored as the whole object. A mutant: the suite's
// UploadReadError catches it, and attach's tests use it as a store that
// swallows a failed stream.
func EndsAtUnexpectedEOF(s objstore.Store) objstore.Store { return endsAtUnexpectedEOF{s} }

type endsAtUnexpectedEOF struct{ objstore.Store }

func (m endsAtUnexpectedEOF) Upload(ctx context.Context, key string, body io.Reader, opts *objstore.UploadOptions) (objstore.ObjectInfo, error) {
	return m.Store.Upload(ctx, key, unexpectedEOFIsEOF{body}, opts)
}

type unexpectedEOFIsEOF struct{ r io.Reader }

func (u unexpectedEOFIsEOF) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return n, err
}
