package gc

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/stowage-dev/stowage/fence"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
)

// forgetDeadIntents lets the manifest forget dead intents by its
// owner-death rules before the roots are walked, so that the data they held
// is collectable in this same sweep. With a RowForgetter and HeadRefs the
// rows are forgotten per session through the head fence (sweepSession), and
// only upload intents here, if the manifest can forget them alone.
func (r *run) forgetDeadIntents(ctx context.Context) error {
	if r.DryRun || !r.ForgetDeadIntents || !r.shard.ownsFence(0) || r.MaxDeletes == NoDeletes {
		// The manifest's scan is global: one shard (the one owning fence
		// shard 0) runs it. With NoDeletes nothing is forgotten either.
		return nil
	}
	if err := r.checkLease(ctx); err != nil {
		return err
	}
	var (
		n    int
		err  error
		kind = KindRefRow
	)
	switch uf, ok := r.manifest.(UploadForgetter); {
	case r.rows == nil:
		n, err = r.manifest.ForgetAgedUncommitted(ctx, r.cutoff)
	case ok:
		kind = KindUploadIntent
		n, err = uf.ForgetAgedUploads(ctx, r.cutoff)
	default:
		return nil // upload intents stay until the manifest can forget them alone
	}
	r.tally.reclaimed(kind, int64(n), 0)
	if err != nil {
		// A lookup failure keeps the rows it could not judge: not fatal.
		r.log.WarnContext(ctx, "gc: forgetting dead intents was partial", "forgotten", n, "err", err)
		r.tally.failed(err, manifest.RefPrefix)
	}
	return nil
}

// walkRoots calls fn with every rooted data key of the shard and returns
// how many roots (of any shard) it saw. An intent or row that cannot be
// read is reported (once per sweep) and its implied data key, if any, is
// rooted; a row whose data is unknown sets rootsUnknown.
func (r *run) walkRoots(ctx context.Context, fn func(dataKey string)) (int64, error) {
	var n int64
	err := r.manifest.WalkRoots(ctx, func(root manifest.Root) error {
		n++
		if root.Unreadable != nil {
			r.unreadable(ctx, root.By, root.Unreadable)
			if root.DataKey == "" {
				r.rootsUnknown = true
				return nil
			}
		}
		if r.shard.ownsKey(root.DataKey) {
			fn(root.DataKey)
		}
		return nil
	})
	return n, err
}

// errRootsUnknown stops a round whose re-walk found a row it cannot read:
// the data it names cannot be told apart, so nothing condemned is deleted
// (the fences stay Marking and the next sweep releases them).
var errRootsUnknown = errors.New("a manifest row became unreadable during the sweep")

// candidate is a data object proposed for deletion.
type candidate struct {
	key  string
	size int64
}

// sweepAttachments reclaims the data objects of the shard that no root
// names, in rounds of at most RoundKeys keys (fence.MaxKeys per fence
// shard): memory is bounded by the round and the root set, never by the
// number of data objects.
func (r *run) sweepAttachments(ctx context.Context) error {
	exact := r.ExactKeys
	if exact <= 0 {
		exact = DefaultExactKeys
	}
	named := newKeySet(exact)
	roots, err := r.walkRoots(ctx, named.Add)
	if err != nil {
		return err
	}
	r.tally.roots(roots)
	if err := r.at("roots-walked"); err != nil {
		return err
	}
	if r.rootsUnknown {
		// A row that cannot be read may name any data: none is known to be
		// unrooted. The rest of the sweep goes on; the row is reported.
		r.log.WarnContext(ctx, "gc: attachment data left alone: a manifest row cannot be read")
		return nil
	}
	rs := &rounds{r: r, round: map[int][]candidate{}, deleted: newKeySet(exact), max: r.RoundKeys}
	if rs.max <= 0 {
		rs.max = DefaultRoundKeys
	}
	for info, err := range r.store.List(ctx, manifest.DataPrefix, nil) {
		if err != nil {
			return err
		}
		if err := r.propose(ctx, info, named, roots, rs); err != nil {
			return err
		}
	}
	if err := rs.flush(ctx); err != nil {
		return err
	}
	if rs.anyGone {
		return r.verifyDeleted(ctx, rs.deleted)
	}
	return nil
}

// rounds collects the candidates of one round and runs it when full.
type rounds struct {
	r       *run
	round   map[int][]candidate // by fence shard
	n, max  int                 // candidates in round; RoundKeys
	deleted *keySet             // data keys deleted by this sweep
	anyGone bool
}

// add adds c to the round of fence shard f, running the round once it is
// full.
func (rs *rounds) add(ctx context.Context, f int, c candidate) error {
	rs.round[f] = append(rs.round[f], c)
	if rs.n++; rs.n >= rs.max {
		return rs.flush(ctx)
	}
	return nil
}

// flush runs the collected round, if any.
func (rs *rounds) flush(ctx context.Context) error {
	if rs.n == 0 {
		return nil
	}
	n, err := rs.r.round(ctx, rs.round, rs.deleted)
	rs.anyGone = rs.anyGone || n > 0
	clear(rs.round)
	rs.n = 0
	return err
}

// propose judges one listed data object: a key of the shard that no root
// names and that is past grace joins the round, within the budget.
func (r *run) propose(ctx context.Context, info objstore.ObjectInfo, named *keySet, roots int64, rs *rounds) error {
	if !r.shard.ownsKey(info.Key) {
		return nil
	}
	r.scanned(1)
	switch _, ok := manifest.ParseDataKey(info.Key); {
	case !ok:
		r.tally.unknown(info.Key)
		return nil
	case named.Has(info.Key):
		r.tally.skip(SkipReferenced, 1)
		return nil
	case !r.aged(info.ModTime):
		r.tally.skip(SkipYoung, 1)
		return nil
	case roots == 0 && !r.AllowEmptyRoots:
		return fmt.Errorf("%w: data %q is unreferenced and there are no rows or upload intents", ErrEmptyRoots, info.Key)
	}
	f := fence.ShardOf(info.Key)
	if len(rs.round[f]) >= fence.MaxKeys || r.take(1) == 0 {
		r.tally.deferred(1)
		return nil
	}
	return rs.add(ctx, f, candidate{key: info.Key, size: info.Size})
}

// round condemns the candidates, re-walks the roots, arms what is still
// unnamed and unrevoked, deletes it and releases the fences. It returns how
// many keys it deleted.
func (r *run) round(ctx context.Context, round map[int][]candidate, deleted *keySet) (int, error) {
	total := 0
	for _, cs := range round {
		total += len(cs)
	}
	if r.DryRun {
		for _, cs := range round {
			for _, c := range cs {
				r.tally.reclaimed(KindAttachmentData, 1, c.size)
			}
		}
		return 0, nil
	}
	shards := make([]int, 0, len(round))
	for f := range round {
		shards = append(shards, f)
	}
	slices.Sort(shards)
	sizes := map[string]int64{}
	sweeps, total, err := r.condemn(ctx, round, shards, sizes, total)
	if err != nil || len(sweeps) == 0 {
		return 0, err
	}
	// 2. Re-walk the roots, after every condemnation is visible.
	renamed := map[string]bool{}
	if _, err := r.walkRoots(ctx, func(k string) {
		if _, ok := sizes[k]; ok {
			renamed[k] = true
		}
	}); err != nil || r.rootsUnknown {
		r.refund(total)
		if err == nil {
			err = errRootsUnknown
		}
		return 0, err // the fences stay Marking; the next sweep releases them
	}
	if err := r.at("rechecked"); err != nil {
		return 0, err
	}
	return r.armAndDelete(ctx, shards, sweeps, renamed, sizes, deleted)
}

// condemn (step 1 of a round) condemns each shard's candidates on its idle
// fence, recording their sizes. A shard whose fence is busy or changed is
// deferred to a later sweep and its keys refunded. It returns the
// condemned fences and how many keys are still in the round.
func (r *run) condemn(ctx context.Context, round map[int][]candidate, shards []int, sizes map[string]int64, total int) (map[int]fence.Snapshot, int, error) {
	sweeps := map[int]fence.Snapshot{}
	for _, f := range shards {
		cs := round[f]
		if err := r.checkLease(ctx); err != nil {
			r.refund(total)
			return nil, 0, err
		}
		snap, ok, err := r.idleFence(ctx, f)
		if err != nil {
			r.refund(total)
			return nil, 0, err
		}
		keys := make([]string, len(cs))
		for i, c := range cs {
			keys[i] = c.key
			sizes[c.key] = c.size
		}
		if ok {
			snap, err = r.fence.Condemn(ctx, snap, r.lease.Holder(), keys)
		}
		if !ok || err != nil {
			if err != nil && !errors.Is(err, objstore.ErrPreconditionFailed) && !errors.Is(err, fence.ErrBusy) {
				r.refund(total)
				return nil, 0, err
			}
			// Held by a live sweeper or changed under us: next time.
			r.tally.deferred(int64(len(cs)))
			r.refund(len(cs))
			total -= len(cs)
			continue
		}
		sweeps[f] = snap
		if err := r.at("condemned"); err != nil {
			return nil, 0, err
		}
	}
	return sweeps, total, nil
}

// armAndDelete (steps 3-5 of a round) arms, shard by shard, the condemned
// keys the re-walk did not find named and no writer revoked, deletes them
// and releases the fence. It returns how many keys it deleted.
func (r *run) armAndDelete(ctx context.Context, shards []int, sweeps map[int]fence.Snapshot, renamed map[string]bool, sizes map[string]int64, deleted *keySet) (int, error) {
	gone := 0
	for _, f := range shards {
		m, ok := sweeps[f]
		if !ok {
			continue
		}
		if err := r.checkLease(ctx); err != nil {
			return gone, err
		}
		armed, err := r.fence.Arm(ctx, m, func(k string) bool { return !renamed[k] })
		if errors.Is(err, fence.ErrSuperseded) {
			r.log.WarnContext(ctx, "gc: fence taken over before arming", "fence_shard", f, "err", err)
			r.tally.deferred(int64(len(m.State.Keys)))
			r.refund(len(m.State.Keys))
			continue
		}
		if err != nil {
			return gone, err
		}
		spared := len(m.State.Keys) - len(armed.State.Keys)
		r.tally.skip(SkipRevoked, int64(spared))
		r.refund(spared)
		if armed.State.Phase == fence.Idle {
			continue
		}
		if err := r.at("armed"); err != nil {
			return gone, err
		}
		n, err := r.finishDeleting(ctx, armed, sizes, false)
		gone += n
		for _, k := range armed.State.Keys {
			deleted.Add(k)
		}
		if err != nil {
			return gone, err
		}
	}
	return gone, nil
}

// finishDeleting deletes the armed keys of a Deleting fence and releases it.
// If some deletions fail, the fence stays Deleting (writers keep getting
// ErrReclaimed for those keys) and the next sweep finishes it. It counts
// the deleted keys with their sizes; with onlyPresent, only the keys in
// sizes (those that still existed).
func (r *run) finishDeleting(ctx context.Context, d fence.Snapshot, sizes map[string]int64, onlyPresent bool) (int, error) {
	del, err := r.deleteKeys(ctx, d.State.Keys)
	notGone := del.notGone()
	var bytes int64
	n := 0
	for _, k := range d.State.Keys {
		if _, ok := sizes[k]; slices.Contains(notGone, k) || onlyPresent && !ok {
			continue
		}
		n++
		bytes += sizes[k]
	}
	r.tally.reclaimed(KindAttachmentData, int64(n), bytes)
	r.tally.deferred(int64(len(del.undone)))
	if len(del.failed) > 0 || err != nil {
		r.tally.failed(del.cause, del.failed...)
		return n, err
	}
	if err := r.at("deleted"); err != nil {
		return n, err
	}
	if _, err := r.fence.Release(ctx, d); err != nil {
		if errors.Is(err, fence.ErrSuperseded) {
			return n, nil // whoever took over releases it
		}
		return n, err
	}
	return n, nil
}

// verifyDeleted walks the roots once more and reports data keys this sweep
// deleted that a root names now: writers that lost the race with the fence
// (their Protect fails with ErrReclaimed and they upload again).
func (r *run) verifyDeleted(ctx context.Context, deleted *keySet) error {
	seen := map[string]bool{}
	_, err := r.walkRoots(ctx, func(k string) {
		if !seen[k] && deleted.Has(k) {
			if _, err := r.store.Head(ctx, k); errors.Is(err, objstore.ErrNotExist) {
				seen[k] = true
				r.tally.deletedWhileReferenced(k)
				r.log.WarnContext(ctx, "gc: deleted data is referenced again; its writer must upload again", "key", k)
			}
		}
	})
	return err
}
