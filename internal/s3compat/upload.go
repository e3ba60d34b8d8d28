package s3compat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"sync"

	"github.com/stowage-dev/stowage/objstore"
)

// Upload implements objstore.Store with objstore.StreamUpload: one
// PutObject for a body within one part, otherwise CreateMultipartUpload
// (no condition), parallel UploadPart calls, and CompleteMultipartUpload
// with the condition.
func (s *Store) Upload(ctx context.Context, key string, body io.Reader, opts *objstore.UploadOptions) (objstore.ObjectInfo, error) {
	if err := s.start(ctx, objstore.OpUpload, key); err != nil {
		return objstore.ObjectInfo{}, err
	}
	return objstore.StreamUpload(ctx, &multiparter{s: s}, key, body, opts)
}

// multiparter is the Store as StreamUpload drives it, for one upload. With
// Quirks.ChecksPartCRC32C it creates the upload with the CRC32C algorithm
// and remembers each part's CRC32C for the completion.
type multiparter struct {
	s    *Store
	mu   sync.Mutex
	sums map[int]string // part number -> CRC32C
}

var _ objstore.Multiparter = (*multiparter)(nil)

func (m *multiparter) PutObject(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	return m.s.Put(ctx, key, data, opts)
}

func (m *multiparter) CreateUpload(ctx context.Context, key string, opts *objstore.PutOptions) (string, error) {
	// Content type and metadata only: a condition here would be checked by
	// MinIO at initiation, racily, and not at all by others.
	create := objstore.PutOptions{ContentType: opts.ContentType, Metadata: opts.Metadata}
	id, err := m.s.client.CreateMultipartUpload(ctx, key, &create, m.s.quirks.ChecksPartCRC32C)
	if err != nil {
		return "", m.s.mapErr(ctx, objstore.OpUpload, "CreateMultipartUpload", key, err, false)
	}
	return id, nil
}

// UploadPart sends one part with the payload check the server makes: its
// CRC32C where the server checks that (Quirks.ChecksPartCRC32C), else its
// signed SHA-256 where the server checks that (Quirks.ChecksPayloadHash),
// else its Content-MD5.
func (m *multiparter) UploadPart(ctx context.Context, key, uploadID string, n int, data []byte) (string, error) {
	q := m.s.quirks
	switch {
	case q.ChecksPartCRC32C:
		body := NewCRC32CRequestBody(data)
		m.mu.Lock()
		if m.sums == nil {
			m.sums = map[int]string{}
		}
		m.sums[n] = body.ChecksumCRC32C()
		m.mu.Unlock()
		return m.uploadPart(ctx, key, uploadID, n, body)
	case q.ChecksPayloadHash:
		return m.uploadPart(ctx, key, uploadID, n, NewSignedRequestBody(data))
	}
	return m.uploadPart(ctx, key, uploadID, n, NewRequestBody(data))
}

func (m *multiparter) uploadPart(ctx context.Context, key, uploadID string, n int, body *RequestBody) (string, error) {
	defer body.Release()
	etag, err := m.s.client.UploadPart(ctx, key, uploadID, n, body)
	if err != nil {
		return "", m.s.mapErr(ctx, objstore.OpUpload, "UploadPart", key, err, false)
	}
	return UnquoteETag(etag), nil
}

func (m *multiparter) CompleteUpload(ctx context.Context, key, uploadID string, parts []objstore.CompletedPart, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	if err := m.s.quirks.CheckComplete(opts); err != nil {
		return objstore.ObjectInfo{}, m.s.opErr(objstore.OpUpload, key, err)
	}
	// Only the condition: content type and metadata were given at initiation.
	cond := objstore.PutOptions{IfNoneMatch: opts.IfNoneMatch, IfMatch: opts.IfMatch}
	m.mu.Lock()
	if m.sums != nil {
		parts = slices.Clone(parts)
		for i := range parts {
			parts[i].ChecksumCRC32C = m.sums[parts[i].Number]
		}
	}
	m.mu.Unlock()
	etag, err := m.s.client.CompleteMultipartUpload(ctx, key, uploadID, parts, &cond)
	if err != nil {
		return objstore.ObjectInfo{}, m.s.mapErr(ctx, objstore.OpUpload, "CompleteMultipartUpload", key, err, opts.IfMatch != "")
	}
	return PutInfo(key, 0, etag, opts), nil
}

func (m *multiparter) AbortUpload(ctx context.Context, key, uploadID string) error {
	err := m.s.AbortUpload(ctx, key, uploadID)
	if err != nil {
		m.s.log.DebugContext(ctx, "abort upload failed", "key", key, "upload_id", uploadID, "err", err)
	}
	return err
}

// ListUploads implements objstore.Store with ListMultipartUploads (see
// Quirks.ListUploads).
func (s *Store) ListUploads(ctx context.Context, prefix string) iter.Seq2[objstore.UploadInfo, error] {
	if err := objstore.ValidatePrefix(prefix); err != nil {
		return Fail[objstore.UploadInfo](s.opErr(objstore.OpListUploads, prefix, err))
	}
	if err := s.start(ctx, objstore.OpListUploads, prefix); err != nil {
		return Fail[objstore.UploadInfo](err)
	}
	return s.quirks.ListUploads(ctx, prefix, func(ctx context.Context, ask, keyMarker, idMarker string) (UploadPage, error) {
		page, err := s.client.ListMultipartUploads(ctx, ask, keyMarker, idMarker)
		if err != nil {
			return UploadPage{}, s.mapErr(ctx, objstore.OpListUploads, "ListMultipartUploads", prefix, err, false)
		}
		return page, nil
	})
}

// AbortUpload implements objstore.Store. An upload that no longer exists
// (NoSuchUpload) counts as aborted.
func (s *Store) AbortUpload(ctx context.Context, key, uploadID string) error {
	if err := validateAbortUpload(key, uploadID); err != nil {
		return s.opErr(objstore.OpAbortUpload, key, err)
	}
	if err := s.start(ctx, objstore.OpAbortUpload, key); err != nil {
		return err
	}
	err := s.mapErr(ctx, objstore.OpAbortUpload, "AbortMultipartUpload", key, s.client.AbortMultipartUpload(ctx, key, uploadID), false)
	if errors.Is(err, objstore.ErrNotExist) {
		return nil
	}
	return err
}

// PartsPage is one ListParts response in SDK-neutral form.
type PartsPage struct {
	// Sizes are the listed parts' sizes in bytes, in part order.
	Sizes      []int64
	Truncated  bool
	NextMarker int // NextPartNumberMarker
}

// UploadSize implements objstore.Store with ListParts, paged: the sum of the
// listed parts' sizes. NoSuchUpload is ErrNotExist.
func (s *Store) UploadSize(ctx context.Context, key, uploadID string) (int64, error) {
	if err := validateAbortUpload(key, uploadID); err != nil {
		return 0, s.opErr(objstore.OpUploadSize, key, err)
	}
	if err := s.start(ctx, objstore.OpUploadSize, key); err != nil {
		return 0, err
	}
	var size int64
	for marker := 0; ; {
		page, err := s.client.ListParts(ctx, key, uploadID, marker)
		if err != nil {
			return 0, s.mapErr(ctx, objstore.OpUploadSize, "ListParts", key, err, false)
		}
		for _, n := range page.Sizes {
			size += n
		}
		if !page.Truncated {
			return size, nil
		}
		if page.NextMarker <= marker {
			return 0, s.opErr(objstore.OpUploadSize, key, fmt.Errorf("s3compat: ListParts truncated at part %d without a later marker (%d): %w", marker, page.NextMarker, objstore.ErrUnavailable))
		}
		marker = page.NextMarker
	}
}
