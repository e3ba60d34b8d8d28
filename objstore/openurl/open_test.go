package openurl

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/instrument"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/objstore/objstoretest"
	"github.com/stowage-dev/stowage/objstore/retry"
)

func noSleep(ctx context.Context, d time.Duration) error { return ctx.Err() }

func TestOpenMem(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	s, err := Open(t.Context(), "mem://", &Options{Metrics: instrument.For(reg)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if _, err := s.Put(t.Context(), "k", []byte("v"), &objstore.PutOptions{IfNoneMatch: true}); err != nil {
		t.Fatalf("Put: %v", err)
	}
	var keys []string
	for info, err := range s.List(t.Context(), "", nil) {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, info.Key)
	}
	if !slices.Equal(keys, []string{"k"}) {
		t.Errorf("keys = %q, want only k (the probe cleans up)", keys)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	for _, want := range []string{"stowage_objstore_operations_total", "stowage_objstore_operation_duration_seconds"} {
		if !slices.Contains(names, want) {
			t.Errorf("metric %s not registered (have %q)", want, names)
		}
	}
}

func TestOpenRelativeFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	s, err := Open(t.Context(), "file:data/store", nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := s.Put(t.Context(), "k", []byte("v"), &objstore.PutOptions{IfNoneMatch: true}); err != nil {
		t.Fatalf("Put: %v", err)
	}
	s.Close()
	// The same directory by its absolute path holds the object.
	s, err = Open(t.Context(), "file://"+dir+"/data/store", &Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("Open absolute: %v", err)
	}
	defer s.Close()
	if _, err := s.Head(t.Context(), "k"); err != nil {
		t.Errorf("Head via the absolute URL: %v", err)
	}
}

// ignoresConditions drops write conditions, like s3rver.
type ignoresConditions struct{ *memstore.Store }

func (s ignoresConditions) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	return s.Store.Put(ctx, key, data, nil)
}

// deleteIgnoresIfMatch claims ConditionalDelete but deletes regardless.
type deleteIgnoresIfMatch struct{ *memstore.Store }

func (s deleteIgnoresIfMatch) Delete(ctx context.Context, key string, _ *objstore.DeleteOptions) error {
	return s.Store.Delete(ctx, key, nil)
}

func TestComposeRefusesIgnoredConditions(t *testing.T) {
	spec, _ := ParseURL("s3://bucket/tenant")
	_, err := compose(t.Context(), ignoresConditions{memstore.New(nil)}, spec, &Options{})
	if !errors.Is(err, objstore.ErrConditionsNotEnforced) {
		t.Fatalf("compose = %v, want ErrConditionsNotEnforced", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "refusing to open s3://bucket/tenant/ for writing") || !strings.Contains(msg, "not enforced") {
		t.Errorf("error %q does not say what was refused and why", msg)
	}
	// Read-only, the same store opens: nothing will be written.
	s, err := compose(t.Context(), ignoresConditions{memstore.New(nil)}, spec, &Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only compose: %v", err)
	}
	if _, err := s.Put(t.Context(), "k", nil, nil); !errors.Is(err, objstore.ErrReadOnly) || !errors.Is(err, objstore.ErrPermission) {
		t.Errorf("Put on a read-only store = %v, want ErrReadOnly and ErrPermission", err)
	}
}

func TestComposeDowngradesDisprovedClaims(t *testing.T) {
	m := memstore.New(nil)
	spec, _ := ParseURL("mem://")
	s, err := compose(t.Context(), deleteIgnoresIfMatch{m}, spec, &Options{})
	if err != nil {
		t.Fatalf("compose: %v", err)
	}
	if c := s.Capabilities(); c.ConditionalDelete || !c.ConditionalPut {
		t.Errorf("Capabilities = %+v, want ConditionalDelete disproved", c)
	}
	info, err := s.Put(t.Context(), "k", []byte("v"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(t.Context(), "k", &objstore.DeleteOptions{IfMatch: info.ETag}); !errors.Is(err, objstore.ErrNotSupported) {
		t.Errorf("conditional Delete = %v, want ErrNotSupported", err)
	}
	if _, err := m.Head(t.Context(), "k"); err != nil {
		t.Errorf("the refused conditional delete deleted the object: %v", err)
	}
	if err := s.Delete(t.Context(), "k", nil); err != nil {
		t.Errorf("plain Delete: %v", err)
	}
}

func TestComposeAppliesPrefix(t *testing.T) {
	m := memstore.New(nil)
	spec, _ := ParseURL("s3://bucket/sessions")
	s, err := compose(t.Context(), m, spec, &Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(t.Context(), "a", nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := m.Keys(); !slices.Equal(got, []string{"sessions/a"}) {
		t.Errorf("backend keys = %q, want [sessions/a]", got)
	}
}

// TestConformanceComposed runs the conformance suite against the whole
// composed stack (prefix, metrics, retry, probe) on memstore, with an
// object outside the prefix that must stay invisible.
func TestConformanceComposed(t *testing.T) {
	const prefix = "tenant/"
	spec, err := ParseURL("s3://bucket/" + prefix)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		bases = map[objstore.Store]*memstore.Store{}
	)
	base := func(s objstore.Store) *memstore.Store {
		mu.Lock()
		defer mu.Unlock()
		return bases[s]
	}
	clock := time.Now
	objstoretest.Run(t, objstoretest.Harness{
		New: func(t *testing.T) objstore.Store {
			m := memstore.New(&memstore.Options{Clock: clock})
			if _, err := m.Put(t.Context(), "outside", []byte("x"), nil); err != nil {
				t.Fatal(err)
			}
			s, err := compose(t.Context(), m, spec, &Options{
				Metrics: instrument.For(prometheus.NewRegistry()),
				Retry:   retry.Options{Sleep: noSleep},
			})
			if err != nil {
				t.Fatalf("compose: %v", err)
			}
			mu.Lock()
			bases[s] = m
			mu.Unlock()
			t.Cleanup(func() { s.Close() })
			return s
		},
		InMemory:  true,
		MaxKeyLen: objstore.MaxKeyLen - len(prefix),
		AgeObject: func(t *testing.T, s objstore.Store, key string, age time.Duration) {
			m := base(s)
			info, err := m.Head(t.Context(), prefix+key)
			if err == nil {
				err = m.SetModTime(prefix+key, info.ModTime.Add(-age))
			}
			if err != nil {
				t.Fatalf("age %q: %v", key, err)
			}
		},
		AgeUpload: func(t *testing.T, s objstore.Store, key, uploadID string, age time.Duration) {
			m := base(s)
			for u, err := range m.ListUploads(t.Context(), prefix+key) {
				if err != nil {
					t.Fatal(err)
				}
				if u.UploadID == uploadID {
					if err := m.SetUploadInitiated(u.Key, uploadID, u.Initiated.Add(-age)); err != nil {
						t.Fatal(err)
					}
					return
				}
			}
			t.Fatalf("age upload %q: not listed", uploadID)
		},
		Now: clock,
	})
}
