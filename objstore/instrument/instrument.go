// Package instrument is a Store decorator that records Prometheus metrics.
//
// # Metrics
//
// Every metric carries a "backend" label (given to New) and, except for the
// retry counter, an "op" label (objstore.OpPut, OpGet, ...):
//
//	stowage_objstore_operations_total{backend,op,code}          counter
//	stowage_objstore_operation_failures_total{backend,op,code}  counter
//	stowage_objstore_operation_duration_seconds{backend,op}     histogram
//	stowage_objstore_read_bytes_total{backend,op}               counter
//	stowage_objstore_written_bytes_total{backend,op}            counter
//	stowage_objstore_retries_total{backend,op,code}             counter (Hooks)
//	stowage_objstore_ambiguous_writes_total{backend,op,outcome} counter (Hooks)
//
// code is "ok" or objstore.ErrorCode of the error. outcome is "ours" (a
// write whose response was lost or unclear was found applied by reading it
// back) or "unknown" (the caller got retry's AmbiguousError). Failures leave out the
// expected outcomes that are answers rather than faults: a missing object on
// Get and Head, a not-modified Get, a failed precondition (a lost race) and a
// context the caller cancelled. They are still counted in operations_total
// under their code.
//
// A Get's duration runs until it returns (time to first byte); its bytes are
// counted as the body is read. List and ListUploads count one operation per
// iteration, timed until the iteration ends. Written bytes are the sizes of
// successful Puts and Uploads.
//
// Placed below the retry decorator (as openurl composes them), every attempt
// is measured, so throttling and unavailability show even when retries hide
// them from callers.
package instrument

import (
	"context"
	"errors"
	"io"
	"iter"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/retry"
)

const namespace = "stowage_objstore"

// CodeOK is the code label of a successful operation.
const CodeOK = "ok"

// Metrics is what openurl.Options.Metrics takes: the metrics decorator and
// the retry counter of one Registerer. Make it with For.
type Metrics struct{ reg prometheus.Registerer }

// For returns the metrics of reg, for openurl.Options.Metrics:
//
//	openurl.Open(ctx, url, &openurl.Options{Metrics: instrument.For(reg)})
func For(reg prometheus.Registerer) Metrics { return Metrics{reg} }

// Instrument implements openurl.Metrics: s wrapped by New, and the retry
// decorator's Hooks of the same label.
func (m Metrics) Instrument(s objstore.Store, label string) (objstore.Store, retry.Hooks) {
	return New(s, m.reg, label), Hooks(m.reg, label)
}

// New returns s wrapped in the metrics decorator, registering its metrics
// with reg (nil: not registered). Several stores may share one registerer:
// they share the metric vectors and differ by backendLabel. Closing the
// returned store closes s.
func New(s objstore.Store, reg prometheus.Registerer, backendLabel string) objstore.Store {
	m := vectors(reg)
	b := prometheus.Labels{"backend": backendLabel}
	st := &store{
		base:     s,
		ops:      m.ops.MustCurryWith(b),
		failures: m.failures.MustCurryWith(b),
		duration: m.duration.MustCurryWith(b),
		read:     m.read.MustCurryWith(b),
		written:  m.written.MustCurryWith(b),
	}
	// Create the series of every operation so rates start from zero.
	for _, op := range objstore.Ops() {
		st.ops.WithLabelValues(op, CodeOK)
		st.duration.WithLabelValues(op)
	}
	return st
}

// Hooks returns the retry decorator's hooks (retry.Options.Chain) that
// count retries in stowage_objstore_retries_total{backend,op,code} and
// ambiguous writes in stowage_objstore_ambiguous_writes_total{backend,op,outcome}.
func Hooks(reg prometheus.Registerer, backendLabel string) retry.Hooks {
	b := prometheus.Labels{"backend": backendLabel}
	retries := Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace,
		Name:      "retries_total",
		Help:      "Object store operation attempts that failed and were retried, by error code.",
	}, []string{"backend", "op", "code"})).MustCurryWith(b)
	ambiguous := Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace,
		Name:      "ambiguous_writes_total",
		Help:      "Conditional writes whose outcome was unclear, by what reading them back found (ours or unknown).",
	}, []string{"backend", "op", "outcome"})).MustCurryWith(b)
	return retry.Hooks{
		OnRetry: func(op string, _ int, err error) {
			retries.WithLabelValues(op, objstore.ErrorCode(err)).Inc()
		},
		OnResolved: func(op string, ours bool) {
			outcome := "unknown"
			if ours {
				outcome = "ours"
			}
			ambiguous.WithLabelValues(op, outcome).Inc()
		},
	}
}

type metricVecs struct {
	ops, failures, read, written *prometheus.CounterVec
	duration                     *prometheus.HistogramVec
}

// DurationBuckets are the buckets of operation_duration_seconds: from a
// loopback round trip to a slow multipart upload.
var DurationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}

func vectors(reg prometheus.Registerer) metricVecs {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: name, Help: help,
		}, append([]string{"backend", "op"}, labels...)))
	}
	return metricVecs{
		ops:      counter("operations_total", "Object store operations, by result code (ok or objstore.ErrorCode).", "code"),
		failures: counter("operation_failures_total", "Object store operations that failed unexpectedly (not counting not-found, not-modified, lost races and cancellations), by error code.", "code"),
		read:     counter("read_bytes_total", "Bytes read from object bodies."),
		written:  counter("written_bytes_total", "Bytes of objects written successfully."),
		duration: Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace,
			Name:      "operation_duration_seconds",
			Help:      "Duration of object store operations (Get: until the body is ready; List: the whole iteration).",
			Buckets:   DurationBuckets,
		}, []string{"backend", "op"})),
	}
}

// Register registers c with reg (nil: not registered), or returns the
// collector already registered under the same description; any other
// registration error panics. Package telemetry registers with it too.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic("instrument: register metrics: " + err.Error())
	}
	return c
}

// expected reports whether err is an answer rather than a fault.
func expected(op string, err error) bool {
	switch {
	case errors.Is(err, context.Canceled):
		return true
	case errors.Is(err, objstore.ErrOutcomeUnknown):
		return false
	case errors.Is(err, objstore.ErrPreconditionFailed):
		return true
	case errors.Is(err, objstore.ErrNotExist):
		return op == objstore.OpGet || op == objstore.OpHead
	case errors.Is(err, objstore.ErrNotModified):
		return op == objstore.OpGet
	}
	return false
}

type store struct {
	base                         objstore.Store
	ops, failures, read, written *prometheus.CounterVec
	duration                     prometheus.ObserverVec
}

var _ objstore.Store = (*store)(nil)

// Unwrap returns the decorated store.
func (s *store) Unwrap() objstore.Store { return s.base }

func (s *store) done(op string, start time.Time, err error) {
	s.duration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	code := CodeOK
	if err != nil {
		code = objstore.ErrorCode(err)
	}
	s.ops.WithLabelValues(op, code).Inc()
	if err != nil && !expected(op, err) {
		s.failures.WithLabelValues(op, code).Inc()
	}
}

func (s *store) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	start := time.Now()
	info, err := s.base.Put(ctx, key, data, opts)
	s.done(objstore.OpPut, start, err)
	if err == nil {
		s.written.WithLabelValues(objstore.OpPut).Add(float64(len(data)))
	}
	return info, err
}

func (s *store) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	start := time.Now()
	rc, info, err := s.base.Get(ctx, key, opts)
	s.done(objstore.OpGet, start, err)
	if err != nil {
		return rc, info, err
	}
	return &countingReader{ReadCloser: rc, c: s.read.WithLabelValues(objstore.OpGet)}, info, nil
}

type countingReader struct {
	io.ReadCloser
	c prometheus.Counter
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if n > 0 {
		r.c.Add(float64(n))
	}
	return n, err
}

func (s *store) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	start := time.Now()
	info, err := s.base.Head(ctx, key)
	s.done(objstore.OpHead, start, err)
	return info, err
}

func (s *store) Delete(ctx context.Context, key string, opts *objstore.DeleteOptions) error {
	start := time.Now()
	err := s.base.Delete(ctx, key, opts)
	s.done(objstore.OpDelete, start, err)
	return err
}

func (s *store) DeleteMany(ctx context.Context, keys []string) error {
	start := time.Now()
	err := s.base.DeleteMany(ctx, keys)
	s.done(objstore.OpDeleteMany, start, err)
	return err
}

func (s *store) List(ctx context.Context, prefix string, opts *objstore.ListOptions) iter.Seq2[objstore.ObjectInfo, error] {
	return instrumentSeq(s, objstore.OpList, s.base.List(ctx, prefix, opts))
}

func (s *store) ListUploads(ctx context.Context, prefix string) iter.Seq2[objstore.UploadInfo, error] {
	return instrumentSeq(s, objstore.OpListUploads, s.base.ListUploads(ctx, prefix))
}

// instrumentSeq times one iteration of seq and records its first error.
func instrumentSeq[T any](s *store, op string, seq iter.Seq2[T, error]) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		start := time.Now()
		var failed error
		defer func() { s.done(op, start, failed) }()
		for v, err := range seq {
			if err != nil && failed == nil {
				failed = err
			}
			if !yield(v, err) {
				return
			}
		}
	}
}

func (s *store) Upload(ctx context.Context, key string, body io.Reader, opts *objstore.UploadOptions) (objstore.ObjectInfo, error) {
	start := time.Now()
	info, err := s.base.Upload(ctx, key, body, opts)
	s.done(objstore.OpUpload, start, err)
	if err == nil {
		s.written.WithLabelValues(objstore.OpUpload).Add(float64(info.Size))
	}
	return info, err
}

func (s *store) AbortUpload(ctx context.Context, key, uploadID string) error {
	start := time.Now()
	err := s.base.AbortUpload(ctx, key, uploadID)
	s.done(objstore.OpAbortUpload, start, err)
	return err
}

func (s *store) UploadSize(ctx context.Context, key, uploadID string) (int64, error) {
	start := time.Now()
	size, err := s.base.UploadSize(ctx, key, uploadID)
	s.done(objstore.OpUploadSize, start, err)
	return size, err
}

func (s *store) Capabilities() objstore.Capabilities { return s.base.Capabilities() }

func (s *store) Close() error { return s.base.Close() }
