package marker_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/marker"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/session"
)

var t0 = time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)

func keys(t *testing.T, s objstore.Store) []string {
	t.Helper()
	var out []string
	for info, err := range s.List(context.Background(), "", nil) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, info.Key)
	}
	return out
}

func TestCheckEmptyIsNoStore(t *testing.T) {
	s := memstore.New(nil)
	if _, err := marker.Check(t.Context(), s); !errors.Is(err, marker.ErrNoStore) {
		t.Fatalf("Check of an empty store = %v, want ErrNoStore", err)
	}
	if k := keys(t, s); len(k) != 0 {
		t.Errorf("Check wrote %q", k)
	}
	// Objects outside stowage's layout do not make a store.
	if _, err := s.Put(t.Context(), "other/file", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := marker.Check(t.Context(), s); !errors.Is(err, marker.ErrNoStore) {
		t.Errorf("Check of a prefix with a foreign object = %v, want ErrNoStore", err)
	}
}

func TestEnsureWritesMarkerOnce(t *testing.T) {
	s := memstore.New(nil)
	m, err := marker.Ensure(t.Context(), s, t0)
	if err != nil {
		t.Fatal(err)
	}
	if m.Format != marker.Format || m.Version != marker.Version || !m.Created.Equal(t0) || !strings.Contains(m.Creator, "github.com/stowage-dev/stowage") {
		t.Errorf("marker %+v", m)
	}
	info, err := s.Head(t.Context(), marker.Key)
	if err != nil {
		t.Fatalf("no marker object: %v", err)
	}
	again, err := marker.Ensure(t.Context(), s, t0.Add(time.Hour))
	if err != nil || !again.Created.Equal(t0) {
		t.Errorf("second Ensure = %+v, %v; want the first marker", again, err)
	}
	if info2, _ := s.Head(t.Context(), marker.Key); info2.ETag != info.ETag {
		t.Errorf("a second Ensure rewrote the marker")
	}
	got, err := marker.Check(t.Context(), s)
	if err != nil || got == nil || !got.Created.Equal(t0) {
		t.Errorf("Check = %+v, %v", got, err)
	}
}

func TestLegacyStoreIsAcceptedAndAdopted(t *testing.T) {
	s := memstore.New(nil)
	if _, err := s.Put(t.Context(), session.HeadKey("s1"), []byte("head"), nil); err != nil {
		t.Fatal(err)
	}
	m, err := marker.Check(t.Context(), s)
	if err != nil || m != nil {
		t.Fatalf("Check of an unmarked store with sessions = %+v, %v; want nil, nil", m, err)
	}
	if _, err := marker.Ensure(t.Context(), s, t0); err != nil {
		t.Fatal(err)
	}
	if m, err := marker.Check(t.Context(), s); err != nil || m == nil {
		t.Errorf("after Ensure, Check = %+v, %v; want the adopted marker", m, err)
	}
}

func TestNewerFormatRefused(t *testing.T) {
	s := memstore.New(nil)
	newer := marker.New(t0)
	newer.Version = marker.Version + 1
	if _, err := s.Put(t.Context(), marker.Key, newer.Encode(), nil); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Head(t.Context(), marker.Key)
	if _, err := marker.Check(t.Context(), s); !errors.Is(err, marker.ErrFormatTooNew) {
		t.Errorf("Check = %v, want ErrFormatTooNew", err)
	}
	_, err := marker.Ensure(t.Context(), s, t0)
	if !errors.Is(err, marker.ErrFormatTooNew) {
		t.Errorf("Ensure = %v, want ErrFormatTooNew", err)
	}
	if err != nil && !strings.Contains(err.Error(), "format 2") {
		t.Errorf("error %q does not say which format", err)
	}
	if after, _ := s.Head(t.Context(), marker.Key); after.ETag != before.ETag {
		t.Errorf("Ensure rewrote a newer marker")
	}
}

func TestBadMarkerRefused(t *testing.T) {
	for _, body := range []string{"not json", `{"format":"other","version":1}`, `{"format":"stowage","version":0}`} {
		s := memstore.New(nil)
		if _, err := s.Put(t.Context(), marker.Key, []byte(body), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := marker.Check(t.Context(), s); !errors.Is(err, marker.ErrBadMarker) {
			t.Errorf("Check of %q = %v, want ErrBadMarker", body, err)
		}
		if _, err := marker.Ensure(t.Context(), s, t0); !errors.Is(err, marker.ErrBadMarker) {
			t.Errorf("Ensure of %q = %v, want ErrBadMarker", body, err)
		}
	}
}

func TestRacingEnsuresAgree(t *testing.T) {
	s := memstore.New(nil)
	var wg sync.WaitGroup
	got := make([]marker.Marker, 8)
	errs := make([]error, 8)
	for i := range got {
		wg.Go(func() { got[i], errs[i] = marker.Ensure(t.Context(), s, t0.Add(time.Duration(i)*time.Second)) })
	}
	wg.Wait()
	stored, ok, err := marker.Read(t.Context(), s)
	if err != nil || !ok {
		t.Fatalf("Read = %v, %v", ok, err)
	}
	for i := range got {
		if errs[i] != nil || !got[i].Created.Equal(stored.Created) {
			t.Errorf("Ensure %d = %+v, %v; want the stored marker %+v", i, got[i], errs[i], stored)
		}
	}
}
