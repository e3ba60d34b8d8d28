package s3compat

import (
	"bytes"
	"context"
	"errors"
	"io"
	"iter"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/stowage-dev/stowage/objstore"
)

// Client is the SDK-specific half of an S3 backend: one method per S3 call
// the Store makes, each sending one request to the backend's bucket. Store
// validates every argument, applies the quirks and checks that it is open
// before it calls a method, so a Client checks nothing; options it passes
// are never nil.
//
// Methods return the SDK's errors as they are; Store passes them through
// MapErr with the operation, key and condition they belong to. DeleteObjects
// alone returns errors already mapped, as a BatchFunc does.
type Client interface {
	// MapErr is the backend's one mapping of SDK errors: it turns err, from
	// op on key, into the error the Store returns (see Classify and Wrap).
	// ifMatch says the request carried If-Match, so that a 404 means the
	// precondition failed. MapErr(…, nil, …) is nil.
	MapErr(ctx context.Context, op, key string, err error, ifMatch bool) error

	// PutObject sends PutObject of body with its Size as Content-Length,
	// its ContentMD5, opts' content type (see ContentType) and metadata, and
	// opts' condition: If-None-Match: * or If-Match. It returns the ETag the
	// server answered.
	PutObject(ctx context.Context, key string, body *RequestBody, opts *objstore.PutOptions) (etag string, err error)

	// GetObject sends GetObject with the Range header rng and If-None-Match
	// ifNoneMatch, each only if not empty. The info carries the full object
	// size (see ObjectSize), ETag, ModTime, content type and metadata; Store
	// maps the body's read errors.
	GetObject(ctx context.Context, key, rng, ifNoneMatch string) (io.ReadCloser, objstore.ObjectInfo, error)

	// HeadObject sends HeadObject and describes the object as GetObject does.
	HeadObject(ctx context.Context, key string) (objstore.ObjectInfo, error)

	// DeleteObject sends DeleteObject, with If-Match ifMatch if not empty
	// (only when Quirks.ConditionalDelete says the server enforces it).
	DeleteObject(ctx context.Context, key, ifMatch string) error

	// DeleteObjects is the BatchFunc of DeleteMany.
	DeleteObjects(ctx context.Context, keys []string) (failed map[string]error, err error)

	// ListObjectsV2 fetches one page of at most 1000 entries under prefix,
	// rolled up by delimiter if not empty, starting after startAfter on the
	// first page (token "") and at the continuation token after that.
	ListObjectsV2(ctx context.Context, prefix, delimiter, startAfter, token string) (Page, error)

	// CreateMultipartUpload starts a multipart upload with opts' content
	// type and metadata; opts carries no condition. With crc32c the upload
	// is created with the CRC32C checksum algorithm: its parts must carry
	// their CRC32C, and its completion every part's.
	CreateMultipartUpload(ctx context.Context, key string, opts *objstore.PutOptions, crc32c bool) (uploadID string, err error)

	// UploadPart uploads part n of body, with its Size and the check the
	// body carries (ContentMD5, PayloadSHA256 or ChecksumCRC32C), and
	// returns the ETag the server answered.
	UploadPart(ctx context.Context, key, uploadID string, n int, body *RequestBody) (etag string, err error)

	// CompleteMultipartUpload assembles parts (with their ChecksumCRC32C,
	// if set) with opts' condition, as PutObject sends it, and returns the
	// ETag the server answered.
	CompleteMultipartUpload(ctx context.Context, key, uploadID string, parts []objstore.CompletedPart, opts *objstore.PutOptions) (etag string, err error)

	// ListMultipartUploads fetches one page of the uploads under prefix (all
	// of them for ""), after the given markers ("" for the first page).
	ListMultipartUploads(ctx context.Context, prefix, keyMarker, uploadIDMarker string) (UploadPage, error)

	// AbortMultipartUpload sends AbortMultipartUpload.
	AbortMultipartUpload(ctx context.Context, key, uploadID string) error

	// ListParts fetches one page of the parts of the upload, starting after
	// part number partMarker (0 for the first page).
	ListParts(ctx context.Context, key, uploadID string, partMarker int) (PartsPage, error)
}

// Store is the objstore.Store both S3 backends are: the S3 protocol as
// objstore's contract wants it (validation, quirks, zero-length ranges,
// paging, batching, streaming uploads, missing keys on delete and abort),
// over the SDK calls of a Client. Errors name the backend.
type Store struct {
	backend string
	client  Client
	quirks  Quirks
	log     *slog.Logger
	closed  atomic.Bool
}

var _ objstore.Store = (*Store)(nil)

// NewStore returns the Store of backend (the package name that errors and
// Capabilities.Provider carry, "s3store") over c, for a server with the
// quirks q. log receives debug records (failed aborts); nil discards them.
func NewStore(backend string, c Client, q Quirks, log *slog.Logger) *Store {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{backend: backend, client: c, quirks: q, log: log}
}

// opErr wraps an error the Store made itself (not the SDK).
func (s *Store) opErr(op, key string, err error) error {
	return &objstore.OpError{Backend: s.backend, Op: op, Key: key, Err: err}
}

// mapErr maps an SDK error from the S3 call operation (e.g.
// "ListObjectsV2"), made for op on key, through the Client; a refusal names
// the S3 operation and its IAM action (Denied).
func (s *Store) mapErr(ctx context.Context, op, operation, key string, err error, ifMatch bool) error {
	if err == nil {
		return nil
	}
	return Denied(operation, s.client.MapErr(ctx, op, key, err, ifMatch))
}

// start checks what every method checks before any request.
func (s *Store) start(ctx context.Context, op, key string) error {
	if s.closed.Load() {
		return s.opErr(op, key, objstore.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return s.opErr(op, key, err)
	}
	return nil
}

// Put implements objstore.Store with a single PutObject carrying its
// CRC32C where the server checks that (Quirks.ChecksPutCRC32C), else its
// Content-MD5.
func (s *Store) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	if err := objstore.ValidatePut(key, opts); err != nil {
		return objstore.ObjectInfo{}, s.opErr(objstore.OpPut, key, err)
	}
	if err := s.quirks.CheckPut(opts); err != nil {
		return objstore.ObjectInfo{}, s.opErr(objstore.OpPut, key, err)
	}
	if err := s.start(ctx, objstore.OpPut, key); err != nil {
		return objstore.ObjectInfo{}, err
	}
	if opts == nil {
		opts = &objstore.PutOptions{}
	}
	body := NewRequestBody
	if s.quirks.ChecksPutCRC32C {
		body = NewCRC32CRequestBody
	}
	b := body(data)
	defer b.Release()
	etag, err := s.client.PutObject(ctx, key, b, opts)
	if err != nil {
		return objstore.ObjectInfo{}, s.mapErr(ctx, objstore.OpPut, "PutObject", key, err, opts.IfMatch != "")
	}
	return PutInfo(key, int64(len(data)), etag, opts), nil
}

// Get implements objstore.Store.
func (s *Store) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	if err := objstore.ValidateKey(key); err != nil {
		return nil, objstore.ObjectInfo{}, s.opErr(objstore.OpGet, key, err)
	}
	if opts == nil {
		opts = &objstore.GetOptions{}
	}
	if err := CheckGet(opts); err != nil {
		return nil, objstore.ObjectInfo{}, s.opErr(objstore.OpGet, key, err)
	}
	if r := opts.Range; r != nil && r.Length == 0 && r.Offset >= 0 {
		return s.emptyRange(ctx, key, r.Offset, opts.IfNoneMatch)
	}
	rng, err := RangeHeader(opts.Range)
	if err != nil {
		return nil, objstore.ObjectInfo{}, s.opErr(objstore.OpGet, key, err)
	}
	if err := s.start(ctx, objstore.OpGet, key); err != nil {
		return nil, objstore.ObjectInfo{}, err
	}
	rc, info, err := s.client.GetObject(ctx, key, rng, opts.IfNoneMatch)
	if err != nil {
		return nil, objstore.ObjectInfo{}, s.mapErr(ctx, objstore.OpGet, "GetObject", key, err, false)
	}
	body := Body(rc, func(err error) error { return s.mapErr(ctx, objstore.OpGet, "GetObject", key, err, false) })
	if s.quirks.OverwriteCorruptsReads && rng == "" && !opts.Immutable {
		verified, err := VerifyMD5(body, info.ETag, func(err error) error { return s.opErr(objstore.OpGet, key, err) })
		if err != nil {
			body.Close()
			return nil, objstore.ObjectInfo{}, err
		}
		body = verified
	}
	return body, info, nil
}

// emptyRange serves a zero-length range, which HTTP cannot express, from a
// HEAD: the object must exist and the offset lie within it.
func (s *Store) emptyRange(ctx context.Context, key string, off int64, ifNoneMatch string) (io.ReadCloser, objstore.ObjectInfo, error) {
	info, err := s.Head(ctx, key)
	switch {
	case err != nil:
		return nil, objstore.ObjectInfo{}, err
	case ifNoneMatch != "" && UnquoteETag(ifNoneMatch) == info.ETag:
		return nil, objstore.ObjectInfo{}, s.opErr(objstore.OpGet, key, objstore.ErrNotModified)
	case off >= info.Size:
		return nil, objstore.ObjectInfo{}, s.opErr(objstore.OpGet, key, ErrRangeNotSatisfiable(off, info.Size))
	}
	return io.NopCloser(bytes.NewReader(nil)), info, nil
}

// Head implements objstore.Store.
func (s *Store) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	if err := objstore.ValidateKey(key); err != nil {
		return objstore.ObjectInfo{}, s.opErr(objstore.OpHead, key, err)
	}
	if err := s.start(ctx, objstore.OpHead, key); err != nil {
		return objstore.ObjectInfo{}, err
	}
	info, err := s.client.HeadObject(ctx, key)
	if err != nil {
		return objstore.ObjectInfo{}, s.mapErr(ctx, objstore.OpHead, "HeadObject", key, err, false)
	}
	return info, nil
}

// Delete implements objstore.Store. An If-Match delete is sent only to a
// server that enforces it (Quirks.ConditionalDelete); elsewhere it returns
// ErrNotSupported and deletes nothing.
func (s *Store) Delete(ctx context.Context, key string, opts *objstore.DeleteOptions) error {
	if err := objstore.ValidateKey(key); err != nil {
		return s.opErr(objstore.OpDelete, key, err)
	}
	if err := s.quirks.CheckDelete(opts); err != nil {
		return s.opErr(objstore.OpDelete, key, err)
	}
	if err := s.start(ctx, objstore.OpDelete, key); err != nil {
		return err
	}
	var ifMatch string
	if opts != nil {
		ifMatch = opts.IfMatch
	}
	// A missing key is success, conditional or not (the contract; AWS
	// answers 404 to an If-Match delete of a missing key, versitygw 204), so
	// the 404 is not read as a failed If-Match.
	err := s.mapErr(ctx, objstore.OpDelete, "DeleteObject", key, s.client.DeleteObject(ctx, key, ifMatch), false)
	if errors.Is(err, objstore.ErrNotExist) || s.missingAfterFailure(ctx, key, err) {
		return nil
	}
	return err
}

// missingAfterFailure reports, on a server with Quirks.DeleteDirectoryFails,
// whether a delete of key (alone or in a batch) that failed with err (a 5xx
// or a transport failure) left no object under key, as one HEAD shows: then
// the delete succeeded as far as the contract goes. Any other answer keeps
// the failure.
func (s *Store) missingAfterFailure(ctx context.Context, key string, err error) bool {
	if !s.quirks.DeleteDirectoryFails || !errors.Is(err, objstore.ErrUnavailable) || ctx.Err() != nil {
		return false
	}
	_, herr := s.client.HeadObject(ctx, key)
	missing := errors.Is(s.mapErr(ctx, objstore.OpHead, "HeadObject", key, herr, false), objstore.ErrNotExist)
	if missing {
		s.log.DebugContext(ctx, "delete failed but the key does not exist", "key", key, "err", err)
	}
	return missing
}

// DeleteMany implements objstore.Store with DeleteObjects, 1000 keys a
// request (see DeleteMany).
func (s *Store) DeleteMany(ctx context.Context, keys []string) error {
	if err := s.start(ctx, objstore.OpDeleteMany, ""); err != nil {
		return err
	}
	return s.quirks.DeleteMany(ctx, keys, func(ctx context.Context, keys []string) (map[string]error, error) {
		failed, err := s.client.DeleteObjects(ctx, keys)
		for k, e := range failed {
			if s.missingAfterFailure(ctx, k, e) {
				delete(failed, k)
				continue
			}
			failed[k] = Denied("DeleteObjects", e)
		}
		return failed, Denied("DeleteObjects", err)
	})
}

// List implements objstore.Store with ListObjectsV2 (see List).
func (s *Store) List(ctx context.Context, prefix string, opts *objstore.ListOptions) iter.Seq2[objstore.ObjectInfo, error] {
	if opts == nil {
		opts = &objstore.ListOptions{}
	}
	if err := objstore.ValidatePrefix(prefix); err != nil {
		return Fail[objstore.ObjectInfo](s.opErr(objstore.OpList, prefix, err))
	}
	if err := s.start(ctx, objstore.OpList, prefix); err != nil {
		return Fail[objstore.ObjectInfo](err)
	}
	return List(ctx, opts.StartAfter, func(ctx context.Context, token string) (Page, error) {
		startAfter := opts.StartAfter
		if token != "" {
			startAfter = "" // the token carries the position
		}
		page, err := s.client.ListObjectsV2(ctx, prefix, opts.Delimiter, startAfter, token)
		if err != nil {
			return Page{}, s.mapErr(ctx, objstore.OpList, "ListObjectsV2", prefix, err, false)
		}
		if s.quirks.ListsDirectoryMarkers {
			page.Objects = slices.DeleteFunc(page.Objects, isDirectoryMarker)
		}
		return page, nil
	})
}

// isDirectoryMarker reports whether a listed object is an empty key ending
// in "/": a directory on a server that stores keys as paths, never an
// object objstore can name (ValidateKey refuses such keys).
func isDirectoryMarker(info objstore.ObjectInfo) bool {
	return info.Size == 0 && strings.HasSuffix(info.Key, "/")
}

// Capabilities implements objstore.Store from the quirks.
func (s *Store) Capabilities() objstore.Capabilities {
	return s.quirks.Capabilities(s.backend)
}

// Close implements objstore.Store. Later calls fail with ErrClosed.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}
