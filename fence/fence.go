package fence

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/stowage-dev/stowage/internal/errwrap"
	"github.com/stowage-dev/stowage/objstore"
)

// Errors.
var (
	// ErrReclaimed is returned by Protect when the data key was deleted or is
	// being deleted by a sweep. The caller must upload the bytes again under a
	// NEW key (keys are never reused), point its ref at it and Protect that.
	ErrReclaimed = errors.New("fence: data reclaimed")
	// ErrContended is returned when a compare-and-swap on a fence object lost
	// Options.MaxAttempts times in a row. Retryable.
	ErrContended = errors.New("fence: contended")
	// ErrBusy is returned by Condemn when the shard is not Idle.
	ErrBusy = errors.New("fence: shard busy")
	// ErrSuperseded is returned to a sweeper whose epoch is no longer the
	// fence's (another sweep took the shard over or released it). The sweeper
	// must stop acting on that epoch; nothing it did is unsafe.
	ErrSuperseded = errors.New("fence: sweep superseded")
)

// Options configure a Fence. A nil *Options is the zero value.
type Options struct {
	// MaxAttempts bounds the compare-and-swap attempts of one call that keeps
	// losing to concurrent writers; 0 means 32. Every lost attempt means
	// another party's update succeeded, so progress is global.
	MaxAttempts int
	// Logger receives debug records; nil discards them.
	Logger *slog.Logger
}

// Fence is both halves of the deletion fence over one store. It is safe for
// concurrent use.
type Fence struct {
	store       objstore.Store
	maxAttempts int
	log         *slog.Logger

	mu    sync.Mutex
	cache map[int]Snapshot
}

// Snapshot is a fence state read at some moment, with the ETag it had.
type Snapshot struct {
	Shard int
	State State
	// ETag of the fence object; empty if it did not exist (Idle, epoch 0).
	ETag string
}

// New returns a Fence over store.
func New(store objstore.Store, opts *Options) *Fence {
	if opts == nil {
		opts = &Options{}
	}
	f := &Fence{store: store, maxAttempts: opts.MaxAttempts, log: opts.Logger, cache: map[int]Snapshot{}}
	if f.maxAttempts <= 0 {
		f.maxAttempts = 32
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	return f
}

// Protect must be called after the caller's ref naming dataKey is durable and
// before relying on dataKey's bytes. nil: dataKey is live and no sweep will
// delete it while that ref exists. An error matching ErrReclaimed: dataKey
// was or is being deleted; the caller uploads again under a NEW key. Any
// other error leaves the question open (retry Protect).
//
// Cost: one conditional GET of the shard's fence (a 304 when it has not
// changed since this Fence last read it) and one HEAD of dataKey; plus one
// compare-and-swap in the rare case that dataKey is condemned.
func (f *Fence) Protect(ctx context.Context, dataKey string) error {
	if err := objstore.ValidateKey(dataKey); err != nil {
		return errorf("protect: %w", err)
	}
	shard := ShardOf(dataKey)
	for attempt := 0; ; attempt++ {
		snap, err := f.read(ctx, shard)
		if err != nil {
			return errorf("protect %q: %w", dataKey, err)
		}
		if snap.State.Armed(dataKey) {
			return errorf("protect %q: armed in epoch %d: %w", dataKey, snap.State.Epoch, ErrReclaimed)
		}
		if !snap.State.Condemned(dataKey) {
			break
		}
		if attempt >= f.maxAttempts {
			return errorf("protect %q: revoke: %w", dataKey, ErrContended)
		}
		next := snap.State
		next.Revoked = insert(snap.State.Revoked, dataKey)
		_, err = f.write(ctx, snap, next)
		switch {
		case err == nil:
			f.log.DebugContext(ctx, "fence: revoked", "key", dataKey, "shard", shard, "epoch", next.Epoch)
		case errors.Is(err, objstore.ErrPreconditionFailed), errors.Is(err, objstore.ErrOutcomeUnknown):
			// Lost to another update, or unsure: the re-read decides.
		default:
			return errorf("protect %q: revoke: %w", dataKey, err)
		}
	}
	if _, err := f.store.Head(ctx, dataKey); err != nil {
		if errors.Is(err, objstore.ErrNotExist) {
			return errorf("protect %q: data is gone: %w", dataKey, ErrReclaimed)
		}
		return errorf("protect %q: %w", dataKey, err)
	}
	return nil
}

// Load returns the current state of shard's fence. It always asks the store
// (revalidating this Fence's cached copy).
func (f *Fence) Load(ctx context.Context, shard int) (Snapshot, error) {
	if shard < 0 || shard >= Shards {
		return Snapshot{}, errorf("shard %d out of range: %w", shard, objstore.ErrInvalidArgument)
	}
	snap, err := f.read(ctx, shard)
	if err != nil {
		return Snapshot{}, errorf("load shard %d: %w", shard, err)
	}
	return snap, nil
}

// read returns the fence of shard, revalidating the cached copy with a
// conditional GET.
func (f *Fence) read(ctx context.Context, shard int) (Snapshot, error) {
	f.mu.Lock()
	cached, ok := f.cache[shard]
	f.mu.Unlock()
	var opts *objstore.GetOptions
	if ok && cached.ETag != "" {
		opts = &objstore.GetOptions{IfNoneMatch: cached.ETag}
	}
	body, info, err := f.store.Get(ctx, Key(shard), opts)
	switch {
	case errors.Is(err, objstore.ErrNotModified) && ok:
		return cached, nil
	case errors.Is(err, objstore.ErrNotExist):
		snap := Snapshot{Shard: shard, State: State{Phase: Idle}}
		f.remember(snap)
		return snap, nil
	case err != nil:
		return Snapshot{}, err
	}
	data, err := io.ReadAll(body)
	body.Close()
	if err != nil {
		return Snapshot{}, err
	}
	st, err := decodeState(data)
	if err != nil {
		return Snapshot{}, err
	}
	snap := Snapshot{Shard: shard, State: st, ETag: info.ETag}
	f.remember(snap)
	return snap, nil
}

func (f *Fence) remember(snap Snapshot) {
	f.mu.Lock()
	f.cache[snap.Shard] = snap
	f.mu.Unlock()
}

func (f *Fence) forget(shard int) {
	f.mu.Lock()
	delete(f.cache, shard)
	f.mu.Unlock()
}

// write replaces the fence prev was read from with next, on condition that
// it is unchanged since (create-only if it did not exist). A failed condition
// matches objstore.ErrPreconditionFailed.
func (f *Fence) write(ctx context.Context, prev Snapshot, next State) (Snapshot, error) {
	data, err := encodeState(next)
	if err != nil {
		return Snapshot{}, err
	}
	opts := &objstore.PutOptions{IfMatch: prev.ETag, ContentType: "application/json"}
	if prev.ETag == "" {
		opts = &objstore.PutOptions{IfNoneMatch: true, ContentType: "application/json"}
	}
	info, err := f.store.Put(ctx, Key(prev.Shard), data, opts)
	if err != nil {
		f.forget(prev.Shard)
		if errors.Is(err, objstore.ErrConflict) {
			// A 409 means a concurrent request interfered: re-read and retry.
			return Snapshot{}, fmt.Errorf("%w: %w", objstore.ErrPreconditionFailed, err)
		}
		return Snapshot{}, err
	}
	snap := Snapshot{Shard: prev.Shard, State: next, ETag: info.ETag}
	f.remember(snap)
	return snap, nil
}

// errorf is fmt.Errorf for package fence: the message starts with "fence: "
// once, however many of the package's own errors it wraps.
func errorf(format string, args ...any) error { return errwrap.Errorf("fence", format, args...) }
