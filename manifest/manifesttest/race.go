package manifesttest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/internal/fscktest"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
)

// race is a scenario run under every seed: setup prepares the manifest
// (unscheduled), actors run interleaved, check judges the outcome.
type race struct {
	setup  func(e *Env) any
	actors func(e *Env, state any) map[string]func(context.Context) error
	check  func(e *Env, state any, errs map[string]error) error
}

// runRace runs r under h.RaceSeeds seeds, each on a fresh prefix of one
// store, and fails with the seed and the schedule of the first violation.
func runRace(t *testing.T, h Harness, wrap func(objstore.Store) objstore.Store, r race) {
	seeds := h.RaceSeeds
	if seeds <= 0 {
		seeds = 48
	}
	base := wrap(h.New(t))
	for seed := range uint64(seeds) {
		sched := newScheduler(seed)
		prefixed := objstore.WithPrefix(base, fmt.Sprintf("seed-%d/", seed))
		obj := &steppedStore{Store: prefixed, sched: sched}
		e := NewEnv(t, obj, &manifest.Options{Concurrency: 1, RowCache: -1})
		state := r.setup(e)
		errs := sched.run(e.Ctx, r.actors(e, state))
		if err := r.check(e, state, errs); err != nil {
			t.Fatalf("seed %d: %v\nschedule: %s", seed, err, strings.Join(sched.trace, " "))
		}
		fscktest.Verify(t, prefixed, e.Clock.Now)
	}
}

// testForgetRace interleaves ForgetAgedUncommitted with a RecordIntent that
// refreshes the row it judges, one store operation at a time. Whatever the
// order, the refresh must stand: the row exists afterwards with the fresh
// intent time. (A forget that deletes without checking that the row is
// still the one it judged loses the refresh in some orders.)
func testForgetRace(t *testing.T, h Harness, wrap func(objstore.Store) objstore.Store) {
	id := ID("raced")
	type times struct{ cutoff, fresh time.Time }
	runRace(t, h, wrap, race{
		setup: func(e *Env) any {
			e.Intent("s1", id, none) // ownerless, about to age
			e.Intent("s2", id, none) // a bystander row, forgotten in every order
			return times{cutoff: e.Clock.Advance(time.Minute), fresh: e.Clock.Advance(time.Minute)}
		},
		actors: func(e *Env, st any) map[string]func(context.Context) error {
			tm := st.(times)
			return map[string]func(context.Context) error{
				"forget": func(ctx context.Context) error {
					_, err := e.M.ForgetAgedUncommitted(ctx, tm.cutoff)
					return err
				},
				"refresh": func(ctx context.Context) error {
					return e.M.RecordIntent(ctx, manifest.Intent{AttachmentID: id, SessionID: "s1", IntentAt: tm.fresh})
				},
			}
		},
		check: func(e *Env, st any, errs map[string]error) error {
			if err := errors.Join(errs["forget"], errs["refresh"]); err != nil {
				return err
			}
			row, ok, err := e.M.Row(e.Ctx, "s1", id)
			if err != nil || !ok || !row.IntentAt.Equal(st.(times).fresh) {
				return fmt.Errorf("refresh lost: row %+v, ok %v, err %v", row, ok, err)
			}
			if e.Holds("s2", id) {
				return errors.New("the aged bystander row survived")
			}
			return nil
		},
	})
}

// errUnbacked: PrepareCommit left the id out (its row was forgotten first).
var errUnbacked = errors.New("unbacked")

// testCommitRace interleaves ForgetAgedUncommitted with a commit that names
// an aged, ownerless (so dead) intent: PrepareCommit, then the head PUT
// (modelled as "published"), then FinishCommit. Whatever the order, a
// commit that PrepareCommit let through must find its row and stamp it;
// otherwise PrepareCommit reports the id unbacked and the commit names
// nothing.
func testCommitRace(t *testing.T, h Harness, wrap func(objstore.Store) objstore.Store) {
	id := ID("adopted")
	runRace(t, h, wrap, race{
		setup: func(e *Env) any {
			e.WithData("s1", id, none, "adopted")
			cutoff := e.Clock.Advance(time.Minute)
			e.Clock.Advance(time.Second) // the commit runs after the sweep took its cutoff
			return cutoff
		},
		actors: func(e *Env, st any) map[string]func(context.Context) error {
			return map[string]func(context.Context) error{
				"forget": func(ctx context.Context) error {
					_, err := e.M.ForgetAgedUncommitted(ctx, st.(time.Time))
					return err
				},
				"commit": func(ctx context.Context) error {
					prep, err := e.M.PrepareCommit(ctx, "s1", 1, "", []string{id})
					if err != nil {
						return err
					}
					if slices.Contains(prep.Unbacked, id) {
						return errUnbacked // the commit records nothing for it
					}
					return e.M.FinishCommit(ctx, "s1", prep.Stamp, e.Clock.Now())
				},
			}
		},
		check: func(e *Env, _ any, errs map[string]error) error {
			if errs["forget"] != nil {
				return errs["forget"]
			}
			if err := errs["commit"]; err != nil {
				if errors.Is(err, errUnbacked) && !e.Holds("s1", id) {
					return nil // unbacked: the commit names nothing
				}
				return err
			}
			row, ok, err := e.M.Row(e.Ctx, "s1", id)
			if err != nil || !ok || !row.Committed() {
				return fmt.Errorf("published commit lost its row: row %+v, ok %v, err %v", row, ok, err)
			}
			return nil
		},
	})
}

// scheduler runs actors (goroutines) one store operation at a time: every
// operation of an actor parks until all actors are parked or done, and then
// the seeded generator picks which parked operation runs next. The actors'
// own code runs between operations; the order of operations, and so the
// whole run, is a function of the seed.
type scheduler struct {
	mu      sync.Mutex
	rng     *rand.Rand
	running int
	parked  []*waiter
	trace   []string
}

type waiter struct {
	actor, op string
	release   chan struct{}
}

type actorKey struct{}

func newScheduler(seed uint64) *scheduler {
	return &scheduler{rng: rand.New(rand.NewPCG(seed, 0x5eed))}
}

// run starts the actors and returns their errors once all are done.
func (s *scheduler) run(ctx context.Context, actors map[string]func(context.Context) error) map[string]error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs = map[string]error{}
	)
	s.mu.Lock()
	s.running = len(actors)
	s.mu.Unlock()
	for name, fn := range actors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := fn(context.WithValue(ctx, actorKey{}, name))
			mu.Lock()
			errs[name] = err
			mu.Unlock()
			s.mu.Lock()
			s.running--
			s.dispatch()
			s.mu.Unlock()
		}()
	}
	wg.Wait()
	return errs
}

// wait parks the calling actor's operation op until it is picked. Calls
// outside an actor (setup, checks) run at once.
func (s *scheduler) wait(ctx context.Context, op string) {
	name, ok := ctx.Value(actorKey{}).(string)
	if !ok {
		return
	}
	w := &waiter{actor: name, op: op, release: make(chan struct{})}
	s.mu.Lock()
	s.parked = append(s.parked, w)
	s.running--
	s.dispatch()
	s.mu.Unlock()
	<-w.release
}

func (s *scheduler) dispatch() {
	if s.running > 0 || len(s.parked) == 0 {
		return
	}
	slices.SortFunc(s.parked, func(a, b *waiter) int { return strings.Compare(a.actor, b.actor) })
	i := s.rng.IntN(len(s.parked))
	w := s.parked[i]
	s.parked = slices.Delete(s.parked, i, i+1)
	s.running++
	s.trace = append(s.trace, w.actor+":"+w.op)
	close(w.release)
}

// steppedStore parks every operation in the scheduler before running it.
type steppedStore struct {
	objstore.Store
	sched *scheduler
}

func (s *steppedStore) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	s.sched.wait(ctx, "put("+tail(key)+")")
	return s.Store.Put(ctx, key, data, opts)
}

func (s *steppedStore) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	s.sched.wait(ctx, "get("+tail(key)+")")
	return s.Store.Get(ctx, key, opts)
}

func (s *steppedStore) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	s.sched.wait(ctx, "head("+tail(key)+")")
	return s.Store.Head(ctx, key)
}

func (s *steppedStore) Delete(ctx context.Context, key string, opts *objstore.DeleteOptions) error {
	s.sched.wait(ctx, "delete("+tail(key)+")")
	return s.Store.Delete(ctx, key, opts)
}

func (s *steppedStore) List(ctx context.Context, prefix string, opts *objstore.ListOptions) iter.Seq2[objstore.ObjectInfo, error] {
	return func(yield func(objstore.ObjectInfo, error) bool) {
		s.sched.wait(ctx, "list("+tail(prefix)+")")
		for info, err := range s.Store.List(ctx, prefix, opts) {
			if !yield(info, err) {
				return
			}
		}
	}
}

// tail shortens a key for the trace.
func tail(key string) string {
	parts := strings.Split(strings.TrimSuffix(key, "/"), "/")
	for i, p := range parts {
		if len(p) > 8 {
			parts[i] = p[:8]
		}
	}
	return strings.Join(parts, "/")
}
