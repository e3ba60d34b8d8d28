package manifest

import (
	"context"
	"errors"
	"fmt"

	"github.com/stowage-dev/stowage/objstore"
)

// normalize validates in and fills its defaults: the canonical URI, and the
// intent time (now if zero). Times are clamped.
func (s *Store) normalize(in Intent) (Intent, error) {
	if err := ValidateAttachmentID(in.AttachmentID); err != nil {
		return in, err
	}
	if err := ValidateSessionID(in.SessionID); err != nil {
		return in, err
	}
	if err := in.Owner.Validate(); err != nil {
		return in, err
	}
	switch uri := CanonicalURI(in.AttachmentID); in.CanonicalURI {
	case "":
		in.CanonicalURI = uri
	case uri:
	default:
		return in, fmt.Errorf("%w: canonical uri %q does not name %s", ErrInvalidID, in.CanonicalURI, in.AttachmentID)
	}
	if in.IntentAt.IsZero() {
		in.IntentAt = s.now()
	}
	in.IntentAt = ClampTime(in.IntentAt)
	return in, nil
}

// refreshed returns the row (in.SessionID, in.AttachmentID) after recording
// in over cur: a new row, or cur with uri, intent time and owner refreshed
// and everything else (the commit stamp above all) kept, the incarnation
// the row is bound to (Row.Inc) included: unbinding it would let a deletion
// remove a row that a commit of a newer incarnation prepared and is about
// to publish (found by the simulation, internal/sim).
func refreshed(cur *Row, in Intent) *Row {
	if cur == nil {
		return &Row{Entry: Entry{Intent: in}}
	}
	next := *cur
	next.CanonicalURI, next.IntentAt, next.Owner = in.CanonicalURI, in.IntentAt, in.Owner
	return &next
}

// RecordIntent upserts the row (session, id): a new row names no data yet;
// on an existing row it refreshes uri, intent time and owner and keeps the
// commit stamp and the data it names. A zero IntentAt means now.
func (s *Store) RecordIntent(ctx context.Context, in Intent) error {
	in, err := s.normalize(in)
	if err != nil {
		return wrap("record intent", err)
	}
	_, _, err = s.updateRow(ctx, in.SessionID, in.AttachmentID, func(cur *Row) (*Row, error) {
		return refreshed(cur, in), nil
	})
	return wrap("record intent", err)
}

// RecordRef upserts the row (session, id) like RecordIntent and also sets
// its Info and the data it names: choose gets the current row (nil if there
// is none; it may be called more than once) and returns the data the row is
// to name. It returns the row as written. The caller then calls Protect on
// the row's data key before relying on it (ProtectRow).
//
// On a Store that adopts directly (HeadCache, SessionFencer and Announcer
// wired) each write also binds the row to the incarnation of the live head
// this process has cached, if any, and remembers that head's state with
// the version written (docs/protocol.md, "Turns with attachments: adoption
// without a request").
func (s *Store) RecordRef(ctx context.Context, in Intent, info Info, choose func(cur *Row) (Data, error)) (Row, error) {
	in, err := s.normalize(in)
	if err != nil {
		return Row{}, wrap("record ref", err)
	}
	row, _, err := s.update(ctx, in.SessionID, in.AttachmentID, true, func(cur *Row) (*Row, error) {
		data, err := choose(cur)
		if err != nil {
			return nil, err
		}
		if _, ok := ParseDataKey(data.Key); !ok {
			return nil, fmt.Errorf("%w: data key %q", objstore.ErrInvalidArgument, data.Key)
		}
		next := refreshed(cur, in)
		next.Data, next.Info = data, info
		return next, nil
	})
	return row, wrap("record ref", err)
}

// Row returns the row (sessionID, id); ok is false if there is none.
func (s *Store) Row(ctx context.Context, sessionID, id string) (row Row, ok bool, err error) {
	if err := validatePair(sessionID, id); err != nil {
		return Row{}, false, wrap("row", err)
	}
	s.pending.wait(sessionID)
	row, v, err := s.readRow(ctx, RefKey(id, sessionID))
	if err != nil {
		return Row{}, false, wrap("row", err)
	}
	return row, v.state == rowLive, nil
}

// HoldsRef reports whether a row (session, id) exists: one HEAD.
func (s *Store) HoldsRef(ctx context.Context, sessionID, id string) (bool, error) {
	if err := validatePair(sessionID, id); err != nil {
		return false, wrap("holds ref", err)
	}
	s.pending.wait(sessionID)
	info, err := s.obj.Head(ctx, RefKey(id, sessionID))
	switch {
	case errors.Is(err, objstore.ErrNotExist):
		return false, nil
	case err != nil:
		return false, wrap("holds ref", err)
	}
	return info.Size > 0, nil
}

// Forget deletes the row (session, id), committed or not. Idempotent. The
// bytes are left for the sweeper; the markers stay (readers confirm rows).
// With Options.Fencer the session head is fenced between reading the row
// and removing it; without one, a row that a commit may name without a
// request (Row.Fence) is not removed: ErrFenceRequired.
func (s *Store) Forget(ctx context.Context, sessionID, id string) error {
	if err := validatePair(sessionID, id); err != nil {
		return wrap("forget", err)
	}
	s.pending.wait(sessionID)
	key := RefKey(id, sessionID)
	for attempt := 0; ; attempt++ {
		row, v, err := s.readRow(ctx, key)
		if err != nil {
			return wrap("forget", err)
		}
		if v.state != rowLive {
			return nil
		}
		if err := s.fenceRemoval(ctx, &row); err != nil {
			return wrap("forget", err)
		}
		gone, err := s.removeRow(ctx, key, v)
		if err != nil {
			return wrap("forget", err)
		}
		if gone {
			return nil
		}
		if attempt+1 >= s.maxAttempts {
			return wrap("forget", fmt.Errorf("%q: %w", key, ErrContended))
		}
		if err := backoff(ctx, attempt); err != nil {
			return wrap("forget", err)
		}
	}
}

func validatePair(sessionID, id string) error {
	if err := ValidateSessionID(sessionID); err != nil {
		return err
	}
	return ValidateAttachmentID(id)
}
