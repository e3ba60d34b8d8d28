package objstoretest

import (
	"slices"
	"testing"
	"time"
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
