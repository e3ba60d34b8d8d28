package manifest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stowage-dev/stowage/objstore"
)

// errLive stops a scan early: a live row was found.
var errLive = errors.New("manifest: live row found")

// eligible reports whether row may be forgotten at cutoff (Judge.RowDead).
func (s *Store) eligible(ctx context.Context, row *Row, cutoff time.Time) (bool, error) {
	return s.Judge().RowDead(ctx, row, cutoff)
}

// eligibleUnlessNamed is eligible, and then asks the session heads (if
// wired) whether a published commit named the row after all: then the row
// is not eligible, and committedAt says when it was committed. With fence
// (a removal follows), an eligible row's session head is fenced first
// (Options.Fencer), so the heads asked see every commit that published
// before the fence, and a commit that names the row without reading it
// fails its PUT after it.
// Without a Fencer, a row marked for the fence (Row.Fence) is not
// eligible (ErrFenceRequired), unless a published head names it: its stamp
// is then repaired, which needs no fence.
func (s *Store) eligibleUnlessNamed(ctx context.Context, row *Row, cutoff time.Time, fence bool) (ok bool, committedAt time.Time, err error) {
	ok, err = s.eligible(ctx, row, cutoff)
	var refused error // ErrFenceRequired: no removal, but a repair needs no fence
	if ok && err == nil && fence {
		if err = s.fenceRemoval(ctx, row); errors.Is(err, ErrFenceRequired) {
			refused, err = err, nil
		}
	}
	if !ok || err != nil || s.heads == nil {
		return ok && err == nil && refused == nil, time.Time{}, cmp.Or(err, refused)
	}
	named, at, err := s.heads.Committed(ctx, row.SessionID, row.AttachmentID)
	switch {
	case err != nil:
		return false, time.Time{}, err
	case named && at.IsZero():
		return false, s.Now(), nil
	case named:
		return false, ClampTime(at), nil
	}
	return refused == nil, time.Time{}, refused
}

// ForgetAgedUncommitted deletes the rows that are uncommitted, aged (intent
// at or before cutoff) and whose owner is dead, and the upload intents that
// are aged and either aborted or owner-dead. It returns how many of both it
// deleted.
//
// Each row is judged on one read and deleted only if it still has the ETag
// that read returned (conditional delete, or a conditional tombstone write
// where the store ignores If-Match on DELETE), so a RecordIntent that
// refreshed the row in between makes the delete fail and the refresh stands.
// Every row write carries a fresh Rev, so an ETag never repeats for a row.
//
// With Options.Heads, an eligible row that a published head names is
// stamped committed (the repair of a skipped FinishCommit) instead. With
// Options.Fencer, an eligible row's session head is fenced before that
// question and the removal; without one, an eligible row that a commit may
// name without a request (Row.Fence) is kept and ErrFenceRequired returned
// after the scan.
//
// A lookup error (turn receipts, process registry, heads) keeps that row and
// is returned after the scan.
func (s *Store) ForgetAgedUncommitted(ctx context.Context, cutoff time.Time) (int, error) {
	s.pending.wait("")
	cutoff = ClampTime(cutoff)
	var (
		n       atomic.Int64
		mu      sync.Mutex
		lookErr error
	)
	err := s.forEachRow(ctx, RefPrefix, func(key string, row Row, v version) error {
		ok, committedAt, err := s.eligibleUnlessNamed(ctx, &row, cutoff, true)
		if err != nil {
			mu.Lock()
			lookErr = errors.Join(lookErr, fmt.Errorf("%s/%s: %w", row.AttachmentID, row.SessionID, err))
			mu.Unlock()
			return nil
		}
		if !committedAt.IsZero() {
			s.log.InfoContext(ctx, "manifest: stamping a row its session head names", "session_id", row.SessionID, "attachment_id", row.AttachmentID)
			return s.stamp(ctx, "repair stamp", row.SessionID, []string{row.AttachmentID}, committedAt, true)
		}
		if !ok {
			return nil
		}
		gone, err := s.removeRow(ctx, key, v)
		if err != nil {
			return err
		}
		if gone {
			n.Add(1)
			s.log.DebugContext(ctx, "manifest: forgot aged intent", "session_id", row.SessionID, "attachment_id", row.AttachmentID,
				"owner_kind", row.Owner.Kind, "owner_id", row.Owner.ID, "intent_at", row.IntentAt)
		}
		return nil
	})
	if err != nil {
		return int(n.Load()), wrap("forget aged uncommitted", err)
	}
	uploads, err := s.forgetAgedUploads(ctx, cutoff)
	n.Add(int64(uploads))
	if err == nil {
		err = lookErr
	}
	return int(n.Load()), wrap("forget aged uncommitted", err)
}

// ForgetAgedUploads deletes the upload intents that are aged (intent at or
// before cutoff) and either aborted or owner-dead, and returns how many it
// deleted: the upload-intent half of ForgetAgedUncommitted, for a sweeper
// that forgets dead rows session by session through the session head
// (docs/protocol.md, "Sweeping", W2). Upload intents need no head fence:
// their keys are never reused and their data is fenced by Protect. A lookup
// error keeps that intent and is returned after the scan.
func (s *Store) ForgetAgedUploads(ctx context.Context, cutoff time.Time) (int, error) {
	n, err := s.forgetAgedUploads(ctx, ClampTime(cutoff))
	return n, wrap("forget aged uploads", err)
}

// forgetAgedUploads deletes aged upload intents that are aborted or whose
// owner is dead. Upload intents are never rewritten except by their own
// writer marking them aborted, and their keys are never reused, so a plain
// delete cannot destroy anything a writer still counts on: a writer whose
// intent was reclaimed finds out from Protect before it relies on its data.
func (s *Store) forgetAgedUploads(ctx context.Context, cutoff time.Time) (int, error) {
	n := 0
	err := s.deadUploads(ctx, cutoff, func(u Upload) error {
		if err := s.obj.Delete(ctx, UploadKey(u.ID), nil); err != nil {
			return err
		}
		n++
		s.log.DebugContext(ctx, "manifest: forgot aged upload intent", "upload_id", u.ID, "session_id", u.SessionID, "state", u.State)
		return nil
	})
	return n, err
}

// DeadUploads returns the upload intents that ForgetAgedUploads would
// delete at cutoff, read-only: the sweeper's dry run counts them, and the
// data they alone root, as the sweep it stands for would reclaim them. The
// judgement is ForgetAgedUploads' own (one scan, Judge.UploadDead). With
// an error, the intents are those judged dead before it, the ones
// ForgetAgedUploads would have deleted: an owner lookup that fails leaves
// that intent out and is returned after the scan, any other error stops it.
func (s *Store) DeadUploads(ctx context.Context, cutoff time.Time) ([]Upload, error) {
	var out []Upload
	err := s.deadUploads(ctx, ClampTime(cutoff), func(u Upload) error {
		out = append(out, u)
		return nil
	})
	return out, wrap("dead uploads", err)
}

// deadUploads calls fn, in key order, with each readable upload intent that
// is dead at cutoff (Judge.UploadDead): the scan of both forgetAgedUploads
// and DeadUploads. An intent that cannot be read is kept (the sweeper
// reports it). An owner lookup that fails keeps that intent and is
// returned after the scan; an error of fn or of the listing stops it.
func (s *Store) deadUploads(ctx context.Context, cutoff time.Time, fn func(Upload) error) error {
	var lookErr error
	for u, err := range s.Uploads(ctx) {
		var unreadable *UnreadableError
		if errors.As(err, &unreadable) {
			continue // kept: the sweeper reports it
		}
		if err != nil {
			return err
		}
		dead, err := s.Judge().UploadDead(ctx, &u, cutoff)
		if err != nil {
			lookErr = errors.Join(lookErr, fmt.Errorf("upload %s: %w", u.ID, err))
			continue
		}
		if !dead {
			continue
		}
		if err := fn(u); err != nil {
			return err
		}
	}
	return lookErr
}

// HasLiveRef reports whether some row for id is not eligible for deletion
// under the ForgetAgedUncommitted rule at cutoff. Read-only: one LIST of the
// id's rows and a read of each.
func (s *Store) HasLiveRef(ctx context.Context, id string, cutoff time.Time) (bool, error) {
	if err := ValidateAttachmentID(id); err != nil {
		return false, wrap("has live ref", err)
	}
	s.pending.wait("")
	cutoff = ClampTime(cutoff)
	err := s.forEachRow(ctx, RefsOf(id), func(_ string, row Row, _ version) error {
		ok, _, err := s.eligibleUnlessNamed(ctx, &row, cutoff, false)
		if err != nil {
			return err
		}
		if !ok {
			return errLive
		}
		return nil
	})
	if errors.Is(err, errLive) {
		return true, nil
	}
	return false, wrap("has live ref", err)
}

// ListUncommitted returns the rows with no commit stamp and intent time at
// or before olderThan, across every session. Order is unspecified.
func (s *Store) ListUncommitted(ctx context.Context, olderThan time.Time) ([]Entry, error) {
	s.pending.wait("")
	olderThan = ClampTime(olderThan)
	var (
		mu  sync.Mutex
		out []Entry
	)
	err := s.forEachRow(ctx, RefPrefix, func(_ string, row Row, _ version) error {
		if !row.Committed() && !row.IntentAt.After(olderThan) {
			mu.Lock()
			out = append(out, row.Entry)
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return nil, wrap("list uncommitted", err)
	}
	return out, nil
}

// forgetSessionPasses bounds ForgetSession's passes: a pass repeats while a
// row it judged removable changed before its conditional removal.
const forgetSessionPasses = 3

// ForgetSession forgets the rows of sessionID's ended incarnations and their
// markers: lash's delete_session, called after the session head was replaced
// by a deletion tombstone. The bytes become collectable once no other row
// names them. Upload intents of the session are left to age out.
//
// It never touches a row of a newer incarnation (a session re-created
// while the delete ran): it reads the rows its markers name, then the
// session head (Options.Incarnations), and removes a row, at the ETag it
// read, only if
//   - the row is bound (Row.Inc) to an incarnation that ended: older than
//     the live head's, or at most the one a tombstone ended; or
//   - the row is unbound and the head read after it was not live: nothing
//     re-created the session before the row was read, so the row belongs
//     to the deleted incarnation (a put overlapping the delete is ordered
//     before it).
//
// A commit of a newer incarnation binds every row it names before its head
// PUT (PrepareCommit), so its rows are never removable; one whose prepare
// comes after a removal fails with ErrDanglingRef and publishes nothing. A
// removed row's session marker is deleted after it, and put back if the row
// was written again meanwhile; its turn marker stays (dropMarkers). Rows left (refreshed during the delete, or of an
// incarnation still live) are the sweeper's dead intents, or stay
// committed.
func (s *Store) ForgetSession(ctx context.Context, sessionID string) error {
	if err := ValidateSessionID(sessionID); err != nil {
		return wrap("forget session", err)
	}
	s.pending.wait(sessionID)
	for pass := 0; pass < forgetSessionPasses; pass++ {
		raced, err := s.forgetSessionPass(ctx, sessionID)
		if err != nil || !raced {
			return wrap("forget session", err)
		}
	}
	return nil
}

// judgedRow is a row ForgetSession read, with the version it read.
type judgedRow struct {
	key string
	row Row
	v   version
}

// forgetSessionPass is one pass of ForgetSession; raced reports that a row
// judged removable changed before its removal.
func (s *Store) forgetSessionPass(ctx context.Context, sessionID string) (raced bool, err error) {
	var rows []judgedRow
	for info, err := range s.obj.List(ctx, sessionMarkers(sessionID), nil) {
		if err != nil {
			return false, err
		}
		id := tailAfter(info.Key, sessionMarkers(sessionID))
		if ValidateAttachmentID(id) != nil {
			continue
		}
		key := RefKey(id, sessionID)
		row, v, err := s.readRow(ctx, key)
		if err != nil {
			return false, err
		}
		if v.state == rowLive {
			rows = append(rows, judgedRow{key: key, row: row, v: v})
		}
	}
	if len(rows) == 0 {
		return false, nil
	}
	// The head is read after every row: see ForgetSession.
	var inc uint64
	var live bool
	if s.incs != nil {
		if inc, live, err = s.incs.Incarnation(ctx, sessionID); err != nil {
			return false, err
		}
	}
	for _, r := range rows {
		if !endedRow(r.row.Inc, inc, live) {
			continue
		}
		gone, err := s.removeRow(ctx, r.key, r.v)
		if err != nil {
			return false, err
		}
		if !gone {
			raced = true
			continue
		}
		if err := s.dropMarkers(ctx, r.row); err != nil {
			return false, err
		}
	}
	return raced, nil
}

// endedRow reports whether a row bound to rowInc (0: unbound) belongs to an
// incarnation that has ended, given the session head's incarnation inc and
// liveness read after the row.
func endedRow(rowInc, inc uint64, live bool) bool {
	switch {
	case rowInc == 0:
		return !live
	case live:
		return rowInc < inc
	}
	return rowInc <= inc
}

// dropMarkers deletes the session marker of a removed row, then re-reads
// the row: if it was written again meanwhile (its writer found no row and
// put its markers before our delete), the marker is put back. The row's
// turn marker stays (a stale hint: the turn's commit reads the row and
// skips it). Deleting it could not be undone in time: a put of the turn
// may write the row again, markers and all, before that delete lands, and
// the turn's commit may list its markers before the put-back (or never see
// one, if this call stops after the delete), and then not adopt the row
// (A3; internal/sim seeds 9456 and 59840).
func (s *Store) dropMarkers(ctx context.Context, row Row) error {
	key := sessionMarker(row.SessionID, row.AttachmentID)
	if err := s.obj.DeleteMany(ctx, []string{key}); err != nil {
		return err
	}
	_, v, err := s.readRow(ctx, RefKey(row.AttachmentID, row.SessionID))
	if err != nil || v.state != rowLive {
		return err
	}
	return s.putMarkers(ctx, []string{key})
}

// deleteQuietly deletes key, logging a failure (for best-effort cleanup).
func (s *Store) deleteQuietly(ctx context.Context, key string) {
	if err := s.obj.Delete(ctx, key, nil); err != nil && !errors.Is(err, objstore.ErrNotExist) {
		s.log.DebugContext(ctx, "manifest: delete left for the sweeper", "key", key, "err", err)
	}
}

// DeadRows returns the rows of sessionID that ForgetAgedUncommitted would
// delete at cutoff (without asking Options.Heads), with their Rev: the first
// half of forgetting through the session head, where the sweeper judges a
// session's rows, publishes a new head by compare-and-swap (so that a commit
// prepared on the old head can no longer land), and then calls ForgetRow.
func (s *Store) DeadRows(ctx context.Context, sessionID string, cutoff time.Time) ([]Row, error) {
	rows, err := s.SessionRows(ctx, sessionID)
	if err != nil {
		return nil, wrap("dead rows", err)
	}
	cutoff = ClampTime(cutoff)
	out := rows[:0]
	for _, row := range rows {
		ok, err := s.eligible(ctx, &row, cutoff)
		if err != nil {
			return nil, wrap("dead rows", err)
		}
		if ok {
			out = append(out, row)
		}
	}
	return out, nil
}

// ForgetRow deletes the row (sessionID, id) if it is still the write rev
// (conditionally, like ForgetAgedUncommitted). It reports whether it deleted
// it; a row that was refreshed, stamped or prepared since has another Rev and
// stays.
func (s *Store) ForgetRow(ctx context.Context, sessionID, id, rev string) (bool, error) {
	if err := validatePair(sessionID, id); err != nil {
		return false, wrap("forget row", err)
	}
	key := RefKey(id, sessionID)
	row, v, err := s.readRow(ctx, key)
	if err != nil || v.state != rowLive || row.Rev != rev {
		return false, wrap("forget row", err)
	}
	gone, err := s.removeRow(ctx, key, v)
	return gone, wrap("forget row", err)
}
