package lashconf

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/manifest"
)

// testAttachmentRoundTrip: bytes, size, media type and label round-trip.
func testAttachmentRoundTrip(t *testing.T, e *env) {
	a := e.attach("s")
	body := []byte{0x89, 'P', 'N', 'G', 0, 1, 2, 3}
	ref, err := a.Put(e.ctx, bytes.NewReader(body), attach.PutOptions{MediaType: "image/png", Label: "pixel"})
	e.must(err)
	if ref.Size != int64(len(body)) || ref.MediaType != "image/png" || ref.Label != "pixel" || ref.URI() != manifest.CanonicalURI(ref.ID) {
		t.Fatalf("ref %+v", ref)
	}
	st, err := a.Stat(e.ctx, ref.ID)
	if err != nil || st.MediaType != "image/png" || st.Label != "pixel" {
		t.Fatalf("stat %+v, %v", st, err)
	}
	e.mustRead(a, ref.ID, body)
}

// testAttachmentContentAddressed: identical bytes get one id, different
// bytes different ids.
func testAttachmentContentAddressed(t *testing.T, e *env) {
	x, y, z := e.put("s", "same", manifest.Owner{}), e.put("s", "same", manifest.Owner{}), e.put("s", "other", manifest.Owner{})
	if x.ID != y.ID || x.ID == z.ID || x.ID != sha("same") {
		t.Fatalf("ids %s %s %s", x.ID, y.ID, z.ID)
	}
}

// testAttachmentUnknown: an id the session holds no ref to is NotFound.
// Deliberate difference (docs/contract.md, "Where stowage differs from
// lash"): attachment ids are SHA-256 only, so lash's "sha256:does-not-exist"
// is an invalid id, refused as such.
func testAttachmentUnknown(t *testing.T, e *env) {
	a := e.attach("s")
	if _, _, err := a.Get(e.ctx, sha("never stored"), nil); !isErr(err, attach.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	if _, _, err := a.Get(e.ctx, "sha256:does-not-exist", nil); !isErr(err, attach.ErrInvalidID) {
		t.Fatalf("non-SHA-256 id: %v", err)
	}
}

// testAttachmentDelete: after delete the session's get is NotFound; a
// second delete and the delete of an id never stored succeed. (The bytes
// go when no session's ref remains, by the sweeper.)
func testAttachmentDelete(t *testing.T, e *env) {
	a := e.attach("s")
	ref := e.put("s", "delete me", manifest.Owner{})
	e.mustRead(a, ref.ID, []byte("delete me"))
	e.must(a.Delete(e.ctx, ref.ID))
	if _, _, err := a.Get(e.ctx, ref.ID, nil); !isErr(err, attach.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	e.must(a.Delete(e.ctx, ref.ID))
	e.must(a.Delete(e.ctx, sha("never existed")))
}

// testAttachmentList: a fresh session lists nothing; a duplicate put is
// listed once; a deleted attachment leaves the list.
func testAttachmentList(t *testing.T, e *env) {
	a := e.attach("s")
	if l, err := a.List(e.ctx); err != nil || len(l) != 0 {
		t.Fatalf("fresh list %+v, %v", l, err)
	}
	first := e.put("s", "first", manifest.Owner{})
	e.put("s", "first", manifest.Owner{})
	second := e.put("s", "second", manifest.Owner{})
	ids := func() []string {
		l, err := a.List(e.ctx)
		e.must(err)
		var out []string
		for _, r := range l {
			out = append(out, r.ID)
		}
		return out
	}
	want := []string{first.ID, second.ID}
	slices.Sort(want)
	if got := ids(); !equal(got, want) {
		t.Fatalf("list %v, want %v", got, want)
	}
	e.must(a.Delete(e.ctx, first.ID))
	if got := ids(); !equal(got, []string{second.ID}) {
		t.Fatalf("list after delete %v", got)
	}
}

// testAttachmentPersistence: the attachment store reports the backend's
// durability.
func testAttachmentPersistence(t *testing.T, e *env) {
	if got := e.attach("s").Durable(); got != e.objs.Capabilities().Durable {
		t.Fatalf("durable %v", got)
	}
}

// testAttachmentIDsSHA256 (deliberate difference, docs/contract.md, "Where
// stowage differs from lash"): lash's manifest accepts any id string;
// stowage's ids are the lowercase hex SHA-256 of the bytes, so an id that
// is not is refused with ErrInvalidID and records nothing.
func testAttachmentIDsSHA256(t *testing.T, e *env) {
	s := e.sess("s")
	for _, id := range []string{"runtime-commit", "sha256:" + sha("x"), "../" + sha("x")[3:]} {
		err := s.RecordIntent(e.ctx, manifest.Intent{AttachmentID: id, SessionID: "s", CanonicalURI: "lash-attachment://" + id})
		if !isErr(err, manifest.ErrInvalidID) {
			t.Fatalf("intent for %q: %v", id, err)
		}
	}
	if refs, _ := s.ListAllRefs(e.ctx); len(refs) != 0 {
		t.Fatalf("an invalid id was recorded: %v", refs)
	}
}

// testLateWriterRedirected (deliberate difference, docs/contract.md,
// "Where stowage differs from lash"): lash's sweeper checks again just
// before deleting and alarms on a race; stowage's deletion fence makes a
// writer that arrives after a sweep reclaimed the bytes it would reuse
// upload fresh data instead: its put succeeds and reads back.
func testLateWriterRedirected(t *testing.T, e *env) {
	e.keeper()
	ref := e.put("early", "late writer bytes", manifest.Owner{})
	row, ok, err := e.st.Manifest().Row(e.ctx, "early", ref.ID)
	if err != nil || !ok {
		t.Fatalf("row: %v, %v", ok, err)
	}
	e.must(e.attach("early").Delete(e.ctx, ref.ID))
	e.clock.Advance(2 * time.Hour)
	rep, err := e.sweeper(-1).Run(e.ctx)
	e.must(err)
	if rep.Reclaimed[gc.KindAttachmentData] != 1 || e.exists(row.Data.Key) {
		t.Fatalf("the unreferenced bytes were not reclaimed: %+v", rep)
	}
	late := e.put("late", "late writer bytes", manifest.Owner{})
	now, _, err := e.st.Manifest().Row(e.ctx, "late", late.ID)
	e.must(err)
	if now.Data.Key == row.Data.Key {
		t.Fatal("the late writer reused reclaimed data")
	}
	e.mustRead(e.attach("late"), late.ID, []byte("late writer bytes"))
}
