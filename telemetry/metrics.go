package telemetry

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stowage-dev/stowage/objstore/instrument"
	"github.com/stowage-dev/stowage/observe"
)

// opMetric names the counter and histogram of an operation.
type opMetric struct{ total, duration, what string }

var opMetrics = map[string]opMetric{
	observe.Commit:    {"stowage_session_commits_total", "stowage_session_commit_duration_seconds", "session commits (CommitRuntimeState)"},
	observe.Load:      {"stowage_session_loads_total", "stowage_session_load_duration_seconds", "session loads (LoadSession)"},
	observe.AttachPut: {"stowage_attachment_puts_total", "stowage_attachment_put_duration_seconds", "attachment puts (Put, PutKnown)"},
	observe.AttachGet: {"stowage_attachment_gets_total", "stowage_attachment_get_duration_seconds", "attachment gets (Get, until the body is closed)"},
	observe.Sweep:     {"stowage_sweeps_total", "stowage_sweep_duration_seconds", "sweeps (gc.Sweeper.Run)"},
}

// DurationBuckets are the buckets of the operation durations: from a
// cached load to a long sweep.
var DurationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800}

type metrics struct {
	total    map[string]*prometheus.CounterVec // by op, labelled result
	duration map[string]prometheus.Histogram   // by op
	moved    *prometheus.CounterVec            // stowage_attachment_bytes_total{direction}
	retries  prometheus.Counter                // stowage_session_head_retries_total
	resolved *prometheus.CounterVec            // stowage_session_ambiguous_writes_total{outcome}
	events   map[string]prometheus.Counter     // by observe event
}

func newMetrics(reg prometheus.Registerer) metrics {
	m := metrics{total: map[string]*prometheus.CounterVec{}, duration: map[string]prometheus.Histogram{}}
	for _, op := range observe.Ops() {
		n := opMetrics[op]
		m.total[op] = instrument.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: n.total, Help: "Finished " + n.what + ", by result.",
		}, []string{"result"}))
		m.total[op].WithLabelValues(ResultOK) // rates start from zero
		m.duration[op] = instrument.Register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: n.duration, Help: "Duration of " + n.what + ", whatever their result.", Buckets: DurationBuckets,
		}))
	}
	m.moved = instrument.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "stowage_attachment_bytes_total",
		Help: "Attachment bytes stored by puts (direction in) and read from gets' bodies (direction out).",
	}, []string{"direction"}))
	m.retries = instrument.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "stowage_session_head_retries_total",
		Help: "Session head writes that lost their compare-and-swap to another writer and were evaluated again.",
	}))
	m.resolved = instrument.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "stowage_session_ambiguous_writes_total",
		Help: "Session head writes whose response was lost or failed, resolved by reading the head back: landed, lost or unknown.",
	}, []string{"outcome"}))
	m.events = map[string]prometheus.Counter{
		observe.HeadRetry:       m.retries,
		observe.ResolvedLanded:  m.resolved.WithLabelValues("landed"),
		observe.ResolvedLost:    m.resolved.WithLabelValues("lost"),
		observe.ResolvedUnknown: m.resolved.WithLabelValues("unknown"),
	}
	return m
}

func (m metrics) done(op, result string, d time.Duration) {
	if c, ok := m.total[op]; ok {
		c.WithLabelValues(result).Inc()
		m.duration[op].Observe(d.Seconds())
	}
}

func (m metrics) bytes(op string, n int64) {
	switch op {
	case observe.AttachPut:
		m.moved.WithLabelValues("in").Add(float64(n))
	case observe.AttachGet:
		m.moved.WithLabelValues("out").Add(float64(n))
	}
}

func (m metrics) event(name string) {
	if c, ok := m.events[name]; ok {
		c.Inc()
	}
}
