package gc

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/stowage-dev/stowage/objstore"
)

// Requests in flight in one stage of a round. The requests of a stage touch
// different objects (one fence object each, or disjoint batches of data
// keys) and no stage starts before the one it depends on has ended, so the
// order within a stage is free: see each.
const (
	// fenceFanOut bounds the fence reads and writes of a stage in flight.
	fenceFanOut = 8
	// deleteFanOut bounds the DeleteMany batches in flight. Two keep the
	// server busy while the next batch is sent; more did not delete 10,000
	// keys faster on MinIO or versitygw sharing two cores with the client.
	deleteFanOut = 2
)

// each calls fn(i) for every i in [0, n), at most limit at a time, and
// returns when every call has returned. fn records its own outcome (each
// call owns index i of the caller's result slices); nothing is cancelled
// when one call fails, so that a stage's outcome is known for every object
// it touched.
//
// This is only ever used for the requests of one stage, which are
// independent: each touches its own object, none reads what another writes,
// and the caller acts on their outcomes only after all of them returned.
// So any interleaving of them is equivalent, for the store, to some serial
// order; Sweeper.order (the simulation) runs them serially in a seeded
// random order, so that a crash mid-stage leaves any subset of them done.
func (r *run) each(n, limit int, fn func(i int)) {
	if r.order != nil {
		for _, i := range r.order(n) {
			fn(i)
		}
		return
	}
	if n == 1 || limit <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, limit)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(i)
		})
	}
	wg.Wait()
}

// deleteBatches deletes keys like deleteKeys, in batches of at most
// objstore.MaxDeleteBatch keys of which up to deleteFanOut are in flight.
// The returned deletion covers every key; the error is the first of the
// batches' (a cancelled context).
func (r *run) deleteBatches(ctx context.Context, keys []string) (deletion, error) {
	batches := slices.Collect(slices.Chunk(keys, objstore.MaxDeleteBatch))
	dels := make([]deletion, len(batches))
	errs := make([]error, len(batches))
	r.each(len(batches), deleteFanOut, func(i int) { dels[i], errs[i] = r.deleteKeys(ctx, batches[i]) })
	var (
		d   deletion
		err error
	)
	for i, b := range dels {
		d.failed = append(d.failed, b.failed...)
		d.undone = append(d.undone, b.undone...)
		d.cause = cmp.Or(b.cause, d.cause)
		err = cmp.Or(err, errs[i])
	}
	return d, err
}
