package instrument_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/instrument"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/objstore/retry"
)

// flakyHead is a memstore whose Head is unavailable.
type flakyHead struct{ *memstore.Store }

func (flakyHead) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	return objstore.ObjectInfo{}, &objstore.OpError{Backend: "fake", Op: objstore.OpHead, Key: key, Err: objstore.ErrUnavailable}
}

// value returns the value of the counter (or the sample count of the
// histogram) name whose labels include want; -1 if there is none.
func value(t *testing.T, g prometheus.Gatherer, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue next
				}
			}
			return sampleValue(m)
		}
	}
	return -1
}

func sampleValue(m *dto.Metric) float64 {
	if h := m.GetHistogram(); h != nil {
		return float64(h.GetSampleCount())
	}
	return m.GetCounter().GetValue()
}

func TestMetrics(t *testing.T) {
	ctx := t.Context()
	reg := prometheus.NewPedanticRegistry()
	s := instrument.New(flakyHead{memstore.New(nil)}, reg, "mem")

	if _, err := s.Put(ctx, "a", []byte("hello"), &objstore.PutOptions{IfNoneMatch: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "a", []byte("again"), &objstore.PutOptions{IfNoneMatch: true}); !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Fatalf("second create: %v", err)
	}
	rc, _, err := s.Get(ctx, "a", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(rc); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if _, _, err := s.Get(ctx, "missing", nil); !errors.Is(err, objstore.ErrNotExist) {
		t.Fatalf("Get missing: %v", err)
	}
	if _, err := s.Head(ctx, "a"); !errors.Is(err, objstore.ErrUnavailable) {
		t.Fatalf("Head: %v", err)
	}
	if _, err := s.Upload(ctx, "b", bytes.NewReader([]byte("xyz")), nil); err != nil {
		t.Fatal(err)
	}
	for _, err := range s.List(ctx, "", nil) {
		if err != nil {
			t.Fatal(err)
		}
	}
	for range s.List(ctx, "", nil) {
		break // an abandoned iteration still counts once
	}

	mem := func(kv ...string) map[string]string {
		m := map[string]string{"backend": "mem"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"stowage_objstore_operations_total", mem("op", "put", "code", "ok"), 1},
		{"stowage_objstore_operations_total", mem("op", "put", "code", "precondition_failed"), 1},
		{"stowage_objstore_operations_total", mem("op", "get", "code", "ok"), 1},
		{"stowage_objstore_operations_total", mem("op", "get", "code", "not_exist"), 1},
		{"stowage_objstore_operations_total", mem("op", "head", "code", "unavailable"), 1},
		{"stowage_objstore_operations_total", mem("op", "upload", "code", "ok"), 1},
		{"stowage_objstore_operations_total", mem("op", "list", "code", "ok"), 2},
		{"stowage_objstore_operations_total", mem("op", "delete", "code", "ok"), 0},
		{"stowage_objstore_operation_failures_total", mem("op", "head", "code", "unavailable"), 1},
		{"stowage_objstore_operation_failures_total", mem("op", "put"), -1},
		{"stowage_objstore_operation_failures_total", mem("op", "get"), -1},
		{"stowage_objstore_operation_duration_seconds", mem("op", "put"), 2},
		{"stowage_objstore_operation_duration_seconds", mem("op", "get"), 2},
		{"stowage_objstore_read_bytes_total", mem("op", "get"), 5},
		{"stowage_objstore_written_bytes_total", mem("op", "put"), 5},
		{"stowage_objstore_written_bytes_total", mem("op", "upload"), 3},
	} {
		if got := value(t, reg, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

func TestSharedRegistererAndRetryHooks(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	a := instrument.New(memstore.New(nil), reg, "a")
	b := instrument.New(memstore.New(nil), reg, "b")
	if _, err := a.Put(t.Context(), "k", nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Head(t.Context(), "k"); !errors.Is(err, objstore.ErrNotExist) {
		t.Fatal(err)
	}
	if got := value(t, reg, "stowage_objstore_operations_total", map[string]string{"backend": "a", "op": "put", "code": "ok"}); got != 1 {
		t.Errorf("a's puts = %v, want 1", got)
	}
	if got := value(t, reg, "stowage_objstore_operations_total", map[string]string{"backend": "b", "op": "head", "code": "not_exist"}); got != 1 {
		t.Errorf("b's heads = %v, want 1", got)
	}
	if got := value(t, reg, "stowage_objstore_operation_failures_total", map[string]string{"backend": "b"}); got != -1 {
		t.Errorf("a missing object on Head counted as a failure: %v", got)
	}

	hooks := instrument.Hooks(reg, "a")
	instrument.Hooks(reg, "a") // registering twice is fine
	hooks.OnRetry(objstore.OpPut, 1, objstore.ErrThrottled)
	hooks.OnRetry(objstore.OpPut, 2, objstore.ErrThrottled)
	if got := value(t, reg, "stowage_objstore_retries_total", map[string]string{"backend": "a", "op": "put", "code": "throttled"}); got != 2 {
		t.Errorf("retries = %v, want 2", got)
	}
}

func TestNilRegisterer(t *testing.T) {
	s := instrument.New(memstore.New(nil), nil, "x")
	if _, err := s.Put(t.Context(), "k", []byte("v"), nil); err != nil {
		t.Fatal(err)
	}
}

// lossy applies each Put and loses the response of the first one.
type lossy struct {
	objstore.Store
	lost bool
}

func (l *lossy) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	info, err := l.Store.Put(ctx, key, data, opts)
	if err == nil && !l.lost {
		l.lost = true
		return objstore.ObjectInfo{}, objstore.ErrUnavailable // a 503 after the write landed
	}
	return info, err
}

// resent is a store below which every Put is sent twice (as net/http may
// resend an idempotent request): the caller sees the second answer.
type resent struct{ objstore.Store }

func (r resent) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	if _, err := r.Store.Put(ctx, key, data, opts); err != nil {
		return objstore.ObjectInfo{}, err
	}
	return r.Store.Put(ctx, key, data, opts)
}

// TestAmbiguousWritesCounted: through the retry decorator with the hooks
// chained, a create-only Put whose response is lost is retried (one retry),
// answered 412 by its own first copy, read back and found ours (outcome
// "ours"), and so is a Put resent below the decorator; a plain lost race is
// not ambiguous and counts nothing.
func TestAmbiguousWritesCounted(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	opts := retry.Options{Sleep: func(context.Context, time.Duration) error { return nil }}
	s := retry.New(instrument.New(&lossy{Store: memstore.New(nil)}, reg, "a"), opts.Chain(instrument.Hooks(reg, "a")))
	create := &objstore.PutOptions{IfNoneMatch: true}
	if _, err := s.Put(t.Context(), "k", []byte("v"), create); err != nil {
		t.Fatalf("put with a lost response: %v", err)
	}
	if _, err := s.Put(t.Context(), "k", []byte("w"), create); !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Fatalf("second create-only put: %v, want a failed precondition", err)
	}
	r := retry.New(instrument.New(resent{memstore.New(nil)}, reg, "a"), opts.Chain(instrument.Hooks(reg, "a")))
	if _, err := r.Put(t.Context(), "k", []byte("v"), create); err != nil {
		t.Fatalf("put resent below the decorator: %v", err)
	}
	ours := map[string]string{"backend": "a", "op": "put", "outcome": "ours"}
	if got := value(t, reg, "stowage_objstore_ambiguous_writes_total", ours); got != 2 {
		t.Errorf("ambiguous writes found ours = %v, want 2", got)
	}
	if got := value(t, reg, "stowage_objstore_ambiguous_writes_total", map[string]string{"outcome": "unknown"}); got != -1 {
		t.Errorf("ambiguous writes unknown = %v, want none", got)
	}
	if got := value(t, reg, "stowage_objstore_retries_total", map[string]string{"backend": "a", "op": "put", "code": "unavailable"}); got != 1 {
		t.Errorf("retries = %v, want 1", got)
	}
}
