package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/internal/soak"
	"github.com/stowage-dev/stowage/objstore"
)

// deltaBytes is the size of a small commit's delta: one node whose event
// carries deltaText bytes of text, about 8 KiB encoded.
const (
	deltaBytes = 8 << 10
	deltaText  = deltaBytes - 192
)

// writer is one session's committer: a simulated agent committing turns
// (nodes appended on the active path, a usage row, a checkpoint, a turn
// stamp), as a runtime does at every turn boundary.
type writer struct {
	a    *soak.Agent
	sid  string
	turn int
	// unstamped commits carry no turn stamp (no receipt).
	unstamped bool
}

func newWriter(st *stowage.Store, sid string) (*writer, error) {
	sess, err := st.Session(sid)
	if err != nil {
		return nil, err
	}
	return &writer{a: soak.NewAgent(sess, nil), sid: sid}, nil
}

// settle waits for the work w's commits left to the background.
func (w *writer) settle() { w.a.Session.WaitCompaction() }

// commit commits one turn of nodes nodes of text bytes each.
func (w *writer) commit(ctx context.Context, nodes, text int) error {
	return w.commitTurn(ctx, w.next(nodes, text))
}

// next makes the next turn: nodes nodes of text bytes each, their events
// made now, so that a timed commitTurn times the commit, not the making of
// the turn's content (the baseline's PUT, too, sends bytes made before).
func (w *writer) next(nodes, text int) soak.TurnSpec {
	w.turn++
	spec := soak.TurnSpec{TurnID: fmt.Sprintf("t%d", w.turn), Nodes: nodes, NodeBytes: text, Unstamped: w.unstamped}
	spec.Events = soak.NodeEvents(spec)
	return spec
}

// commitTurn commits a turn made by next, the last one made.
func (w *writer) commitTurn(ctx context.Context, spec soak.TurnSpec) error {
	_, err := w.a.Commit(ctx, spec, nil)
	return err
}

// rawChain is the baseline of a commit: a chain of If-Match PUTs of one key.
type rawChain struct {
	raw  Raw
	key  string
	etag string
	data []byte
}

func (c *rawChain) put(ctx context.Context) error {
	etag, err := c.raw.PutIfMatch(ctx, c.key, c.data, c.etag)
	c.etag = etag
	return err
}

// commitP50: a small commit (an 8 KiB delta) against one If-Match PUT of 8
// KiB, interleaved, after a warm-up; with what each costs in object bytes
// PUT (commit_put_bytes) and in process CPU (commit_cpu_us).
func (r *run) commitP50(ctx context.Context) error {
	r.seq++
	counted := &countingStore{Store: objstore.WithPrefix(r.objs, fmt.Sprintf("%scommit-%d/", r.pfx, r.seq))}
	st, err := stowage.OpenStore(ctx, counted, stowage.Config{Logger: r.cfg.Logger})
	if err != nil {
		return err
	}
	w, err := newWriter(st, "bench-commit")
	if err != nil {
		return err
	}
	bare, err := newWriter(st, "bench-commit-unstamped")
	if err != nil {
		return err
	}
	bare.unstamped = true
	c := &rawChain{raw: r.raw, key: "commit", data: soak.Text(1, deltaBytes)}
	var m commitCost
	r.progress("commit_p50: %d samples", r.cfg.Samples)
	for i := range r.cfg.Samples + 10 {
		warm := i < 10
		turn, bareTurn := w.next(1, deltaText), bare.next(1, deltaText)
		err := m.sample(warm, counted, func() error { return w.commitTurn(ctx, turn) }, w.settle, func() error { return c.put(ctx) })
		if err != nil {
			return err
		}
		if err := timeIf(!warm, &m.bare, func() error { return bare.commitTurn(ctx, bareTurn) }); err != nil {
			return err
		}
		bare.settle()
	}
	m.report(r)
	return nil
}

// commitCost accumulates the samples of commitP50: latencies, and the PUT
// bytes and CPU of the stamped commits and of the baseline's PUTs.
type commitCost struct {
	s, bare, b       samples
	headBytes, bytes int64 // PUT by the stamped commits: the head only; every object
	heads            int
	cpu, rawCPU      time.Duration
}

// sample times one stamped commit and one baseline PUT (recorded unless
// warm). settle waits for the work the commit left to the background
// (its tail's segment, merges): untimed, as an agent's turns are seconds
// apart, but in the commit's CPU, not in the PUT's that follows.
func (m *commitCost) sample(warm bool, counted *countingStore, commit func() error, settle func(), put func() error) error {
	var err error
	bytes, heads := counted.putBytes.Load(), counted.headBytes.Load()
	cpu := cpuTime(func() {
		if err = timeIf(!warm, &m.s, commit); err == nil {
			settle()
		}
	})
	if err != nil {
		return err
	}
	rawCPU := cpuTime(func() { err = timeIf(!warm, &m.b, put) })
	if err != nil || warm {
		return err
	}
	m.cpu, m.rawCPU = m.cpu+cpu, m.rawCPU+rawCPU
	m.bytes += counted.putBytes.Load() - bytes
	m.headBytes += counted.headBytes.Load() - heads
	m.heads++
	return nil
}

func (m *commitCost) report(r *run) {
	s, b, u, n := m.s, m.b, m.bare, max(int64(m.heads), 1)
	r.add(Figure{Name: CommitP50, Unit: "ms", Stowage: ms(s.p50()), Baseline: ms(b.p50()),
		BaselineOp: "If-Match PUT of 8 KiB", Check: RatioAtMost, Target: 1.2,
		Note: fmt.Sprintf("turn commit (8 KiB delta, turn stamp; the work it leaves to the background waited for, untimed), revisions 11-%d; p99 %.2f vs %.2f ms; the same commit without a turn stamp: p50 %.2f ms (ratio %.2f)",
			10+len(s), ms(s.quantile(0.99)), ms(b.quantile(0.99)), ms(u.p50()), ms(u.p50())/ms(b.p50()))})
	r.add(Figure{Name: CommitPutBytes, Unit: "bytes", Stowage: float64(m.headBytes / n), Baseline: deltaBytes,
		BaselineOp: "the If-Match PUT of the 8 KiB delta", Check: RatioAtMost, Target: 2,
		Note: fmt.Sprintf("mean bytes of the head PUT per turn commit; every object PUT, flushed segments and background merges included: %d bytes per commit", m.bytes/n)})
	r.add(Figure{Name: CommitCPU, Unit: "us", Stowage: float64(m.cpu.Microseconds() / n), Baseline: float64(m.rawCPU.Microseconds() / n),
		BaselineOp: "process CPU of one If-Match PUT of 8 KiB", Check: RatioAtMost, Target: 2,
		Note: "mean process CPU (user + system) per turn commit, from its call until its background work is done"})
}

// timeIf runs fn, recording its duration in s if record is set.
func timeIf(record bool, s *samples, fn func() error) error {
	if record {
		return s.time(fn)
	}
	return fn()
}

// commitAt10k: the commit p50 of a session at revision Revisions against
// that of sessions at revision 10, interleaved.
func (r *run) commitAt10k(ctx context.Context) error {
	st, _, err := r.stowage(ctx, "long")
	if err != nil {
		return err
	}
	old, err := newWriter(st, "bench-long")
	if err != nil {
		return err
	}
	r.progress("commit_at_10k_revisions: building a session of %d revisions", r.cfg.Revisions)
	start := time.Now()
	for i := range r.cfg.Revisions {
		if err := old.commit(ctx, 1, 512); err != nil {
			return err
		}
		if (i+1)%1000 == 0 {
			r.progress("commit_at_10k_revisions: %d revisions (%.0f commits/s)", i+1, perSecond(i+1, time.Since(start)))
		}
	}
	// Young sessions: each brought to revision 10, then measured for ten
	// commits (revisions 11-20).
	young := make([]*writer, (r.cfg.Samples+9)/10)
	for i := range young {
		if young[i], err = newWriter(st, fmt.Sprintf("bench-young-%d", i)); err != nil {
			return err
		}
		for range 10 {
			if err := young[i].commit(ctx, 1, 512); err != nil {
				return err
			}
		}
	}
	var s, b samples
	for i := range r.cfg.Samples {
		oldTurn, youngTurn := old.next(1, deltaText), young[i/10].next(1, deltaText)
		if err := s.time(func() error { return old.commitTurn(ctx, oldTurn) }); err != nil {
			return err
		}
		if err := b.time(func() error { return young[i/10].commitTurn(ctx, youngTurn) }); err != nil {
			return err
		}
	}
	r.add(Figure{Name: CommitAt10k, Unit: "ms", Stowage: ms(s.p50()), Baseline: ms(b.p50()),
		BaselineOp: "stowage commit at revision 10", Check: RatioAtMost, Target: 1.2,
		Note: fmt.Sprintf("8 KiB delta at revision %d vs 11-20", r.cfg.Revisions)})
	return nil
}

// concurrentCommits: commits/s with Sessions sessions committing at once
// against If-Match PUTs/s at the same concurrency, in two alternating rounds.
// A stowage round ends when the background work its commits left (flushes,
// merges) is done too, so none of it runs in the baseline's round.
func (r *run) concurrentCommits(ctx context.Context) error {
	r.seq++
	rec := &recorder{Store: objstore.WithPrefix(r.objs, fmt.Sprintf("%sconcurrent-%d/", r.pfx, r.seq))}
	st, err := stowage.OpenStore(ctx, rec, stowage.Config{Logger: r.cfg.Logger})
	if err != nil {
		return err
	}
	n, k := r.cfg.Sessions, r.cfg.CommitsPerSession
	writers := make([]*writer, n)
	chains := make([]*rawChain, n)
	for i := range writers {
		if writers[i], err = newWriter(st, fmt.Sprintf("bench-conc-%d", i)); err != nil {
			return err
		}
		if err := writers[i].commit(ctx, 1, 512); err != nil {
			return err
		}
		chains[i] = &rawChain{raw: r.raw, key: fmt.Sprintf("conc/%d", i), data: soak.Text(uint64(i), deltaBytes)}
		if err := chains[i].put(ctx); err != nil {
			return err
		}
	}
	r.progress("concurrent_commits: %d sessions x %d commits, 2 rounds", n, k)
	var sTime, bTime time.Duration
	var rounds [][]request
	replayable := true
	for range 2 {
		turns := make([][]soak.TurnSpec, n)
		for i, w := range writers {
			for range k {
				turns[i] = append(turns[i], w.next(1, deltaText))
			}
		}
		rec.start()
		d, err := parallel(ctx, n, func(ctx context.Context, i int) error {
			for _, turn := range turns[i] {
				if err := writers[i].commitTurn(ctx, turn); err != nil {
					return err
				}
			}
			writers[i].settle() // the flushes and merges the round's commits left are its work too
			return nil
		})
		if err != nil {
			return err
		}
		sTime += d
		reqs, ok := rec.stop()
		rounds, replayable = append(rounds, reqs), replayable && ok
		if d, err = chainRound(ctx, chains, k); err != nil {
			return err
		}
		bTime += d
	}
	total := 2 * n * k
	f := Figure{Name: ConcurrentComms, Unit: "commits/s", Stowage: perSecond(total, sTime), Baseline: perSecond(total, bTime),
		BaselineOp: "If-Match PUTs/s", Check: RatioAtLeast, Target: 0.75,
		Note: fmt.Sprintf("%d sessions at once, 8 KiB deltas, %d commits each", n, 2*k)}
	if replayable {
		if f.Bound, err = r.concurrentBound(ctx, rounds, chains, k); err != nil {
			return err
		}
		f.BoundOp = "the requests of stowage's rounds (head PUTs, segment PUTs, deletes) replayed by the SDK"
	}
	r.add(f)
	return nil
}

// chainRound makes k If-Match PUTs on each chain, the chains at once.
func chainRound(ctx context.Context, chains []*rawChain, k int) (time.Duration, error) {
	return parallel(ctx, len(chains), func(ctx context.Context, i int) error {
		for range k {
			if err := chains[i].put(ctx); err != nil {
				return err
			}
		}
		return nil
	})
}

// concurrentBound replays the requests of stowage's rounds through the
// baseline, each round alternated with a round of the baseline's own, after
// the figure's rounds (replayed between them, the replay would run in the
// figure's time on the server), and returns the rate of the replay over
// the baseline's.
func (r *run) concurrentBound(ctx context.Context, rounds [][]request, chains []*rawChain, k int) (float64, error) {
	replay := newReplayer(r.raw, "replay/concurrent/")
	var bTime, pTime time.Duration
	for _, reqs := range rounds {
		d, err := chainRound(ctx, chains, k)
		if err != nil {
			return 0, err
		}
		bTime += d
		if d, err = replay.replay(ctx, reqs); err != nil {
			return 0, err
		}
		pTime += d
	}
	return bTime.Seconds() / pTime.Seconds(), nil
}

// parallel runs fn(i) for i in [0, n) at once and returns the elapsed time.
func parallel(ctx context.Context, n int, fn func(context.Context, int) error) (time.Duration, error) {
	g, gctx := errgroup.WithContext(ctx)
	var ready sync.WaitGroup
	ready.Add(n)
	startGate := make(chan struct{})
	for i := range n {
		g.Go(func() error {
			ready.Done()
			<-startGate
			return fn(gctx, i)
		})
	}
	ready.Wait()
	start := time.Now()
	close(startGate)
	err := g.Wait()
	return time.Since(start), err
}
