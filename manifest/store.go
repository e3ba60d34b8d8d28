package manifest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/stowage-dev/stowage/fence"
	"github.com/stowage-dev/stowage/internal/errwrap"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/observe"
)

// ErrContended is returned when a compare-and-swap on one row kept losing
// to concurrent writers for Options.MaxAttempts attempts. Retryable.
var ErrContended = errors.New("manifest: row contended")

// ErrFenceRequired is returned by a removal of a row that a commit may name
// without a request (Row.Fence) on a Store that cannot fence the row's
// session head (no Options.Fencer); nothing is removed. Give the Store a
// Fencer (session.HeadRefs), as stowage.Open does.
var ErrFenceRequired = errors.New("manifest: removing this row needs a session fence (Options.Fencer)")

// ErrReclaimed matches an error of Protect for data that a sweep deleted or
// is deleting (it is fence.ErrReclaimed).
var ErrReclaimed = fence.ErrReclaimed

// Fence is the writer's half of the sweeper's deletion fence
// (*fence.Fence). Protect is called after a ref naming dataKey is durable
// and before anyone relies on dataKey's bytes; nil means no sweep will delete
// dataKey while that ref exists, an error matching ErrReclaimed that the data
// is or will be gone.
type Fence interface {
	Protect(ctx context.Context, dataKey string) error
}

// TurnReceipts is the session layer's view of turn receipts, for the death
// of turn owners (docs/contract.md, "Owner death").
type TurnReceipts interface {
	// LatestCommitAfter reports whether session sessionID has a receipt of a
	// turn other than turnID committed strictly after t.
	LatestCommitAfter(ctx context.Context, sessionID, turnID string, t time.Time) (bool, error)
}

// ProcessRegistry is the process registry, for the death of process owners.
type ProcessRegistry interface {
	// HasProcess reports whether the registry holds process processID.
	HasProcess(ctx context.Context, processID string) (bool, error)
}

// HeadRefs is the session layer's view of what its published heads name.
// With it, a row whose commit landed but whose FinishCommit was skipped (a
// crash between the head PUT and the stamp) is stamped from the head instead
// of being forgotten as a dead intent.
type HeadRefs interface {
	// Committed reports whether a published commit of sessionID named
	// attachment id, and when it was committed.
	Committed(ctx context.Context, sessionID, id string) (bool, time.Time, error)
}

// TurnAnnouncer records in a session's head that a turn puts attachments
// (session.HeadRefs implements it): docs/protocol.md, "One-request
// commits". Once it returns, every head of the session announces the turn
// until the turn's own commit, which then adopts the turn's rows.
//
// writer is the announcing manifest's writer id ("" for none): the head
// records, per turn, the writers that announced it, so that a commit by
// the turn's only writer can adopt the rows that writer remembers instead
// of listing the turn's markers.
type TurnAnnouncer interface {
	AnnounceTurn(ctx context.Context, sessionID, turnID, writer string) error
}

// Incarnations tells ForgetSession which incarnation of a session its head
// is at (session.HeadRefs implements it).
type Incarnations interface {
	// Incarnation returns the incarnation of sessionID's head and whether
	// the head is live (a session that exists). A deletion tombstone
	// reports the incarnation it ended; no head at all reports 0, false.
	Incarnation(ctx context.Context, sessionID string) (inc uint64, live bool, err error)
}

// Options configure a Store. A nil *Options is the zero value.
type Options struct {
	// Fence guards reuse of existing data against a concurrent sweep; nil
	// means fence.New(store, nil).
	Fence Fence
	// Turns decides whether a turn owner is dead; nil means turn owners are
	// never dead (their intents are kept until committed or forgotten).
	Turns TurnReceipts
	// Processes decides whether a process owner is dead; nil means process
	// owners are never dead (contract: dead only if absent from a wired
	// registry).
	Processes ProcessRegistry
	// Heads repairs commit stamps from session heads before an intent is
	// forgotten; nil means no repair (rows of commits whose FinishCommit was
	// skipped look like uncommitted intents).
	Heads HeadRefs
	// Incarnations binds ForgetSession to the incarnation a deletion ended;
	// nil means every session reads as having no head (ForgetSession then
	// removes only rows no commit bound to an incarnation).
	Incarnations Incarnations
	// Announcer, if set, is told of every turn before a row owned by it is
	// written (with this Store's writer id), and the manifest then reports
	// AnnouncesTurns: a session commit of a turn its head does not announce
	// skips listing the turn's markers, and one whose head names this
	// Store as the turn's only writer adopts the rows it remembers instead. Every writer of turn-owned rows into a bucket must have one
	// (stowage.Open wires session.HeadRefs) before any session store takes
	// that shortcut; nil means no announcing, and commits always list.
	Announcer TurnAnnouncer
	// HeadCache and Fencer, both set with an Announcer, let a commit name
	// a row this Store put without a request before its head PUT
	// (PrepareTurnCommit, docs/protocol.md, "Turns with attachments:
	// adoption without a request"): every removal of a row then fences the
	// session head between judging and removing (Forget,
	// ForgetAgedUncommitted, ForgetAgedSession; a sweeper's ForgetRow
	// follows its own fence). Every process that removes rows of sessions
	// whose writers adopt directly must fence (stowage.Open wires
	// session.HeadRefs for all three; the sweeper's dead-intent path fences
	// by itself). Nil means commits prepare every row.
	HeadCache HeadCache
	Fencer    SessionFencer
	// Entropy is the random source of upload ids and row revs (ULIDs); nil
	// means a process-wide cryptographic source. A deterministic simulation
	// injects a seeded one (ids choose fence shards, so they shape a run).
	Entropy io.Reader
	// Now is the clock of intent and commit stamps; nil means time.Now.
	Now func() time.Time
	// Logger receives debug and warning records; nil discards them.
	Logger *slog.Logger
	// Concurrency bounds the row reads in flight during scans; 0 means 16.
	// 1 reads rows one at a time in the calling goroutine.
	Concurrency int
	// MaxAttempts bounds the compare-and-swap attempts on one row; 0 means 64.
	MaxAttempts int
	// RowCache bounds the rows remembered (by ETag) between scans, so a
	// sweep re-reads only rows that changed; 0 means 65536, < 0 disables it.
	RowCache int
	// Observer, if set, is handed to the attachment stores over this
	// manifest (Store.Observer; package attach reports its Puts and Gets).
	Observer observe.Observer
}

// Store is the attachment manifest on an object store. It implements
// AttachmentManifest and CommitHook and is safe for concurrent use, across
// processes: every row change is a conditional write, every row deletion a
// conditional delete or a conditional tombstone write.
type Store struct {
	obj         objstore.Store
	fence       Fence
	turns       TurnReceipts
	procs       ProcessRegistry
	heads       HeadRefs
	incs        Incarnations
	announcer   TurnAnnouncer
	headCache   HeadCache
	fencer      SessionFencer
	announced   announcedTurns
	pending     *pendingStamps
	now         func() time.Time
	log         *slog.Logger
	conc        int
	maxAttempts int
	cache       *rowCache
	idMu        sync.Mutex
	entropy     io.Reader // nil: ulid.DefaultEntropy
	observer    observe.Observer
	// condDelete is whether If-Match deletes are enforced; cleared if the
	// store ever answers ErrNotSupported.
	condDelete atomic.Bool
}

// AnnouncesTurns reports whether the store announces every turn that owns a
// row it writes (Options.Announcer): docs/protocol.md, "One-request commits".
func (s *Store) AnnouncesTurns() bool { return s.announcer != nil }

// announceTurn tells the announcer about turnID of sessionID once per
// process (an announcement stays in the head until the turn commits, and a
// put after its commit is not adopted anyway), and remembers that this
// Store is about to make row id the turn's. rev is the write's fresh Rev,
// which becomes the writer id if the Store has none yet.
func (s *Store) announceTurn(ctx context.Context, sessionID, turnID, id, rev string) error {
	if s.announcer == nil {
		return nil
	}
	rows, writer := s.announced.lookup(sessionID, turnID, rev)
	if rows == nil {
		if err := s.announcer.AnnounceTurn(ctx, sessionID, turnID, writer); err != nil {
			return fmt.Errorf("announce turn %s of session %s: %w", turnID, sessionID, err)
		}
		if rows = s.announced.add(sessionID, turnID, writer); rows == nil {
			return nil // forgotten meanwhile: the turn's commit lists its markers
		}
	}
	s.announced.record(rows, id)
	return nil
}

// announcedTurns remembers the turns this Store announced, with the rows
// it made each turn's, under a writer id: the Rev of the row write that
// first announced. Up to maxAnnounced turns; then it forgets them all and
// takes a new writer id, so that a head naming the old one as a turn's
// only writer is never taken to mean that these (forgotten) rows are all.
type announcedTurns struct {
	mu     sync.Mutex
	writer string
	m      map[string]*turnRows
}

// turnRows are the rows one Store made a turn's; over means more than
// maxTurnRows, which are then not remembered (the commit lists).
type turnRows struct {
	ids  []string
	over bool
}

const (
	maxAnnounced = 1 << 12
	maxTurnRows  = 1 << 10
)

// lookup returns the turn's rows if this Store announced it under its
// current writer id, and the writer id (taking rev if there is none).
func (a *announcedTurns) lookup(sid, turn, rev string) (*turnRows, string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.writer == "" {
		a.writer = rev
	}
	return a.m[sid+"/"+turn], a.writer
}

// add remembers that writer announced the turn; nil if writer is no longer
// this Store's id.
func (a *announcedTurns) add(sid, turn, writer string) *turnRows {
	a.mu.Lock()
	defer a.mu.Unlock()
	if writer != a.writer {
		return nil
	}
	switch {
	case a.m == nil:
		a.m = make(map[string]*turnRows)
	case len(a.m) >= maxAnnounced:
		a.m, a.writer = make(map[string]*turnRows), ""
		return nil
	}
	key := sid + "/" + turn
	if r := a.m[key]; r != nil {
		return r
	}
	r := &turnRows{}
	a.m[key] = r
	return r
}

func (a *announcedTurns) record(r *turnRows, id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case r.over, slices.Contains(r.ids, id):
	case len(r.ids) >= maxTurnRows:
		r.ids, r.over = nil, true
	default:
		r.ids = append(r.ids, id)
	}
}

// rows returns the rows this Store made the turn's, if writers (the turn's
// writers in the commit's base head) is this Store's writer id alone and it
// remembers them all.
func (a *announcedTurns) rows(sid, turn string, writers []string) ([]string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.m[sid+"/"+turn]
	if r == nil || r.over || a.writer == "" || !slices.Equal(writers, []string{a.writer}) {
		return nil, false
	}
	return slices.Clone(r.ids), true
}

// Observer returns Options.Observer (nil if none).
func (s *Store) Observer() observe.Observer { return s.observer }

var (
	_ AttachmentManifest = (*Store)(nil)
	_ CommitHook         = (*Store)(nil)
)

// New returns a Store keeping its objects in obj (keys under Prefix).
func New(obj objstore.Store, opts *Options) *Store {
	if opts == nil {
		opts = &Options{}
	}
	s := &Store{
		obj:         obj,
		fence:       opts.Fence,
		turns:       opts.Turns,
		procs:       opts.Processes,
		heads:       opts.Heads,
		incs:        opts.Incarnations,
		announcer:   opts.Announcer,
		headCache:   opts.HeadCache,
		fencer:      opts.Fencer,
		entropy:     monotonic(opts.Entropy),
		now:         opts.Now,
		log:         opts.Logger,
		conc:        opts.Concurrency,
		maxAttempts: opts.MaxAttempts,
		observer:    opts.Observer,
		pending:     newPendingStamps(),
	}
	if s.fence == nil {
		s.fence = fence.New(obj, &fence.Options{Logger: opts.Logger})
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.conc <= 0 {
		s.conc = 16
	}
	if s.maxAttempts <= 0 {
		s.maxAttempts = 64
	}
	switch {
	case opts.RowCache == 0:
		s.cache = newRowCache(1 << 16)
	case opts.RowCache > 0:
		s.cache = newRowCache(opts.RowCache)
	}
	s.condDelete.Store(obj.Capabilities().ConditionalDelete)
	return s
}

// ObjectStore returns the store the manifest keeps its objects in.
func (s *Store) ObjectStore() objstore.Store { return s.obj }

// Now returns the manifest clock's current time, clamped.
func (s *Store) Now() time.Time { return ClampTime(s.now()) }

// Protect passes dataKey to the fence (see Fence).
func (s *Store) Protect(ctx context.Context, dataKey string) error {
	return s.fence.Protect(ctx, dataKey)
}

// ProtectRow is Protect of the data row names, for a row as RecordRef
// returned it (durable before this call). The Store remembers that this
// version of the row is protected: a commit that prepares the row from it
// by compare-and-swap then needs no Protect of its own (the row has named
// the data without a break since), which saves the commit a round trip
// (docs/protocol.md, "Commits adopting rows (W2)").
func (s *Store) ProtectRow(ctx context.Context, row Row) error {
	if err := s.fence.Protect(ctx, row.Data.Key); err != nil {
		return err
	}
	s.cache.markProtected(RefKey(row.AttachmentID, row.SessionID), row.Rev)
	return nil
}

// SettleRow tells the Store that the put that wrote row (protected by
// ProtectRow) is done with it and that it names data no other put
// re-points: the put's own upload, or the data of the blob pointer the put
// read. Only a settled version may be named by a commit without a request
// (PrepareTurnCommit). No request.
func (s *Store) SettleRow(row Row) {
	s.cache.markSettled(RefKey(row.AttachmentID, row.SessionID), row.Rev)
}

// NewUploadID mints a fresh upload id (a ULID).
func (s *Store) NewUploadID() string {
	if s.entropy == nil {
		return ulid.MustNew(ulid.Timestamp(s.now()), ulid.DefaultEntropy()).String()
	}
	s.idMu.Lock()
	defer s.idMu.Unlock()
	return ulid.MustNew(ulid.Timestamp(s.now()), s.entropy).String()
}

func (s *Store) newRev() string { return s.NewUploadID() }

// backoff waits a little before retry attempt n (none for the first few).
func backoff(ctx context.Context, attempt int) error {
	if attempt < 4 {
		return ctx.Err()
	}
	d := time.Millisecond << min(attempt-4, 7)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return errorf("%s: %w", op, err)
}

// errorf is fmt.Errorf for package manifest: the message starts with "manifest: "
// once, however many of the package's own errors it wraps.
func errorf(format string, args ...any) error { return errwrap.Errorf("manifest", format, args...) }

// monotonic wraps an injected entropy source so that ids minted in one
// millisecond stay ordered; nil stays nil.
func monotonic(r io.Reader) io.Reader {
	if r == nil {
		return nil
	}
	return ulid.Monotonic(r, 0)
}
