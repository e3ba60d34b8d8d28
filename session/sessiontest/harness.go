// Package sessiontest is the conformance suite of session.CommitStore on an
// objstore.Store: every behaviour of docs/contract.md, "Session commit
// store", "Queued work", "Turn inputs" and "Execution lease", plus the
// protocol's own claims (concurrency, crashes at every step, ambiguous head
// writes, corruption, hostile ids, round trips).
//
// A backend's test only builds a Harness and calls Run:
//
//	func TestSessionConformance(t *testing.T) {
//		sessiontest.Run(t, sessiontest.Harness{
//			New: func(t testing.TB, now func() time.Time) sessiontest.Env {
//				return sessiontest.Env{Store: memstore.New(nil)}
//			},
//		})
//	}
package sessiontest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/fsck"
	"github.com/stowage-dev/stowage/internal/fscktest"
	"github.com/stowage-dev/stowage/internal/testclock"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

// Env is what a harness provides for one test.
type Env struct {
	// Store is an empty object store (or an empty prefix of one). Required.
	Store objstore.Store
	// Manifest and Hook are the attachment manifest the sessions use. If
	// Manifest is nil the suite uses a RecordingManifest for both.
	Manifest manifest.AttachmentManifest
	Hook     manifest.CommitHook
	// PutAttachment stores data as an attachment of sessionID owned by
	// owner (intent, bytes, ref) and returns its id, the lowercase hex
	// SHA-256 of data. Nil means the suite records only an intent, which is
	// enough for the RecordingManifest.
	PutAttachment func(ctx context.Context, sessionID string, owner manifest.Owner, data []byte) (string, error)
}

// Harness builds environments for the suite.
type Harness struct {
	// New returns a fresh environment. now is the suite's injected clock;
	// pass it to anything with a clock (a manifest, a memstore).
	New func(t testing.TB, now func() time.Time) Env
	// Tuning is passed to every session Store; the zero value uses the
	// defaults. The suite overrides the flush knobs where a test needs it.
	Tuning session.Tuning
}

// fixture is one test's environment.
type fixture struct {
	t      *testing.T
	h      Harness
	clock  *testclock.Clock
	env    Env
	ctx    context.Context
	tuning session.Tuning
	// fsck checks the store's invariants when the test ends.
	fsck *fscktest.Checker
}

func newFixture(t *testing.T, h Harness) *fixture {
	t.Helper()
	clock := testclock.New()
	env := h.New(t, clock.Now)
	if env.Store == nil {
		t.Fatal("sessiontest: harness returned no store")
	}
	check := fscktest.AtCleanup(t, env.Store, clock.Now)
	if env.Manifest == nil {
		m := NewRecordingManifest(clock.Now)
		env.Manifest, env.Hook = m, m
		check.Allow(fsck.InvRef, "has no manifest row", "the recording manifest keeps its rows in memory, not in the store")
	}
	return &fixture{t: t, h: h, clock: clock, env: env, ctx: context.Background(), tuning: h.Tuning, fsck: check}
}

// open returns a fresh handle (as a new process would) on the fixture's
// store, or on objs if given.
func (f *fixture) open(sid string, objs ...objstore.Store) *session.Store {
	f.t.Helper()
	store := f.env.Store
	if len(objs) > 0 {
		store = objs[0]
	}
	s, err := session.New(session.Config{
		Store: store, SessionID: sid, Manifest: f.env.Manifest, Hook: f.env.Hook,
		Now: f.clock.Now, Tuning: f.tuning,
	})
	if err != nil {
		f.t.Fatalf("session.New(%q): %v", sid, err)
	}
	return s
}

// Run runs the whole suite.
func Run(t *testing.T, h Harness) {
	groups := []struct {
		name  string
		tests []namedTest
	}{
		{"Basic", basicTests},
		{"Graph", graphTests},
		{"Receipts", receiptTests},
		{"Queue", queueTests},
		{"Control", controlTests},
		{"Lease", leaseTests},
		{"Attachments", attachmentTests},
		{"Concurrency", concurrencyTests},
		{"Faults", faultTests},
		{"Corruption", corruptionTests},
		{"IDs", idTests},
		{"RoundTrips", roundTripTests},
		{"Sweep", sweepTests},
		{"Limits", limitTests},
		{"Reads", readTests},
		{"Inputs", inputTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, nt := range g.tests {
				t.Run(nt.name, func(t *testing.T) { nt.fn(t, newFixture(t, h)) })
			}
		})
	}
}

type namedTest struct {
	name string
	fn   func(t *testing.T, f *fixture)
}

// --- commit builders ---

func rev(n uint64) *uint64 { return &n }

func node(id, parent string) session.NodeRecord {
	ev, _ := json.Marshal(map[string]string{"text": "event " + id})
	return session.NodeRecord{NodeID: id, ParentNodeID: parent, Timestamp: "2026-01-02T03:04:05Z",
		Kind: session.PayloadEvent, Event: ev}
}

// appendCommit returns a commit at expected revision r appending nodes
// (each the child of the previous) under parent, with the last as leaf.
func appendCommit(sid string, r uint64, parent string, ids ...string) session.RuntimeCommit {
	var nodes []session.NodeRecord
	for _, id := range ids {
		nodes = append(nodes, node(id, parent))
		parent = id
	}
	return session.RuntimeCommit{
		SessionID:            sid,
		ExpectedHeadRevision: rev(r),
		Config:               session.SessionConfig{ProviderID: "prov", Model: "model-a"},
		AgentFrames:          json.RawMessage(`[{"id":"frame-1"}]`),
		CurrentAgentFrameID:  "frame-1",
		Graph:                session.GraphDelta{Kind: session.DeltaAppend, Nodes: nodes, Leaf: parent},
	}
}

func stamp(sid, turn, hash string) *session.TurnCommitStamp {
	return &session.TurnCommitStamp{SessionID: sid, TurnID: turn, TurnCommitHash: hash}
}

// mustCommit commits c and fails the test on error. It then waits for the
// work the commit left to the handle's background (a merge, the flush of a
// full tail), so that the handle's next commit names what it wrote and a
// test sees the same objects whatever the scheduling (the simulation in
// internal/sim covers the schedules where it does not).
func (f *fixture) mustCommit(s *session.Store, c session.RuntimeCommit) *session.CommitResult {
	f.t.Helper()
	res, err := s.CommitRuntimeState(f.ctx, c)
	if err != nil {
		f.t.Fatalf("commit (expected %v): %v", derefRev(c.ExpectedHeadRevision), err)
	}
	s.WaitCompaction()
	return res
}

func derefRev(p *uint64) any {
	if p == nil {
		return "none"
	}
	return *p
}

// load loads the session and fails on error.
func (f *fixture) load(s *session.Store, scope session.ReadScope) *session.PersistedRead {
	f.t.Helper()
	r, err := s.LoadSession(f.ctx, scope)
	if err != nil {
		f.t.Fatalf("load session: %v", err)
	}
	return r
}

func nodeIDs(g session.Graph) []string {
	out := []string{}
	for _, n := range g.Nodes {
		out = append(out, n.NodeID)
	}
	return out
}

func equalIDs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (f *fixture) wantIDs(what string, got, want []string) {
	f.t.Helper()
	if !equalIDs(got, want) {
		f.t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

// chain commits n single-node commits n0..n(n-1) on top of revision from,
// each child of the previous, returning the ids.
func (f *fixture) chain(s *session.Store, sid string, from uint64, prefix string, n int, parent string) []string {
	f.t.Helper()
	var ids []string
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("%s%d", prefix, i)
		f.mustCommit(s, appendCommit(sid, from+uint64(i), parent, id))
		ids = append(ids, id)
		parent = id
	}
	return ids
}
