package gc

import (
	"context"
	"errors"
	"fmt"

	"github.com/stowage-dev/stowage/fence"
	"github.com/stowage-dev/stowage/objstore"
)

// resumeFences finishes what an earlier sweep of this shard left in its
// fences: a Marking is released (nothing was armed), a Deleting has its
// armed keys deleted and is released. This is what makes a sweep that
// crashed anywhere resumable. The fences are read with up to fenceFanOut
// reads in flight; the Idle ones are remembered as the bases of this
// sweep's first condemnations.
func (r *run) resumeFences(ctx context.Context) error {
	if r.DryRun {
		return nil
	}
	shards := r.shard.fenceShards()
	snaps := make([]fence.Snapshot, len(shards))
	errs := make([]error, len(shards))
	r.each(len(shards), fenceFanOut, func(i int) { snaps[i], errs[i] = r.fence.Load(ctx, shards[i]) })
	for i, f := range shards {
		if errs[i] != nil {
			return errs[i]
		}
		snap, ok := snaps[i], snaps[i].State.Phase == fence.Idle
		if !ok {
			var err error
			if snap, ok, err = r.idleFence(ctx, f); err != nil {
				return err
			}
		}
		if ok {
			r.idle[f] = snap
		}
	}
	return nil
}

// idleFence returns fence shard f Idle, after taking over and finishing a
// sweep whose holder is gone: a stale token of this shard's lease, or a
// holder whose lease (read by this sweeper's clock) is released, expired or
// re-acquired. ok is false when a live sweeper holds the shard. Clocks only
// decide when to take over: a holder that is in fact alive finds
// fence.ErrSuperseded at its next step and nothing it did is unsafe.
func (r *run) idleFence(ctx context.Context, f int) (snap fence.Snapshot, ok bool, err error) {
	mine := r.lease.Holder()
	for attempt := 0; attempt < 8; attempt++ {
		snap, err = r.fence.Load(ctx, f)
		if err != nil {
			return snap, false, err
		}
		if snap.State.Phase == fence.Idle {
			return snap, true, nil
		}
		h := snap.State.Holder
		switch {
		case h == mine:
			// Ours: a step whose outcome was unknown landed after all.
		case h.Lease == mine.Lease && h.Token > mine.Token:
			return snap, false, fmt.Errorf("fence shard %d held by token %d > ours %d: %w", f, h.Token, mine.Token, ErrLeaseLost)
		case h.Lease == mine.Lease:
			// An earlier holder of our own lease: gone, since we hold it.
		default:
			live, lerr := holderLive(ctx, r.store, h, r.now())
			if lerr != nil {
				r.log.WarnContext(ctx, "gc: cannot read a fence holder's lease; leaving the shard", "fence_shard", f, "holder", h.ID, "err", lerr)
				return snap, false, nil
			}
			if live {
				r.log.InfoContext(ctx, "gc: fence shard held by a live sweeper", "fence_shard", f, "holder", h.ID, "lease", h.Lease)
				return snap, false, nil
			}
		}
		if h != mine {
			if err := r.checkLease(ctx); err != nil {
				return snap, false, err
			}
			snap, err = r.fence.TakeOver(ctx, snap, mine)
			if errors.Is(err, objstore.ErrPreconditionFailed) || errors.Is(err, objstore.ErrOutcomeUnknown) {
				continue
			}
			if err != nil {
				return snap, false, err
			}
			r.log.InfoContext(ctx, "gc: took over a fence shard", "fence_shard", f, "from", h.ID, "phase", snap.State.Phase, "epoch", snap.State.Epoch)
		}
		if err := r.finish(ctx, snap); err != nil && !errors.Is(err, fence.ErrSuperseded) {
			return snap, false, err
		}
	}
	return snap, false, nil
}

// finish completes a fence epoch this sweeper holds.
func (r *run) finish(ctx context.Context, snap fence.Snapshot) error {
	if err := r.checkLease(ctx); err != nil {
		return err
	}
	switch snap.State.Phase {
	case fence.Marking:
		_, err := r.fence.Release(ctx, snap)
		return err
	case fence.Deleting:
		// An earlier sweep may have deleted (and counted) some armed keys
		// before it stopped: only the keys still present count here, so
		// that counts do not double across a resumed run.
		present, err := r.present(ctx, snap.State.Keys)
		if err != nil {
			return err
		}
		_, err = r.deleteArmed(ctx, []fence.Snapshot{snap}, present, true)
		return err
	}
	return nil
}

// present returns the sizes of the keys that exist (a HEAD each: only
// resumed fences need it, at most fence.MaxKeys keys).
func (r *run) present(ctx context.Context, keys []string) (map[string]int64, error) {
	sizes := make(map[string]int64, len(keys))
	for _, k := range keys {
		info, err := r.store.Head(ctx, k)
		switch {
		case errors.Is(err, objstore.ErrNotExist):
		case err != nil:
			return nil, err
		default:
			sizes[k] = info.Size
		}
	}
	return sizes, nil
}
