package bench

import (
	"context"
	"fmt"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/internal/soak"
	"github.com/stowage-dev/stowage/session"
)

// loads measures load_p50, LoadSession(ActivePath) of a session of Nodes
// nodes through a fresh handle, against one GET of an object as large as
// everything the load reads (the head and the objects it names); and
// load_cached_p50, the same load repeated on one handle with the session
// unchanged, against one conditional GET answered 304.
func (r *run) loads(ctx context.Context) error {
	st, objs, err := r.stowage(ctx, "load")
	if err != nil {
		return err
	}
	const sid = "bench-load"
	w, err := newWriter(st, sid)
	if err != nil {
		return err
	}
	const perTurn, text = 4, 900 // about 1 KiB per node
	r.progress("load: building a session of %d nodes", r.cfg.Nodes)
	for n := 0; n < r.cfg.Nodes; n += perTurn {
		if err := w.commit(ctx, min(perTurn, r.cfg.Nodes-n), text); err != nil {
			return err
		}
	}
	info, err := session.ReadHead(ctx, objs, sid)
	if err != nil {
		return err
	}
	encoded := int64(0)
	for _, k := range append([]string{session.HeadKey(sid)}, info.Keys...) {
		o, err := objs.Head(ctx, k)
		if err != nil {
			return err
		}
		encoded += o.Size
	}
	etag, err := r.raw.Put(ctx, "load", soak.Text(2, int(encoded)))
	if err != nil {
		return err
	}
	load := func(h *session.Store) error {
		read, err := h.LoadSession(ctx, session.ActivePath(""))
		if err == nil && (read == nil || len(read.Graph.Nodes) != r.cfg.Nodes) {
			err = fmt.Errorf("loaded %v, want %d nodes", read, r.cfg.Nodes)
		}
		return err
	}
	var s, b, cold samples
	r.progress("load_p50: %d samples of %d bytes in %d objects", r.cfg.Samples, encoded, 1+len(info.Keys))
	for i := range r.cfg.Samples + 5 {
		warm := i < 5
		h, err := st.Session(sid)
		if err != nil {
			return err
		}
		if err := timeIf(!warm, &s, func() error { return load(h) }); err != nil {
			return err
		}
		if err := timeIf(!warm, &b, func() error { _, err := r.raw.Get(ctx, "load"); return err }); err != nil {
			return err
		}
		// The same load by a Store that has cached nothing (a new process).
		fresh, err := stowage.OpenStore(ctx, objs, stowage.Config{Logger: r.cfg.Logger})
		if err != nil {
			return err
		}
		h, err = fresh.Session(sid)
		if err != nil {
			return err
		}
		if err := timeIf(!warm, &cold, func() error { return load(h) }); err != nil {
			return err
		}
	}
	r.add(Figure{Name: LoadP50, Unit: "ms", Stowage: ms(s.p50()), Baseline: ms(b.p50()),
		BaselineOp: "GET of the same bytes", Check: RatioAtMost, Target: 2.2,
		Note: fmt.Sprintf("ActivePath of %d nodes, %d bytes in %d objects, fresh handle of a Store whose shared segment cache has seen the session; a new Store with nothing cached: %.2f ms, ratio %.2f", r.cfg.Nodes, encoded, 1+len(info.Keys), ms(cold.p50()), float64(cold.p50())/float64(max(b.p50(), 1)))})

	h, err := st.Session(sid)
	if err != nil {
		return err
	}
	if err := load(h); err != nil {
		return err
	}
	s, b = nil, nil
	for range r.cfg.Samples {
		if err := s.time(func() error { return load(h) }); err != nil {
			return err
		}
		if err := b.time(func() error {
			nm, err := r.raw.GetIfNoneMatch(ctx, "load", etag)
			if err == nil && !nm {
				err = fmt.Errorf("baseline: conditional GET was not answered 304")
			}
			return err
		}); err != nil {
			return err
		}
	}
	r.add(Figure{Name: LoadCachedP50, Unit: "ms", Stowage: ms(s.p50()), Baseline: ms(b.p50()),
		BaselineOp: "conditional GET answered 304", Check: RatioAtMost, Target: 1.3,
		Note: "the same load repeated on one handle, session unchanged"})
	return nil
}
