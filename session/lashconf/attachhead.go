package lashconf

import (
	"testing"
	"time"

	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/manifest"
)

// attachHeadCases are lash's attachment head cases (attachment_store.rs at
// lash main). lash's head is stowage's attach.Store.Stat: the ref the
// session holds. It carries no blob timestamp (lash allows timestamp-free
// backends; stowage's sweeper does not rest on timestamps but on the
// deletion fence, docs/contract.md, "Attachment reclamation"), so each
// case checks presence and identity, the timestamp-free branch of lash's
// laws.
var attachHeadCases = []lashCase{
	{"AttachmentHeadReflectsPutAndRefreshesTimestamp", testAttachmentHeadReflectsPut},
	{"AttachmentHeadReportsAbsence", testAttachmentHeadReportsAbsence},
	{"AttachmentHeadAgreesWithList", testAttachmentHeadAgreesWithList},
}

func init() { cases = append(cases, attachHeadCases...) }

// testAttachmentHeadReflectsPut: a head right after a put finds the
// attachment; a repeated identical put addresses the same attachment and
// the next head still finds it, with the same (absent) timestamp shape;
// the repeated put refreshes the row's intent time.
func testAttachmentHeadReflectsPut(t *testing.T, e *env) {
	a := e.attach("head")
	ref := e.put("head", "\x03\x01\x04\x01\x05", manifest.Owner{})
	first, err := a.Stat(e.ctx, ref.ID)
	if err != nil || first.ID != ref.ID || first.Size != 5 {
		t.Fatalf("head after put %+v, %v", first, err)
	}
	before, _, err := e.st.Manifest().Row(e.ctx, "head", ref.ID)
	e.must(err)
	e.clock.Advance(1100 * time.Millisecond) // lash crosses a whole second too
	again := e.put("head", "\x03\x01\x04\x01\x05", manifest.Owner{})
	if again.ID != ref.ID {
		t.Fatalf("repeated put addressed %s, want %s", again.ID, ref.ID)
	}
	second, err := a.Stat(e.ctx, ref.ID)
	if err != nil || second.ID != ref.ID || second.Size != first.Size || second.CommittedAt != first.CommittedAt {
		t.Fatalf("head after a repeated put %+v, %v (first %+v)", second, err, first)
	}
	// What the refreshed timestamp protects in lash, the refreshed intent
	// time protects here: the row's owner-death judgement starts again.
	after, _, err := e.st.Manifest().Row(e.ctx, "head", ref.ID)
	if err != nil || !after.IntentAt.After(before.IntentAt) {
		t.Fatalf("a repeated put did not refresh the intent time: %v -> %v (%v)", before.IntentAt, after.IntentAt, err)
	}
	e.mustRead(a, ref.ID, []byte("\x03\x01\x04\x01\x05"))
}

// testAttachmentHeadReportsAbsence: a head of an id never written, and of
// a deleted attachment, reports absence (attach.ErrNotFound). lash's
// "sha256:never-written-head" is not a SHA-256 id here (docs/contract.md,
// "Where stowage differs from lash"), so the id is the hash of bytes never
// stored.
func testAttachmentHeadReportsAbsence(t *testing.T, e *env) {
	a := e.attach("head")
	if _, err := a.Stat(e.ctx, sha("never-written-head")); !isErr(err, attach.ErrNotFound) {
		t.Fatalf("head of a never-written id: %v", err)
	}
	ref := e.put("head", "\x02\x07\x01\x08", manifest.Owner{})
	if _, err := a.Stat(e.ctx, ref.ID); err != nil {
		t.Fatalf("head before delete: %v", err)
	}
	e.must(a.Delete(e.ctx, ref.ID))
	if _, err := a.Stat(e.ctx, ref.ID); !isErr(err, attach.ErrNotFound) {
		t.Fatalf("head of a deleted attachment: %v", err)
	}
}

// testAttachmentHeadAgreesWithList: every attachment the list returns is
// found by head, as the same ref.
func testAttachmentHeadAgreesWithList(t *testing.T, e *env) {
	a := e.attach("head")
	e.put("head", "\x06\x02\x06\x04", manifest.Owner{})
	e.put("head", "\x03\x03\x08\x03", manifest.Owner{})
	listed, err := a.List(e.ctx)
	if err != nil || len(listed) != 2 {
		t.Fatalf("list %+v, %v", listed, err)
	}
	for _, l := range listed {
		h, err := a.Stat(e.ctx, l.ID)
		if err != nil || h.ID != l.ID || h.Size != l.Size || h.MediaType != l.MediaType || h.CommittedAt != l.CommittedAt {
			t.Fatalf("head %+v, %v disagrees with list %+v", h, err, l)
		}
	}
}
