package session

import (
	"context"
	"time"

	"github.com/stowage-dev/stowage/manifest"
)

// The AttachmentManifest methods delegate to the configured manifest (the
// one shared by every session of a store), scoped to this handle's session:
// a handle is a tenant's capability for its own session only.
//
// A method that names a session (RecordIntent, CommitRefs, Forget,
// HoldsRef) refuses another session's id with *SessionBindingMismatchError
// before any I/O (an unbound handle binds to it, as a first commit would),
// whether or not that session holds anything. The store-wide methods
// (ListUncommitted, ForgetAgedUncommitted, HasLiveRef, ListAllRefs) see only
// this session's rows when the manifest implements manifest.SessionScoped
// (*manifest.Store does) and report nothing otherwise; the store-wide
// versions are the sweeper's, on the manifest itself. This is lash's
// per-session-database reading of the contract (docs/contract.md,
// "Isolation between sessions").

// RecordIntent implements manifest.AttachmentManifest.
func (s *Store) RecordIntent(ctx context.Context, in manifest.Intent) error {
	if err := s.bind(in.SessionID); err != nil {
		return err
	}
	return s.manifest.RecordIntent(ctx, in)
}

// CommitRefs implements manifest.AttachmentManifest.
func (s *Store) CommitRefs(ctx context.Context, sessionID string, ids []string) error {
	if err := s.bind(sessionID); err != nil {
		return err
	}
	return s.manifest.CommitRefs(ctx, sessionID, ids)
}

// ListUncommitted implements manifest.AttachmentManifest over this session's
// rows.
func (s *Store) ListUncommitted(ctx context.Context, olderThan time.Time) ([]manifest.Entry, error) {
	sc, sid, err := s.scoped()
	if err != nil || sc == nil {
		return nil, err
	}
	return sc.SessionUncommitted(ctx, sid, olderThan)
}

// ForgetAgedUncommitted implements manifest.AttachmentManifest over this
// session's rows.
func (s *Store) ForgetAgedUncommitted(ctx context.Context, cutoff time.Time) (int, error) {
	sc, sid, err := s.scoped()
	if err != nil || sc == nil {
		return 0, err
	}
	return sc.ForgetAgedSession(ctx, sid, cutoff)
}

// HasLiveRef implements manifest.AttachmentManifest over this session's row.
func (s *Store) HasLiveRef(ctx context.Context, id string, cutoff time.Time) (bool, error) {
	sc, sid, err := s.scoped()
	if err != nil || sc == nil {
		return false, err
	}
	return sc.SessionHasLiveRef(ctx, sid, id, cutoff)
}

// Forget implements manifest.AttachmentManifest.
func (s *Store) Forget(ctx context.Context, sessionID, id string) error {
	if err := s.bind(sessionID); err != nil {
		return err
	}
	return s.manifest.Forget(ctx, sessionID, id)
}

// HoldsRef implements manifest.AttachmentManifest.
func (s *Store) HoldsRef(ctx context.Context, sessionID, id string) (bool, error) {
	if err := s.bind(sessionID); err != nil {
		return false, err
	}
	return s.manifest.HoldsRef(ctx, sessionID, id)
}

// ListAllRefs implements manifest.AttachmentManifest over this session's
// rows.
func (s *Store) ListAllRefs(ctx context.Context) ([]string, error) {
	sc, sid, err := s.scoped()
	if err != nil || sc == nil {
		return nil, err
	}
	return sc.SessionRefs(ctx, sid)
}

// scoped returns the manifest's per-session view and the bound session; a
// manifest without one (the no-op manifest) yields nil: nothing to report.
func (s *Store) scoped() (manifest.SessionScoped, string, error) {
	sid, err := s.boundID()
	if err != nil {
		return nil, "", err
	}
	sc, _ := s.manifest.(manifest.SessionScoped)
	return sc, sid, nil
}
