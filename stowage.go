// Package stowage persists AI agent sessions (the lash runtime's
// SessionCommitStore and AttachmentManifest contract) on S3-compatible
// object storage, with conditional PUTs as the only coordination.
//
// Open a Store by URL, then take a per-session handle:
//
//	st, err := stowage.Open(ctx, "s3://bucket/prefix?endpoint=...", stowage.Config{})
//	sess, err := st.Session("session-1")
//	res, err := sess.CommitRuntimeState(ctx, commit)
//
// See docs/protocol.md for the commit protocol and docs/format.md for the
// object formats.
package stowage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/marker"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/openurl"
	"github.com/stowage-dev/stowage/observe"
	"github.com/stowage-dev/stowage/session"
)

// Config configures a Store. The zero value is ready to use.
type Config struct {
	// Now is the store clock (lease expiry, receipt and manifest stamps);
	// nil means time.Now.
	Now func() time.Time
	// Logger receives warnings; nil discards.
	Logger *slog.Logger
	// URL configures Open's object store (retries, metrics, probe); nil
	// means openurl's defaults. Its Logger and Clock default to Logger and
	// Now.
	URL *openurl.Options
	// Session tunes the commit protocol's object sizes.
	Session session.Tuning
	// SharedCacheBytes is the budget, in decoded bytes, of the one cache
	// the handles of this Store share: segments, segment indexes and each
	// session's latest decoded graph (0 means DefaultSharedCacheBytes).
	// Segments are immutable, so a fresh handle loads a session it has
	// seen with one head GET plus whatever changed. Heads are cached there
	// too: a handle itself keeps no session state.
	SharedCacheBytes int64
	// Processes, if set, lets the manifest declare process-owned intents
	// dead once their process is gone from the registry.
	Processes manifest.ProcessRegistry
	// ReadOnly opens the store for reading only: nothing is written or
	// created (see openurl.Options.ReadOnly; every write fails with
	// objstore.ErrReadOnly), and a target that holds no stowage store is
	// refused with ErrNoStore instead of being taken for an empty one.
	ReadOnly bool
	// Entropy, if set, is the random source of every id and token the
	// Store mints: the manifest's upload ids and row revs, and the session
	// handles' object, commit, write and claim ids and lease tokens (read
	// under one lock); nil means a cryptographic one. A deterministic
	// simulation injects a seeded one so that a seed replays exactly.
	Entropy io.Reader
	// Rand, if set, draws the session handles' contention jitter (shared
	// by every handle, under a lock); nil means the global source. A
	// deterministic simulation injects a seeded one.
	Rand *rand.Rand
	// Telemetry, if set, receives the library's operations: commits and
	// loads of every session handle, attachment Puts and Gets through
	// Manifest, head write retries and resolved ambiguous writes.
	// telemetry.New makes Prometheus metrics and OpenTelemetry spans of
	// them; if it also implements openurl.Metrics (telemetry's does) and
	// URL.Metrics is nil, Open measures the object store requests with it
	// too. Nil observes nothing. See docs/operations.md, "Library metrics
	// and traces".
	Telemetry observe.Observer
}

// DefaultSharedCacheBytes is the default budget of a Store's shared cache.
const DefaultSharedCacheBytes = 128 << 20

// Errors of Open and OpenStore about the target (package marker).
var (
	// ErrNoStore: the target holds neither a store marker nor any stowage
	// object (a read-only open; a read-write one starts a new store).
	ErrNoStore = marker.ErrNoStore
	// ErrFormatTooNew: the store was written by a newer stowage.
	ErrFormatTooNew = marker.ErrFormatTooNew
)

// Store hands out per-session commit stores sharing one object store and
// one attachment manifest. Safe for concurrent use.
type Store struct {
	objs     objstore.Store
	manifest *manifest.Store
	segs     *session.SegmentCache // shared by every handle: segments are immutable
	cfg      Config
	owned    bool // objs was opened by Open and is closed by Close
}

// Open opens the object store url names (see package objstore/openurl for
// the URL forms) and returns a Store on it. Close closes the object store.
func Open(ctx context.Context, url string, cfg Config) (*Store, error) {
	var o openurl.Options
	if cfg.URL != nil {
		o = *cfg.URL
	}
	if o.Logger == nil {
		o.Logger = cfg.Logger
	}
	if o.Clock == nil {
		o.Clock = cfg.Now
	}
	if m, ok := cfg.Telemetry.(openurl.Metrics); ok && o.Metrics == nil {
		o.Metrics = m
	}
	o.ReadOnly = o.ReadOnly || cfg.ReadOnly
	cfg.ReadOnly = o.ReadOnly
	objs, err := openurl.Open(ctx, url, &o)
	if err != nil {
		return nil, err
	}
	s, err := OpenStore(ctx, objs, cfg)
	if err != nil {
		_ = objs.Close()
		if spec, perr := openurl.ParseURL(url); perr == nil {
			return nil, fmt.Errorf("stowage: %s: %w", spec, err) // a Spec holds no secret
		}
		return nil, err
	}
	s.owned = true
	return s, nil
}

// OpenStore returns a Store on an already opened object store, which must
// enforce conditional puts and compare-and-swap. Close does not close objs.
//
// Read-write, it makes sure the store carries its marker (package marker),
// writing one into a new store or adopting an unmarked one; read-only
// (Config.ReadOnly), it wraps objs in objstore.ReadOnly and refuses a
// target with no store (ErrNoStore). Either way a store of a newer format
// is refused (ErrFormatTooNew).
func OpenStore(ctx context.Context, objs objstore.Store, cfg Config) (*Store, error) {
	if objs == nil {
		return nil, errors.New("stowage: no object store")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ReadOnly {
		objs = objstore.ReadOnly(objs)
		if _, err := marker.Check(ctx, objs); err != nil {
			return nil, err
		}
	} else {
		caps := objs.Capabilities()
		if !caps.ConditionalPut || !caps.CompareAndSwap {
			return nil, fmt.Errorf("stowage: %s does not enforce conditional writes: %w", caps.Provider, objstore.ErrNotSupported)
		}
		if _, err := marker.Ensure(ctx, objs, cfg.Now()); err != nil {
			return nil, err
		}
	}
	if cfg.Entropy != nil {
		cfg.Entropy = &lockedReader{r: cfg.Entropy}
	}
	n := cfg.SharedCacheBytes
	if n <= 0 {
		n = DefaultSharedCacheBytes
	}
	segs := session.NewSegmentCache(n)
	heads := session.HeadRefs{Store: objs, Entropy: cfg.Entropy, Cache: segs}
	m := manifest.New(objs, &manifest.Options{
		Turns: session.TurnReceipts{Store: objs},
		// A dead-looking row that a published commit named (its stamp was
		// skipped by a crash) is repaired from the head, never forgotten.
		Heads: session.HeadRefs{Store: objs},
		// DeleteSession forgets only the rows of the incarnation it ended.
		Incarnations: session.HeadRefs{Store: objs},
		// A turn's first attachment put announces the turn in the head, so
		// the commit of a turn that put none makes one request.
		Announcer: heads,
		// A commit names the rows this process put since it saw its base
		// head with no request; every removal of a row fences the head.
		HeadCache: heads,
		Fencer:    heads,
		Processes: cfg.Processes,
		Entropy:   cfg.Entropy,
		Now:       cfg.Now,
		Logger:    cfg.Logger,
		Observer:  cfg.Telemetry,
	})
	if cfg.Rand != nil {
		cfg.Rand = rand.New(&lockedSource{src: cfg.Rand})
	}
	return &Store{objs: objs, manifest: m, segs: segs, cfg: cfg}, nil
}

// lockedReader serialises the reads of an entropy source that the manifest
// and every handle of a Store share.
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

// lockedSource serialises the draws of a *rand.Rand that every handle of a
// Store shares.
type lockedSource struct {
	mu  sync.Mutex
	src *rand.Rand
}

func (l *lockedSource) Uint64() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.src.Uint64()
}

// Session returns a commit store bound to session id. The id must be 1-128
// printable ASCII bytes without '/', '\\', spaces or control characters,
// and not "." or ".." (session.ValidateSessionID); the error matches
// session.ErrInvalidID. Handles are cheap, but each caches the session's
// decoded state: keep one per session rather than one per call.
func (s *Store) Session(id string) (*session.Store, error) {
	if err := session.ValidateSessionID(id); err != nil {
		return nil, err
	}
	return session.New(session.Config{
		Store: s.objs, SessionID: id, Manifest: s.manifest, Hook: s.manifest,
		Now: s.cfg.Now, Logger: s.cfg.Logger, Tuning: s.cfg.Session,
		Segments: s.segs, Rand: s.cfg.Rand, Entropy: s.cfg.Entropy, Observer: s.cfg.Telemetry,
	})
}

// ListSessions yields the ids of the sessions that exist (have a head that
// is neither a deletion tombstone nor a sweeper's placeholder), in ascending
// order. It reads each session's head. A session whose head cannot be
// decoded is yielded with its error.
func (s *Store) ListSessions(ctx context.Context) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for sid, err := range session.ListSessionIDs(ctx, s.objs) {
			if err != nil {
				yield("", err)
				return
			}
			info, err := session.ReadHead(ctx, s.objs, sid)
			if err != nil {
				if !yield(sid, err) {
					return
				}
				continue
			}
			if info == nil || info.Deleted || info.Placeholder {
				continue
			}
			if !yield(sid, nil) {
				return
			}
		}
	}
}

// DeleteSession replaces the session's head by a tombstone (which stays:
// it carries the sweeper's fence), deletes the objects the head named and
// the attachment manifest rows of the incarnation it ended, so its
// attachments become collectable. A session re-created while the delete
// runs keeps every row it committed (manifest.Store.ForgetSession).
// Idempotent.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	h, err := s.Session(id)
	if err != nil {
		return err
	}
	if err := h.Delete(ctx); err != nil {
		return fmt.Errorf("stowage: delete session %q: %w", id, err)
	}
	if err := s.manifest.ForgetSession(ctx, id); err != nil {
		return fmt.Errorf("stowage: forget attachments of session %q: %w", id, err)
	}
	return nil
}

// Manifest returns the attachment manifest shared by the sessions.
func (s *Store) Manifest() *manifest.Store { return s.manifest }

// Objects returns the underlying object store.
func (s *Store) Objects() objstore.Store { return s.objs }

// Close waits for the attachment stamps of the commits the Store's
// handles returned (they run after the commit: manifest.Store.BeginStamps)
// and closes the object store if Open opened it.
func (s *Store) Close() error {
	s.manifest.WaitStamps()
	if s.owned {
		return s.objs.Close()
	}
	return nil
}
