package bench

import (
	"context"
	"fmt"
	"strings"

	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/internal/soak"
	"github.com/stowage-dev/stowage/manifest"
)

// commitAttachP50: the commit of a turn that put one small attachment (a
// tool output owned by the turn, not named by the commit: the commit
// adopts it), against one If-Match PUT of 8 KiB, interleaved, after a
// warm-up. Only the commit is timed, not the put before it, nor the
// attachment stamp the commit leaves to the background (waited for
// before the baseline's PUT, so the two do not overlap).
func (r *run) commitAttachP50(ctx context.Context) error {
	st, _, err := r.stowage(ctx, "commit-attach")
	if err != nil {
		return err
	}
	const sid = "bench-commit-attach"
	w, err := newWriter(st, sid)
	if err != nil {
		return err
	}
	a, err := attach.New(st.Manifest(), sid, nil)
	if err != nil {
		return err
	}
	c := &rawChain{raw: r.raw, key: "commit-attach", data: soak.Text(1, deltaBytes)}
	var s, b samples
	r.progress("commit_attach_p50: %d samples", r.cfg.Samples)
	for i := range r.cfg.Samples + 10 {
		warm := i < 10
		owner := attach.WithOwner(ctx, manifest.TurnOwner(fmt.Sprintf("t%d", w.turn+1)))
		if _, err := a.Put(owner, strings.NewReader(fmt.Sprint("tool output ", i)), attach.PutOptions{}); err != nil {
			return err
		}
		turn := w.next(1, deltaText)
		if err := timeIf(!warm, &s, func() error { return w.commitTurn(ctx, turn) }); err != nil {
			return err
		}
		st.Manifest().WaitStamps() // untimed: the stamp after the commit does not overlap the baseline
		w.settle()                 // nor its tail's segment or merges
		if err := timeIf(!warm, &b, func() error { return c.put(ctx) }); err != nil {
			return err
		}
	}
	r.add(Figure{Name: CommitAttachP50, Unit: "ms", Stowage: ms(s.p50()), Baseline: ms(b.p50()),
		BaselineOp: "If-Match PUT of 8 KiB", Check: RatioAtMost, Target: 1.2,
		Note: fmt.Sprintf("turn commit (8 KiB delta, turn stamp) of a turn that put one small attachment it does not name, its stamp after it waited for untimed, revisions 11-%d; p99 %.2f vs %.2f ms",
			10+len(s), ms(s.quantile(0.99)), ms(b.quantile(0.99)))})
	return nil
}
