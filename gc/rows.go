package gc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
)

// RowForgetter is what forgetting dead rows through the session head needs
// from the manifest; *manifest.Store implements it.
type RowForgetter interface {
	// DeadRows returns the rows of a session that are dead at cutoff, with
	// their Rev.
	DeadRows(ctx context.Context, sessionID string, cutoff time.Time) ([]manifest.Row, error)
	// ForgetRow deletes the row if it is still the write rev.
	ForgetRow(ctx context.Context, sessionID, id, rev string) (bool, error)
	// FinishCommit stamps rows committed (the repair of a skipped stamp).
	FinishCommit(ctx context.Context, sessionID string, ids []string, at time.Time) error
}

// UploadForgetter forgets dead upload intents alone (their keys are never
// reused and their data is fenced by Protect, so no head fence is needed).
type UploadForgetter interface {
	ForgetAgedUploads(ctx context.Context, cutoff time.Time) (int, error)
}

// DeadUploadLister tells, read-only, which upload intents ForgetAgedUploads
// would forget at cutoff, by the same judgement: a dry run counts them;
// *manifest.Store implements it.
type DeadUploadLister interface {
	DeadUploads(ctx context.Context, cutoff time.Time) ([]manifest.Upload, error)
}

// forgetSessionRows forgets the dead rows of sid through its head (W2 in
// docs/protocol.md): judge the rows, then publish a successor of the head by
// compare-and-swap (a commit prepared on an older head can no longer land:
// it must prepare again, which changes the row's Rev), then ask HeadRefs
// whether a published head committed each id after all (a commit that
// landed before the fence, or whose FinishCommit was skipped: repair its
// stamp), and forget the others only at the Rev that was judged.
func (r *run) forgetSessionRows(ctx context.Context, sid string) error {
	if r.rows == nil || !r.ForgetDeadIntents {
		return nil
	}
	dead, err := r.rows.DeadRows(ctx, sid, r.cutoff)
	if err != nil || len(dead) == 0 {
		return err
	}
	if r.DryRun {
		return r.countDeadRows(ctx, sid, dead)
	}
	if err := r.checkLease(ctx); err != nil {
		return err
	}
	if err := r.fenceHead(ctx, sid); err != nil {
		if errors.Is(err, ErrNoHeadFence) {
			r.tally.deferred(int64(len(dead)))
			return nil
		}
		return err
	}
	for _, row := range dead {
		committed, at, err := r.headRefs.Committed(ctx, sid, row.AttachmentID)
		if err != nil {
			return err
		}
		if committed {
			if at.IsZero() {
				at = r.now()
			}
			if err := r.rows.FinishCommit(ctx, sid, []string{row.AttachmentID}, at); err != nil {
				return err
			}
			r.tally.skip(SkipReferenced, 1)
			continue
		}
		if r.take(1) == 0 {
			r.tally.deferred(1)
			continue
		}
		gone, err := r.rows.ForgetRow(ctx, sid, row.AttachmentID, row.Rev)
		if err != nil {
			r.refund(1)
			return err
		}
		if !gone {
			r.refund(1)
			r.tally.skip(SkipRevoked, 1)
			continue
		}
		r.tally.reclaimed(KindRefRow, 1, 0)
	}
	return nil
}

// countDeadRows is forgetSessionRows of a dry run: it fences nothing and
// forgets nothing, and counts the rows a sweep would forget now (those no
// published head committed) as it would, holding them as forgotten
// (forgetInDryRun) so that the data only they root is counted as the
// sweep's attachment step would reclaim it.
func (r *run) countDeadRows(ctx context.Context, sid string, dead []manifest.Row) error {
	for _, row := range dead {
		committed, _, err := r.headRefs.Committed(ctx, sid, row.AttachmentID)
		switch {
		case err != nil:
			return err
		case committed:
			r.tally.skip(SkipReferenced, 1)
		case r.take(1) == 0:
			r.tally.deferred(1)
		default:
			r.tally.reclaimed(KindRefRow, 1, 0)
			r.forgetInDryRun(manifest.RefKey(row.AttachmentID, sid))
		}
	}
	return nil
}

// fenceHead publishes a successor of sid's current head by compare-and-swap
// (Heads.Sweep), re-reading when a commit got there first.
func (r *run) fenceHead(ctx context.Context, sid string) error {
	const maxAttempts = 4
	for attempt := 0; ; attempt++ {
		h, err := r.heads.Read(ctx, r.store, sid)
		if err != nil {
			return err
		}
		etag := ""
		if h != nil {
			etag = h.ETag
		}
		_, err = r.heads.Sweep(ctx, r.store, sid, etag)
		if err == nil {
			return nil
		}
		if (errors.Is(err, objstore.ErrPreconditionFailed) || errors.Is(err, objstore.ErrConflict)) && attempt+1 < maxAttempts {
			continue
		}
		return fmt.Errorf("fence head of %s: %w", sid, err)
	}
}
