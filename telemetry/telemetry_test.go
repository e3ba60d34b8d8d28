package telemetry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/internal/testenv/s3env"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/observe"
	"github.com/stowage-dev/stowage/session"
	"github.com/stowage-dev/stowage/telemetry"
)

// observed is a registry and an in-memory span exporter behind one
// Telemetry.
type observed struct {
	reg   *prometheus.Registry
	spans *tracetest.InMemoryExporter
	tel   *telemetry.Telemetry
}

func newObserved() observed {
	o := observed{reg: prometheus.NewRegistry(), spans: tracetest.NewInMemoryExporter()}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(o.spans))
	o.tel = telemetry.New(telemetry.Options{Registerer: o.reg, TracerProvider: tp})
	return o
}

// value is the counter value, or the histogram's sample count, of the
// series of name with exactly labels (name=value pairs); -1 if absent.
func (o observed) value(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	fams, err := o.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if hasLabels(m, labels) {
				if h := m.GetHistogram(); h != nil {
					return float64(h.GetSampleCount())
				}
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}

func hasLabels(m *dto.Metric, labels []string) bool {
	if len(m.GetLabel()) != len(labels)/2 {
		return false
	}
	for _, l := range m.GetLabel() {
		found := false
		for i := 0; i+1 < len(labels); i += 2 {
			found = found || (labels[i] == l.GetName() && labels[i+1] == l.GetValue())
		}
		if !found {
			return false
		}
	}
	return true
}

// want checks the series of name with labels.
func (o observed) want(t *testing.T, v float64, name string, labels ...string) {
	t.Helper()
	if got := o.value(t, name, labels...); got != v {
		t.Errorf("%s%v = %v, want %v", name, labels, got, v)
	}
}

// turn is a commit appending node id at expected revision rev.
func turn(sid string, rev uint64, id, parent string) session.RuntimeCommit {
	return session.RuntimeCommit{
		SessionID: sid, ExpectedHeadRevision: &rev,
		Config: session.SessionConfig{ProviderID: "p", Model: "m"},
		Graph: session.GraphDelta{Kind: session.DeltaAppend, Leaf: id, Nodes: []session.NodeRecord{{
			NodeID: id, ParentNodeID: parent, Timestamp: "2026-01-02T03:04:05Z",
			Kind: session.PayloadEvent, Event: []byte(`{"text":"hi"}`),
		}}},
	}
}

const body = "the attachment's bytes"

// story commits three turns and one conflicting commit, loses one head
// compare-and-swap to a second store, loads, puts and gets an attachment
// and sweeps, all through st (whose Config.Telemetry is o.tel).
func story(t *testing.T, ctx context.Context, st *stowage.Store, o observed) {
	const sid = "observed-1"
	sess, err := st.Session(sid)
	if err != nil {
		t.Fatal(err)
	}
	for i, parent := range []string{"", "n0", "n1"} {
		if _, err := sess.CommitRuntimeState(ctx, turn(sid, uint64(i), fmt.Sprintf("n%d", i), parent)); err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	if _, err := sess.CommitRuntimeState(ctx, turn(sid, 1, "late", "n0")); !errors.Is(err, session.ErrHeadRevisionConflict) {
		t.Fatalf("stale commit: %v, want a head revision conflict", err)
	}
	// Another process's write moves the head under sess's cached one: the
	// enqueue loses its compare-and-swap once and is evaluated again.
	other, err := stowage.OpenStore(ctx, st.Objects(), stowage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := other.Session(sid)
	if _, err := h2.EnqueueQueuedWork(ctx, session.QueuedWorkBatchDraft{SessionID: sid, Payload: []byte(`1`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := sess.EnqueueQueuedWork(ctx, session.QueuedWorkBatchDraft{SessionID: sid, Payload: []byte(`2`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := sess.LoadSession(ctx, session.FullGraph()); err != nil {
		t.Fatal(err)
	}
	a, err := attach.New(st.Manifest(), sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := a.Put(ctx, strings.NewReader(body), attach.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rc, _, err := a.Get(ctx, ref.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(rc); err != nil || string(b) != body {
		t.Fatalf("get: %q, %v", b, err)
	}
	rc.Close()
	sw := gc.Sweeper{Store: st.Objects(), Grace: time.Hour, Observer: o.tel}
	if _, err := sw.Run(ctx); err != nil {
		t.Fatalf("sweep: %v", err)
	}
}

// checkMetrics checks the exact counts of story's operations.
func checkMetrics(t *testing.T, o observed) {
	o.want(t, 3, "stowage_session_commits_total", "result", "ok")
	o.want(t, 1, "stowage_session_commits_total", "result", "conflict")
	o.want(t, 4, "stowage_session_commit_duration_seconds")
	o.want(t, 1, "stowage_session_loads_total", "result", "ok")
	o.want(t, 1, "stowage_session_load_duration_seconds")
	o.want(t, 1, "stowage_session_head_retries_total")
	o.want(t, 1, "stowage_attachment_puts_total", "result", "ok")
	o.want(t, 1, "stowage_attachment_gets_total", "result", "ok")
	o.want(t, 1, "stowage_attachment_put_duration_seconds")
	o.want(t, 1, "stowage_attachment_get_duration_seconds")
	o.want(t, float64(len(body)), "stowage_attachment_bytes_total", "direction", "in")
	o.want(t, float64(len(body)), "stowage_attachment_bytes_total", "direction", "out")
	o.want(t, 1, "stowage_sweeps_total", "result", "ok")
	o.want(t, 1, "stowage_sweep_duration_seconds")
	o.want(t, 0, "stowage_session_ambiguous_writes_total", "outcome", "landed")
	// The object store's requests are measured through the same
	// Registerer (Open composes package instrument with it).
	fams, _ := o.reg.Gather()
	var puts float64
	for _, f := range fams {
		if f.GetName() == "stowage_objstore_operations_total" {
			for _, m := range f.GetMetric() {
				if hasLabels(m, []string{"backend", labelOf(m, "backend"), "op", objstore.OpPut, "code", "ok"}) {
					puts += m.GetCounter().GetValue()
				}
			}
		}
	}
	if puts < 4 {
		t.Errorf("stowage_objstore_operations_total{op=put,code=ok} = %v, want at least the 4 head puts", puts)
	}
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// attrs returns a span's attributes by key.
func attrs(s tracetest.SpanStub) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

// checkSpans checks story's spans: names, session id, revisions, the
// conflict's error status and the attachment's id and bytes.
func checkSpans(t *testing.T, o observed) {
	byName := map[string][]tracetest.SpanStub{}
	for _, s := range o.spans.GetSpans() {
		byName[s.Name] = append(byName[s.Name], s)
	}
	for op, n := range map[string]int{observe.Commit: 4, observe.Load: 1, observe.AttachPut: 1, observe.AttachGet: 1, observe.Sweep: 1} {
		if len(byName[op]) != n {
			t.Errorf("%d %s spans, want %d", len(byName[op]), op, n)
		}
	}
	for i, s := range byName[observe.Commit] {
		a := attrs(s)
		if got := a[telemetry.AttrSessionID].AsString(); got != "observed-1" {
			t.Errorf("commit span %d: session id %q", i, got)
		}
		wantRev, wantCode := int64(i+1), codes.Unset
		if i == 3 { // the stale commit: the revision it met, and an error
			wantRev, wantCode = 3, codes.Error
		}
		if got := a[telemetry.AttrRevision].AsInt64(); got != wantRev {
			t.Errorf("commit span %d: revision %d, want %d", i, got, wantRev)
		}
		if s.Status.Code != wantCode {
			t.Errorf("commit span %d: status %v, want %v", i, s.Status, wantCode)
		}
	}
	if i := len(byName[observe.Commit]) - 1; i >= 0 {
		c := byName[observe.Commit][i]
		if !strings.Contains(c.Status.Description, "head revision conflict") || len(c.Events) == 0 || c.Events[0].Name != "exception" {
			t.Errorf("conflict span: status %v, events %v; want the error recorded", c.Status, c.Events)
		}
	}
	for _, s := range byName[observe.Load] {
		if a := attrs(s); a[telemetry.AttrRevision].AsInt64() != 3 || a[telemetry.AttrSessionID].AsString() != "observed-1" {
			t.Errorf("load span attributes %v", s.Attributes)
		}
	}
	for _, op := range []string{observe.AttachPut, observe.AttachGet} {
		for _, s := range byName[op] {
			a := attrs(s)
			if a[telemetry.AttrAttachmentBytes].AsInt64() != int64(len(body)) || len(a[telemetry.AttrAttachmentID].AsString()) != 64 {
				t.Errorf("%s span attributes %v", op, s.Attributes)
			}
		}
	}
}

// TestMetricsAndSpans runs the story on a memory store and on every
// server, through stowage.Open with Config.Telemetry, and reads back the
// exact metrics and spans.
func TestMetricsAndSpans(t *testing.T) {
	run := func(t *testing.T, url string) {
		ctx := t.Context()
		o := newObserved()
		st, err := stowage.Open(ctx, url, stowage.Config{Telemetry: o.tel})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		story(t, ctx, st, o)
		checkMetrics(t, o)
		checkSpans(t, o)
	}
	t.Run("memstore", func(t *testing.T) { run(t, "mem://") })
	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) {
		s3env.Env(t, srv)
		run(t, s3env.URL(srv, "s3store", strings.TrimSuffix(testenv.UniquePrefix(t), "/")))
	})
}

// lossy drops the response of, or refuses, the next head PUTs it is armed
// for.
type lossy struct {
	objstore.Store
	land []bool // per armed head put: apply it (true) or not, then fail
}

func (l *lossy) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	if !strings.HasSuffix(key, "/head") || len(l.land) == 0 {
		return l.Store.Put(ctx, key, data, opts)
	}
	land := l.land[0]
	l.land = l.land[1:]
	if land {
		if _, err := l.Store.Put(ctx, key, data, opts); err != nil {
			return objstore.ObjectInfo{}, err
		}
	}
	return objstore.ObjectInfo{}, fmt.Errorf("injected: response lost: %w", objstore.ErrUnavailable)
}

// TestAmbiguousWritesResolved: a head PUT whose response is lost after it
// landed, and one that failed without landing, are each resolved by a
// read-back and counted by outcome; the second is retried.
func TestAmbiguousWritesResolved(t *testing.T) {
	ctx := t.Context()
	o := newObserved()
	objs := &lossy{Store: memstore.New(nil)}
	st, err := stowage.OpenStore(ctx, objs, stowage.Config{Telemetry: o.tel})
	if err != nil {
		t.Fatal(err)
	}
	sess, _ := st.Session("s")
	objs.land = []bool{true, false}
	for i, parent := range []string{"", "n0"} {
		if _, err := sess.CommitRuntimeState(ctx, turn("s", uint64(i), fmt.Sprintf("n%d", i), parent)); err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	o.want(t, 2, "stowage_session_commits_total", "result", "ok")
	o.want(t, 1, "stowage_session_ambiguous_writes_total", "outcome", "landed")
	o.want(t, 1, "stowage_session_ambiguous_writes_total", "outcome", "lost")
	o.want(t, 1, "stowage_session_head_retries_total")
	var events []string
	for _, s := range o.spans.GetSpans() {
		for _, e := range s.Events {
			events = append(events, s.Name+":"+e.Name)
		}
	}
	want := []string{"stowage.commit:resolved_landed", "stowage.commit:resolved_lost", "stowage.commit:head_retry"}
	if strings.Join(events, " ") != strings.Join(want, " ") {
		t.Errorf("span events %v, want %v", events, want)
	}
}

// TestNoRegistererRegistersNothing: without a Registerer the default
// registry stays untouched, and spans still go to the provider given.
func TestNoRegistererRegistersNothing(t *testing.T) {
	before, _ := prometheus.DefaultGatherer.Gather()
	spans := tracetest.NewInMemoryExporter()
	tel := telemetry.New(telemetry.Options{TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))})
	st, err := stowage.Open(t.Context(), "mem://", stowage.Config{Telemetry: tel})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sess, _ := st.Session("s")
	if _, err := sess.CommitRuntimeState(t.Context(), turn("s", 0, "n0", "")); err != nil {
		t.Fatal(err)
	}
	after, _ := prometheus.DefaultGatherer.Gather()
	if len(after) != len(before) {
		t.Errorf("default registry went from %d to %d families", len(before), len(after))
	}
	if n := len(spans.GetSpans()); n != 1 {
		t.Errorf("%d spans, want 1", n)
	}
}

// TestGlobalTracerProviderByDefault: without a TracerProvider the spans go
// to otel's global one, whichever the program installed.
func TestGlobalTracerProviderByDefault(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans)))
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	st, err := stowage.Open(t.Context(), "mem://", stowage.Config{Telemetry: telemetry.New(telemetry.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sess, _ := st.Session("s")
	if _, err := sess.LoadSession(t.Context(), session.FullGraph()); err != nil {
		t.Fatal(err)
	}
	if got := spans.GetSpans(); len(got) != 1 || got[0].Name != observe.Load {
		t.Errorf("global provider got %v, want one %s span", got, observe.Load)
	}
}
