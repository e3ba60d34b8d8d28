package manifest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/stowage-dev/stowage/objstore"
)

// BeginUpload records an upload intent for sessionID, owned by owner, and
// returns it. It is durable when BeginUpload returns; only then may bytes be
// written to its DataKey. attachmentID is the digest if the caller knows it
// up front, else empty.
func (s *Store) BeginUpload(ctx context.Context, sessionID string, owner Owner, attachmentID string) (Upload, error) {
	if err := ValidateSessionID(sessionID); err != nil {
		return Upload{}, wrap("begin upload", err)
	}
	if err := owner.Validate(); err != nil {
		return Upload{}, wrap("begin upload", err)
	}
	if attachmentID != "" {
		if err := ValidateAttachmentID(attachmentID); err != nil {
			return Upload{}, wrap("begin upload", err)
		}
	}
	id := s.NewUploadID()
	u := Upload{
		ID:           id,
		SessionID:    sessionID,
		Owner:        owner,
		IntentAt:     s.Now(),
		DataKey:      DataKey(id),
		AttachmentID: attachmentID,
		State:        UploadActive,
	}
	return s.writeIntent(ctx, u, "begin upload")
}

// BeginGrant records the intent of a direct upload: a client will write
// size bytes hashing to attachmentID to the returned intent's DataKey
// through presigned requests that expire at expires. It is durable when
// BeginGrant returns; only then may the requests be signed. Until it is
// sealed (attach.Store.Seal ends it) the intent roots its data key; once
// expires is older than the sweeper's cutoff, it is reclaimable whoever its
// owner, and so are its data and any multipart upload under it.
func (s *Store) BeginGrant(ctx context.Context, sessionID string, owner Owner, attachmentID string, size int64, expires time.Time) (Upload, error) {
	if err := ValidateSessionID(sessionID); err != nil {
		return Upload{}, wrap("begin grant", err)
	}
	if err := owner.Validate(); err != nil {
		return Upload{}, wrap("begin grant", err)
	}
	if err := ValidateAttachmentID(attachmentID); err != nil {
		return Upload{}, wrap("begin grant", err)
	}
	if size < 0 {
		return Upload{}, wrap("begin grant", fmt.Errorf("%w: size %d", objstore.ErrInvalidArgument, size))
	}
	id := s.NewUploadID()
	now := s.Now()
	u := Upload{
		ID:           id,
		SessionID:    sessionID,
		Owner:        owner,
		IntentAt:     now,
		DataKey:      DataKey(id),
		AttachmentID: attachmentID,
		State:        UploadGranted,
		ExpiresAt:    ClampTime(expires),
		Size:         size,
	}
	return s.writeIntent(ctx, u, "begin grant")
}

// writeIntent creates the upload intent u (create-only).
func (s *Store) writeIntent(ctx context.Context, u Upload, op string) (Upload, error) {
	data, err := encodeUpload(&u)
	if err != nil {
		return Upload{}, wrap(op, err)
	}
	info, err := s.obj.Put(ctx, UploadKey(u.ID), data, &objstore.PutOptions{IfNoneMatch: true})
	if err != nil {
		return Upload{}, wrap(op, err)
	}
	u.etag = info.ETag
	return u, nil
}

// LoadUpload returns the upload intent id; ok is false if there is none
// (never written, ended, or forgotten by the sweeper).
func (s *Store) LoadUpload(ctx context.Context, id string) (Upload, bool, error) {
	if _, err := ulid.ParseStrict(id); err != nil {
		return Upload{}, false, wrap("load upload", fmt.Errorf("%w: upload id %q", ErrInvalidID, id))
	}
	u, ok, err := s.readUpload(ctx, UploadKey(id))
	return u, ok, wrap("load upload", err)
}

// AbandonUpload marks u aborted: its writer gave up, and once aged the
// intent is reclaimable whoever its owner (the data key and any multipart
// upload under it then go to the sweeper). Best effort: an intent that is
// already gone or changed is left as it is.
func (s *Store) AbandonUpload(ctx context.Context, u Upload) error {
	u.State = UploadAborted
	data, err := encodeUpload(&u)
	if err != nil {
		return wrap("abandon upload", err)
	}
	_, err = s.obj.Put(ctx, UploadKey(u.ID), data, &objstore.PutOptions{IfMatch: u.etag})
	if lostRace(err) {
		return nil
	}
	return wrap("abandon upload", err)
}

// EndUpload deletes u's intent: its data is named by a row now (or was
// dropped). Best effort; a leftover intent only roots data a row roots too,
// until it ages out.
func (s *Store) EndUpload(ctx context.Context, u Upload) {
	s.deleteQuietly(ctx, UploadKey(u.ID))
}

// readUpload reads the upload intent under key; ok is false if it is gone.
// An intent that does not decode, or names another upload than its key, is
// an *UnreadableError.
func (s *Store) readUpload(ctx context.Context, key string) (Upload, bool, error) {
	data, info, ok, err := s.readObject(ctx, key)
	if err != nil || !ok {
		return Upload{}, false, err
	}
	u, err := decodeUpload(data)
	if err != nil {
		return Upload{}, false, &UnreadableError{Key: key, Err: err}
	}
	if id, _ := ParseUploadKey(key); u.ID != id || u.DataKey != DataKey(id) {
		return Upload{}, false, &UnreadableError{Key: key, Err: fmt.Errorf("intent names upload %q and data %q", u.ID, u.DataKey)}
	}
	u.etag = info.ETag
	return u, true, nil
}

// LoadBlob returns attachment id's blob pointer; ok is false if there is
// none. The pointer is a hint: the data it names may be gone (Protect tells).
func (s *Store) LoadBlob(ctx context.Context, id string) (Blob, bool, error) {
	if err := ValidateAttachmentID(id); err != nil {
		return Blob{}, false, wrap("load blob", err)
	}
	data, info, ok, err := s.readObject(ctx, BlobKey(id))
	if err != nil || !ok {
		return Blob{}, false, wrap("load blob", err)
	}
	b, err := decodeBlob(data)
	if err != nil {
		return Blob{}, false, wrap("load blob", err)
	}
	if b.AttachmentID != id {
		return Blob{}, false, wrap("load blob", fmt.Errorf("pointer %q names attachment %s", BlobKey(id), b.AttachmentID))
	}
	b.ETag = info.ETag
	return b, true, nil
}

// PublishBlob makes data the blob pointer of attachment id: create-only if
// prev is nil, else only if the pointer is still the one prev was read as.
// A lost race matches objstore.ErrPreconditionFailed; an unknown outcome
// matches objstore.ErrOutcomeUnknown (LoadBlob then tells). Publish only data
// that a row names and that passed Protect.
func (s *Store) PublishBlob(ctx context.Context, id string, data Data, prev *Blob) error {
	if err := ValidateAttachmentID(id); err != nil {
		return wrap("publish blob", err)
	}
	if _, ok := ParseDataKey(data.Key); !ok {
		return wrap("publish blob", fmt.Errorf("%w: data key %q", objstore.ErrInvalidArgument, data.Key))
	}
	body, err := encodeBlob(&Blob{AttachmentID: id, Data: data})
	if err != nil {
		return wrap("publish blob", err)
	}
	opts := &objstore.PutOptions{IfNoneMatch: true}
	if prev != nil {
		opts = &objstore.PutOptions{IfMatch: prev.ETag}
	}
	_, err = s.obj.Put(ctx, BlobKey(id), body, opts)
	if errors.Is(err, objstore.ErrConflict) {
		err = fmt.Errorf("%w: %w", objstore.ErrPreconditionFailed, err)
	}
	return wrap("publish blob", err)
}
