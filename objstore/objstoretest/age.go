package objstoretest

import (
	"slices"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/objstore"
)

// testAgedObjects: an aged object reports its age through Head and List, so a
// sweep selecting objects older than a cutoff finds exactly it; its content
// and ETag are unchanged.
func testAgedObjects(t *testing.T, h *Harness) {
	if h.AgeObject == nil {
		t.Skip("Harness.AgeObject is nil")
	}
	s := h.newStore(t)
	ctx := t.Context()
	before := h.now()
	old := MustPut(t, s, "age/old", []byte("old"), nil)
	MustPut(t, s, "age/young", []byte("young"), nil)
	after := h.now()
	const age = 48 * time.Hour
	h.AgeObject(t, s, "age/old", age)

	head, err := s.Head(ctx, "age/old")
	if err != nil {
		t.Fatalf("head: %v", err)
	}
	wantTime(t, "aged ModTime", head.ModTime, before.Add(-age), after.Add(-age))
	if head.ETag != old.ETag {
		t.Errorf("aging changed the ETag from %q to %q", old.ETag, head.ETag)
	}
	wantContent(t, s, "age/old", []byte("old"))

	infos, err := ListAll(ctx, s, "age/", nil)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	cutoff := h.now().Add(-age / 2)
	var aged []string
	for _, info := range infos {
		if info.ModTime.Before(cutoff) {
			aged = append(aged, info.Key)
		}
		if info.Key == "age/young" {
			wantTime(t, "young ModTime", info.ModTime, before, after)
		}
	}
	if !slices.Equal(aged, []string{"age/old"}) {
		t.Errorf("listed objects older than the cutoff: %q, want [age/old]", aged)
	}
}

// Ager is implemented by stores that can age what they hold, for tests of
// sweepers: memstore and fsstore.
type Ager interface {
	// SetModTime sets the ModTime of the object under key, keeping its
	// content and ETag.
	SetModTime(key string, t time.Time) error
	// SetUploadInitiated sets the initiation time of an incomplete upload.
	SetUploadInitiated(key, uploadID string, t time.Time) error
}

// AgeObjectWith returns a Harness.AgeObject that ages objects through an
// Ager. under returns the Ager that holds the objects of the store under
// test (nil: that store is an Ager itself), and prefix is what the store
// under test puts before its keys there ("" for none).
func AgeObjectWith(under func(objstore.Store) Ager, prefix string) func(t *testing.T, s objstore.Store, key string, age time.Duration) {
	return func(t *testing.T, s objstore.Store, key string, age time.Duration) {
		t.Helper()
		info, err := s.Head(t.Context(), key)
		if err == nil {
			err = ager(under, s).SetModTime(prefix+key, info.ModTime.Add(-age))
		}
		if err != nil {
			t.Fatalf("age %q: %v", key, err)
		}
	}
}

// AgeUploadWith returns a Harness.AgeUpload that ages uploads through an
// Ager; under and prefix are as for AgeObjectWith.
func AgeUploadWith(under func(objstore.Store) Ager, prefix string) func(t *testing.T, s objstore.Store, key, uploadID string, age time.Duration) {
	return func(t *testing.T, s objstore.Store, key, uploadID string, age time.Duration) {
		t.Helper()
		ups, err := ListAllUploads(t.Context(), s, key)
		if err != nil {
			t.Fatalf("age upload %q: %v", uploadID, err)
		}
		for _, u := range ups {
			if u.UploadID == uploadID {
				if err := ager(under, s).SetUploadInitiated(prefix+key, uploadID, u.Initiated.Add(-age)); err != nil {
					t.Fatalf("age upload %q: %v", uploadID, err)
				}
				return
			}
		}
		t.Fatalf("age upload %q: not listed", uploadID)
	}
}

func ager(under func(objstore.Store) Ager, s objstore.Store) Ager {
	if under == nil {
		return s.(Ager)
	}
	return under(s)
}
