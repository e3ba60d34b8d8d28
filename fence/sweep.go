package fence

import (
	"context"
	"errors"
	"slices"

	"github.com/stowage-dev/stowage/objstore"
)

// Condemn moves an Idle shard to Marking with keys as its candidates, held by
// h: step 1 of a sweep. prev is the sweeper's latest read of the shard. keys
// must all belong to prev.Shard; at most MaxKeys. The returned Snapshot is
// the sweep's handle for Arm and Release.
//
// It fails with ErrBusy if prev is not Idle and with an error matching
// objstore.ErrPreconditionFailed if the fence changed since prev (re-read and
// decide again).
func (f *Fence) Condemn(ctx context.Context, prev Snapshot, h Holder, keys []string) (Snapshot, error) {
	if prev.State.Phase != Idle {
		return Snapshot{}, errorf("condemn shard %d: %s in epoch %d: %w", prev.Shard, prev.State.Phase, prev.State.Epoch, ErrBusy)
	}
	if h.IsZero() {
		return Snapshot{}, errorf("condemn shard %d: no holder: %w", prev.Shard, objstore.ErrInvalidArgument)
	}
	set := slices.Clone(keys)
	slices.Sort(set)
	set = slices.Compact(set)
	if len(set) == 0 || len(set) > MaxKeys {
		return Snapshot{}, errorf("condemn shard %d: %d keys (want 1 to %d): %w", prev.Shard, len(set), MaxKeys, objstore.ErrInvalidArgument)
	}
	for _, k := range set {
		if ShardOf(k) != prev.Shard {
			return Snapshot{}, errorf("condemn shard %d: key %q belongs to shard %d: %w", prev.Shard, k, ShardOf(k), objstore.ErrInvalidArgument)
		}
	}
	next := State{Epoch: prev.State.Epoch, Phase: Marking, Holder: h, Keys: set}
	snap, err := f.write(ctx, prev, next)
	if err != nil {
		return Snapshot{}, errorf("condemn shard %d: %w", prev.Shard, err)
	}
	return snap, nil
}

// Arm moves the sweep's Marking epoch to Deleting: step 3. The armed keys are
// the candidates that were not revoked and for which keep returns true (keep
// returns false for candidates the sweeper found named again). Arm re-reads
// and retries when writers revoked concurrently. It returns ErrSuperseded if
// the fence no longer holds sweep's epoch in Marking under the same holder.
//
// A Deleting epoch with no keys is released at once: the returned Snapshot is
// then Idle.
func (f *Fence) Arm(ctx context.Context, sweep Snapshot, keep func(key string) bool) (Snapshot, error) {
	return f.update(ctx, sweep, Marking, "arm", func(cur State) State {
		var armed []string
		for _, k := range cur.Keys {
			if !contains(cur.Revoked, k) && keep(k) {
				armed = append(armed, k)
			}
		}
		if len(armed) == 0 {
			return State{Epoch: cur.Epoch + 1, Phase: Idle}
		}
		return State{Epoch: cur.Epoch, Phase: Deleting, Holder: cur.Holder, Keys: armed}
	})
}

// Release ends the sweep's epoch: step 5 (Deleting -> Idle) or an abandoned
// Marking (Marking -> Idle; nothing was armed). The epoch advances. The caller
// of a Deleting release must have confirmed that every armed key is deleted:
// Protect trusts that an Idle fence has no deletes outstanding.
func (f *Fence) Release(ctx context.Context, sweep Snapshot) (Snapshot, error) {
	return f.update(ctx, sweep, sweep.State.Phase, "release", func(cur State) State {
		return State{Epoch: cur.Epoch + 1, Phase: Idle}
	})
}

// TakeOver makes h the holder of a shard found Marking or Deleting under
// another holder that the caller has established is gone (its lease expired
// or was superseded). The phase, epoch and keys are kept: the new holder then
// releases a Marking or finishes and releases a Deleting. Clocks may be wrong
// here without harm: a holder that is in fact alive finds ErrSuperseded on
// its next step, and its late deletes can only hit armed keys.
func (f *Fence) TakeOver(ctx context.Context, prev Snapshot, h Holder) (Snapshot, error) {
	if prev.State.Phase == Idle {
		return Snapshot{}, errorf("take over shard %d: idle: %w", prev.Shard, ErrSuperseded)
	}
	if h.IsZero() {
		return Snapshot{}, errorf("take over shard %d: no holder: %w", prev.Shard, objstore.ErrInvalidArgument)
	}
	next := prev.State
	next.Holder = h
	snap, err := f.write(ctx, prev, next)
	if err != nil {
		return Snapshot{}, errorf("take over shard %d: %w", prev.Shard, err)
	}
	return snap, nil
}

// update applies fn to the current state of sweep's shard as long as it is
// still sweep's epoch, in phase, under sweep's holder; it re-reads and retries
// when the compare-and-swap loses to a writer's revocation.
func (f *Fence) update(ctx context.Context, sweep Snapshot, phase Phase, op string, fn func(State) State) (Snapshot, error) {
	cur := sweep
	for attempt := 0; ; attempt++ {
		st := cur.State
		if st.Phase != phase || st.Epoch != sweep.State.Epoch || st.Holder != sweep.State.Holder {
			return Snapshot{}, errorf("%s shard %d epoch %d: found %s epoch %d held by %q: %w",
				op, sweep.Shard, sweep.State.Epoch, st.Phase, st.Epoch, st.Holder.ID, ErrSuperseded)
		}
		snap, err := f.write(ctx, cur, fn(st))
		if err == nil {
			return snap, nil
		}
		if !errors.Is(err, objstore.ErrPreconditionFailed) && !errors.Is(err, objstore.ErrOutcomeUnknown) {
			return Snapshot{}, errorf("%s shard %d: %w", op, sweep.Shard, err)
		}
		if attempt >= f.maxAttempts {
			return Snapshot{}, errorf("%s shard %d: %w", op, sweep.Shard, ErrContended)
		}
		next, rerr := f.read(ctx, sweep.Shard)
		if rerr != nil {
			return Snapshot{}, errorf("%s shard %d: %w", op, sweep.Shard, rerr)
		}
		if errors.Is(err, objstore.ErrOutcomeUnknown) && next.ETag != cur.ETag {
			// Our write may have landed. If the fence now reads exactly as
			// we wrote it, it did (states never repeat: epochs only grow).
			if want := fn(st); sameState(next.State, want) {
				return next, nil
			}
		}
		cur = next
	}
}

func sameState(a, b State) bool {
	return a.Epoch == b.Epoch && a.Phase == b.Phase && a.Holder == b.Holder &&
		slices.Equal(a.Keys, b.Keys) && slices.Equal(a.Revoked, b.Revoked)
}
