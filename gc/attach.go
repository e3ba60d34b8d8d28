package gc

import (
	"cmp"
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
// only upload intents here, if the manifest can forget them alone. A dry
// run counts instead what this would forget (countDeadUploads).
func (r *run) forgetDeadIntents(ctx context.Context) error {
	if !r.ForgetDeadIntents || !r.shard.ownsFence(0) || r.MaxDeletes == NoDeletes {
		// The manifest's scan is global: one shard (the one owning fence
		// shard 0) runs it. With NoDeletes nothing is forgotten either.
		return nil
	}
	if r.DryRun {
		return r.countDeadUploads(ctx)
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
	r.partialForget(ctx, n, err)
	return nil
}

// partialForget reports an error of forgetting dead intents after n were
// forgotten: a lookup failure keeps the intents it could not judge, which
// is not fatal.
func (r *run) partialForget(ctx context.Context, n int, err error) {
	if err != nil {
		r.log.WarnContext(ctx, "gc: forgetting dead intents was partial", "forgotten", n, "err", err)
		r.tally.failed(err, manifest.RefPrefix)
	}
}

// countDeadUploads is forgetDeadIntents of a dry run: it forgets nothing,
// counts the upload intents the sweep would forget (the manifest's
// DeadUploads, the judgement of ForgetAgedUploads) and holds their keys as
// forgotten, so that the roots walked after leave them out, as the sweep's
// would. A manifest that forgets rows and intents only together
// (ForgetAgedUncommitted) has no read-only count: nothing is counted.
func (r *run) countDeadUploads(ctx context.Context) error {
	_, forgets := r.manifest.(UploadForgetter)
	dl, lists := r.manifest.(DeadUploadLister)
	if r.rows == nil || !forgets || !lists {
		return nil
	}
	dead, err := dl.DeadUploads(ctx, r.cutoff)
	for _, u := range dead {
		r.forgetInDryRun(manifest.UploadKey(u.ID))
	}
	r.tally.reclaimed(KindUploadIntent, int64(len(dead)), 0)
	r.partialForget(ctx, len(dead), err)
	return nil
}

// forgetInDryRun holds key, an upload intent or row a dry run counted as
// forgotten, as gone for the rest of the dry run: the roots it names are
// not walked (walkRoots) and a multipart upload under its data key is not
// its writer's any more (intentNames), as in the sweep, which forgot it.
func (r *run) forgetInDryRun(key string) {
	if !r.DryRun {
		return // a sweep walks the roots that are left: it forgot what it did
	}
	if r.forgotten == nil {
		r.forgotten = map[string]bool{}
	}
	r.forgotten[key] = true
}

// walkRoots calls fn with every rooted data key of the shard and returns
// how many roots (of any shard) it saw. An intent or row that cannot be
// read is reported (once per sweep) and its implied data key, if any, is
// rooted; a row whose data is unknown sets rootsUnknown. In a dry run, the
// intents and rows it counted as forgotten root nothing (forgetInDryRun).
func (r *run) walkRoots(ctx context.Context, fn func(dataKey string)) (int64, error) {
	var n int64
	err := r.manifest.WalkRoots(ctx, func(root manifest.Root) error {
		if r.forgotten[root.By] {
			return nil // a dry run's: the sweep would have forgotten it by now
		}
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
// fence, recording their sizes, with up to fenceFanOut compare-and-swaps in
// flight; it returns once every one of them has returned, so the re-walk
// that follows starts after every condemnation is visible. The base of
// each compare-and-swap is the fence as this sweep last saw it Idle
// (resumeFences, or its own release of a previous round), else as
// idleFence reads it. A shard whose fence is busy or changed is deferred to
// a later sweep and its keys refunded. It returns the condemned fences and
// how many keys are still in the round.
func (r *run) condemn(ctx context.Context, round map[int][]candidate, shards []int, sizes map[string]int64, total int) (map[int]fence.Snapshot, int, error) {
	if err := r.checkLease(ctx); err != nil {
		r.refund(total)
		return nil, 0, err
	}
	prev, ready, err := r.idleBases(ctx, shards)
	if err != nil {
		r.refund(total)
		return nil, 0, err
	}
	keys := make([][]string, len(shards))
	for i, f := range shards {
		for _, c := range round[f] {
			keys[i] = append(keys[i], c.key)
			sizes[c.key] = c.size
		}
	}
	holder := r.lease.Holder()
	got := make([]fence.Snapshot, len(shards))
	errs := make([]error, len(shards))
	r.each(len(shards), fenceFanOut, func(i int) {
		if ready[i] {
			got[i], errs[i] = r.fence.Condemn(ctx, prev[i], holder, keys[i])
		}
	})
	sweeps := map[int]fence.Snapshot{}
	var hard error
	for i, f := range shards {
		delete(r.idle, f) // condemned, or not Idle as we knew it
		switch err := errs[i]; {
		case ready[i] && err == nil:
			sweeps[f] = got[i]
		case !ready[i] || errors.Is(err, objstore.ErrPreconditionFailed) || errors.Is(err, fence.ErrBusy):
			// Held by a live sweeper or changed under us: next time.
			r.tally.deferred(int64(len(keys[i])))
			r.refund(len(keys[i]))
			total -= len(keys[i])
		default:
			hard = cmp.Or(hard, err)
		}
	}
	if hard != nil {
		r.refund(total)
		return nil, 0, hard // what was condemned stays Marking; the next sweep releases it
	}
	if len(sweeps) > 0 {
		if err := r.at("condemned"); err != nil {
			return nil, 0, err
		}
	}
	return sweeps, total, nil
}

// idleBases returns, for each of shards, the Idle fence a Condemn starts
// from (ready) or that the shard is held by a live sweeper (not ready).
func (r *run) idleBases(ctx context.Context, shards []int) ([]fence.Snapshot, []bool, error) {
	prev := make([]fence.Snapshot, len(shards))
	ready := make([]bool, len(shards))
	for i, f := range shards {
		snap, ok := r.idle[f]
		if !ok {
			var err error
			if snap, ok, err = r.idleFence(ctx, f); err != nil {
				return nil, nil, err
			}
		}
		prev[i], ready[i] = snap, ok
	}
	return prev, ready, nil
}

// armAndDelete (steps 3-5 of a round) arms, with up to fenceFanOut
// compare-and-swaps in flight, the condemned keys the re-walk did not find
// named and no writer revoked, then deletes what every fence armed and
// releases each fence whose armed keys are all gone (deleteArmed). A fence
// that cannot be armed is left Marking (the next sweep releases it) and the
// others go on. It returns how many keys it deleted.
func (r *run) armAndDelete(ctx context.Context, shards []int, sweeps map[int]fence.Snapshot, renamed map[string]bool, sizes map[string]int64, deleted *keySet) (int, error) {
	if err := r.checkLease(ctx); err != nil {
		return 0, err
	}
	var marks []fence.Snapshot
	for _, f := range shards {
		if m, ok := sweeps[f]; ok {
			marks = append(marks, m)
		}
	}
	armed := make([]fence.Snapshot, len(marks))
	errs := make([]error, len(marks))
	r.each(len(marks), fenceFanOut, func(i int) {
		armed[i], errs[i] = r.fence.Arm(ctx, marks[i], func(k string) bool { return !renamed[k] })
	})
	var (
		ds   []fence.Snapshot
		hard error
	)
	for i, m := range marks {
		switch err := errs[i]; {
		case errors.Is(err, fence.ErrSuperseded):
			r.log.WarnContext(ctx, "gc: fence taken over before arming", "fence_shard", m.Shard, "err", err)
			r.tally.deferred(int64(len(m.State.Keys)))
			r.refund(len(m.State.Keys))
			continue
		case err != nil:
			hard = cmp.Or(hard, err)
			continue
		}
		spared := len(m.State.Keys) - len(armed[i].State.Keys)
		r.tally.skip(SkipRevoked, int64(spared))
		r.refund(spared)
		if armed[i].State.Phase == fence.Idle {
			r.idle[m.Shard] = armed[i]
			continue
		}
		ds = append(ds, armed[i])
	}
	if len(ds) == 0 {
		return 0, hard
	}
	if err := r.at("armed"); err != nil {
		return 0, err
	}
	n, err := r.deleteArmed(ctx, ds, sizes, false)
	for _, d := range ds {
		for _, k := range d.State.Keys {
			deleted.Add(k)
		}
	}
	return n, cmp.Or(hard, err)
}

// deleteArmed deletes the armed keys of the Deleting fences ds (batches
// may mix fences: deleteBatches) and then releases each fence whose armed
// keys were all deleted: a fence is released only once every key it armed
// is confirmed gone, as Release requires. A fence with keys that failed
// stays Deleting (writers keep getting ErrReclaimed for those keys) and
// the next sweep finishes it; with a cancelled context none is released.
// It counts the deleted keys with their sizes; with onlyPresent, only the
// keys in sizes (those that still existed).
func (r *run) deleteArmed(ctx context.Context, ds []fence.Snapshot, sizes map[string]int64, onlyPresent bool) (int, error) {
	var keys []string
	for _, d := range ds {
		keys = append(keys, d.State.Keys...)
	}
	del, err := r.deleteBatches(ctx, keys)
	notGone := map[string]bool{}
	for _, k := range del.notGone() {
		notGone[k] = true
	}
	var bytes int64
	n := 0
	for _, k := range keys {
		if _, ok := sizes[k]; notGone[k] || onlyPresent && !ok {
			continue
		}
		n++
		bytes += sizes[k]
	}
	r.tally.reclaimed(KindAttachmentData, int64(n), bytes)
	r.tally.deferred(int64(len(del.undone)))
	if len(del.failed) > 0 || err != nil {
		r.tally.failed(del.cause, del.failed...)
	}
	if err != nil {
		return n, err
	}
	var done []fence.Snapshot
	for _, d := range ds {
		if !slices.ContainsFunc(d.State.Keys, func(k string) bool { return notGone[k] }) {
			done = append(done, d)
		}
	}
	if len(done) == 0 {
		return n, nil
	}
	if err := r.at("deleted"); err != nil {
		return n, err
	}
	return n, r.release(ctx, done)
}

// release releases the fences ds, every key of which is deleted, with up to
// fenceFanOut compare-and-swaps in flight, and remembers them Idle. A
// fence someone took over is theirs to release.
func (r *run) release(ctx context.Context, ds []fence.Snapshot) error {
	idle := make([]fence.Snapshot, len(ds))
	errs := make([]error, len(ds))
	r.each(len(ds), fenceFanOut, func(i int) { idle[i], errs[i] = r.fence.Release(ctx, ds[i]) })
	var first error
	for i, d := range ds {
		switch err := errs[i]; {
		case err == nil:
			r.idle[d.Shard] = idle[i]
		case !errors.Is(err, fence.ErrSuperseded):
			first = cmp.Or(first, err)
		}
	}
	return first
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
