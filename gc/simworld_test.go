package gc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/stowage-dev/stowage/fence"
	"github.com/stowage-dev/stowage/internal/codec"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
)

// simGrace is the sweepers' grace period in the simulation.
const simGrace = time.Hour

// world is a simulated deployment: sessions, writers and sweepers over one
// memstore.
type world struct {
	sim      *sim
	seq      atomic.Int64
	sessions []string
	contents [][]byte
	// ownerless makes writers' rows ownerless (dead once aged), which
	// exercises forgetting dead rows against commits that adopt them;
	// fencedRows makes sweepers forget them through the session head (W2),
	// else by the manifest's ForgetAgedUncommitted.
	ownerless, fencedRows bool
	// skipProtect makes writers skip the fence: a broken writer the
	// simulation must catch.
	skipProtect bool
	check       *manifest.Store
	stats       simStats
}

// simStats summarise a run (printed for a single seed, and summed by
// TestSimulationCoverage to show the runs reach the interesting cases).
type simStats struct {
	commits, reclaimed, sweeps int
	sweepErrors                []string
	sweepEnds                  map[error]int  // sweeps that ended with these errors
	events                     map[string]int // log messages and writer events
	kinds                      map[Kind]int64 // reclaimed by sweeps during the run
}

// countingHandler counts log records by message.
type countingHandler struct{ w *world }

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.w.event(r.Message)
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }

// event counts a notable event (actors run one at a time).
func (w *world) event(name string) { w.stats.events[name]++ }

func (w *world) logger() *slog.Logger { return slog.New(countingHandler{w}) }

func newWorld(seed uint64, cfg simConfig) *world {
	s := &sim{
		seed:  seed,
		rng:   rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		now:   time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		limbo: make(chan struct{}),
	}
	s.p = simParams{
		crashWriter: 0.004, crashSweeper: 0.002,
		unavailable: 0.01, lost: 0.02, delay: 0.02,
		pause: 0.005, stall: 0.05, stallFence: 0.25, jump: 0.01, maxPause: 3 * time.Hour,
	}
	s.mem = memstore.New(&memstore.Options{Clock: s.clock})
	w := &world{sim: s, skipProtect: cfg.skipProtect}
	switch cfg.rows {
	case rowsBySeed:
		// Odd seeds: ownerless rows forgotten through the head fence. Even
		// seeds: rows that never die, and the manifest's global forget
		// (which then forgets upload intents only).
		w.ownerless, w.fencedRows = seed%2 == 1, seed%2 == 1
	case rowsUnfenced:
		w.ownerless = true
	}
	w.stats.events, w.stats.kinds, w.stats.sweepEnds = map[string]int{}, map[Kind]int64{}, map[error]int{}
	for i := range 4 {
		w.sessions = append(w.sessions, fmt.Sprintf("s%d", i))
	}
	for i := range 5 {
		w.contents = append(w.contents, []byte(fmt.Sprintf("content %d of seed %d", i, seed)))
	}
	w.check = manifest.New(s.mem, &manifest.Options{Concurrency: 1, RowCache: -1})
	return w
}

// id returns a fresh id, deterministic for the seed (actors run one at a
// time, in an order the seed fixes).
// id mints a fresh id: a ULID as stowage writes one (rule 0: the sweeper
// deletes nothing else), whose time part tells the prefix it was made for.
func (w *world) id(prefix string) string {
	h := fnv.New64a()
	h.Write([]byte(prefix))
	var u ulid.ULID
	_ = u.SetTime(h.Sum64() % ulid.MaxTime())
	binary.BigEndian.PutUint64(u[8:], uint64(w.seq.Add(1)))
	return u.String()
}

func (w *world) rng() *rand.Rand { return w.sim.rng }

// sleep makes the actor behind st idle for up to max of simulated time.
func (w *world) sleep(a *actor, max time.Duration) {
	a.pausedUntil = w.sim.now.Add(time.Duration(w.rng().Int64N(int64(max))))
}

// expected reports whether err is one the simulated faults and races can
// cause; anything else is a bug.
func expected(err error) bool {
	for _, e := range []error{errCrashed, objstore.ErrUnavailable, objstore.ErrOutcomeUnknown,
		objstore.ErrPreconditionFailed, ErrLeaseHeld, ErrLeaseLost, ErrEmptyRoots, ErrIncomplete,
		fence.ErrContended, manifest.ErrContended, context.Canceled} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// writer runs turns against random sessions.
func (w *world) writer(name string, turns int) func(ctx context.Context, a *actor) error {
	return func(ctx context.Context, a *actor) error {
		st := a.store
		skew := time.Duration(w.rng().Int64N(int64(20*time.Minute))) - 10*time.Minute
		clock := func() time.Time { return w.sim.now.Add(skew) }
		var f manifest.Fence
		if w.skipProtect {
			f = noFence{}
		}
		m := manifest.New(st, &manifest.Options{Now: clock, Concurrency: 1, Fence: f, Logger: w.logger()})
		wr := &simWriter{w: w, st: st, m: m, name: name, clock: clock}
		for range turns {
			w.sleep(a, 40*time.Minute)
			sid := w.sessions[w.rng().IntN(len(w.sessions))]
			if err := wr.turn(ctx, sid); err != nil && !expected(err) {
				return fmt.Errorf("%s on %s: %w", name, sid, err)
			}
			if errors.Is(ctx.Err(), context.Canceled) {
				return nil
			}
		}
		return nil
	}
}

// noFence is a writer-side fence that protects nothing.
type noFence struct{}

func (noFence) Protect(context.Context, string) error { return nil }

// simWriter follows the writer protocol: upload intent, bytes, row,
// Protect; checkpoint objects written create-only and reused across commit
// attempts only within one sweep generation; one conditional head PUT.
type simWriter struct {
	w     *world
	st    objstore.Store
	m     *manifest.Store
	name  string
	clock func() time.Time
}

func (wr *simWriter) owner() manifest.Owner {
	if wr.w.ownerless {
		return manifest.Owner{}
	}
	return manifest.ProcessOwner("p-" + wr.name) // no registry: never dead
}

func (wr *simWriter) turn(ctx context.Context, sid string) error {
	h, etag, err := readSimHead(ctx, wr.st, sid)
	if err != nil {
		return err
	}
	if h != nil && h.Deleted {
		return nil // session ids are single-use
	}
	if h != nil && !h.Placeholder && wr.w.rng().Float64() < 0.06 {
		return wr.deleteSession(ctx, sid, h, etag)
	}
	var atts []string
	for range wr.w.rng().IntN(3) {
		d, ok, err := wr.attach(ctx, sid)
		if err != nil {
			return err
		}
		if ok {
			atts = append(atts, d)
		}
	}
	return wr.commit(ctx, sid, atts)
}

// attach stores one attachment for sid: dedup through the blob pointer when
// possible, else an upload. ok is false if it gave up.
func (wr *simWriter) attach(ctx context.Context, sid string) (string, bool, error) {
	body := wr.w.contents[wr.w.rng().IntN(len(wr.w.contents))]
	d := digest(body)
	in := manifest.Intent{AttachmentID: d, SessionID: sid, Owner: wr.owner()}
	lost := map[string]bool{}
	if wr.w.rng().IntN(2) == 0 {
		b, ok, err := wr.m.LoadBlob(ctx, d)
		if err != nil {
			return "", false, err
		}
		if ok {
			row, err := wr.m.RecordRef(ctx, in, manifest.Info{}, func(cur *manifest.Row) (manifest.Data, error) {
				if cur != nil && !cur.Data.IsZero() {
					return cur.Data, nil
				}
				return b.Data, nil
			})
			if err != nil {
				return "", false, err
			}
			err = wr.m.Protect(ctx, row.Data.Key)
			if err == nil {
				return d, true, nil
			}
			if !errors.Is(err, fence.ErrReclaimed) {
				return "", false, err
			}
			wr.w.event("writer: dedup target reclaimed")
			lost[row.Data.Key] = true
		}
	}
	for range 3 {
		data, err := wr.upload(ctx, sid, body)
		if errors.Is(err, objstore.ErrNotExist) {
			wr.w.event("writer: multipart upload aborted by a sweeper")
			continue
		}
		if err != nil {
			return "", false, err
		}
		row, err := wr.m.RecordRef(ctx, in, manifest.Info{}, func(cur *manifest.Row) (manifest.Data, error) {
			if cur != nil && !cur.Data.IsZero() && !lost[cur.Data.Key] {
				return cur.Data, nil // never re-point a row away from live data
			}
			return data, nil
		})
		if err != nil {
			return "", false, err
		}
		err = wr.m.Protect(ctx, row.Data.Key)
		if errors.Is(err, fence.ErrReclaimed) {
			wr.w.event("writer: upload reclaimed, uploading again")
			lost[row.Data.Key] = true
			continue
		}
		if err != nil {
			return "", false, err
		}
		if row.Data.Key == data.Key {
			_ = wr.m.PublishBlob(ctx, d, data, nil) // a hint; may lose a race
		}
		wr.m.EndUpload(ctx, manifest.Upload{ID: strings.TrimPrefix(data.Key, manifest.DataPrefix)})
		return d, true, nil
	}
	return "", false, nil
}

// uploadSchema mirrors the manifest's envelope of upload intents, so that
// the simulation can record intents under deterministic ids (BeginUpload
// mints random ULIDs). TestSimUploadIntentIsTheManifests guards it.
var uploadSchema = codec.Schema{Kind: "AUPL", Current: 1, Min: 1}

func encodeSimUpload(u manifest.Upload) ([]byte, error) { return codec.Encode(uploadSchema, u) }

// upload records an ownerless upload intent and writes the bytes under a
// fresh data key. The intent is recorded with a deterministic id (the
// manifest's BeginUpload mints random ULIDs).
func (wr *simWriter) upload(ctx context.Context, sid string, body []byte) (manifest.Data, error) {
	id := wr.w.id("01SIMUPLOAD")
	u := manifest.Upload{ID: id, SessionID: sid, IntentAt: manifest.ClampTime(wr.clock()), DataKey: manifest.DataKey(id), State: manifest.UploadActive}
	enc, err := encodeSimUpload(u)
	if err != nil {
		return manifest.Data{}, err
	}
	if _, err := wr.st.Put(ctx, manifest.UploadKey(id), enc, &objstore.PutOptions{IfNoneMatch: true}); err != nil {
		return manifest.Data{}, err // not known durable: write no bytes
	}
	if wr.w.rng().IntN(3) == 0 {
		_, err = wr.st.Upload(ctx, u.DataKey, strings.NewReader(string(body)), nil)
	} else {
		_, err = wr.st.Put(ctx, u.DataKey, body, nil)
	}
	if err != nil {
		return manifest.Data{}, err
	}
	n := int64(len(body))
	return manifest.Data{Key: u.DataKey, Size: n, StoredSize: n}, nil
}

// commit publishes a head naming a new checkpoint object and atts.
func (wr *simWriter) commit(ctx context.Context, sid string, atts []string) error {
	var cp string      // checkpoint object written by an earlier attempt
	var cpSweep uint64 // the sweep generation it was written under
	for range 6 {
		h, etag, err := readSimHead(ctx, wr.st, sid)
		if err != nil {
			return err
		}
		if h != nil && h.Deleted {
			return nil
		}
		base := &simHead{}
		if h != nil {
			base = h
		}
		if cp != "" && cpSweep != base.Sweep {
			wr.w.event("writer: sweep generation moved, checkpoint rewritten")
		}
		if base.Placeholder {
			wr.w.event("writer: first commit over a sweeper's placeholder")
		}
		if cp == "" || cpSweep != base.Sweep {
			// Objects of an attempt under an older sweep generation may be
			// condemned: write afresh (W1).
			key := blobKeyOf(sid, wr.w.id("01SIMBLOB"))
			if _, err := wr.st.Put(ctx, key, []byte("checkpoint "+key), &objstore.PutOptions{IfNoneMatch: true}); err != nil {
				return err
			}
			cp, cpSweep = key, base.Sweep
		}
		// The real commit hook: a dangling id (its row forgotten, its data
		// reclaimed) comes back unbacked and is left out.
		prep, err := wr.m.PrepareCommit(ctx, sid, 1, "", atts)
		if err != nil {
			return err
		}
		adopted := prep.Stamp
		next := &simHead{Gen: base.Gen + 1, Sweep: base.Sweep, WriteID: wr.w.id("01SIMWRITE")}
		if n := len(base.Blobs); n > 0 && wr.w.rng().IntN(2) == 0 {
			next.Blobs = []string{base.Blobs[n-1]} // keep the previous checkpoint too
		}
		next.Blobs = append(next.Blobs, cp)
		next.Atts = append(slices.Clone(base.Atts), adopted...)
		slices.Sort(next.Atts)
		next.Atts = slices.Compact(next.Atts)
		_, err = writeSimHead(ctx, wr.st, sid, etag, next)
		switch {
		case err == nil:
			wr.w.stats.commits++
			_ = wr.m.FinishCommit(ctx, sid, adopted, wr.clock())
			return nil
		case errors.Is(err, objstore.ErrPreconditionFailed), errors.Is(err, objstore.ErrUnavailable):
			continue
		case errors.Is(err, objstore.ErrOutcomeUnknown):
			rb, rbTag, rerr := readSimHead(ctx, wr.st, sid)
			if rerr != nil {
				return rerr
			}
			if rb != nil && rb.WriteID == next.WriteID {
				_ = wr.m.FinishCommit(ctx, sid, adopted, wr.clock())
				return nil
			}
			if rbTag == etag {
				return err // may still land: give up without cleaning up
			}
			continue // the head moved: ours can never land
		default:
			return err
		}
	}
	return nil
}

// deleteSession tombstones the head (keeping its sweep generation) and
// forgets the session's rows.
func (wr *simWriter) deleteSession(ctx context.Context, sid string, h *simHead, etag string) error {
	next := &simHead{Gen: h.Gen + 1, Sweep: h.Sweep, WriteID: wr.w.id("01SIMWRITE"), Deleted: true}
	if _, err := writeSimHead(ctx, wr.st, sid, etag, next); err != nil {
		return err
	}
	return wr.m.ForgetSession(ctx, sid)
}

// sweeper runs sweeps with the given shards (cycled) and clock skew.
func (w *world) sweeper(name string, shards []Shard, skew time.Duration, runs int, heads Heads) func(ctx context.Context, a *actor) error {
	return func(ctx context.Context, a *actor) error {
		st := a.store
		clock := func() time.Time { return w.sim.now.Add(skew) }
		for i := range runs {
			w.sleep(a, 90*time.Minute)
			sw := &Sweeper{
				Store: st, Clock: clock, Grace: simGrace, Shard: shards[i%len(shards)], Holder: name,
				MaxDeletes: -1, RoundKeys: 6, ForgetDeadIntents: true, Logger: w.logger(),
				Manifest: manifest.New(st, &manifest.Options{Now: clock, Concurrency: 1, Heads: simHeadRefs{st}}),
				Heads:    heads,
				HeadRefs: w.headRefs(st),
			}
			// An actor has one request in flight at a time: the requests
			// of a stage go one by one, in a seeded order (Sweeper.order).
			sw.order = func(n int) []int { return w.rng().Perm(n) }
			rep, err := sw.Run(ctx)
			w.stats.sweeps++
			w.stats.reclaimed += int(rep.Total())
			for k, n := range rep.Reclaimed {
				w.stats.kinds[k] += n
			}
			if err != nil {
				w.stats.sweepErrors = append(w.stats.sweepErrors, fmt.Sprintf("%s run %d: %v", name, i, err))
				for _, e := range []error{ErrLeaseHeld, ErrLeaseLost, ErrEmptyRoots, ErrIncomplete} {
					if errors.Is(err, e) {
						w.stats.sweepEnds[e]++
					}
				}
			}
			if err != nil && !expected(err) {
				return fmt.Errorf("%s run %d: %w", name, i, err)
			}
			if ctx.Err() != nil {
				return nil
			}
		}
		return nil
	}
}

// headRefs is the sweepers' HeadRefs: set only when dead rows are to be
// forgotten through the head fence.
func (w *world) headRefs(st objstore.Store) manifest.HeadRefs {
	if !w.fencedRows {
		return nil
	}
	return simHeadRefs{st}
}
