package s3test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/stowage-dev/stowage/internal/s3compat"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/objstore"
)

// LoggedOpener opens a backend against srv that logs to log.
type LoggedOpener func(t testing.TB, srv testenv.Server, q s3compat.Quirks, log *slog.Logger) objstore.Store

// SDKLogging checks that what the backend's SDK logs goes to the injected
// slog logger and nothing to stderr: it sends a HEAD and a listing (which
// every backend sends through its SDK) to a fake server whose answers
// carry a Date header no one can parse (aws-sdk-go-v2 warns about it),
// with a debug-level logger (minio-go traces), while stderr is a pipe.
// want is a piece of text the captured records must hold.
func SDKLogging(t *testing.T, open LoggedOpener, want string) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", "not a date")
		w.Header().Set("ETag", `"e1"`)
		w.Header().Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
		if r.URL.Query().Get("list-type") == "2" {
			w.Header().Set("Content-Type", "application/xml")
			_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>bkt</Name><IsTruncated>false</IsTruncated></ListBucketResult>`)
			return
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
	}))
	defer ts.Close()

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	var (
		wg      sync.WaitGroup
		written []byte
	)
	wg.Go(func() { written, _ = io.ReadAll(r) })
	var (
		mu  sync.Mutex
		buf bytes.Buffer
	)
	log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := testenv.Server{Name: "fake", Endpoint: ts.URL, AccessKey: "fakeaccess", SecretKey: "fakesecret", Region: "us-east-1", Bucket: "bkt"}
	s := open(t, srv, s3compat.Generic, log)
	_, herr := s.Head(t.Context(), "k")
	for _, err := range s.List(t.Context(), "p/", nil) {
		herr = errors.Join(herr, err)
	}
	s.Close()
	os.Stderr = stderr
	w.Close()
	wg.Wait()
	if herr != nil {
		t.Fatalf("Head, List: %v", herr)
	}
	if len(written) > 0 {
		t.Errorf("the SDK wrote to stderr: %q", written)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(buf.String(), want) {
		t.Errorf("the logger did not receive the SDK's %q; it got:\n%s", want, buf.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
