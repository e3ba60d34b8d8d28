// Package faultnet injects network faults between an S3 client and server,
// reproducibly, for tests of retries and ambiguous outcomes.
//
// Transport is an http.RoundTripper to put into a client (for example
// s3store's Config.HTTPClient: &http.Client{Transport: t}). Proxy is a
// reverse proxy on 127.0.0.1 with the same rules, for clients that cannot
// take an http.Client or for a soak test against a server process; it
// streams bodies and never buffers them.
//
// # Faults
//
//   - SlowDown: answer 503 SlowDown with an S3 XML error body without
//     forwarding the request (nothing is applied).
//   - Reset: fail with a connection reset without forwarding.
//   - Latency: wait Rule.Delay (with Transport.Sleep), then forward.
//   - LoseResponse: forward the request, read and discard the response,
//     then fail with an i/o timeout: the server applied the request but the
//     client never hears of it. This is the fault behind ambiguous
//     conditional writes.
//   - Truncate: forward the request, then cut the response body off after
//     half of its bytes with io.ErrUnexpectedEOF, as a dropped connection
//     (or a server that stops sending when the object is overwritten
//     under the read) does. Only for responses with a body.
//
// # Reproducibility
//
// Rules fire on the Nth matching request or at a rate drawn from a
// generator seeded with Transport.Seed; the same sequence of requests gets
// the same faults. Concurrent requests reach the rules in a scheduling
// order, so only a sequential client is exactly reproducible.
package faultnet

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Fault is a kind of injected fault.
type Fault int

// The faults.
const (
	None Fault = iota
	SlowDown
	Reset
	Latency
	LoseResponse
	Truncate
)

func (f Fault) String() string {
	switch f {
	case None:
		return "none"
	case SlowDown:
		return "slowdown"
	case Reset:
		return "reset"
	case Latency:
		return "latency"
	case LoseResponse:
		return "lose-response"
	case Truncate:
		return "truncate"
	}
	return "fault(" + strconv.Itoa(int(f)) + ")"
}

// Rule injects Fault into the requests it matches. A request matches if it
// satisfies every predicate that is set. The rule fires on the matching
// requests numbered in Nth (1-based; every rule counts every request it
// matches, whichever rule fires) and, independently,
// with probability Rate; with neither set, on every matching request; at
// most Limit times if Limit > 0. Rules are tried in order and the first
// that fires wins.
type Rule struct {
	// Name labels the rule in Stats; "" means "rule<index>".
	Name  string
	Fault Fault
	// Delay is the wait of a Latency fault.
	Delay time.Duration

	// Method, if set, must equal the request method.
	Method string
	// PathPrefix, if set, must be a prefix of the URL path.
	PathPrefix string
	// Query, if set, names a query parameter that must be present
	// ("uploadId", "partNumber", "uploads", "delete").
	Query string
	// Header, if set, names a header that must be present; HeaderValue, if
	// also set, is the value it must have.
	Header, HeaderValue string
	// Match, if set, is one more predicate (see the S3 matchers).
	Match func(*http.Request) bool

	Nth   []int
	Rate  float64
	Limit int
}

func (r *Rule) matches(req *http.Request) bool {
	switch {
	case r.Method != "" && req.Method != r.Method:
		return false
	case r.PathPrefix != "" && !strings.HasPrefix(req.URL.Path, r.PathPrefix):
		return false
	case r.Query != "" && !req.URL.Query().Has(r.Query):
		return false
	case r.Header != "" && len(req.Header.Values(r.Header)) == 0:
		return false
	case r.Header != "" && r.HeaderValue != "" && req.Header.Get(r.Header) != r.HeaderValue:
		return false
	case r.Match != nil && !r.Match(req):
		return false
	}
	return true
}

// Stats counts what a Transport did.
type Stats struct {
	Requests  int            // requests seen
	Forwarded int            // requests sent to the server (Latency and LoseResponse included)
	Faults    map[Fault]int  // injected faults by kind
	Rules     map[string]int // injected faults by rule name
}

// Transport is a fault-injecting http.RoundTripper. Set its fields before
// first use and do not change them afterwards. It is safe for concurrent
// use.
type Transport struct {
	// Base sends the requests that are forwarded; nil means
	// http.DefaultTransport.
	Base http.RoundTripper
	// Rules decide the faults.
	Rules []Rule
	// Seed seeds the generator behind Rule.Rate.
	Seed uint64
	// Sleep waits d or until ctx is done; nil means a real timer.
	Sleep func(ctx context.Context, d time.Duration) error

	mu      sync.Mutex
	rng     *rand.Rand
	matched []int
	fired   []int
	stats   Stats
}

var _ http.RoundTripper = (*Transport)(nil)

// Client returns an http.Client that uses t.
func (t *Transport) Client() *http.Client { return &http.Client{Transport: t} }

// Stats returns a copy of the counts so far.
func (t *Transport) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.stats
	s.Faults = make(map[Fault]int, len(t.stats.Faults))
	for k, v := range t.stats.Faults {
		s.Faults[k] = v
	}
	s.Rules = make(map[string]int, len(t.stats.Rules))
	for k, v := range t.stats.Rules {
		s.Rules[k] = v
	}
	return s
}

func ruleName(r *Rule, i int) string {
	if r.Name != "" {
		return r.Name
	}
	return "rule" + strconv.Itoa(i)
}

// decide picks the rule that fires for req, or nil, and counts it.
func (t *Transport) decide(req *http.Request) *Rule {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rng == nil {
		t.rng = rand.New(rand.NewPCG(t.Seed, t.Seed^0x9e3779b97f4a7c15))
		t.matched = make([]int, len(t.Rules))
		t.fired = make([]int, len(t.Rules))
		t.stats.Faults = map[Fault]int{}
		t.stats.Rules = map[string]int{}
	}
	t.stats.Requests++
	var chosen *Rule
	for i := range t.Rules {
		r := &t.Rules[i]
		if !r.matches(req) {
			continue
		}
		// Every matching rule counts the request and draws its rate, so a
		// rule's Nth and random sequence do not depend on other rules.
		t.matched[i]++
		fire := len(r.Nth) == 0 && r.Rate == 0 || slices.Contains(r.Nth, t.matched[i])
		if r.Rate > 0 && t.rng.Float64() < r.Rate {
			fire = true
		}
		if chosen != nil || !fire || r.Limit > 0 && t.fired[i] >= r.Limit {
			continue
		}
		chosen = r
		t.fired[i]++
		t.stats.Faults[r.Fault]++
		t.stats.Rules[ruleName(r, i)]++
	}
	if chosen == nil || chosen.Fault == Latency || chosen.Fault == LoseResponse || chosen.Fault == Truncate {
		t.stats.Forwarded++
	}
	return chosen
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := t.decide(req)
	if r == nil {
		return t.base().RoundTrip(req)
	}
	switch r.Fault {
	case SlowDown:
		closeBody(req)
		return slowDown(req), nil
	case Reset:
		closeBody(req)
		return nil, &Error{Fault: Reset, Rule: r.Name, Err: &net.OpError{
			Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET),
		}}
	case Latency:
		if err := t.sleep(req.Context(), r.Delay); err != nil {
			closeBody(req)
			return nil, err
		}
		return t.base().RoundTrip(req)
	case LoseResponse:
		resp, err := t.base().RoundTrip(req)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return nil, &Error{Fault: LoseResponse, Rule: r.Name, Err: &net.OpError{
			Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded,
		}}
	case Truncate:
		resp, err := t.base().RoundTrip(req)
		if err != nil {
			return nil, err
		}
		resp.Body = &cutBody{r: io.LimitReader(resp.Body, resp.ContentLength/2), c: resp.Body}
		return resp, nil
	}
	return t.base().RoundTrip(req)
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

func (t *Transport) sleep(ctx context.Context, d time.Duration) error {
	if t.Sleep != nil {
		return t.Sleep(ctx, d)
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// slowDown is S3's answer to a request rate it will not take.
func slowDown(req *http.Request) *http.Response {
	body := ""
	if req.Method != http.MethodHead {
		body = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
			`<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message>` +
			`<Resource>` + html.EscapeString(req.URL.Path) + `</Resource><RequestId>faultnet</RequestId></Error>`
	}
	h := http.Header{}
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Amz-Request-Id", "faultnet")
	return &http.Response{
		Status:        "503 Slow Down",
		StatusCode:    http.StatusServiceUnavailable,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

// cutBody is a response body cut off by a Truncate fault: its bytes up to
// the cut, then io.ErrUnexpectedEOF, as net/http reports a connection that
// closed before Content-Length bytes arrived.
type cutBody struct {
	r io.Reader
	c io.Closer
}

func (b *cutBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (b *cutBody) Close() error { return b.c.Close() }

// Error is an injected transport failure. It unwraps to the network error it
// imitates: a *net.OpError with ECONNRESET (Reset) or an i/o timeout
// (LoseResponse), so that clients classify it as they would the real one.
type Error struct {
	Fault Fault
	Rule  string
	Err   error
}

func (e *Error) Error() string {
	return fmt.Sprintf("faultnet: injected %s: %v", e.Fault, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Timeout reports whether the error imitates a timeout.
func (e *Error) Timeout() bool { return e.Fault == LoseResponse }

// Temporary reports true: every injected fault is transient.
func (e *Error) Temporary() bool { return true }

// IsInjected reports whether err (for example the *url.Error of an
// http.Client) was injected by faultnet.
func IsInjected(err error) bool {
	var e *Error
	return errors.As(err, &e)
}
