package bench

import (
	"context"
	"fmt"
	"io"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/internal/soak"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

// loadSession is the session the load figures read, and its baseline.
type loadSession struct {
	st      *stowage.Store
	objs    objstore.Store
	sid     string
	encoded int64 // bytes of the head and every object it names
	objects int
	etag    string // of the baseline object
	// replay are the baseline's copies of the head and of the objects it
	// names, each as large as the original.
	replay []string
}

// loads measures load_p50, LoadSession(ActivePath) of a session of Nodes
// nodes through a fresh handle of a Store that has seen it, and
// load_cold_p50, the same load by a new Store with nothing cached, each
// against one GET of an object as large as everything the load reads (the
// head and the objects it names); and load_cached_p50, the same load
// repeated on one handle with the session unchanged, against one
// conditional GET answered 304.
func (r *run) loads(ctx context.Context) error {
	ls, err := r.buildLoadSession(ctx)
	if err != nil {
		return err
	}
	if err := r.loadFresh(ctx, ls); err != nil {
		return err
	}
	return r.loadCached(ctx, ls)
}

// buildLoadSession writes the session of Nodes nodes (about 1 KiB each) and
// the baseline object of the same size.
func (r *run) buildLoadSession(ctx context.Context) (*loadSession, error) {
	st, objs, err := r.stowage(ctx, "load")
	if err != nil {
		return nil, err
	}
	ls := &loadSession{st: st, objs: objs, sid: "bench-load"}
	w, err := newWriter(st, ls.sid)
	if err != nil {
		return nil, err
	}
	const perTurn, text = 4, 900 // about 1 KiB per node
	r.progress("load: building a session of %d nodes", r.cfg.Nodes)
	for n := 0; n < r.cfg.Nodes; n += perTurn {
		if err := w.commit(ctx, min(perTurn, r.cfg.Nodes-n), text); err != nil {
			return nil, err
		}
	}
	info, err := session.ReadHead(ctx, objs, ls.sid)
	if err != nil {
		return nil, err
	}
	for i, k := range append([]string{session.HeadKey(ls.sid)}, info.Keys...) {
		o, err := objs.Head(ctx, k)
		if err != nil {
			return nil, err
		}
		ls.encoded += o.Size
		ls.replay = append(ls.replay, fmt.Sprintf("replay/load/%d", i))
		if _, err := r.raw.Put(ctx, ls.replay[i], soak.Text(uint64(4+i), int(o.Size))); err != nil {
			return nil, err
		}
	}
	ls.objects = 1 + len(info.Keys)
	ls.etag, err = r.raw.Put(ctx, "load", soak.Text(2, int(ls.encoded)))
	return ls, err
}

// load loads the session's active path through h and checks it.
func (r *run) load(ctx context.Context, h *session.Store) error {
	read, err := h.LoadSession(ctx, session.ActivePath(""))
	if err == nil && (read == nil || len(read.Graph.Nodes) != r.cfg.Nodes) {
		err = fmt.Errorf("loaded %v, want %d nodes", read, r.cfg.Nodes)
	}
	return err
}

// loadFresh measures load_p50 and load_cold_p50, interleaved with the
// baseline GET.
func (r *run) loadFresh(ctx context.Context, ls *loadSession) error {
	var s, b, cold samples
	r.progress("load_p50, load_cold_p50: %d samples of %d bytes in %d objects", r.cfg.Samples, ls.encoded, ls.objects)
	for i := range r.cfg.Samples + 5 {
		warm := i < 5
		h, err := ls.st.Session(ls.sid)
		if err != nil {
			return err
		}
		if err := timeIf(!warm, &s, func() error { return r.load(ctx, h) }); err != nil {
			return err
		}
		h.WaitCompaction() // the spare copy it leaves (untimed: an agent loads between turns)
		if err := timeIf(!warm, &b, func() error { return r.getLoad(ctx) }); err != nil {
			return err
		}
		// The same load by a Store that has cached nothing (a new process).
		fresh, err := stowage.OpenStore(ctx, ls.objs, stowage.Config{Logger: r.cfg.Logger})
		if err != nil {
			return err
		}
		if h, err = fresh.Session(ls.sid); err != nil {
			return err
		}
		if err := timeIf(!warm, &cold, func() error { return r.load(ctx, h) }); err != nil {
			return err
		}
		h.WaitCompaction() // the cache it fills from the segments read (untimed, as above)
	}
	bound, err := r.loadBound(ctx, ls)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("ActivePath of %d nodes, %d bytes in %d objects", r.cfg.Nodes, ls.encoded, ls.objects)
	r.add(Figure{Name: LoadP50, Unit: "ms", Stowage: ms(s.p50()), Baseline: ms(b.p50()),
		BaselineOp: "GET of the same bytes", Check: RatioAtMost, Target: 1.3,
		Note: what + ", fresh handle of a Store whose shared segment cache has seen the session"})
	r.add(Figure{Name: LoadColdP50, Unit: "ms", Stowage: ms(cold.p50()), Baseline: ms(b.p50()),
		BaselineOp: "GET of the same bytes", Check: RatioAtMost, Target: 2.0,
		Note:  what + ", a new Store with nothing cached",
		Bound: bound, BoundOp: "the GETs of a cold load (the head, then the objects it names at once) by the SDK"})
	return nil
}

// loadBound measures load_cold_p50's bound: the cold load's requests by
// the baseline (replayLoad) against its GET, interleaved, apart from the
// figure's samples (interleaved with them, its GETs made the figure's
// baseline GET faster on MinIO: 2.06-2.33 ms against 2.39-2.77 ms in 3
// rounds each).
func (r *run) loadBound(ctx context.Context, ls *loadSession) (float64, error) {
	var b, replay samples
	for range r.cfg.Samples {
		if err := b.time(func() error { return r.getLoad(ctx) }); err != nil {
			return 0, err
		}
		if err := replay.time(func() error { return r.replayLoad(ctx, ls) }); err != nil {
			return 0, err
		}
	}
	return ms(replay.p50()) / ms(b.p50()), nil
}

// getLoad is the load figures' baseline: one GET of the object as large as
// everything the load reads.
func (r *run) getLoad(ctx context.Context) error {
	_, err := r.raw.Get(ctx, "load", io.Discard)
	return err
}

// replayLoad makes the requests of a cold load through the baseline: a GET
// of the head's copy, then GETs of the copies of the objects it names, at
// once.
func (r *run) replayLoad(ctx context.Context, ls *loadSession) error {
	if _, err := r.raw.Get(ctx, ls.replay[0], io.Discard); err != nil {
		return err
	}
	rest := ls.replay[1:]
	_, err := parallel(ctx, len(rest), func(ctx context.Context, i int) error {
		_, err := r.raw.Get(ctx, rest[i], io.Discard)
		return err
	})
	return err
}

// loadCached measures load_cached_p50.
func (r *run) loadCached(ctx context.Context, ls *loadSession) error {
	h, err := ls.st.Session(ls.sid)
	if err != nil {
		return err
	}
	if err := r.load(ctx, h); err != nil {
		return err
	}
	var s, b samples
	for range r.cfg.Samples {
		if err := s.time(func() error { return r.load(ctx, h) }); err != nil {
			return err
		}
		h.WaitCompaction() // as in loadFresh
		if err := b.time(func() error {
			nm, err := r.raw.GetIfNoneMatch(ctx, "load", ls.etag)
			if err == nil && !nm {
				err = fmt.Errorf("baseline: conditional GET was not answered 304")
			}
			return err
		}); err != nil {
			return err
		}
	}
	r.add(Figure{Name: LoadCachedP50, Unit: "ms", Stowage: ms(s.p50()), Baseline: ms(b.p50()),
		BaselineOp: "conditional GET answered 304", Check: RatioAtMost, Target: 1.15,
		Note: "the same load repeated on one handle, session unchanged"})
	return nil
}
