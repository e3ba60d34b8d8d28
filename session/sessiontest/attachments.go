package sessiontest

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"testing"

	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/session"
)

var attachmentTests = []namedTest{
	{"CommitAdoptsRefs", testCommitAdoptsRefs},
	{"IsolationAndRestamp", testIsolationAndRestamp},
	{"UnbackedRefsAreReported", testUnbackedRefs},
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
	f.recordIntent(s, sid, id, owner)
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

// testUnbackedRefs: a commit naming attachment ids this session holds no
// bytes for (an id carried in from a parent session, an intent whose upload
// never finished, a turn-owned intent without bytes) goes through; the ids
// are reported in the result (and its receipt), not stamped, and not
// recorded as refs of the commit.
func testUnbackedRefs(t *testing.T, f *fixture) {
	if isNoop(f) || f.env.Hook == nil {
		t.Skip("no commit hook")
	}
	parent, kid := f.open("par"), f.open("kid")
	carried := f.intent(parent, "par", 7, manifest.Owner{})
	pc := appendCommit("par", 0, "", "p")
	pc.CommittedAttachmentIDs = []string{carried}
	f.mustCommit(parent, pc)
	own := f.intent(kid, "kid", 8, manifest.Owner{})
	f.mustCommit(kid, appendCommit("kid", 0, "", "a"))

	cm := appendCommit("kid", 1, "a", "b")
	cm.CommittedAttachmentIDs = []string{carried, own}
	cm.TurnCommit = stamp("kid", "turn-2", "h2")
	want := []string{carried}
	if f.env.PutAttachment != nil {
		// A real manifest knows bytes: an intent whose upload never
		// finished, named or owned by the committing turn, is unbacked too.
		noBytes, turnOwned := hexID(9), hexID(10)
		f.recordIntent(kid, "kid", noBytes, manifest.Owner{})
		f.recordIntent(kid, "kid", turnOwned, manifest.TurnOwner("turn-2"))
		cm.CommittedAttachmentIDs = append(cm.CommittedAttachmentIDs, noBytes)
		want = append(want, noBytes, turnOwned)
	}
	slices.Sort(want)
	res, err := kid.CommitRuntimeState(f.ctx, cm)
	if err != nil {
		t.Fatalf("a commit naming unbacked attachments failed: %v", err)
	}
	if res.HeadRevision != 2 || !slices.Equal(res.UnbackedAttachmentIDs, want) {
		t.Fatalf("result: revision %d, unbacked %v; want 2, %v", res.HeadRevision, res.UnbackedAttachmentIDs, want)
	}
	replay, err := f.open("kid").CommitRuntimeState(f.ctx, cm)
	if err != nil || !slices.Equal(replay.UnbackedAttachmentIDs, want) {
		t.Fatalf("receipt replay: %+v, %v; want unbacked %v", replay, err, want)
	}
	info, err := session.ReadHead(f.ctx, f.env.Store, "kid")
	if err != nil {
		t.Fatal(err)
	}
	f.wantIDs("head's committed attachment ids", info.CommittedAttachmentIDs, []string{own})
	if got := info.UnbackedAttachmentIDs[2]; !slices.Equal(got, want) {
		t.Fatalf("head's unbacked ids at revision 2: %v, want %v", got, want)
	}
	if ok, _ := kid.HoldsRef(f.ctx, "kid", carried); ok {
		t.Fatal("the child session holds a ref to its parent's attachment")
	}
	// The session's own intents without bytes stay uncommitted.
	stillOpen := slices.DeleteFunc(slices.Clone(want), func(id string) bool { return id == carried })
	f.wantIDs("uncommitted after the commit", f.uncommitted(kid, "kid"), stillOpen)
}

// recordIntent records an intent for id without writing bytes.
func (f *fixture) recordIntent(s *session.Store, sid, id string, owner manifest.Owner) {
	f.t.Helper()
	err := s.RecordIntent(f.ctx, manifest.Intent{AttachmentID: id, SessionID: sid,
		CanonicalURI: "lash-attachment://sha256/" + id, IntentAt: f.clock.Now(), Owner: owner})
	if err != nil {
		f.t.Fatalf("record intent: %v", err)
	}
}
