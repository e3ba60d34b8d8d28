package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/oklog/ulid/v2"
	"golang.org/x/sync/errgroup"

	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/manifest"
)

// sweep measures orphans reclaimed per second: a sweep of Orphans orphaned
// attachment data objects (what killed uploads leave) against listing and
// batch-deleting as many keys with the SDK.
func (r *run) sweep(ctx context.Context) error {
	st, objs, err := r.stowage(ctx, "sweep")
	if err != nil {
		return err
	}
	n := r.cfg.Orphans
	r.progress("sweep: writing %d orphans and %d baseline objects", n, n)
	body := []byte("orphan")
	if err := fill(ctx, n, func(ctx context.Context, i int) error {
		_, err := objs.Put(ctx, manifest.DataKey(ulid.Make().String()), body, nil)
		return err
	}); err != nil {
		return err
	}
	if err := fill(ctx, n, func(ctx context.Context, i int) error {
		_, err := r.raw.Put(ctx, fmt.Sprintf("orphans/%08d", i), body)
		return err
	}); err != nil {
		return err
	}
	// An hour later with a minute of grace: every orphan is aged.
	later := func() time.Time { return time.Now().Add(time.Hour) }
	sw := &gc.Sweeper{Store: objs, Manifest: st.Manifest(), Clock: later, Grace: time.Minute,
		MaxDeletes: -1, AllowEmptyRoots: true, Logger: r.cfg.Logger}
	r.progress("sweep: sweeping")
	start := time.Now()
	rep, err := sw.Run(ctx)
	sTime := time.Since(start)
	if err != nil {
		return err
	}
	if got := rep.Reclaimed[gc.KindAttachmentData]; got != int64(n) {
		return fmt.Errorf("the sweep reclaimed %d orphans of %d (%+v)", got, n, rep)
	}
	start = time.Now()
	deleted, err := r.raw.ListDelete(ctx, "orphans/")
	bTime := time.Since(start)
	if err != nil {
		return err
	}
	if deleted != n {
		return fmt.Errorf("the baseline deleted %d keys of %d", deleted, n)
	}
	r.add(Figure{Name: Sweep, Unit: "orphans/s", Stowage: perSecond(n, sTime), Baseline: perSecond(n, bTime),
		BaselineOp: "ListObjectsV2 + DeleteObjects", Check: RatioAtLeast, Target: 0.8,
		Note: fmt.Sprintf("%d orphaned data objects, deletion fence included", n)})
	return nil
}

// fill runs fn(i) for i in [0, n), 32 at a time.
func fill(ctx context.Context, n int, fn func(context.Context, int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i := range n {
		g.Go(func() error { return fn(gctx, i) })
	}
	return g.Wait()
}
