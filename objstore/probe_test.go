package objstore_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
)

// ignoresConditions is a store that silently drops write conditions, as
// s3rver and old servers do.
type ignoresConditions struct{ *memstore.Store }

func (s ignoresConditions) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	var o objstore.PutOptions
	if opts != nil {
		o = *opts
	}
	o.IfNoneMatch, o.IfMatch = false, ""
	return s.Store.Put(ctx, key, data, &o)
}

func (s ignoresConditions) Upload(ctx context.Context, key string, body io.Reader, opts *objstore.UploadOptions) (objstore.ObjectInfo, error) {
	var o objstore.UploadOptions
	if opts != nil {
		o = *opts
	}
	o.IfNoneMatch, o.IfMatch = false, ""
	return s.Store.Upload(ctx, key, body, &o)
}

// ifMatchCreates creates a missing key on If-Match, as MinIO did before
// RELEASE.2025-09-06.
type ifMatchCreates struct{ *memstore.Store }

func (s ifMatchCreates) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	if opts != nil && opts.IfMatch != "" {
		if _, err := s.Store.Head(ctx, key); errors.Is(err, objstore.ErrNotExist) {
			return s.Store.Put(ctx, key, data, nil)
		}
	}
	return s.Store.Put(ctx, key, data, opts)
}

// deleteIgnoresIfMatch claims ConditionalDelete but deletes whatever the
// ETag, as MinIO does.
type deleteIgnoresIfMatch struct{ *memstore.Store }

func (s deleteIgnoresIfMatch) Delete(ctx context.Context, key string, opts *objstore.DeleteOptions) error {
	return s.Store.Delete(ctx, key, nil)
}

// noConditionalDelete truthfully claims no ConditionalDelete; with
// fallsBack it nevertheless deletes unconditionally (a contract violation).
type noConditionalDelete struct {
	*memstore.Store
	fallsBack bool
}

func (s noConditionalDelete) Capabilities() objstore.Capabilities {
	c := s.Store.Capabilities()
	c.ConditionalDelete = false
	return c
}

func (s noConditionalDelete) Delete(ctx context.Context, key string, opts *objstore.DeleteOptions) error {
	if opts != nil && opts.IfMatch != "" {
		if s.fallsBack {
			return s.Store.Delete(ctx, key, nil)
		}
		return objstore.ErrNotSupported
	}
	return s.Store.Delete(ctx, key, opts)
}

// forbidden fails every call with ErrPermission.
type forbidden struct{ *memstore.Store }

func (forbidden) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	return objstore.ObjectInfo{}, &objstore.OpError{Backend: "fake", Op: objstore.OpHead, Key: key, Err: objstore.ErrPermission}
}

func wantClean(t *testing.T, m *memstore.Store) {
	t.Helper()
	if keys := m.Keys(); len(keys) != 0 {
		t.Errorf("probe left objects behind: %q", keys)
	}
	for u, err := range m.ListUploads(t.Context(), "") {
		t.Errorf("probe left an upload behind: %+v, %v", u, err)
	}
}

func TestProbeMemstore(t *testing.T) {
	m := memstore.New(nil)
	res, err := objstore.Probe(t.Context(), m, &objstore.ProbeOptions{Multipart: true})
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if len(res.Problems) != 0 || len(res.Unverified) != 0 {
		t.Errorf("problems %q, unverified %q; want none", res.Problems, res.Unverified)
	}
	if res.Capabilities != m.Capabilities() || res.Claimed != m.Capabilities() {
		t.Errorf("capabilities %+v, claimed %+v, want %+v", res.Capabilities, res.Claimed, m.Capabilities())
	}
	wantClean(t, m)
}

func TestProbeBehindPrefix(t *testing.T) {
	m := memstore.New(nil)
	if _, err := m.Put(t.Context(), "other", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := objstore.Probe(t.Context(), objstore.WithPrefix(m, "tenant/"), nil); err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if keys := m.Keys(); !slices.Equal(keys, []string{"other"}) {
		t.Errorf("store holds %q after the probe, want only \"other\"", keys)
	}
}

func TestProbeRefusesIgnoredConditions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		s       objstore.Store
		problem string
	}{
		{"ignored", ignoresConditions{memstore.New(nil)}, "If-None-Match ignored"},
		{"if-match creates", ifMatchCreates{memstore.New(nil)}, "missing key succeeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := objstore.Probe(t.Context(), tc.s, &objstore.ProbeOptions{Multipart: true})
			if !errors.Is(err, objstore.ErrConditionsNotEnforced) {
				t.Fatalf("Probe error = %v, want ErrConditionsNotEnforced", err)
			}
			if !strings.Contains(err.Error(), tc.problem) || !slices.ContainsFunc(res.Problems, func(p string) bool { return strings.Contains(p, tc.problem) }) {
				t.Errorf("error %q / problems %q do not mention %q", err, res.Problems, tc.problem)
			}
			if tc.name == "ignored" && (res.Capabilities.ConditionalPut || res.Capabilities.CompareAndSwap || res.Capabilities.ConditionalMultipart) {
				t.Errorf("capabilities %+v still claim ignored conditions", res.Capabilities)
			}
			if tc.name == "if-match creates" && (res.Capabilities.CompareAndSwap || !res.Capabilities.ConditionalPut) {
				t.Errorf("capabilities %+v", res.Capabilities)
			}
		})
	}
}

func TestProbeConditionalDelete(t *testing.T) {
	t.Run("claimed but ignored", func(t *testing.T) {
		m := memstore.New(nil)
		res, err := objstore.Probe(t.Context(), deleteIgnoresIfMatch{m}, nil)
		if err != nil {
			t.Fatalf("Probe: %v (conditional puts are enforced)", err)
		}
		if res.Capabilities.ConditionalDelete || !res.Claimed.ConditionalDelete {
			t.Errorf("ConditionalDelete confirmed %v, claimed %v; want false, true", res.Capabilities.ConditionalDelete, res.Claimed.ConditionalDelete)
		}
		if len(res.Problems) != 1 || !strings.Contains(res.Problems[0], "wrong ETag deleted") {
			t.Errorf("problems = %q", res.Problems)
		}
		wantClean(t, m)
	})
	t.Run("not claimed, refused", func(t *testing.T) {
		res, err := objstore.Probe(t.Context(), noConditionalDelete{Store: memstore.New(nil)}, nil)
		if err != nil || len(res.Problems) != 0 {
			t.Fatalf("Probe = %q, %v; want no problems", res.Problems, err)
		}
	})
	t.Run("not claimed, falls back to unconditional", func(t *testing.T) {
		res, err := objstore.Probe(t.Context(), noConditionalDelete{Store: memstore.New(nil), fallsBack: true}, nil)
		if err != nil {
			t.Fatalf("Probe: %v", err)
		}
		if len(res.Problems) != 1 || !strings.Contains(res.Problems[0], "deleted the object") {
			t.Errorf("problems = %q", res.Problems)
		}
	})
}

func TestProbeReadOnlyWritesNothing(t *testing.T) {
	m := memstore.New(nil)
	res, err := objstore.Probe(t.Context(), m, &objstore.ProbeOptions{ReadOnly: true})
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	want := []string{"conditional put", "compare-and-swap", "conditional delete", "conditional multipart"}
	if !slices.Equal(res.Unverified, want) {
		t.Errorf("unverified = %q, want %q", res.Unverified, want)
	}
	wantClean(t, m)
}

func TestProbeCannotRun(t *testing.T) {
	_, err := objstore.Probe(t.Context(), forbidden{memstore.New(nil)}, nil)
	if !errors.Is(err, objstore.ErrPermission) || errors.Is(err, objstore.ErrConditionsNotEnforced) {
		t.Fatalf("Probe error = %v, want ErrPermission", err)
	}
}

func TestProbeCleansUpAfterCancel(t *testing.T) {
	m := memstore.New(nil)
	ctx, cancel := context.WithCancel(t.Context())
	s := cancelAfterPuts{Store: m, n: new(int), cancel: cancel}
	if _, err := objstore.Probe(ctx, s, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Probe error = %v, want context.Canceled", err)
	}
	wantClean(t, m)
}

// cancelAfterPuts cancels the probe's context after two puts.
type cancelAfterPuts struct {
	*memstore.Store
	n      *int
	cancel context.CancelFunc
}

func (s cancelAfterPuts) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	if *s.n++; *s.n == 3 {
		s.cancel()
	}
	return s.Store.Put(ctx, key, data, opts)
}
