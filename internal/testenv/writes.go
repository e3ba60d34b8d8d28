package testenv

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
)

// WriteWatch is a loopback proxy in front of a server that records every
// request that is not a GET or HEAD: a test points a read-only command at
// Endpoint and checks that Writes stays empty. The proxy keeps the Host
// header the client signed, so SigV4 signatures still verify.
type WriteWatch struct {
	Endpoint string // http://127.0.0.1:PORT of the proxy
	mu       sync.Mutex
	writes   []string
}

// WatchWrites starts a WriteWatch in front of s for the test's lifetime.
func WatchWrites(t testing.TB, s Server) *WriteWatch {
	t.Helper()
	target, err := url.Parse(s.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	w := &WriteWatch{}
	proxy := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.mu.Lock()
			w.writes = append(w.writes, r.Method+" "+r.URL.Path)
			w.mu.Unlock()
		}
		rp.ServeHTTP(rw, r)
	}))
	t.Cleanup(proxy.Close)
	w.Endpoint = proxy.URL
	return w
}

// Writes returns the writes seen so far (method and path), at most max.
func (w *WriteWatch) Writes(max int) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.writes) > max {
		return append([]string(nil), w.writes[:max]...)
	}
	return append([]string(nil), w.writes...)
}
