package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
)

func listKeys(t *testing.T, s objstore.Store, prefix string, opts *objstore.ListOptions) []string {
	t.Helper()
	var keys []string
	for info, err := range s.List(t.Context(), prefix, opts) {
		if err != nil {
			t.Fatalf("List %q: %v", prefix, err)
		}
		keys = append(keys, info.Key)
	}
	return keys
}

func TestWithPrefixMapsKeys(t *testing.T) {
	ctx := t.Context()
	m := memstore.New(nil)
	if _, err := m.Put(ctx, "outside", []byte("o"), nil); err != nil {
		t.Fatal(err)
	}
	s := objstore.WithPrefix(m, "t/")
	for _, k := range []string{"a", "b/1", "b/2", "c"} {
		info, err := s.Put(ctx, k, []byte(k), &objstore.PutOptions{IfNoneMatch: true})
		if err != nil {
			t.Fatalf("Put %q: %v", k, err)
		}
		if info.Key != "" && info.Key != k {
			t.Errorf("Put %q returned key %q", k, info.Key)
		}
	}
	if got, want := m.Keys(), []string{"outside", "t/a", "t/b/1", "t/b/2", "t/c"}; !slices.Equal(got, want) {
		t.Errorf("base keys = %q, want %q", got, want)
	}
	if info, err := s.Head(ctx, "b/1"); err != nil || info.Key != "b/1" {
		t.Errorf("Head = %+v, %v", info, err)
	}
	rc, info, err := s.Get(ctx, "c", nil)
	if err != nil || info.Key != "c" {
		t.Fatalf("Get = %+v, %v", info, err)
	}
	rc.Close()
	if _, err := s.Head(ctx, "outside"); !errors.Is(err, objstore.ErrNotExist) {
		t.Errorf("Head of a key outside the prefix: %v, want ErrNotExist", err)
	}

	if got, want := listKeys(t, s, "", nil), []string{"a", "b/1", "b/2", "c"}; !slices.Equal(got, want) {
		t.Errorf("List = %q, want %q", got, want)
	}
	if got, want := listKeys(t, s, "", &objstore.ListOptions{Delimiter: "/"}), []string{"a", "b/", "c"}; !slices.Equal(got, want) {
		t.Errorf("delimited List = %q, want %q", got, want)
	}
	if got, want := listKeys(t, s, "", &objstore.ListOptions{StartAfter: "b/1"}), []string{"b/2", "c"}; !slices.Equal(got, want) {
		t.Errorf("List after b/1 = %q, want %q", got, want)
	}
	if got, want := listKeys(t, s, "b/", nil), []string{"b/1", "b/2"}; !slices.Equal(got, want) {
		t.Errorf("List b/ = %q, want %q", got, want)
	}

	if err := s.Delete(ctx, "a", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMany(ctx, []string{"b/1", "b/2"}); err != nil {
		t.Fatal(err)
	}
	if got, want := m.Keys(), []string{"outside", "t/c"}; !slices.Equal(got, want) {
		t.Errorf("base keys after deletes = %q, want %q", got, want)
	}
}

func TestWithPrefixRejectsEmptyKey(t *testing.T) {
	ctx := t.Context()
	m := memstore.New(nil)
	// An object named exactly like the prefix must stay out of reach.
	if _, err := m.Put(ctx, "t-", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	s := objstore.WithPrefix(m, "t-")
	if _, err := s.Head(ctx, ""); !errors.Is(err, objstore.ErrInvalidKey) {
		t.Errorf("Head(\"\") = %v, want ErrInvalidKey", err)
	}
	if err := s.Delete(ctx, "", nil); !errors.Is(err, objstore.ErrInvalidKey) {
		t.Errorf("Delete(\"\") = %v, want ErrInvalidKey", err)
	}
	if _, err := s.Put(ctx, "", nil, nil); !errors.Is(err, objstore.ErrInvalidKey) {
		t.Errorf("Put(\"\") = %v, want ErrInvalidKey", err)
	}
	err := s.DeleteMany(ctx, []string{"", "x"})
	var dme *objstore.DeleteManyError
	if !errors.As(err, &dme) || len(dme.Failed) != 1 || !errors.Is(dme.Failed[""], objstore.ErrInvalidKey) {
		t.Errorf("DeleteMany = %v, want a DeleteManyError for \"\" only", err)
	}
	if got := m.Keys(); !slices.Equal(got, []string{"t-"}) {
		t.Errorf("base keys = %q, want the prefix object untouched", got)
	}
}

// failKey makes DeleteMany of one key fail.
type failKey struct {
	*memstore.Store
	key string
}

func (f failKey) DeleteMany(ctx context.Context, keys []string) error {
	err := f.Store.DeleteMany(ctx, slices.DeleteFunc(slices.Clone(keys), func(k string) bool { return k == f.key }))
	if err != nil || !slices.Contains(keys, f.key) {
		return err
	}
	return &objstore.DeleteManyError{Failed: map[string]error{f.key: objstore.ErrPermission}}
}

func TestWithPrefixDeleteManyErrorKeys(t *testing.T) {
	s := objstore.WithPrefix(failKey{memstore.New(nil), "t/b"}, "t/")
	err := s.DeleteMany(t.Context(), []string{"a", "b"})
	var dme *objstore.DeleteManyError
	if !errors.As(err, &dme) || len(dme.Failed) != 1 || !errors.Is(dme.Failed["b"], objstore.ErrPermission) {
		t.Fatalf("DeleteMany = %v, want the failure of \"b\" under its unprefixed key", err)
	}
}

func TestWithPrefixUploads(t *testing.T) {
	ctx := t.Context()
	m := memstore.New(nil)
	s := objstore.WithPrefix(m, "t/")
	body := bytes.Repeat([]byte("x"), 100)
	info, err := s.Upload(ctx, "up", bytes.NewReader(body), nil)
	if err != nil || (info.Key != "" && info.Key != "up") || info.Size != 100 {
		t.Fatalf("Upload = %+v, %v", info, err)
	}
	if _, err := m.Head(ctx, "t/up"); err != nil {
		t.Errorf("base Head t/up: %v", err)
	}
	for u, err := range s.ListUploads(ctx, "") {
		t.Errorf("ListUploads yielded %+v, %v; want nothing", u, err)
	}
	if err := s.AbortUpload(ctx, "up", "no-such-upload"); err != nil {
		t.Errorf("AbortUpload of a missing upload: %v", err)
	}
}

func TestWithPrefixEmptyIsIdentity(t *testing.T) {
	m := memstore.New(nil)
	if s := objstore.WithPrefix(m, ""); s != objstore.Store(m) {
		t.Errorf("WithPrefix(s, \"\") = %T, want s itself", s)
	}
}
