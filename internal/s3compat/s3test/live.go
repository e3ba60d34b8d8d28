package s3test

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/stowage-dev/stowage/internal/s3compat"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/objstoretest"
)

// Live runs direct checks against every local server: the payload
// checksum, metadata round-trips, and, for each quirk of the server's
// profile, evidence from the server itself that the quirk is right (a store
// opened without the quirk shows the behaviour the quirk works around).
func Live(t *testing.T, open Opener) {
	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) {
		q := Profile(t, srv)
		t.Run("Checksum", func(t *testing.T) { liveChecksum(t, open, srv, q) })
		t.Run("Metadata", func(t *testing.T) { liveMetadata(t, Prefixed(t, open(t, srv, q, nil))) })
		t.Run("ConditionalCompleteRace", func(t *testing.T) { liveCompleteRace(t, Prefixed(t, open(t, srv, q, nil))) })
		t.Run("UploadSizeSumsParts", func(t *testing.T) { liveUploadSize(t, open, srv, q) })
		t.Run("QuirkConditionalDelete", func(t *testing.T) { liveConditionalDelete(t, open, srv, q) })
		t.Run("QuirkListUploadsExactPrefix", func(t *testing.T) { liveListUploads(t, open, srv, q) })
		t.Run("QuirkListUploadsMissingIsEmpty", func(t *testing.T) { liveListUploadsMissing(t, open, srv, q) })
		t.Run("QuirkEmptyDelimiterRollsUp", func(t *testing.T) { liveEmptyDelimiter(t, open, srv, q) })
		t.Run("QuirkDeleteDirectoryFails", func(t *testing.T) { liveDeleteDirectory(t, open, srv, q) })
		t.Run("QuirkOverwriteCorruptsReads", func(t *testing.T) { liveOverwriteReads(t, open, srv, q) })
		t.Run("IfMatchRounds", func(t *testing.T) { liveIfMatchRounds(t, Prefixed(t, open(t, srv, q, nil))) })
	})
}

// liveChecksum: a body corrupted in transit, after the SDK computed its
// checksums, is refused by the server for a single put and for a part, and
// nothing is stored.
func liveChecksum(t *testing.T, open Opener, srv testenv.Server, q s3compat.Quirks) {
	c := &corruptor{base: http.DefaultTransport, match: func(r *http.Request) bool { return true }}
	s := Prefixed(t, open(t, srv, q, c))
	ctx := t.Context()
	data := objstoretest.PatternBytes(objstoretest.Seed(t), 64<<10)
	_, err := s.Put(ctx, "put", data, nil)
	t.Logf("corrupted put: %v", err)
	if !errors.Is(err, objstore.ErrChecksum) {
		t.Errorf("corrupted put: %v, want ErrChecksum", err)
	}
	_, err = s.Upload(ctx, "upload", io.MultiReader(bytes.NewReader(data), objstoretest.PatternReader(1, objstore.MinPartSize)), &objstore.UploadOptions{PartSize: objstore.MinPartSize})
	t.Logf("corrupted upload: %v", err)
	if !errors.Is(err, objstore.ErrChecksum) {
		t.Errorf("corrupted upload: %v, want ErrChecksum", err)
	}
	if c.count() < 2 {
		t.Errorf("corrupted %d requests, want at least 2", c.count())
	}
	for _, k := range []string{"put", "upload"} {
		if _, err := s.Head(ctx, k); !errors.Is(err, objstore.ErrNotExist) {
			t.Errorf("head %q after corrupted write: %v, want ErrNotExist", k, err)
		}
	}
	if ups, err := objstoretest.ListAllUploads(ctx, s, ""); err != nil || len(ups) != 0 {
		t.Errorf("uploads after corrupted upload: %+v, %v; want none", ups, err)
	}
}

// liveMetadata: metadata keys that name standard headers stay metadata,
// and every key comes back lowercase, by Put and by multipart Upload.
func liveMetadata(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	md := map[string]string{"expires": "never", "content-type": "not/this", "cache-control": "x", "session-id": "S-1"}
	if _, err := s.Put(ctx, "put", []byte("x"), &objstore.PutOptions{Metadata: md, ContentType: "text/plain"}); err != nil {
		t.Fatal(err)
	}
	opts := &objstore.UploadOptions{PutOptions: objstore.PutOptions{Metadata: md, ContentType: "text/plain"}, PartSize: objstore.MinPartSize}
	if _, err := s.Upload(ctx, "upload", objstoretest.PatternReader(2, objstore.MinPartSize+1), opts); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"put", "upload"} {
		info, err := s.Head(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(info.Metadata, md) || info.ContentType != "text/plain" {
			t.Errorf("%s: metadata %v content type %q, want %v %q", k, info.Metadata, info.ContentType, md, "text/plain")
		}
	}
}

// liveCompleteRace: a conditional multipart Upload whose key is written by
// someone else between initiation and completion fails at completion and
// leaves the other writer's object: the condition is evaluated at
// CompleteMultipartUpload, not (only) when the upload began.
func liveCompleteRace(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	t.Run("CreateOnly", func(t *testing.T) {
		body, wait := startPending(t, s, "create", objstore.PutOptions{IfNoneMatch: true})
		other := objstoretest.MustPut(t, s, "create", []byte("other writer"), nil)
		body.finish()
		_, err := wait()
		if !errors.Is(err, objstore.ErrPreconditionFailed) {
			t.Errorf("create-only upload over a key created meanwhile: %v, want ErrPreconditionFailed", err)
		}
		if info, err := s.Head(ctx, "create"); err != nil || info.ETag != other.ETag {
			t.Errorf("after the race: %+v, %v; want the other writer's object", info, err)
		}
	})
	t.Run("IfMatch", func(t *testing.T) {
		v1 := objstoretest.MustPut(t, s, "cas", []byte("v1"), nil)
		body, wait := startPending(t, s, "cas", objstore.PutOptions{IfMatch: v1.ETag})
		v2 := objstoretest.MustPut(t, s, "cas", []byte("v2"), nil)
		body.finish()
		_, err := wait()
		if !errors.Is(err, objstore.ErrPreconditionFailed) {
			t.Errorf("If-Match upload over a key changed meanwhile: %v, want ErrPreconditionFailed", err)
		}
		if info, err := s.Head(ctx, "cas"); err != nil || info.ETag != v2.ETag {
			t.Errorf("after the race: %+v, %v; want v2", info, err)
		}
	})
	if ups, err := objstoretest.ListAllUploads(ctx, s, ""); err != nil || len(ups) != 0 {
		t.Errorf("uploads left: %+v, %v", ups, err)
	}
}

// liveConditionalDelete: with ConditionalDelete forced on, the server shows
// whether it enforces If-Match on DELETE; the profile must agree.
func liveConditionalDelete(t *testing.T, open Opener, srv testenv.Server, q s3compat.Quirks) {
	forced := q
	forced.ConditionalDelete = true
	s := Prefixed(t, open(t, srv, forced, nil))
	if !s.Capabilities().ConditionalDelete {
		t.Skip("the backend cannot send If-Match on DELETE")
	}
	ctx := t.Context()
	v1 := objstoretest.MustPut(t, s, "k", []byte("one"), nil)
	objstoretest.MustPut(t, s, "k", []byte("two"), nil)
	err := s.Delete(ctx, "k", &objstore.DeleteOptions{IfMatch: v1.ETag})
	_, headErr := s.Head(ctx, "k")
	enforced := errors.Is(err, objstore.ErrPreconditionFailed) && headErr == nil
	ignored := err == nil && errors.Is(headErr, objstore.ErrNotExist)
	t.Logf("stale If-Match delete: %v; head afterwards: %v", err, headErr)
	switch {
	case !enforced && !ignored:
		t.Fatalf("stale If-Match delete: %v, head %v: neither enforced nor ignored", err, headErr)
	case enforced != q.ConditionalDelete:
		t.Errorf("server enforces If-Match on DELETE: %v; profile %s says %v", enforced, q.Name, q.ConditionalDelete)
	}
}

// liveListUploads: with ListUploadsExactPrefix forced off, the server shows
// whether a directory prefix finds an upload; the profile must agree, and
// the store with the profile must find it.
func liveListUploads(t *testing.T, open Opener, srv testenv.Server, q s3compat.Quirks) {
	raw := q
	raw.ListUploadsExactPrefix = false
	rawStore := open(t, srv, raw, nil)
	prefix := testenv.UniquePrefix(t) // keys carry it themselves: the raw store is not prefixed
	t.Cleanup(func() { Clean(t, rawStore, prefix) })
	key := prefix + "dir/object"

	body, wait := startPending(t, rawStore, key, objstore.PutOptions{})
	defer func() {
		body.fail()
		if _, err := wait(); err == nil {
			t.Errorf("upload succeeded although its body failed")
		}
	}()
	found := func(s objstore.Store, prefix string) bool {
		ups, err := objstoretest.ListAllUploads(t.Context(), s, prefix)
		if err != nil {
			t.Fatalf("list uploads %q: %v", prefix, err)
		}
		return slices.ContainsFunc(ups, func(u objstore.UploadInfo) bool { return u.Key == key })
	}
	if !found(rawStore, key) {
		t.Fatalf("upload not listed under its exact key")
	}
	dirFinds := found(rawStore, prefix+"dir/")
	t.Logf("ListMultipartUploads with a directory prefix finds the upload: %v", dirFinds)
	if dirFinds == q.ListUploadsExactPrefix {
		t.Errorf("directory prefix finds uploads: %v; profile %s says ListUploadsExactPrefix=%v", dirFinds, q.Name, q.ListUploadsExactPrefix)
	}
	if !found(open(t, srv, q, nil), prefix+"dir/") {
		t.Errorf("store with profile %s does not list the upload under its directory", q.Name)
	}
}

// pendingBody yields n pattern bytes, then blocks until finish (then EOF)
// or fail (then an error): an Upload whose multipart upload stays open
// until the test lets it end.
type pendingBody struct {
	r       io.Reader
	reached chan struct{} // closed when the body blocks
	release chan error
	once    sync.Once
}

func newPendingBody(n int64) *pendingBody {
	return &pendingBody{r: objstoretest.PatternReader(7, n), reached: make(chan struct{}), release: make(chan error, 1)}
}

func (p *pendingBody) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 || err != io.EOF {
		return n, err
	}
	p.once.Do(func() { close(p.reached) })
	err = <-p.release
	p.release <- err // later reads see the same end
	return 0, err
}

func (p *pendingBody) finish() { p.release <- io.EOF }

func (p *pendingBody) fail() { p.release <- errors.New("s3test: pending body failed on purpose") }

// startPending starts an Upload of key whose body blocks once the
// multipart upload exists; end it with finish or fail, then wait.
func startPending(t *testing.T, s objstore.Store, key string, opts objstore.PutOptions) (body *pendingBody, wait func() (objstore.ObjectInfo, error)) {
	body = newPendingBody(2 * objstore.MinPartSize)
	type result struct {
		info objstore.ObjectInfo
		err  error
	}
	done := make(chan result, 1)
	go func() {
		info, err := s.Upload(t.Context(), key, body, &objstore.UploadOptions{PutOptions: opts, PartSize: objstore.MinPartSize})
		done <- result{info, err}
	}()
	select {
	case <-body.reached:
	case r := <-done:
		t.Fatalf("upload of %q ended before blocking: %v", key, r.err)
	}
	return body, func() (objstore.ObjectInfo, error) {
		r := <-done
		return r.info, r.err
	}
}
