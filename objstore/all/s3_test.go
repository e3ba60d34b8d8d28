package all

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/internal/faultnet"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/openurl"
	"github.com/stowage-dev/stowage/objstore/retry"
)

// storeURL is the URL of srv's bucket under prefix, with srv's quirks,
// opened with the SDK scheme names (s3: aws-sdk-go-v2, minio: minio-go).
func storeURL(scheme string, srv testenv.Server, prefix string) string {
	q := url.Values{"endpoint": {srv.Endpoint}, "region": {srv.Region}, "quirks": {srv.Name}}
	if scheme == openurl.SchemeMinIO {
		q.Set("endpoint", srv.Host())
		q.Set("tls", "false")
	}
	return scheme + "://" + srv.Bucket + "/" + strings.TrimSuffix(prefix, "/") + "?" + q.Encode()
}

// forEachServerAndSDK runs f for each local server through each SDK.
func forEachServerAndSDK(t *testing.T, f func(t *testing.T, srv testenv.Server, scheme string)) {
	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) {
		for _, scheme := range []string{openurl.SchemeS3, openurl.SchemeMinIO} {
			t.Run(scheme, func(t *testing.T) {
				isolateAWSEnv(t, srv.AccessKey, srv.SecretKey)
				f(t, srv, scheme)
			})
		}
	})
}

// TestOpenRealServers opens each local S3 server by URL, through the whole
// stack and the probe, and checks what the probe confirmed.
func TestOpenRealServers(t *testing.T) {
	forEachServerAndSDK(t, func(t *testing.T, srv testenv.Server, scheme string) {
		prefix := testenv.UniquePrefix(t)
		s, err := openurl.Open(t.Context(), storeURL(scheme, srv, prefix), &openurl.Options{Probe: objstore.ProbeOptions{Multipart: !testenv.Short()}})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		caps := s.Capabilities()
		if !caps.ConditionalPut || !caps.CompareAndSwap {
			t.Errorf("capabilities %+v", caps)
		}
		// minio-go cannot send If-Match on DELETE; MinIO ignores it.
		if want := srv.Name != testenv.MinIO && scheme == openurl.SchemeS3; caps.ConditionalDelete != want {
			t.Errorf("ConditionalDelete = %v, want %v on %s", caps.ConditionalDelete, want, srv.Name)
		}
		info, err := s.Put(t.Context(), "k", []byte("v"), &objstore.PutOptions{IfNoneMatch: true})
		if err != nil {
			t.Fatalf("Put: %v", err)
		}
		if info.Metadata != nil && info.Metadata[retry.WriteTokenKey] == "" {
			t.Errorf("Put returned metadata without a write token: %v", info.Metadata)
		}
		if _, err := s.Put(t.Context(), "k", []byte("w"), &objstore.PutOptions{IfNoneMatch: true}); !errors.Is(err, objstore.ErrPreconditionFailed) {
			t.Errorf("second create = %v, want ErrPreconditionFailed", err)
		}
		n := 0
		for info, err := range s.List(t.Context(), "", nil) {
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if info.Key != "k" {
				t.Errorf("listed %q: the probe left it behind or the prefix leaked", info.Key)
			}
			n++
		}
		if n != 1 {
			t.Errorf("listed %d objects, want 1", n)
		}
		if err := s.Delete(t.Context(), "k", nil); err != nil {
			t.Errorf("Delete: %v", err)
		}
		res, err := objstore.Probe(t.Context(), s, nil)
		if err != nil || len(res.Problems) != 0 {
			t.Errorf("Probe of the opened store = %q, %v; want no problems", res.Problems, err)
		}
	})
}

// TestOpenLostResponseResolvedByToken loses the response of a conditional
// PUT after the server applied it. The retry sees 412 and the write token
// proves the write ours: Put succeeds.
func TestOpenLostResponseResolvedByToken(t *testing.T) {
	forEachServerAndSDK(t, func(t *testing.T, srv testenv.Server, scheme string) {
		prefix := testenv.UniquePrefix(t)
		tr := &faultnet.Transport{Rules: []faultnet.Rule{{
			Name: "lose", Fault: faultnet.LoseResponse, Limit: 1,
			PathPrefix: "/" + srv.Bucket + "/" + prefix + "head",
			Match:      faultnet.ConditionalWrite,
		}}, Base: http.DefaultTransport}
		s, err := openurl.Open(t.Context(), storeURL(scheme, srv, prefix), &openurl.Options{HTTPClient: tr.Client(), Retry: retry.Options{Sleep: noSleep}})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		if _, err := s.Put(t.Context(), "head", []byte("ours"), &objstore.PutOptions{IfNoneMatch: true}); err != nil {
			t.Fatalf("Put after a lost response: %v", err)
		}
		if got := tr.Stats().Rules["lose"]; got != 1 {
			t.Fatalf("the lost-response fault fired %d times, want 1", got)
		}
		rc, _, err := s.Get(t.Context(), "head", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if b, _ := io.ReadAll(rc); string(b) != "ours" {
			t.Errorf("head holds %q", b)
		}
		if err := s.Delete(t.Context(), "head", nil); err != nil {
			t.Errorf("Delete: %v", err)
		}
	})
}

// TestOpenLostResponseThenOverwritten loses the response of a conditional
// PUT that the server applied, and lets another writer overwrite the key
// before the retry: the outcome is reported as unknown, not as a lost race.
func TestOpenLostResponseThenOverwritten(t *testing.T) {
	forEachServerAndSDK(t, func(t *testing.T, srv testenv.Server, scheme string) {
		prefix := testenv.UniquePrefix(t)
		other, err := openurl.Open(t.Context(), storeURL(scheme, srv, prefix), &openurl.Options{SkipProbe: true})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		tr := &faultnet.Transport{Rules: []faultnet.Rule{{
			Name: "lose", Fault: faultnet.LoseResponse, Limit: 1,
			PathPrefix: "/" + srv.Bucket + "/" + prefix + "head",
			Match:      faultnet.ConditionalWrite,
		}}, Base: http.DefaultTransport}
		overwrite := func(ctx context.Context, _ time.Duration) error {
			// Between the attempts another writer replaces the object.
			_, err := other.Put(ctx, "head", []byte("theirs"), nil)
			return err
		}
		s, err := openurl.Open(t.Context(), storeURL(scheme, srv, prefix), &openurl.Options{
			HTTPClient: tr.Client(), SkipProbe: true, Retry: retry.Options{Sleep: overwrite},
		})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		_, err = s.Put(t.Context(), "head", []byte("ours"), &objstore.PutOptions{IfNoneMatch: true})
		var ae *retry.AmbiguousError
		if !errors.As(err, &ae) || !errors.Is(err, objstore.ErrOutcomeUnknown) || !errors.Is(err, objstore.ErrPreconditionFailed) {
			t.Fatalf("Put = %v, want an AmbiguousError matching ErrOutcomeUnknown and ErrPreconditionFailed", err)
		}
		if err := other.Delete(t.Context(), "head", nil); err != nil {
			t.Errorf("Delete: %v", err)
		}
	})
}

// TestOpenMissingBucket opens a bucket that does not exist on each server,
// through each SDK: the probe's first listing fails with ErrNoBucket (a
// configuration error, not retried), read-only or not.
func TestOpenMissingBucket(t *testing.T) {
	forEachServerAndSDK(t, func(t *testing.T, srv testenv.Server, scheme string) {
		srv.Bucket = "stowage-no-such-bucket"
		for _, ro := range []bool{false, true} {
			var retries int
			_, err := openurl.Open(t.Context(), storeURL(scheme, srv, "p"), &openurl.Options{ReadOnly: ro,
				Retry: retry.Options{OnRetry: func(string, int, error) { retries++ }}})
			if !errors.Is(err, objstore.ErrNoBucket) || errors.Is(err, objstore.ErrNotExist) {
				t.Errorf("read-only %v: Open = %v, want ErrNoBucket", ro, err)
			}
			if retries != 0 {
				t.Errorf("read-only %v: %d retries of a missing bucket, want none", ro, retries)
			}
		}
	})
}

// methodCounter counts the requests it sends by HTTP method.
type methodCounter struct {
	base http.RoundTripper
	mu   sync.Mutex
	n    map[string]int
}

func (m *methodCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	m.mu.Lock()
	m.n[r.Method]++
	m.mu.Unlock()
	return m.base.RoundTrip(r)
}

// TestOpenReadOnlyWritesNothing opens a prefix holding one object read-only
// on each server through each SDK: it reads, every write fails with
// ErrReadOnly, no request but GET and HEAD is sent (not even by the probe),
// and a raw listing of the prefix afterwards shows only the object that was
// there.
func TestOpenReadOnlyWritesNothing(t *testing.T) {
	forEachServerAndSDK(t, func(t *testing.T, srv testenv.Server, scheme string) {
		prefix := testenv.UniquePrefix(t)
		u := storeURL(scheme, srv, prefix)
		rw, err := openurl.Open(t.Context(), u, &openurl.Options{SkipProbe: true})
		if err != nil {
			t.Fatal(err)
		}
		defer rw.Close()
		if _, err := rw.Put(t.Context(), "k", []byte("v"), nil); err != nil {
			t.Fatal(err)
		}
		count := &methodCounter{base: http.DefaultTransport, n: map[string]int{}}
		s, err := openurl.Open(t.Context(), u, &openurl.Options{ReadOnly: true, HTTPClient: &http.Client{Transport: count}})
		if err != nil {
			t.Fatalf("Open read-only: %v", err)
		}
		defer s.Close()
		if b, _, err := objstoreReadAll(t, s, "k"); err != nil || string(b) != "v" {
			t.Errorf("Get = %q, %v", b, err)
		}
		for what, err := range map[string]error{
			"Put":         func() error { _, err := s.Put(t.Context(), "k2", []byte("v"), nil); return err }(),
			"Delete":      s.Delete(t.Context(), "k", nil),
			"DeleteMany":  s.DeleteMany(t.Context(), []string{"k"}),
			"Upload":      func() error { _, err := s.Upload(t.Context(), "k3", strings.NewReader("v"), nil); return err }(),
			"AbortUpload": s.AbortUpload(t.Context(), "k", "id"),
		} {
			if !errors.Is(err, objstore.ErrReadOnly) {
				t.Errorf("%s = %v, want ErrReadOnly", what, err)
			}
		}
		if count.n[http.MethodGet] == 0 {
			t.Errorf("no GET went through the counting transport: the test sees nothing")
		}
		for method, n := range count.n {
			if method != http.MethodGet && method != http.MethodHead {
				t.Errorf("a read-only store sent %d %s requests", n, method)
			}
		}
		var keys []string
		for info, err := range rw.List(t.Context(), "", nil) {
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, info.Key)
		}
		if len(keys) != 1 || keys[0] != "k" {
			t.Errorf("the prefix holds %q after a read-only open, want only k", keys)
		}
	})
}

func objstoreReadAll(t *testing.T, s objstore.Store, key string) ([]byte, objstore.ObjectInfo, error) {
	t.Helper()
	rc, info, err := s.Get(t.Context(), key, nil)
	if err != nil {
		return nil, info, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return b, info, err
}

// TestOpenRetriesTruncatedGet cuts off the body of a GET mid-way, as a
// dropped connection does and as rclone serve s3 does to a GET racing an
// overwrite: the composed store retries it and the caller reads the whole
// object, on every server through both SDKs.
func TestOpenRetriesTruncatedGet(t *testing.T) {
	forEachServerAndSDK(t, func(t *testing.T, srv testenv.Server, scheme string) {
		prefix := testenv.UniquePrefix(t)
		tr := &faultnet.Transport{Rules: []faultnet.Rule{{
			Name: "cut", Fault: faultnet.Truncate, Limit: 1, Method: http.MethodGet,
			PathPrefix: "/" + srv.Bucket + "/" + prefix + "obj",
		}}, Base: http.DefaultTransport}
		s, err := openurl.Open(t.Context(), storeURL(scheme, srv, prefix), &openurl.Options{HTTPClient: tr.Client(), SkipProbe: true, Retry: retry.Options{Sleep: noSleep}})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		data := []byte(strings.Repeat("stowage ", 8<<10))
		put, err := s.Put(t.Context(), "obj", data, nil)
		if err != nil {
			t.Fatal(err)
		}
		rc, info, err := s.Get(t.Context(), "obj", nil)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(got) != string(data) || info.ETag != put.ETag {
			t.Errorf("read %d of %d bytes, %v; etag %q, want %q", len(got), len(data), err, info.ETag, put.ETag)
		}
		if n := tr.Stats().Rules["cut"]; n != 1 {
			t.Errorf("the truncation fired %d times, want 1", n)
		}
		if err := s.Delete(t.Context(), "obj", nil); err != nil {
			t.Errorf("Delete: %v", err)
		}
	})
}
