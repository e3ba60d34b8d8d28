// Package manifesttest is the conformance suite of the attachment manifest
// (manifest.Store on an objstore.Store): every AttachmentManifest and
// CommitHook method, the owner-death rules (docs/contract.md, "Owner
// death"), and the ForgetAgedUncommitted-versus-RecordIntent race under
// seeded interleavings.
// Each backend runs it with a one-screen harness; it also exports the fakes
// (clock, turn receipts, process registry, a store without conditional
// deletes) that other suites reuse.
package manifesttest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/internal/fscktest"
	"github.com/stowage-dev/stowage/internal/testclock"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
)

// Harness adapts one backend to the suite.
type Harness struct {
	// New returns a fresh, empty store for one test and registers its own
	// cleanup. Required.
	New func(t *testing.T) objstore.Store
	// RaceSeeds is the number of seeded interleavings of the race test per
	// delete mode; 0 means 48.
	RaceSeeds int
}

// Run runs the suite. Tests that delete rows run twice: with the store's
// conditional deletes, and behind WithoutConditionalDelete (tombstones).
func Run(t *testing.T, h Harness) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, *Env)
	}{
		{"HoldsRefAndForget", testHoldsRefAndForget},
		{"RecordIntentKeepsStamp", testRecordIntentKeepsStamp},
		{"CommitRefsNeverInserts", testCommitRefsNeverInserts},
		{"SessionsIndependent", testSessionsIndependent},
		{"ListUncommitted", testListUncommitted},
		{"HostileIDs", testHostileIDs},
		{"AllRefsStreams", testAllRefsStreams},
		{"Reopen", testReopen},
		{"ForgetAgedOwnerless", testForgetAgedOwnerless},
		{"ForgetAgedTurnOwner", testForgetAgedTurnOwner},
		{"ForgetAgedProcessOwner", testForgetAgedProcessOwner},
		{"HasLiveRef", testHasLiveRef},
		{"ClampedCutoffs", testClampedCutoffs},
		{"ForgetAgedRepairsFromHeads", testForgetAgedRepairsFromHeads},
		{"DeadRowsAndForgetRow", testDeadRowsAndForgetRow},
		{"ForgetAgedUploadsAndSessionIDs", testForgetAgedUploadsAndSessionIDs},
		{"UploadIntents", testUploadIntents},
		{"PrepareCommitUnbacked", testPrepareCommitUnbacked},
		{"PrepareCommitTurnAdoption", testPrepareCommitTurnAdoption},
		{"PrepareCommitSeesOtherStores", testPrepareCommitSeesOtherStores},
		{"PrepareCommitReprotectsChangedRows", testPrepareCommitReprotectsChangedRows},
		{"TurnIDsAreBytes", testTurnIDsAreBytes},
		{"PrepareCommitLegacyTurnMarkers", testPrepareCommitLegacyTurnMarkers},
		{"LashOrphanScenario", testLashOrphanScenario},
		{"ForgetSession", testForgetSession},
		{"ForgetSessionRacesTurnPut", testForgetSessionRacesTurnPut},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, mode := range deleteModes {
				t.Run(mode.name, func(t *testing.T) {
					e := NewEnv(t, mode.wrap(h.New(t)), nil)
					e.Fsck = fscktest.AtCleanup(t, e.Obj, e.Clock.Now)
					c.fn(t, e)
				})
			}
		})
	}
	for name, fn := range map[string]func(*testing.T, Harness, func(objstore.Store) objstore.Store){
		"ForgetAgedRacesRecordIntent": testForgetRace,
		"ForgetAgedRacesCommit":       testCommitRace,
	} {
		t.Run(name, func(t *testing.T) {
			for _, mode := range deleteModes {
				t.Run(mode.name, func(t *testing.T) { fn(t, h, mode.wrap) })
			}
		})
	}
}

var deleteModes = []struct {
	name string
	wrap func(objstore.Store) objstore.Store
}{
	{"conditional-delete", func(s objstore.Store) objstore.Store { return s }},
	{"tombstones", WithoutConditionalDelete},
}

// Env is a manifest over a store with an injected clock, turn receipts and
// process registry.
type Env struct {
	T     *testing.T
	Ctx   context.Context
	Obj   objstore.Store
	M     *manifest.Store
	Clock *testclock.Clock
	Turns *Receipts
	Procs *Registry
	Heads *Heads
	// Fsck checks the store's invariants when the test ends, if the suite
	// set it (nil for an Env made by NewEnv alone).
	Fsck *fscktest.Checker
}

// NewEnv opens a manifest over obj; opts may preset fields (Now, Turns and
// Processes are replaced by the Env's fakes unless set).
func NewEnv(t *testing.T, obj objstore.Store, opts *manifest.Options) *Env {
	e := &Env{T: t, Ctx: t.Context(), Obj: obj, Clock: testclock.New(), Turns: &Receipts{}, Procs: NewRegistry(), Heads: &Heads{}}
	o := manifest.Options{}
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = e.Clock.Now
	}
	if o.Turns == nil {
		o.Turns = e.Turns
	}
	if o.Processes == nil {
		o.Processes = e.Procs
	}
	if o.Heads == nil {
		o.Heads = e.Heads
	}
	e.M = manifest.New(obj, &o)
	return e
}

// ID returns a valid attachment id derived from s.
func ID(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Receipts is a fake manifest.TurnReceipts: a list of (session, turn,
// committed at) receipts.
type Receipts struct {
	mu   sync.Mutex
	list []receipt
}

type receipt struct {
	session, turn string
	at            time.Time
}

// Add records a receipt of turn in session committed at at.
func (r *Receipts) Add(session, turn string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, receipt{session, turn, at})
}

// LatestCommitAfter implements manifest.TurnReceipts.
func (r *Receipts) LatestCommitAfter(_ context.Context, session, turn string, t time.Time) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range r.list {
		if x.session == session && x.turn != turn && x.at.After(t) {
			return true, nil
		}
	}
	return false, nil
}

// Heads is a fake manifest.HeadRefs: the (session, id) pairs published
// commits named, with their commit time.
type Heads struct {
	mu  sync.Mutex
	ids map[[2]string]time.Time
}

// Add records that a commit of session at at named id.
func (h *Heads) Add(session, id string, at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ids == nil {
		h.ids = map[[2]string]time.Time{}
	}
	h.ids[[2]string{session, id}] = at
}

// Committed implements manifest.HeadRefs.
func (h *Heads) Committed(_ context.Context, session, id string) (bool, time.Time, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	at, ok := h.ids[[2]string{session, id}]
	return ok, at, nil
}

// Registry is a fake manifest.ProcessRegistry.
type Registry struct {
	mu    sync.Mutex
	procs map[string]bool
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{procs: map[string]bool{}} }

// Set adds (alive) or removes a process.
func (r *Registry) Set(id string, alive bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if alive {
		r.procs[id] = true
	} else {
		delete(r.procs, id)
	}
}

// HasProcess implements manifest.ProcessRegistry.
func (r *Registry) HasProcess(_ context.Context, id string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.procs[id], nil
}

// WithoutConditionalDelete returns s as a server that ignores If-Match on
// DELETE would be truthfully described (MinIO): Capabilities report no
// ConditionalDelete, and a conditional Delete fails with ErrNotSupported.
func WithoutConditionalDelete(s objstore.Store) objstore.Store { return noCondDelete{s} }

type noCondDelete struct{ objstore.Store }

func (s noCondDelete) Capabilities() objstore.Capabilities {
	c := s.Store.Capabilities()
	c.ConditionalDelete = false
	return c
}

func (s noCondDelete) Delete(ctx context.Context, key string, opts *objstore.DeleteOptions) error {
	if opts != nil && opts.IfMatch != "" {
		return fmt.Errorf("nocond: delete %q: %w", key, objstore.ErrNotSupported)
	}
	return s.Store.Delete(ctx, key, opts)
}

// Must fails the test on err.
func (e *Env) Must(err error) {
	e.T.Helper()
	if err != nil {
		e.T.Fatal(err)
	}
}

// Intent records an intent of session for id owned by owner at the clock's
// current time.
func (e *Env) Intent(session, id string, owner manifest.Owner) {
	e.T.Helper()
	e.Must(e.M.RecordIntent(e.Ctx, manifest.Intent{AttachmentID: id, SessionID: session, Owner: owner, IntentAt: e.Clock.Now()}))
}

// Holds reports HoldsRef, failing on error.
func (e *Env) Holds(session, id string) bool {
	e.T.Helper()
	ok, err := e.M.HoldsRef(e.Ctx, session, id)
	e.Must(err)
	return ok
}

// Row returns the row (session, id), failing if there is none.
func (e *Env) Row(session, id string) manifest.Row {
	e.T.Helper()
	row, ok, err := e.M.Row(e.Ctx, session, id)
	e.Must(err)
	if !ok {
		e.T.Fatalf("no row (%s, %s)", session, id[:8])
	}
	return row
}

// WithData records a row for (session, id) naming a fresh data object
// holding body, as a completed upload would, and returns the data. id must
// be ID(body), the attachment's real id, so that the data reads back (the
// suite's closing fsck hashes every committed attachment).
func (e *Env) WithData(session, id string, owner manifest.Owner, body string) manifest.Data {
	e.T.Helper()
	if id != ID(body) {
		e.T.Fatalf("WithData: %s is not the id of %q", id[:8], body)
	}
	key := manifest.DataKey(e.M.NewUploadID())
	_, err := e.Obj.Put(e.Ctx, key, []byte(body), &objstore.PutOptions{IfNoneMatch: true})
	e.Must(err)
	d := manifest.Data{Key: key, Size: int64(len(body)), StoredSize: int64(len(body))}
	_, err = e.M.RecordRef(e.Ctx, manifest.Intent{AttachmentID: id, SessionID: session, Owner: owner, IntentAt: e.Clock.Now()},
		manifest.Info{}, func(*manifest.Row) (manifest.Data, error) { return d, nil })
	e.Must(err)
	return d
}
