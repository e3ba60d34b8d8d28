package manifest

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// SessionScoped is the store-wide half of AttachmentManifest restricted to
// one session's rows. A session handle (session.Store) serves its
// AttachmentManifest methods through it, so a tenant holding a handle for
// its own session lists, judges and forgets only its own rows and learns
// nothing of another session's (docs/contract.md, "Isolation between
// sessions").
type SessionScoped interface {
	// SessionUncommitted is ListUncommitted over sessionID's rows.
	SessionUncommitted(ctx context.Context, sessionID string, olderThan time.Time) ([]Entry, error)
	// ForgetAgedSession is ForgetAgedUncommitted over sessionID's rows
	// (upload intents are the sweeper's).
	ForgetAgedSession(ctx context.Context, sessionID string, cutoff time.Time) (int, error)
	// SessionHasLiveRef is HasLiveRef over sessionID's row for id.
	SessionHasLiveRef(ctx context.Context, sessionID, id string, cutoff time.Time) (bool, error)
	// SessionRefs is ListAllRefs over sessionID's rows.
	SessionRefs(ctx context.Context, sessionID string) ([]string, error)
}

var _ SessionScoped = (*Store)(nil)

// SessionUncommitted returns sessionID's rows with no commit stamp and
// intent time at or before olderThan, sorted by attachment id.
func (s *Store) SessionUncommitted(ctx context.Context, sessionID string, olderThan time.Time) ([]Entry, error) {
	rows, err := s.SessionRows(ctx, sessionID)
	if err != nil {
		return nil, err
	}
	olderThan = ClampTime(olderThan)
	var out []Entry
	for _, row := range rows {
		if !row.Committed() && !row.IntentAt.After(olderThan) {
			out = append(out, row.Entry)
		}
	}
	return out, nil
}

// SessionRefs returns the attachment ids sessionID holds rows for, sorted.
func (s *Store) SessionRefs(ctx context.Context, sessionID string) ([]string, error) {
	rows, err := s.SessionRows(ctx, sessionID)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rows))
	for _, row := range rows {
		out = append(out, row.AttachmentID)
	}
	return out, nil
}

// SessionHasLiveRef reports whether sessionID's row for id exists and is not
// eligible for deletion under the ForgetAgedUncommitted rule at cutoff.
// Read-only; other sessions' rows are not looked at.
func (s *Store) SessionHasLiveRef(ctx context.Context, sessionID, id string, cutoff time.Time) (bool, error) {
	row, ok, err := s.Row(ctx, sessionID, id)
	if err != nil || !ok {
		return false, wrap("session has live ref", err)
	}
	eligible, committedAt, err := s.eligibleUnlessNamed(ctx, &row, ClampTime(cutoff), false)
	if err != nil {
		return false, wrap("session has live ref", err)
	}
	return !eligible || !committedAt.IsZero(), nil
}

// ForgetAgedSession forgets sessionID's rows that ForgetAgedUncommitted
// would forget at cutoff, each only while it is still the write judged
// (ForgetRow), and repairs the stamp of a row a published head names. It
// returns how many rows it forgot. A lookup error keeps that row and is
// returned after the scan, as is ErrFenceRequired for a row marked for the
// fence (Row.Fence) on a Store without Options.Fencer.
func (s *Store) ForgetAgedSession(ctx context.Context, sessionID string, cutoff time.Time) (int, error) {
	rows, err := s.SessionRows(ctx, sessionID)
	if err != nil {
		return 0, err
	}
	cutoff = ClampTime(cutoff)
	n := 0
	var lookErr error
	for _, row := range rows {
		ok, committedAt, err := s.eligibleUnlessNamed(ctx, &row, cutoff, true)
		switch {
		case err != nil:
			lookErr = errors.Join(lookErr, fmt.Errorf("%s/%s: %w", row.AttachmentID, sessionID, err))
			continue
		case !committedAt.IsZero():
			if err := s.stamp(ctx, "repair stamp", sessionID, []string{row.AttachmentID}, committedAt, true); err != nil {
				return n, err
			}
			continue
		case !ok:
			continue
		}
		gone, err := s.ForgetRow(ctx, sessionID, row.AttachmentID, row.Rev)
		if err != nil {
			return n, err
		}
		if gone {
			n++
		}
	}
	return n, wrap("forget aged session", lookErr)
}
