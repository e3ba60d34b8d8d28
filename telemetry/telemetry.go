// Package telemetry observes the library with Prometheus metrics and
// OpenTelemetry spans: it implements observe.Observer for
// stowage.Config.Telemetry (and gc.Sweeper.Observer), and openurl.Metrics,
// so that one value also measures the object store's requests (package
// objstore/instrument).
//
//	reg := prometheus.NewRegistry()
//	tel := telemetry.New(telemetry.Options{Registerer: reg, TracerProvider: tp})
//	st, err := stowage.Open(ctx, url, stowage.Config{Telemetry: tel})
//
// Nothing is registered unless Options.Registerer is set, and spans go to
// the TracerProvider given, else to otel's global one (a no-op until the
// program installs one): the otel API only, no exporter. The metric names,
// labels, span names and attributes are listed in docs/operations.md,
// "Library metrics and traces".
package telemetry

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/instrument"
	"github.com/stowage-dev/stowage/objstore/openurl"
	"github.com/stowage-dev/stowage/objstore/retry"
	"github.com/stowage-dev/stowage/observe"
	"github.com/stowage-dev/stowage/session"
)

// TracerName is the instrumentation scope of the spans.
const TracerName = "github.com/stowage-dev/stowage"

// The span attributes.
const (
	AttrSessionID       = attribute.Key("stowage.session.id")
	AttrRevision        = attribute.Key("stowage.revision")
	AttrAttachmentID    = attribute.Key("stowage.attachment.id")
	AttrAttachmentBytes = attribute.Key("stowage.attachment.bytes")
	AttrResult          = attribute.Key("stowage.result")
)

// The result label values of the operation counters (and AttrResult).
const (
	ResultOK             = "ok"
	ResultConflict       = "conflict"        // a lost race the caller resolves: revision, turn, claim, lease
	ResultContention     = "contention"      // session.ErrContention
	ResultOutcomeUnknown = "outcome_unknown" // a write that may still land
	ResultNotFound       = "not_found"       // attach.ErrNotFound
	ResultCanceled       = "canceled"        // the caller's context ended
	ResultError          = "error"           // anything else
)

// Options configure New.
type Options struct {
	// Registerer receives the metrics; nil registers nothing (spans only).
	Registerer prometheus.Registerer
	// TracerProvider makes the spans; nil means otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
}

// Telemetry is an observe.Observer and an openurl.Metrics. Safe for
// concurrent use.
type Telemetry struct {
	reg    prometheus.Registerer
	tracer trace.Tracer
	m      metrics
}

var (
	_ observe.Observer = (*Telemetry)(nil)
	_ openurl.Metrics  = (*Telemetry)(nil)
)

// New returns the telemetry of o. Several values may share one Registerer:
// they share the metric vectors.
func New(o Options) *Telemetry {
	tp := o.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return &Telemetry{reg: o.Registerer, tracer: tp.Tracer(TracerName), m: newMetrics(o.Registerer)}
}

// Instrument implements openurl.Metrics with package instrument on the same
// Registerer (the stowage_objstore_* metrics); without one it returns s as
// it is.
func (t *Telemetry) Instrument(s objstore.Store, label string) (objstore.Store, retry.Hooks) {
	if t.reg == nil {
		return s, retry.Hooks{}
	}
	return instrument.For(t.reg).Instrument(s, label)
}

// Start implements observe.Observer: a span named op and, at End, the
// operation's counter and duration.
func (t *Telemetry) Start(ctx context.Context, op, sessionID string) (context.Context, observe.Op) {
	var attrs []attribute.KeyValue
	if sessionID != "" {
		attrs = append(attrs, AttrSessionID.String(sessionID))
	}
	ctx, span := t.tracer.Start(ctx, op, trace.WithAttributes(attrs...))
	return ctx, &operation{t: t, name: op, span: span, start: time.Now()}
}

// Event implements observe.Observer: the event's counter, and an event on
// the span of ctx.
func (t *Telemetry) Event(ctx context.Context, name string) {
	t.m.event(name)
	trace.SpanFromContext(ctx).AddEvent(name)
}

type operation struct {
	t     *Telemetry
	name  string
	span  trace.Span
	start time.Time
}

func (o *operation) Revision(rev uint64) {
	o.span.SetAttributes(AttrRevision.Int64(int64(rev)))
}

func (o *operation) Attachment(id string, bytes int64) {
	o.span.SetAttributes(AttrAttachmentID.String(id), AttrAttachmentBytes.Int64(bytes))
	o.t.m.bytes(o.name, bytes)
}

func (o *operation) End(err error) {
	result := Result(err)
	o.t.m.done(o.name, result, time.Since(o.start))
	o.span.SetAttributes(AttrResult.String(result))
	if err != nil {
		o.span.RecordError(err)
		o.span.SetStatus(codes.Error, err.Error())
	}
	o.span.End()
}

// Result classifies an operation's outcome as a Result* label value.
func Result(err error) string {
	switch {
	case err == nil:
		return ResultOK
	case errors.Is(err, session.ErrHeadRevisionConflict), errors.Is(err, session.ErrTurnCommitConflict),
		errors.Is(err, session.ErrQueuedWorkClaimSuperseded), errors.Is(err, session.ErrTurnInputClaimSuperseded),
		errors.Is(err, session.ErrSessionExecutionLeaseExpired), errors.Is(err, gc.ErrLeaseHeld):
		return ResultConflict
	case errors.Is(err, session.ErrContention):
		return ResultContention
	case errors.Is(err, objstore.ErrOutcomeUnknown):
		return ResultOutcomeUnknown
	case errors.Is(err, attach.ErrNotFound):
		return ResultNotFound
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return ResultCanceled
	}
	return ResultError
}
