package gc

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/objstore/retry"
)

// The simulation's scheduler. Actors (writers and sweepers) are real code
// running in goroutines; each sees the shared memstore through its own
// simStore, whose every request parks until the scheduler grants it. The
// scheduler waits until every live actor is parked, then picks one request
// with its seeded RNG and decides its fate (normal, transient failure, lost
// response, delayed delivery, crash), so a seed fixes the whole run.

// traceLen is how many steps a run remembers for its failure report.
var traceLen = 40

// errCrashed is what a crashed actor's requests return.
var errCrashed = errors.New("sim: actor crashed")

// fault is the scheduler's decision for one request.
type fault int

const (
	faultNone        fault = iota
	faultUnavailable       // not applied; ErrUnavailable
	faultLost              // applied; the response is lost (ErrOutcomeUnknown)
	faultDelay             // not applied now: delivered later; ErrOutcomeUnknown now
	faultCrashBefore       // the actor dies before the request leaves
	faultCrashAfter        // the request is applied, then the actor dies
)

// call is a parked request.
type call struct {
	actor    *actor
	op, key  string
	mutating bool
	resume   chan fault
}

// event is an actor parking at a request, or finishing.
type event struct {
	actor *actor
	call  *call
	done  bool
	err   error
}

type actorState int

const (
	stateRunning actorState = iota
	stateParked
	stateDone
)

// actor is one writer or sweeper.
type actor struct {
	id          int
	name        string
	sweeper     bool
	state       actorState
	pending     *call
	crashed     atomic.Bool
	ctx         context.Context
	cancel      context.CancelFunc
	pausedUntil time.Time
	body        func(ctx context.Context, a *actor) error
	store       objstore.Store // the actor's view (set when it starts)
	sim         *simStore
	err         error
}

// delayed is a request that will be delivered late.
type delayed struct {
	due   int
	apply func()
}

// sim is one seeded run.
type sim struct {
	seed                   uint64
	rng                    *rand.Rand
	now                    time.Time
	step                   int
	mem                    *memstore.Store
	actors                 []*actor
	events                 chan event
	running                int
	late                   []delayed
	dirty                  bool
	limbo                  chan struct{} // closed at the end: releases crashed uploads
	crashes, lateDelivered int
	trace                  []string // last steps, for failure reports
	p                      simParams
}

// simParams are the fault rates and sizes of a run.
type simParams struct {
	crashWriter, crashSweeper float64
	unavailable, lost, delay  float64
	pause                     float64
	stall                     float64 // after a write: the worst moment to stall
	stallFence                float64 // after a sweeper's fence write
	jump                      float64
	maxPause                  time.Duration
}

func (s *sim) clock() time.Time { return s.now }

func (s *sim) addActor(name string, sweeper bool, body func(ctx context.Context, a *actor) error) *actor {
	ctx, cancel := context.WithCancel(context.Background())
	a := &actor{id: len(s.actors), name: name, sweeper: sweeper, ctx: ctx, cancel: cancel, body: body}
	s.actors = append(s.actors, a)
	return a
}

func (s *sim) tracef(format string, args ...any) {
	line := fmt.Sprintf("step %d t=%s: ", s.step, s.now.Format("15:04:05")) + fmt.Sprintf(format, args...)
	if len(s.trace) == traceLen {
		s.trace = s.trace[1:]
	}
	s.trace = append(s.trace, line)
}

// run starts every actor and schedules them until all are done; check is
// called whenever the store changed. It returns the first invariant
// violation.
func (s *sim) run(check func() error) error {
	s.events = make(chan event)
	for _, a := range s.actors {
		// One at a time, each up to its first request: actors touch the
		// shared RNG before they park.
		s.quiesce()
		s.running++
		go func() {
			var err error
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("panic: %v", r)
				}
				s.events <- event{actor: a, done: true, err: err}
			}()
			// Every actor sees the store through the retry decorator, as
			// openurl composes it: transient failures are retried and lost
			// responses of conditional writes resolved by reading back.
			a.sim = &simStore{sim: s, a: a}
			st := retry.New(a.sim, retry.Options{
				MaxAttempts: 4,
				Sleep:       func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
				Rand:        rand.New(rand.NewPCG(s.seed, uint64(a.id))),
			})
			a.store = st
			err = a.body(a.ctx, a)
		}()
	}
	for {
		s.quiesce()
		if s.dirty {
			s.dirty = false
			if err := check(); err != nil {
				return err
			}
		}
		parked := s.parked()
		if len(parked) == 0 {
			return nil
		}
		s.step++
		s.deliverLate(false)
		s.advance()
		var ready []*actor
		for _, a := range parked {
			if !a.pausedUntil.After(s.now) {
				ready = append(ready, a)
			}
		}
		if len(ready) == 0 {
			// Everyone left is paused: time passes until the first wakes.
			next := parked[0].pausedUntil
			for _, a := range parked {
				if a.pausedUntil.Before(next) {
					next = a.pausedUntil
				}
			}
			s.now = next
			continue
		}
		a := ready[s.rng.IntN(len(ready))]
		if s.rng.Float64() < s.p.pause {
			a.pausedUntil = s.now.Add(time.Duration(s.rng.Int64N(int64(s.p.maxPause))))
			s.tracef("%s paused until %s", a.name, a.pausedUntil.Format("15:04:05"))
			continue
		}
		s.grant(a)
	}
}

// quiesce waits until no actor is running.
func (s *sim) quiesce() {
	for s.running > 0 {
		var ev event
		select {
		case ev = <-s.events:
		case <-time.After(time.Minute):
			panic(fmt.Sprintf("sim: seed %d stuck at step %d:\n%s", s.seed, s.step, strings.Join(s.trace, "\n")))
		}
		a := ev.actor
		if a.state != stateRunning {
			panic(fmt.Sprintf("sim: event from %s in state %d (concurrent requests in one actor?)", a.name, a.state))
		}
		s.running--
		if ev.done {
			a.state, a.err = stateDone, ev.err
			a.cancel()
			continue
		}
		a.state, a.pending = stateParked, ev.call
	}
}

func (s *sim) parked() []*actor {
	var out []*actor
	for _, a := range s.actors {
		if a.state == stateParked {
			out = append(out, a)
		}
	}
	return out
}

// advance moves the clock: a little every step, sometimes a lot.
func (s *sim) advance() {
	s.now = s.now.Add(time.Duration(s.rng.Int64N(int64(3 * time.Second))))
	if s.rng.Float64() < s.p.jump {
		s.now = s.now.Add(10*time.Minute + time.Duration(s.rng.Int64N(int64(2*time.Hour))))
	}
}

// grant lets a's parked request proceed with a fault chosen by the RNG.
func (s *sim) grant(a *actor) {
	c := a.pending
	a.pending, a.state = nil, stateRunning
	s.running++
	f := faultNone
	crash := s.p.crashWriter
	if a.sweeper {
		crash = s.p.crashSweeper
	}
	switch x := s.rng.Float64(); {
	case x < crash:
		f = faultCrashBefore
		if c.mutating && s.rng.IntN(2) == 0 {
			f = faultCrashAfter
		}
	case x < crash+s.p.unavailable:
		f = faultUnavailable
	case c.mutating && x < crash+s.p.unavailable+s.p.lost:
		f = faultLost
	case c.mutating && x < crash+s.p.unavailable+s.p.lost+s.p.delay:
		f = faultDelay
	}
	if f == faultCrashBefore || f == faultCrashAfter {
		s.crashes++
		a.crashed.Store(true)
		a.cancel()
	} else if c.mutating && s.rng.Float64() < s.stallChance(a, c) {
		// Stall right after a write, past the grace period (writers) or
		// the lease (sweepers): where a stall hurts most.
		a.pausedUntil = s.now.Add(30*time.Minute + time.Duration(s.rng.Int64N(int64(3*time.Hour))))
		s.tracef("%s will stall until %s", a.name, a.pausedUntil.Format("15:04:05"))
	}
	if f != faultNone {
		s.tracef("%s %s %s: fault %d", a.name, c.op, c.key, f)
	} else {
		s.tracef("%s %s %s", a.name, c.op, c.key)
	}
	c.resume <- f
}

// stallChance is the chance that a stalls after the write c: higher for a
// sweeper's fence writes, where a stall opens the window between condemning
// and arming that writers must win by revoking.
func (s *sim) stallChance(a *actor, c *call) float64 {
	if a.sweeper && strings.HasPrefix(c.key, "gc/fence/") {
		return s.p.stallFence
	}
	return s.p.stall
}

// deliverLate applies the delayed requests that are due (all with force).
func (s *sim) deliverLate(force bool) {
	keep := s.late[:0]
	var due []delayed
	for _, d := range s.late {
		if force || d.due <= s.step {
			due = append(due, d)
		} else {
			keep = append(keep, d)
		}
	}
	s.late = keep
	for _, d := range due {
		d.apply()
		s.dirty = true
		s.lateDelivered++
	}
}

// sortedActors returns the actors by id (for reports).
func (s *sim) sortedActors() []*actor {
	out := append([]*actor(nil), s.actors...)
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}
