package faultnet_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/internal/faultnet"
)

// server is a loopback HTTP server that records the requests it handled.
type server struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
}

func newServer(t *testing.T) *server {
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies = append(s.bodies, r.Method+" "+r.URL.Path+" "+string(b))
		s.mu.Unlock()
		io.WriteString(w, "ok "+r.URL.Path)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bodies...)
}

func do(t *testing.T, c *http.Client, method, url, body string, hdr ...string) (int, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestSlowDownOnNthRequest(t *testing.T) {
	srv := newServer(t)
	tr := &faultnet.Transport{Rules: []faultnet.Rule{{Fault: faultnet.SlowDown, Nth: []int{2}}}}
	c := tr.Client()
	var codes []int
	for range 3 {
		code, body, err := do(t, c, "GET", srv.URL+"/b/k", "")
		if err != nil {
			t.Fatal(err)
		}
		if code == 503 && !strings.Contains(body, "<Code>SlowDown</Code>") {
			t.Errorf("503 body = %q, want an S3 SlowDown error", body)
		}
		codes = append(codes, code)
	}
	if codes[0] != 200 || codes[1] != 503 || codes[2] != 200 {
		t.Errorf("status codes = %v, want [200 503 200]", codes)
	}
	if n := len(srv.seen()); n != 2 {
		t.Errorf("server saw %d requests, want 2 (SlowDown is not forwarded)", n)
	}
	st := tr.Stats()
	if st.Requests != 3 || st.Forwarded != 2 || st.Faults[faultnet.SlowDown] != 1 || st.Rules["rule0"] != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestResetIsNotForwarded(t *testing.T) {
	srv := newServer(t)
	tr := &faultnet.Transport{Rules: []faultnet.Rule{{Fault: faultnet.Reset, Nth: []int{1}}}}
	_, _, err := do(t, tr.Client(), "PUT", srv.URL+"/b/k", "data")
	if !errors.Is(err, syscall.ECONNRESET) || !faultnet.IsInjected(err) || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("error = %v, want an injected connection reset", err)
	}
	if n := len(srv.seen()); n != 0 {
		t.Errorf("server saw %d requests, want 0", n)
	}
}

func TestLoseResponseAfterServerApplied(t *testing.T) {
	srv := newServer(t)
	tr := &faultnet.Transport{Rules: []faultnet.Rule{{Fault: faultnet.LoseResponse, Method: "PUT"}}}
	_, _, err := do(t, tr.Client(), "PUT", srv.URL+"/b/k", "payload")
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !faultnet.IsInjected(err) {
		t.Fatalf("error = %v, want an injected timeout", err)
	}
	if got := srv.seen(); len(got) != 1 || got[0] != "PUT /b/k payload" {
		t.Errorf("server saw %q, want the whole PUT", got)
	}
	st := tr.Stats()
	if st.Forwarded != 1 || st.Faults[faultnet.LoseResponse] != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestTruncateCutsTheBodyOff(t *testing.T) {
	srv := newServer(t)
	tr := &faultnet.Transport{Rules: []faultnet.Rule{{Fault: faultnet.Truncate, Method: "GET", Limit: 1}}}
	code, body, err := do(t, tr.Client(), "GET", srv.URL+"/b/key", "")
	if code != 200 || body != "ok /b/key"[:len("ok /b/key")/2] || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("GET = %d %q, %v; want 200, half the body, io.ErrUnexpectedEOF", code, body, err)
	}
	if code, body, err = do(t, tr.Client(), "GET", srv.URL+"/b/key", ""); err != nil || body != "ok /b/key" {
		t.Fatalf("second GET = %d %q, %v; want the whole body (Limit 1)", code, body, err)
	}
	if st := tr.Stats(); st.Forwarded != 2 || st.Faults[faultnet.Truncate] != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestLatencyUsesInjectedSleep(t *testing.T) {
	srv := newServer(t)
	var slept []time.Duration
	tr := &faultnet.Transport{
		Rules: []faultnet.Rule{{Fault: faultnet.Latency, Delay: 3 * time.Second, Nth: []int{1}}},
		Sleep: func(ctx context.Context, d time.Duration) error { slept = append(slept, d); return nil },
	}
	code, _, err := do(t, tr.Client(), "GET", srv.URL+"/x", "")
	if err != nil || code != 200 {
		t.Fatalf("GET = %d, %v", code, err)
	}
	if len(slept) != 1 || slept[0] != 3*time.Second || len(srv.seen()) != 1 {
		t.Errorf("slept %v, server saw %d; want [3s], 1", slept, len(srv.seen()))
	}
	tr = &faultnet.Transport{
		Rules: []faultnet.Rule{{Fault: faultnet.Latency, Delay: time.Hour, Nth: []int{1}}},
		Sleep: func(ctx context.Context, d time.Duration) error { return context.DeadlineExceeded },
	}
	if _, _, err := do(t, tr.Client(), "GET", srv.URL+"/x", ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("GET with an interrupted delay: %v", err)
	}
}

// stub answers every request with 200 and no network.
type stub struct{}

func (stub) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r.Body.Close()
	}
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
}

// pattern returns which of n sequential requests got a fault.
func pattern(t *testing.T, tr *faultnet.Transport, n int, method, url string, hdr ...string) string {
	t.Helper()
	var b strings.Builder
	for range n {
		req, _ := http.NewRequest(method, url, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := tr.RoundTrip(req)
		switch {
		case err != nil:
			b.WriteByte('E')
		case resp.StatusCode == 503:
			b.WriteByte('S')
		default:
			b.WriteByte('.')
		}
	}
	return b.String()
}

func TestRateIsReproducibleFromSeed(t *testing.T) {
	rules := []faultnet.Rule{{Fault: faultnet.Reset, Rate: 0.3}}
	a := pattern(t, &faultnet.Transport{Base: stub{}, Rules: rules, Seed: 42}, 200, "GET", "http://h/x")
	b := pattern(t, &faultnet.Transport{Base: stub{}, Rules: rules, Seed: 42}, 200, "GET", "http://h/x")
	c := pattern(t, &faultnet.Transport{Base: stub{}, Rules: rules, Seed: 43}, 200, "GET", "http://h/x")
	if a != b {
		t.Errorf("seed 42 gave two patterns:\n%s\n%s", a, b)
	}
	if a == c {
		t.Errorf("seeds 42 and 43 gave the same pattern %s", a)
	}
	if n := strings.Count(a, "E"); n < 30 || n > 90 {
		t.Errorf("%d faults in 200 requests at rate 0.3 (seed 42): %s", n, a)
	}
}

func TestPredicatesAndLimit(t *testing.T) {
	rule := faultnet.Rule{
		Fault: faultnet.SlowDown, Rate: 1, Limit: 2,
		Method: "PUT", PathPrefix: "/b/", Query: "partNumber", Header: "If-None-Match", HeaderValue: "*",
		Match: func(r *http.Request) bool { return r.URL.Query().Get("uploadId") == "u1" },
	}
	cases := []struct {
		method, url string
		hdr         []string
		want        string
	}{
		{"PUT", "http://h/b/k?partNumber=1&uploadId=u1", []string{"If-None-Match", "*"}, "SS."}, // limit 2
		{"GET", "http://h/b/k?partNumber=1&uploadId=u1", []string{"If-None-Match", "*"}, "..."},
		{"PUT", "http://h/c/k?partNumber=1&uploadId=u1", []string{"If-None-Match", "*"}, "..."},
		{"PUT", "http://h/b/k?uploadId=u1", []string{"If-None-Match", "*"}, "..."},
		{"PUT", "http://h/b/k?partNumber=1&uploadId=u1", nil, "..."},
		{"PUT", "http://h/b/k?partNumber=1&uploadId=u1", []string{"If-None-Match", "etag"}, "..."},
		{"PUT", "http://h/b/k?partNumber=1&uploadId=u2", []string{"If-None-Match", "*"}, "..."},
	}
	for _, c := range cases {
		tr := &faultnet.Transport{Base: stub{}, Rules: []faultnet.Rule{rule}}
		if got := pattern(t, tr, 3, c.method, c.url, c.hdr...); got != c.want {
			t.Errorf("%s %s %v: pattern %s, want %s", c.method, c.url, c.hdr, got, c.want)
		}
	}
}

func TestS3Matchers(t *testing.T) {
	req := func(method, url string, hdr ...string) *http.Request {
		r, _ := http.NewRequest(method, url, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		return r
	}
	put := req("PUT", "http://h/b/k", "If-None-Match", "*")
	part := req("PUT", "http://h/b/k?partNumber=2&uploadId=u")
	complete := req("POST", "http://h/b/k?uploadId=u", "If-Match", "e")
	get := req("GET", "http://h/b/k", "If-None-Match", "e")
	for _, c := range []struct {
		name string
		m    func(*http.Request) bool
		r    *http.Request
		want bool
	}{
		{"put/put", faultnet.PutObject, put, true},
		{"put/part", faultnet.PutObject, part, false},
		{"part/part", faultnet.UploadPart, part, true},
		{"complete/complete", faultnet.CompleteMultipartUpload, complete, true},
		{"complete/put", faultnet.CompleteMultipartUpload, put, false},
		{"condwrite/put", faultnet.ConditionalWrite, put, true},
		{"condwrite/complete", faultnet.ConditionalWrite, complete, true},
		{"condwrite/get", faultnet.ConditionalWrite, get, false},
		{"condwrite/part", faultnet.ConditionalWrite, part, false},
	} {
		if got := c.m(c.r); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
}
