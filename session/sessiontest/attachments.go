package sessiontest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"testing"

	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/session"
)

var attachmentTests = []namedTest{
	{"CommitAdoptsRefs", testCommitAdoptsRefs},
	{"IsolationAndRestamp", testIsolationAndRestamp},
	{"DanglingRefPublishesNothing", testDanglingRef},
}

func hexID(c byte) string {
	sum := sha256.Sum256([]byte{c})
	return hex.EncodeToString(sum[:])
}

// intent stores attachment c (one byte) for sid and returns its id.
func (f *fixture) intent(s *session.Store, sid string, c byte, owner manifest.Owner) string {
	f.t.Helper()
	id := hexID(c)
	if f.env.PutAttachment != nil {
		got, err := f.env.PutAttachment(f.ctx, sid, owner, []byte{c})
		if err != nil || got != id {
			f.t.Fatalf("put attachment: %q %v (want id %s)", got, err, id)
		}
		return id
	}
	err := s.RecordIntent(f.ctx, manifest.Intent{AttachmentID: id, SessionID: sid,
		CanonicalURI: "lash-attachment://sha256/" + id, IntentAt: f.clock.Now(), Owner: owner})
	if err != nil {
		f.t.Fatalf("record intent: %v", err)
	}
	return id
}

func (f *fixture) uncommitted(s *session.Store, sid string) []string {
	f.t.Helper()
	rows, err := s.ListUncommitted(f.ctx, f.clock.Now())
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		if r.SessionID == sid {
			out = append(out, r.AttachmentID)
		}
	}
	slices.Sort(out)
	return out
}

func testCommitAdoptsRefs(t *testing.T, f *fixture) {
	if isNoop(f) {
		t.Skip("no-op manifest")
	}
	s := f.open("att")
	a := f.intent(s, "att", 1, manifest.Owner{})
	b := f.intent(s, "att", 2, manifest.Owner{})
	c := f.intent(s, "att", 3, manifest.Owner{})
	d := f.intent(s, "att", 4, manifest.Owner{Kind: manifest.OwnerTurn, ID: "turn-1"})
	if err := s.CommitRefs(f.ctx, "att", []string{b}); err != nil {
		t.Fatal(err)
	}
	cm := appendCommit("att", 0, "", "n")
	cm.CommittedAttachmentIDs = []string{a}
	cm.TurnCommit = stamp("att", "turn-1", "h")
	f.mustCommit(s, cm)
	f.wantIDs("uncommitted", f.uncommitted(s, "att"), []string{c})
	if err := s.Forget(f.ctx, "att", c); err != nil {
		t.Fatal(err)
	}
	f.wantIDs("uncommitted after forget", f.uncommitted(s, "att"), nil)
	info, err := session.ReadHead(f.ctx, f.env.Store, "att")
	if err != nil {
		t.Fatal(err)
	}
	got := slices.Clone(info.CommittedAttachmentIDs)
	slices.Sort(got)
	want := []string{a, d}
	slices.Sort(want)
	f.wantIDs("head's committed attachment ids", got, want)
}

func testIsolationAndRestamp(t *testing.T, f *fixture) {
	if isNoop(f) {
		t.Skip("no-op manifest")
	}
	s1, s2 := f.open("iso1"), f.open("iso2")
	id := f.intent(s1, "iso1", 5, manifest.Owner{})
	f.intent(s2, "iso2", 5, manifest.Owner{})
	cm := appendCommit("iso1", 0, "", "n")
	cm.CommittedAttachmentIDs = []string{id}
	f.mustCommit(s1, cm)
	f.wantIDs("iso1 uncommitted", f.uncommitted(s1, "iso1"), nil)
	f.wantIDs("iso2 uncommitted", f.uncommitted(s2, "iso2"), []string{id})
	f.intent(s1, "iso1", 5, manifest.Owner{}) // re-recording keeps the stamp
	f.wantIDs("iso1 after re-record", f.uncommitted(s1, "iso1"), nil)
	if ok, _ := s1.HoldsRef(f.ctx, "iso1", id); !ok {
		t.Fatal("committed ref not held")
	}
	if ok, _ := s1.HoldsRef(f.ctx, "iso3", id); ok {
		t.Fatal("ref held by a session that never recorded it")
	}
	refs, _ := s1.ListAllRefs(f.ctx)
	if !slices.Contains(refs, id) {
		t.Fatalf("ListAllRefs %v lacks %s", refs, id)
	}
	_ = s1.Forget(f.ctx, "iso1", id)
	_ = s2.Forget(f.ctx, "iso2", id)
	if ok, _ := s1.HoldsRef(f.ctx, "iso1", id); ok {
		t.Fatal("forgotten ref still held")
	}
}

func testDanglingRef(t *testing.T, f *fixture) {
	if isNoop(f) || f.env.Hook == nil {
		t.Skip("no commit hook")
	}
	s := f.open("dang")
	f.mustCommit(s, appendCommit("dang", 0, "", "a"))
	cm := appendCommit("dang", 1, "a", "b")
	cm.CommittedAttachmentIDs = []string{hexID(7)}
	if _, err := s.CommitRuntimeState(f.ctx, cm); !errors.Is(err, manifest.ErrDanglingRef) {
		t.Fatalf("dangling ref: %v", err)
	}
	if r := f.load(f.open("dang"), session.FullGraph); r.HeadRevision != 1 {
		t.Fatalf("dangling commit published: revision %d", r.HeadRevision)
	}
}
