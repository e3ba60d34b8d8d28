package s3compat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/stowage-dev/stowage/objstore"
)

// TimeoutError is the error of a request the server left unanswered for
// its timeout: no response headers, or no progress reading the request or
// response body, for Timeout. It matches objstore.ErrTimeout and is a
// net.Error whose Timeout() is true, so the backends' mapping makes it
// objstore.ErrUnavailable too (retryable, and possibly applied).
type TimeoutError struct {
	After time.Duration // the timeout that ran out
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("no answer from the server for %s (request_timeout)", e.After)
}

// Is reports that a TimeoutError is an objstore.ErrTimeout.
func (e *TimeoutError) Is(target error) bool { return target == objstore.ErrTimeout }

// Timeout reports true, as net.Error.
func (e *TimeoutError) Timeout() bool { return true }

// Temporary reports true, as net.Error.
func (e *TimeoutError) Temporary() bool { return true }

// Doer sends an HTTP request (aws-sdk-go-v2's HTTPClient interface).
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// DeadlineDoer returns a Doer that gives every request sent through d a
// per-attempt idle timeout (see DeadlineTransport). timeout <= 0 returns d.
func DeadlineDoer(d Doer, timeout time.Duration) Doer {
	if timeout <= 0 {
		return d
	}
	return doerFunc(func(req *http.Request) (*http.Response, error) { return send(req, timeout, d.Do) })
}

type doerFunc func(*http.Request) (*http.Response, error)

func (f doerFunc) Do(req *http.Request) (*http.Response, error) { return f(req) }

// DeadlineTransport returns a RoundTripper that gives every request through
// rt a timeout that bounds silence, not size: the request fails with a
// *TimeoutError if timeout passes, from the start of the request until its
// response headers arrive, without the transport reading any of the request
// body; or, later, during one Read of the response body. A part upload or
// a long download that makes progress never times out; a server that
// accepts the connection and never answers does, within timeout. A caller
// that holds a response body without reading it is not timed. timeout <= 0
// returns rt.
func DeadlineTransport(rt http.RoundTripper, timeout time.Duration) http.RoundTripper {
	if timeout <= 0 {
		return rt
	}
	return roundTripFunc(func(req *http.Request) (*http.Response, error) { return send(req, timeout, rt.RoundTrip) })
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// send sends req through do under a watchdog of timeout.
func send(req *http.Request, timeout time.Duration, do func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	expired := &TimeoutError{After: timeout}
	w := &watchdog{d: timeout}
	w.t = time.AfterFunc(timeout, func() { cancel(expired) })
	req = req.WithContext(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = &watchedBody{ReadCloser: req.Body, kick: w.progress}
	}
	resp, err := do(req)
	if err != nil {
		w.stop()
		fired := errors.Is(context.Cause(ctx), objstore.ErrTimeout)
		cancel(nil)
		if fired {
			return nil, expired
		}
		return nil, err
	}
	w.answered() // from now on the response body is timed per Read
	resp.Body = &watchedResponse{body: resp.Body, w: w, ctx: ctx, cancel: cancel, expired: expired}
	return resp, nil
}

// watchdog cancels a request when its timer runs out.
type watchdog struct {
	mu   sync.Mutex
	d    time.Duration
	t    *time.Timer
	done bool // the response arrived: request body reads no longer count
}

// progress restarts the timer for a read of the request body, until the
// response arrived (net/http may read on after it).
func (w *watchdog) progress() {
	w.mu.Lock()
	if !w.done {
		w.t.Reset(w.d)
	}
	w.mu.Unlock()
}

// answered stops the timer of the request phase.
func (w *watchdog) answered() {
	w.mu.Lock()
	w.done = true
	w.t.Stop()
	w.mu.Unlock()
}

// kick restarts the timer: progress was made.
func (w *watchdog) kick() {
	w.mu.Lock()
	w.t.Reset(w.d)
	w.mu.Unlock()
}

func (w *watchdog) stop() {
	w.mu.Lock()
	w.t.Stop()
	w.mu.Unlock()
}

// watchedBody is a request body whose reads are progress.
type watchedBody struct {
	io.ReadCloser
	kick func()
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.kick()
	return n, err
}

// watchedResponse times each Read of a response body, and ends the
// request's context when closed.
type watchedResponse struct {
	body    io.ReadCloser
	w       *watchdog
	ctx     context.Context
	cancel  context.CancelCauseFunc
	expired *TimeoutError
}

func (r *watchedResponse) Read(p []byte) (int, error) {
	r.w.kick()
	n, err := r.body.Read(p)
	r.w.stop()
	if err != nil && err != io.EOF && errors.Is(context.Cause(r.ctx), objstore.ErrTimeout) {
		err = r.expired
	}
	return n, err
}

func (r *watchedResponse) Close() error {
	r.w.stop()
	err := r.body.Close()
	r.cancel(nil)
	return err
}
