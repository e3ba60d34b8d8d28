package gc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"time"

	"github.com/stowage-dev/stowage/fence"
	"github.com/stowage-dev/stowage/internal/errwrap"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/observe"
	"github.com/stowage-dev/stowage/session"
)

// Errors of a sweep (besides ErrLeaseHeld and ErrLeaseLost).
var (
	// ErrEmptyRoots is returned, before anything is deleted, when the sweep
	// finds blobs but no root at all (no manifest row, upload intent or
	// session head) and AllowEmptyRoots is not set: an empty root set is far
	// more often a misconfiguration (wrong prefix, missing permission, a
	// half-restored bucket) than an empty deployment.
	ErrEmptyRoots = errors.New("gc: root set is empty but blobs exist")
	// ErrIncomplete is returned when the sweep finished but some deletions
	// failed (Report.Failed); the next sweep retries them.
	ErrIncomplete = errors.New("gc: sweep incomplete")
)

// Defaults.
const (
	// DefaultGrace is the grace period of the sweeper command.
	DefaultGrace = 24 * time.Hour
	// DefaultMaxDeletes bounds the deletions of one sweep.
	DefaultMaxDeletes = 100_000
	// NoDeletes as MaxDeletes makes a sweep delete nothing: everything it
	// could reclaim is Deferred (the sweeper's --max-deletes 0).
	NoDeletes = math.MinInt
	// DefaultLeaseTTL is the sweeper lease's time to live.
	DefaultLeaseTTL = 5 * time.Minute
	// DefaultRoundKeys bounds the data keys condemned in one round.
	DefaultRoundKeys = 50_000
	// DefaultExactKeys bounds the root keys held exactly in memory before
	// the root set becomes a Bloom filter.
	DefaultExactKeys = 1 << 20
)

// Manifest is what the sweeper needs from the attachment manifest;
// *manifest.Store implements it.
type Manifest interface {
	// ForgetAgedUncommitted deletes dead intents (docs/contract.md, "Owner death").
	ForgetAgedUncommitted(ctx context.Context, cutoff time.Time) (int, error)
	// WalkRoots calls fn for every data key an upload intent or row names.
	WalkRoots(ctx context.Context, fn func(manifest.Root) error) error
}

// Sweeper reclaims what nothing names any more: attachment data no ref or
// live upload intent roots (through the deletion fence of package fence),
// dead intents (through the manifest's owner-death rules), incomplete
// multipart uploads, and session objects no head names. Keys outside
// stowage's layout are reported, never deleted. See the package doc for why
// none of it rests on clocks.
//
// The zero value of every optional field is safe. A Sweeper is used for one
// Run at a time.
type Sweeper struct {
	// Store is the bucket (or prefixed view) to sweep. Required.
	Store objstore.Store
	// Clock is the sweeper's clock; nil means time.Now.
	Clock func() time.Time
	// Grace: nothing younger than this is proposed for deletion. It decides
	// liveness (how long a writer may stall before its work is redone),
	// never safety. Negative counts as zero.
	Grace time.Duration
	// DryRun reports what would be reclaimed and writes nothing (no lease,
	// no fence, no deletes). With dead rows forgotten through the head
	// fence (ForgetDeadIntents, HeadRefs and a RowForgetter, as the sweeper
	// command runs), it counts what a sweep at the same time would reclaim,
	// kind by kind: the dead rows and upload intents the sweep forgets (by
	// the manifest's own judgement, DeadRows and DeadUploads) and the data
	// and multipart uploads that forgetting frees, walking the roots as if
	// they were forgotten. When ForgetAgedUncommitted forgets them instead,
	// it counts no forgotten intent, nor what that frees.
	DryRun bool
	// MaxDeletes bounds deletions (and aborted uploads) per run; 0 means
	// DefaultMaxDeletes, NoDeletes means none, other negative values mean
	// unbounded. The rest is Deferred.
	MaxDeletes int
	// Shard is the part of the bucket this sweeper owns (zero: all of it).
	Shard Shard
	// Logger receives progress and anomalies; nil discards.
	Logger *slog.Logger
	// AllowEmptyRoots lets a sweep proceed with an empty root set.
	AllowEmptyRoots bool

	// ForgetDeadIntents forgets dead intents (rows and upload intents) by
	// the manifest's owner-death rules before the roots are walked: rows
	// through each session's head fence when HeadRefs is set (the default
	// with the session package's heads), else by ForgetAgedUncommitted,
	// which loses the row of a commit that stalls longer than Grace between
	// PrepareCommit and its head PUT (docs/protocol.md, "Sweeping", W2).
	// Off by default.
	ForgetDeadIntents bool
	// Manifest supplies roots and forgets dead intents; nil means
	// manifest.New(Store) with turn-owner death read from session heads
	// (session.TurnReceipts), stamps repaired from session heads
	// (session.HeadRefs) and no process registry.
	Manifest Manifest
	// Heads decodes and fences session heads; nil means SessionHeads{}
	// (package session's heads, fenced by session.SweepHead).
	Heads Heads
	// HeadRefs tells which attachments a session's published heads
	// committed. With it (and a Manifest that also implements RowForgetter),
	// ForgetDeadIntents forgets each session's dead rows through its head
	// fence, without clocks; without it the manifest's ForgetAgedUncommitted
	// does, which is safe only for commits that do not stall longer than the
	// grace period between PrepareCommit and their head PUT, and which keeps
	// a row put by a process adopting without a request (manifest.Row.Fence)
	// unless the manifest has a Fencer (manifest.ErrFenceRequired). Nil means
	// session.HeadRefs on Store when Heads is nil too (the heads are the
	// session package's); with a custom Heads, nil means no HeadRefs.
	HeadRefs manifest.HeadRefs
	// Holder names this sweeper in its lease; empty means host:pid.
	Holder string
	// LeaseTTL is the lease's time to live; 0 means DefaultLeaseTTL.
	LeaseTTL time.Duration
	// Progress, if set, is called with the report so far every few thousand
	// objects.
	Progress func(Report)
	// RoundKeys bounds data keys condemned per round; 0 = DefaultRoundKeys.
	RoundKeys int
	// ExactKeys bounds roots kept exactly; 0 = DefaultExactKeys.
	ExactKeys int
	// Observer, if set, receives the run as one observe.Sweep operation
	// (package telemetry: a span and stowage_sweeps_total); nil observes
	// nothing.
	Observer observe.Observer

	// hook, if set, is called at named points of a sweep; an error stops the
	// sweep there as if the process had died (the simulation's crash
	// points).
	hook func(point string) error
	// order, if set, makes each stage of a round send its requests one at
	// a time in the order order(n) returns (a permutation of [0, n))
	// instead of concurrently: the simulation, whose actors have one
	// request in flight at a time, passes a seeded permutation.
	order func(n int) []int
}

// run is the state of one Run.
type run struct {
	*Sweeper
	store    objstore.Store
	log      *slog.Logger
	now      func() time.Time
	cutoff   time.Time
	shard    Shard
	fence    *fence.Fence
	manifest Manifest
	heads    Heads
	rows     RowForgetter // nil: dead rows go through ForgetAgedUncommitted
	headRefs manifest.HeadRefs
	lease    *Lease
	tally    *tally
	budget   int // deletions left; < 0 unbounded
	lastProg int64
	crashed  bool // a hook stopped the sweep: behave as if the process died

	// idle holds, per fence shard, this sweep's latest read or write of the
	// fence when it was Idle: the compare-and-swap base of the next Condemn,
	// which spares a read (a stale base only fails the compare-and-swap).
	idle map[int]fence.Snapshot

	// rootsUnknown: a manifest row could not be read, so the data it
	// names is unknown and no attachment data is deleted.
	rootsUnknown   bool
	seenUnreadable map[string]bool // reported once per sweep

	// forgotten holds, in a dry run, the keys of the upload intents and
	// rows it counted as forgotten: the sweep would have deleted them
	// before walking the roots (forgetInDryRun).
	forgotten map[string]bool
}

// Run performs one sweep of the shard and returns its report. The error is
// nil, ErrIncomplete (some deletions failed; the error wraps their causes,
// e.g. a failing process registry, for errors.Is and errors.As), or the reason the sweep
// stopped: ErrLeaseHeld, ErrLeaseLost, ErrEmptyRoots, or a storage error.
// Whatever stopped it, the next Run resumes safely. Objects it cannot read
// and keys outside stowage's layout do not stop it: they are reported
// (Report.Unreadable, Report.Unknown) and Report.NeedsAttention is set.
func (s *Sweeper) Run(ctx context.Context) (rep Report, err error) {
	ctx, op := observe.Start(ctx, s.Observer, observe.Sweep, "")
	defer func() { op.End(err) }()
	r, err := s.start()
	if err != nil {
		return Report{}, err
	}
	err = r.sweep(ctx)
	rep = r.tally.snapshot()
	rep.Finished = r.now()
	rep.NeedsAttention = rep.Unreadable > 0 || rep.Skipped[SkipUnknown] > 0
	if err == nil {
		// The causes (e.g. an *objstore.AccessError naming the IAM action)
		// tell the operator what to fix.
		err = r.tally.failure()
	}
	return rep, err
}

func (s *Sweeper) start() (*run, error) {
	if s.Store == nil {
		return nil, errorf("sweeper has no store: %w", objstore.ErrInvalidArgument)
	}
	if err := s.Shard.Validate(); err != nil {
		return nil, err
	}
	r := &run{Sweeper: s, store: s.Store, log: s.Logger, now: s.Clock, shard: s.Shard.norm(),
		manifest: s.Manifest, heads: s.Heads, budget: s.MaxDeletes, idle: map[int]fence.Snapshot{}}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.manifest == nil {
		r.manifest = manifest.New(s.Store, &manifest.Options{Logger: r.log, Now: r.now,
			Turns: session.TurnReceipts{Store: s.Store}, Heads: session.HeadRefs{Store: s.Store}})
	}
	r.headRefs = s.HeadRefs
	if r.heads == nil {
		r.heads = SessionHeads{}
		if r.headRefs == nil {
			r.headRefs = session.HeadRefs{Store: s.Store}
		}
	}
	if rf, ok := r.manifest.(RowForgetter); ok && r.headRefs != nil {
		r.rows = rf
	}
	switch r.budget {
	case 0:
		r.budget = DefaultMaxDeletes
	case NoDeletes:
		r.budget = 0
	}
	r.fence = fence.New(s.Store, &fence.Options{Logger: r.log})
	r.cutoff = manifest.Cutoff(r.now(), s.Grace)
	r.tally = newTally(r.shard, s.DryRun, r.now())
	return r, nil
}

func (r *run) sweep(ctx context.Context) error {
	r.log.InfoContext(ctx, "gc: sweep starting", "shard", r.shard.Label(), "dry_run", r.DryRun,
		"grace", r.Grace.String(), "cutoff", r.cutoff)
	if !r.DryRun {
		holder := r.Holder
		if holder == "" {
			host, _ := os.Hostname()
			holder = fmt.Sprintf("%s:%d", host, os.Getpid())
		}
		ttl := r.LeaseTTL
		if ttl <= 0 {
			ttl = DefaultLeaseTTL
		}
		l, err := AcquireLease(ctx, r.store, LeaseKey(r.shard), holder, ttl, r.now)
		if err != nil {
			return err
		}
		r.lease = l
		defer func() {
			if r.crashed {
				return
			}
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := l.Release(rctx); err != nil {
				r.log.WarnContext(ctx, "gc: releasing the lease failed; it expires by itself", "err", err)
			}
		}()
	}
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"resume", r.resumeFences},
		{"probe", r.probeRoots},
		{"intents", r.forgetDeadIntents},
		{"sessions", r.sweepSessions},
		{"attachments", r.sweepAttachments},
		{"multipart", r.sweepMultipart},
		{"layout", r.reportUnknownTopLevel},
	}
	for _, st := range steps {
		if err := r.at(st.name); err != nil {
			return err
		}
		if err := st.fn(ctx); err != nil {
			return errorf("%s: %w", st.name, err)
		}
	}
	rep := r.tally.snapshot()
	r.log.InfoContext(ctx, "gc: sweep done", "scanned", rep.Scanned, "reclaimed", rep.Total(),
		"bytes", rep.BytesReclaimed, "deferred", rep.Deferred, "failed", rep.Failed)
	return nil
}

// unreadable reports, once per sweep, an object of stowage's layout that
// exists but cannot be read. It is never deleted; the sweep goes on.
func (r *run) unreadable(ctx context.Context, key string, err error) {
	if r.seenUnreadable == nil {
		r.seenUnreadable = map[string]bool{}
	}
	if r.seenUnreadable[key] {
		return
	}
	r.seenUnreadable[key] = true
	r.tally.unreadable(key)
	r.log.WarnContext(ctx, "gc: object cannot be read; left alone, needs a look", "key", key, "err", err)
}

// at is a named point of the sweep: the simulation's crash points.
func (r *run) at(point string) error {
	if r.hook == nil {
		return nil
	}
	err := r.hook(point)
	r.crashed = r.crashed || err != nil
	return err
}

// aged reports whether an object last written at t is past the grace
// period. A zero time (unknown) counts as aged, as in lash.
func (r *run) aged(t time.Time) bool { return !t.After(r.cutoff) }

// take reserves n deletions from the budget and returns how many it got.
func (r *run) take(n int) int {
	if r.budget < 0 {
		return n
	}
	got := min(n, r.budget)
	r.budget -= got
	return got
}

// refund returns unused reservations to the budget.
func (r *run) refund(n int) {
	if r.budget >= 0 {
		r.budget += n
	}
}

// checkLease renews the lease when due; it fails with ErrLeaseLost once
// another sweeper took the shard over.
func (r *run) checkLease(ctx context.Context) error {
	if r.lease == nil {
		return nil
	}
	return r.lease.RenewIfDue(ctx)
}

// scanned counts n listed objects and reports progress now and then.
func (r *run) scanned(n int64) {
	r.tally.scanned(n)
	if r.Progress == nil {
		return
	}
	rep := r.tally.snapshot()
	if rep.Scanned-r.lastProg >= 5000 {
		r.lastProg = rep.Scanned
		r.Progress(rep)
	}
}

// deletion is the outcome of deleteKeys: the keys that could not be
// deleted (with the last error that refused them) and the keys left
// untried because the sweep was cancelled (neither deleted nor failed: the
// next sweep deletes them).
type deletion struct {
	failed []string
	cause  error
	undone []string
}

// notGone returns the keys that may still exist: failed or undone.
func (d deletion) notGone() []string { return append(slices.Clone(d.failed), d.undone...) }

// deleteKeys deletes keys (at most MaxDeleteBatch at a time), retrying the
// keys that failed a few times. A cancelled context stops it: what was not
// deleted yet is undone, not failed.
func (r *run) deleteKeys(ctx context.Context, keys []string) (deletion, error) {
	var d deletion
	for len(keys) > 0 {
		n := min(len(keys), objstore.MaxDeleteBatch)
		batch := keys[:n]
		keys = keys[n:]
		for attempt := 0; len(batch) > 0; attempt++ {
			if err := ctx.Err(); err != nil {
				d.undone = append(d.undone, append(batch, keys...)...)
				return d, err
			}
			err := r.store.DeleteMany(ctx, batch)
			if err == nil {
				batch = nil
				break
			}
			if ctx.Err() != nil {
				// Cancelled in flight: the outcome is unknown, the next
				// sweep deletes whatever is left.
				d.undone = append(d.undone, append(batch, keys...)...)
				return d, ctx.Err()
			}
			var dm *objstore.DeleteManyError
			if !errors.As(err, &dm) {
				if attempt < 2 && objstore.IsRetryable(err) {
					continue
				}
				d.failed, d.cause = append(d.failed, batch...), err
				r.log.WarnContext(ctx, "gc: delete batch failed", "keys", len(batch), "err", err)
				break
			}
			var again []string
			for _, k := range batch {
				if kerr, bad := dm.Failed[k]; bad {
					again = append(again, k)
					d.cause = kerr
				}
			}
			batch = again
			if attempt >= 2 {
				d.failed = append(d.failed, batch...)
				r.log.WarnContext(ctx, "gc: deletes failed", "keys", len(batch), "err", err)
				break
			}
		}
	}
	return d, nil
}

// errorf is fmt.Errorf for package gc: the message starts with "gc: "
// once, however many of the package's own errors it wraps.
func errorf(format string, args ...any) error { return errwrap.Errorf("gc", format, args...) }
