package session

import (
	"context"
	"time"

	"github.com/stowage-dev/stowage/manifest"
)

// The AttachmentManifest methods delegate to the configured manifest (the
// one shared by every session of a store).

// RecordIntent implements manifest.AttachmentManifest.
func (s *Store) RecordIntent(ctx context.Context, in manifest.Intent) error {
	return s.manifest.RecordIntent(ctx, in)
}

// CommitRefs implements manifest.AttachmentManifest.
func (s *Store) CommitRefs(ctx context.Context, sessionID string, ids []string) error {
	return s.manifest.CommitRefs(ctx, sessionID, ids)
}

// ListUncommitted implements manifest.AttachmentManifest.
func (s *Store) ListUncommitted(ctx context.Context, olderThan time.Time) ([]manifest.Entry, error) {
	return s.manifest.ListUncommitted(ctx, olderThan)
}

// ForgetAgedUncommitted implements manifest.AttachmentManifest.
func (s *Store) ForgetAgedUncommitted(ctx context.Context, cutoff time.Time) (int, error) {
	return s.manifest.ForgetAgedUncommitted(ctx, cutoff)
}

// HasLiveRef implements manifest.AttachmentManifest.
func (s *Store) HasLiveRef(ctx context.Context, id string, cutoff time.Time) (bool, error) {
	return s.manifest.HasLiveRef(ctx, id, cutoff)
}

// Forget implements manifest.AttachmentManifest.
func (s *Store) Forget(ctx context.Context, sessionID, id string) error {
	return s.manifest.Forget(ctx, sessionID, id)
}

// HoldsRef implements manifest.AttachmentManifest.
func (s *Store) HoldsRef(ctx context.Context, sessionID, id string) (bool, error) {
	return s.manifest.HoldsRef(ctx, sessionID, id)
}

// ListAllRefs implements manifest.AttachmentManifest.
func (s *Store) ListAllRefs(ctx context.Context) ([]string, error) {
	return s.manifest.ListAllRefs(ctx)
}
