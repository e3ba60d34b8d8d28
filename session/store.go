package session

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/observe"
)

// Config configures a session Store.
type Config struct {
	// Store holds the session objects. Required. It must enforce
	// conditional puts and compare-and-swap.
	Store objstore.Store
	// SessionID binds the handle to a session. Empty: the first commit
	// binds it.
	SessionID string
	// Manifest is the attachment manifest the Store delegates to; nil means
	// a no-op manifest (HoldsRef is always true, nothing is recorded).
	Manifest manifest.AttachmentManifest
	// Hook stamps attachment refs committed; nil means the ids are taken as
	// given and nothing is stamped.
	Hook manifest.CommitHook
	// Now is the store clock (lease expiry, receipt and stamp times); nil
	// means time.Now.
	Now func() time.Time
	// Logger receives warnings (e.g. a failed FinishCommit); nil discards.
	Logger *slog.Logger
	// Tuning; zero values mean the defaults below.
	Tuning Tuning
	// Segments, if set, is a segment cache shared with other handles (see
	// SegmentCache); nil gives the handle its own of Tuning.CacheBytes.
	Segments *SegmentCache
	// Rand draws the jitter between contended compare-and-swap attempts;
	// nil means the global source. A deterministic simulation injects a
	// seeded one so that a seed replays exactly.
	Rand *mrand.Rand
	// Entropy, if set, is the random source of the handle's ids (the ULIDs
	// of its objects, commits, writes and claims) and lease tokens; nil
	// means a cryptographic one. The handle reads it under its own lock: a
	// source shared by handles must be safe for concurrent use. A
	// deterministic simulation injects a seeded one.
	Entropy io.Reader
	// Observer, if set, receives the handle's commits, loads, head write
	// retries and resolved ambiguous head writes (package observe); nil
	// observes nothing.
	Observer observe.Observer
}

// Tuning holds the protocol's size knobs. Changing them never affects
// correctness, only object sizes and round trips.
type Tuning struct {
	// FlushDeltas: the tail is written out as a segment when it holds this
	// many deltas (default 16).
	FlushDeltas int
	// FlushBytes: ... or when its nodes weigh about this many bytes
	// (default 24 KiB: a head PUT then carries at most about that much
	// of earlier deltas beside its own, and a turn of 8 KiB flushes at
	// every third commit rather than every second, docs/performance.md).
	FlushBytes int
	// SegmentMaxBytes: no merge makes a segment larger than this (decoded
	// bytes, estimated); a segment that reaches it is sealed and never
	// merged again, so no commit merges more than this much (default
	// 4 MiB: a merge is a burst of CPU on the server and the client, and
	// a smaller one delays the commits beside it less; docs/performance.md).
	// A single commit larger than it makes one sealed segment.
	SegmentMaxBytes int
	// SegmentFanout: how many segments of one level merge into one of the
	// next (default 4, at least 2).
	SegmentFanout int
	// InlineBlobMax: checkpoint blobs up to this size live inline in the
	// head (default 2 KiB).
	InlineBlobMax int
	// RecentWrites: how many write ids the head keeps for resolving lost
	// responses (default 64).
	RecentWrites int
	// RecentReceipts: how many receipts the head keeps inline beyond those
	// of its tail (default 2; an older turn's retry finds its receipt in
	// the segments, through their indexes: a read more, never another
	// outcome).
	RecentReceipts int
	// CacheBytes: the budget of the cache of decoded segments, indexes and
	// graph of a handle that shares no SegmentCache (default 16 MiB).
	CacheBytes int
	// MaxAttempts bounds compare-and-swap retries of one operation
	// (default 64).
	MaxAttempts int
}

func (t Tuning) withDefaults() Tuning {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&t.FlushDeltas, 16)
	def(&t.FlushBytes, 24<<10)
	def(&t.SegmentMaxBytes, 4<<20)
	def(&t.SegmentFanout, 4)
	t.SegmentFanout = max(t.SegmentFanout, 2)
	def(&t.InlineBlobMax, 2<<10)
	def(&t.RecentWrites, 64)
	def(&t.RecentReceipts, 2)
	def(&t.CacheBytes, DefaultHandleCacheBytes)
	def(&t.MaxAttempts, 64)
	return t
}

// Store is a session.CommitStore on an object store, bound to one session.
// It also implements QueuedWorkStore, TurnInputStore and
// SessionExecutionLeaseStore. Safe for concurrent use; any number of Stores
// (in any number of processes) may serve one session at once.
type Store struct {
	objs     objstore.Store
	manifest manifest.AttachmentManifest
	hook     manifest.CommitHook
	now      func() time.Time
	log      *slog.Logger
	tune     Tuning
	rand     *mrand.Rand // nil: the global source
	ids      *idSource   // nil: processIDs
	obs      observe.Observer

	bindMu sync.Mutex
	sid    string

	mu   sync.Mutex
	segs *SegmentCache // segments, indexes and the latest graph, in bytes
	// retired are superseded objects to delete with the next head write.
	retired []string
	// compacting: a background merge runs; compacted: its result, to be
	// named by the next commit (compact.go).
	compacting bool
	compacted  *compaction
	// flushing: a background flush runs; flushed: its segment, to be named
	// by the next commit (flush.go).
	flushing bool
	flushed  *pendingFlush
	// dirWriting: a background directory run is written; dirPending: it,
	// to be named by the next commit (dir.go).
	dirWriting bool
	dirPending *pendingDir
	compactWG  sync.WaitGroup // merges and directory runs
	flushWG    sync.WaitGroup // flushes
	retireWG   sync.WaitGroup // deletions of superseded objects
	stampWG    sync.WaitGroup // attachment stamps after a commit (stampLater)
	// sparing: a spare copy for the next load is made (spare.go).
	sparing bool
	spareWG sync.WaitGroup // spare copies, and the cache a cold load fills (cacheChainLater)
}

var (
	_ CommitStore                = (*Store)(nil)
	_ QueuedWorkStore            = (*Store)(nil)
	_ TurnInputStore             = (*Store)(nil)
	_ SessionExecutionLeaseStore = (*Store)(nil)
)

// New returns a Store for cfg.
func New(cfg Config) (*Store, error) {
	if cfg.Store == nil {
		return nil, errors.New("session: config has no object store")
	}
	if cfg.SessionID != "" {
		if err := ValidateSessionID(cfg.SessionID); err != nil {
			return nil, err
		}
	}
	s := &Store{
		objs:     cfg.Store,
		manifest: cfg.Manifest,
		hook:     cfg.Hook,
		now:      cfg.Now,
		log:      cfg.Logger,
		tune:     cfg.Tuning.withDefaults(),
		rand:     cfg.Rand,
		obs:      cfg.Observer,
		sid:      cfg.SessionID,
	}
	if cfg.Entropy != nil {
		s.ids = newIDSource(cfg.Entropy)
	}
	if s.manifest == nil {
		s.manifest = noopManifest{}
	}
	clock := s.now
	if clock == nil {
		clock = time.Now
	}
	// Every time the store writes comes from this clock or is a caller's
	// clamped by the same rule (stampTime), so each one encodes.
	s.now = func() time.Time { return stampTime(clock()) }
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s.segs = cfg.Segments
	if s.segs == nil {
		s.segs = NewSegmentCache(int64(s.tune.CacheBytes))
	}
	return s, nil
}

// SessionID returns the session the handle is bound to ("" if unbound).
func (s *Store) SessionID() string {
	s.bindMu.Lock()
	defer s.bindMu.Unlock()
	return s.sid
}

// bind binds an unbound handle to sid, or checks that it is bound to sid.
func (s *Store) bind(sid string) error {
	if err := ValidateSessionID(sid); err != nil {
		return err
	}
	s.bindMu.Lock()
	defer s.bindMu.Unlock()
	if s.sid == "" {
		s.sid = sid
		return nil
	}
	if s.sid != sid {
		return &SessionBindingMismatchError{Bound: s.sid, Attempted: sid}
	}
	return nil
}

// DurabilityTier is Durable when the object store is durable (S3, files)
// and Inline otherwise (memory).
func (s *Store) DurabilityTier() DurabilityTier {
	if s.objs.Capabilities().Durable {
		return Durable
	}
	return Inline
}

// idSource mints ULIDs (unique; ordered by time, and by call within a
// millisecond) and opaque tokens from one entropy source.
type idSource struct {
	mu      sync.Mutex
	entropy io.Reader
	mono    *ulid.MonotonicEntropy
}

func newIDSource(r io.Reader) *idSource { return &idSource{entropy: r, mono: ulid.Monotonic(r, 0)} }

// processIDs is the cryptographic source of handles given no Entropy.
var processIDs = newIDSource(rand.Reader)

func (g *idSource) id() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return ulid.MustNew(ulid.Now(), g.mono).String()
}

// token returns an opaque token: unguessable from a cryptographic source.
func (g *idSource) token() string {
	var b [16]byte
	g.mu.Lock()
	_, _ = io.ReadFull(g.entropy, b[:])
	g.mu.Unlock()
	return fmt.Sprintf("%x", b)
}

func (s *Store) idSource() *idSource {
	if s.ids == nil {
		return processIDs
	}
	return s.ids
}

// newID mints a ULID from the handle's entropy.
func (s *Store) newID() string { return s.idSource().id() }

// newToken returns an opaque token from the handle's entropy.
func (s *Store) newToken() string { return s.idSource().token() }

// lru is a small least-recently-used cache of immutable decoded objects.
// noopManifest is lash's no-op AttachmentManifest: nothing is recorded and
// every ref is held.
type noopManifest struct{}

func (noopManifest) RecordIntent(context.Context, manifest.Intent) error { return nil }
func (noopManifest) CommitRefs(context.Context, string, []string) error  { return nil }
func (noopManifest) ListUncommitted(context.Context, time.Time) ([]manifest.Entry, error) {
	return nil, nil
}
func (noopManifest) ForgetAgedUncommitted(context.Context, time.Time) (int, error) { return 0, nil }
func (noopManifest) HasLiveRef(context.Context, string, time.Time) (bool, error)   { return false, nil }
func (noopManifest) Forget(context.Context, string, string) error                  { return nil }
func (noopManifest) HoldsRef(context.Context, string, string) (bool, error)        { return true, nil }
func (noopManifest) ListAllRefs(context.Context) ([]string, error)                 { return nil, nil }
