package gc

import (
	"context"
	"fmt"
	"slices"

	"github.com/stowage-dev/stowage/fence"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/session"
)

// checkHeads is I1: every object and attachment a published head names is
// readable (an attachment through the session's row).
func (w *world) checkHeads() error {
	ctx := context.Background()
	for _, sid := range w.sessions {
		h, _, err := readSimHead(ctx, w.sim.mem, sid)
		if err != nil {
			return err
		}
		if h == nil || h.Deleted {
			continue
		}
		for _, k := range h.Blobs {
			if _, err := w.sim.mem.Head(ctx, k); err != nil {
				return fmt.Errorf("I1: head of %s (gen %d) names checkpoint %s: %w", sid, h.Gen, k, err)
			}
		}
		for _, d := range h.Atts {
			row, live, err := w.check.Row(ctx, sid, d)
			if err != nil {
				return err
			}
			if !live {
				return fmt.Errorf("I1: head of %s (gen %d) names attachment %s.. but the session holds no ref", sid, h.Gen, d[:8])
			}
			if _, err := w.sim.mem.Head(ctx, row.Data.Key); err != nil {
				return fmt.Errorf("I1: head of %s (gen %d) names attachment %s.. whose data %s is gone: %w", sid, h.Gen, d[:8], row.Data.Key, err)
			}
		}
	}
	return nil
}

// checkSwept is I4, after a final sweep with no writer running: no data
// without a root, no session object without a head naming it, no
// incomplete upload, every fence idle.
func (w *world) checkSwept() error {
	ctx := context.Background()
	roots := map[string]bool{}
	if err := w.check.WalkRoots(ctx, func(r manifest.Root) error {
		roots[r.DataKey] = true
		return nil
	}); err != nil {
		return err
	}
	for _, k := range w.sim.mem.Keys() {
		if _, ok := manifest.ParseDataKey(k); ok && !roots[k] {
			return fmt.Errorf("I4: data %s survived the final sweep without a root", k)
		}
		sid, kind, ok := session.ParseKey(k)
		if !ok || kind == session.KeyHead {
			continue
		}
		h, _, err := readSimHead(ctx, w.sim.mem, sid)
		if err != nil {
			return err
		}
		if h == nil || !slices.Contains(h.Blobs, k) {
			return fmt.Errorf("I4: session object %s survived the final sweep unnamed", k)
		}
	}
	for u, err := range w.sim.mem.ListUploads(ctx, "") {
		if err != nil {
			return err
		}
		return fmt.Errorf("I4: incomplete upload %s of %s survived the final sweep", u.UploadID, u.Key)
	}
	f := fence.New(w.sim.mem, nil)
	for s := range fence.Shards {
		snap, err := f.Load(ctx, s)
		if err != nil {
			return err
		}
		if snap.State.Phase != fence.Idle {
			return fmt.Errorf("I4: fence shard %d left %s", s, snap.State.Phase)
		}
	}
	return nil
}
