package memstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/stowage-dev/stowage/objstore"
)

// upload is a registered incomplete upload.
type upload struct {
	key       string
	initiated time.Time
	size      int64 // bytes buffered so far (UploadSize)
}

// uploadChunk is how much of an upload body is read between checks of ctx
// and of the upload's registration.
const uploadChunk = 64 << 10

// Upload implements objstore.Store like a multipart upload: the upload is
// registered (visible in ListUploads, abortable) from the start until it
// completes or fails; the body is buffered in memory; the condition is
// evaluated at completion, under the store lock. An upload aborted while it
// streams fails with ErrNotExist. PartSize and Concurrency are ignored.
func (s *Store) Upload(ctx context.Context, key string, body io.Reader, opts *objstore.UploadOptions) (objstore.ObjectInfo, error) {
	opts, invalid := objstore.ValidateUpload(key, body, opts)
	if err := s.begin(ctx, invalid); err != nil {
		return objstore.ObjectInfo{}, opErr(objstore.OpUpload, key, err)
	}
	id, err := s.registerUpload(key)
	if err != nil {
		return objstore.ObjectInfo{}, opErr(objstore.OpUpload, key, err)
	}
	info, err := s.streamUpload(ctx, key, id, body, &opts.PutOptions)
	if err != nil {
		s.dropUpload(key, id)
		return objstore.ObjectInfo{}, opErr(objstore.OpUpload, key, err)
	}
	return info, nil
}

func (s *Store) registerUpload(key string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", objstore.ErrClosed
	}
	id := "upload-" + s.nextETagLocked()
	s.uploads[id] = &upload{key: key, initiated: s.clock()}
	return id, nil
}

func (s *Store) streamUpload(ctx context.Context, key, id string, body io.Reader, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	var buf bytes.Buffer
	chunk := make([]byte, uploadChunk)
	for {
		if err := ctx.Err(); err != nil {
			return objstore.ObjectInfo{}, err
		}
		if !s.uploadLive(id) {
			return objstore.ObjectInfo{}, fmt.Errorf("%w: upload %s was aborted", objstore.ErrNotExist, id)
		}
		n, err := body.Read(chunk)
		buf.Write(chunk[:n])
		s.grewUpload(id, int64(n))
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return objstore.ObjectInfo{}, fmt.Errorf("memstore: read upload body: %w", err)
		}
	}
	return s.commit(ctx, key, buf.Bytes(), opts, id)
}

// grewUpload records n more bytes buffered by upload id.
func (s *Store) grewUpload(id string, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.uploads[id]; ok {
		u.size += n
	}
}

func (s *Store) uploadLive(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.uploads[id]
	return ok
}

// dropUpload removes upload id if it is registered for key.
func (s *Store) dropUpload(key, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.uploads[id]; ok && u.key == key {
		delete(s.uploads, id)
	}
}

// AbortUpload implements objstore.Store. An unknown upload id, or one
// registered for another key, is a successful no-op.
func (s *Store) AbortUpload(ctx context.Context, key, uploadID string) error {
	if err := s.begin(ctx, objstore.ValidateKey(key)); err != nil {
		return opErr(objstore.OpAbortUpload, key, err)
	}
	s.dropUpload(key, uploadID)
	return nil
}

// UploadSize implements objstore.Store: the bytes of the body buffered so
// far. An unknown upload id, or one registered for another key, is
// ErrNotExist.
func (s *Store) UploadSize(ctx context.Context, key, uploadID string) (int64, error) {
	if err := s.begin(ctx, objstore.ValidateKey(key)); err != nil {
		return 0, opErr(objstore.OpUploadSize, key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.uploads[uploadID]; ok && u.key == key {
		return u.size, nil
	}
	return 0, opErr(objstore.OpUploadSize, key, fmt.Errorf("%w: no upload %q", objstore.ErrNotExist, uploadID))
}
