package objstore

import (
	"context"
	"io"
	"iter"
	"time"
)

// Store is an object store with conditional writes.
//
// All methods are safe for concurrent use. A nil options pointer is the same
// as the zero value. Every method checks ctx before any mutating side effect;
// a cancelled Put or Upload leaves no object behind.
type Store interface {
	// Put writes data as the whole object under key, atomically: readers see
	// the old object or the new one, never a mix.
	//
	// With opts.IfNoneMatch the write succeeds only if no object exists under
	// key (create-only); with opts.IfMatch only if the current object's ETag
	// equals it (compare-and-swap). A failed condition returns an error
	// matching ErrPreconditionFailed, whatever the server answered (412, or
	// 404 for If-Match on a missing key), and changes nothing. S3's 409
	// ConditionalRequestConflict matches ErrConflict and is retryable.
	//
	// The payload is protected by an end-to-end checksum that the backend
	// verifies before the object becomes visible.
	Put(ctx context.Context, key string, data []byte, opts *PutOptions) (ObjectInfo, error)

	// Get opens the object for streaming. A missing key returns ErrNotExist.
	// With opts.Range only that byte range is returned (ObjectInfo.Size is
	// still the full object size). With opts.IfNoneMatch equal to the current
	// ETag, Get returns ErrNotModified and no body: a cheap revalidation.
	Get(ctx context.Context, key string, opts *GetOptions) (io.ReadCloser, ObjectInfo, error)

	// Head returns the object's info including user metadata. A missing key
	// returns ErrNotExist.
	Head(ctx context.Context, key string) (ObjectInfo, error)

	// Delete removes the object. Deleting a missing key succeeds, with or
	// without a condition (the object is absent either way).
	// With opts.IfMatch the delete happens only if the current ETag matches
	// (ErrPreconditionFailed otherwise); a backend whose Capabilities report
	// no ConditionalDelete returns ErrNotSupported for it and deletes nothing
	// (it never falls back to an unconditional delete).
	Delete(ctx context.Context, key string, opts *DeleteOptions) error

	// DeleteMany removes many objects, batching up to 1000 keys per request.
	// Missing keys succeed. If some keys fail the error is a *DeleteManyError
	// naming each failed key; the other keys are deleted.
	DeleteMany(ctx context.Context, keys []string) error

	// List yields the objects whose keys start with prefix, in ascending
	// byte order of keys, starting strictly after opts.StartAfter. It pages
	// transparently. With opts.Delimiter set, keys containing the delimiter
	// after the prefix are rolled up into one entry with IsPrefix set. Listed
	// entries carry Key, Size, ETag and ModTime but no Metadata.
	List(ctx context.Context, prefix string, opts *ListOptions) iter.Seq2[ObjectInfo, error]

	// Upload streams a body of unknown size into key. Bodies at or below one
	// part are written with a single Put; larger ones as a multipart upload
	// with up to opts.Concurrency parts in flight, so memory stays bounded by
	// PartSize x (Concurrency+1) whatever the body size. The condition in opts
	// is applied where the provider evaluates it: on completion of the upload,
	// never only when it is initiated. On any failure the upload is aborted
	// (best effort; the sweeper reclaims what an abort missed).
	Upload(ctx context.Context, key string, body io.Reader, opts *UploadOptions) (ObjectInfo, error)

	// ListUploads yields the incomplete multipart uploads whose keys start
	// with prefix, with their initiation time.
	ListUploads(ctx context.Context, prefix string) iter.Seq2[UploadInfo, error]

	// AbortUpload aborts exactly one multipart upload, named by key and
	// upload id. Aborting an upload that no longer exists succeeds.
	AbortUpload(ctx context.Context, key, uploadID string) error

	// UploadSize returns the bytes the incomplete multipart upload (key,
	// uploadID) holds so far: the sum of the sizes of its uploaded parts, as
	// the server lists them (S3's ListParts, paged). It reads only. An
	// upload that does not exist (never started, completed or aborted)
	// returns ErrNotExist. The sweeper reports it as the bytes an abort
	// reclaims.
	UploadSize(ctx context.Context, key, uploadID string) (int64, error)

	// Capabilities says truthfully what this backend, against its server,
	// enforces.
	Capabilities() Capabilities

	// Close releases resources. The Store must not be used afterwards.
	Close() error
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key  string
	Size int64
	// ETag is opaque and unquoted. It changes when the content changes; it
	// may repeat for identical content (S3 ETags are MD5s), so it must never
	// be taken as a unique identity of a write.
	ETag        string
	ModTime     time.Time
	ContentType string
	// Metadata is user metadata with lowercase keys. Set by Head and Get,
	// not by List.
	Metadata map[string]string
	// IsPrefix marks a rolled-up common prefix in a delimited List.
	IsPrefix bool
}

// PutOptions are the options of Put.
type PutOptions struct {
	// IfNoneMatch makes the write create-only (If-None-Match: *).
	IfNoneMatch bool
	// IfMatch makes the write a compare-and-swap on this ETag.
	IfMatch string
	// ContentType of the object; empty means application/octet-stream.
	ContentType string
	// Metadata is user metadata: keys of lowercase letters, digits and '-',
	// values of printable ASCII; see ValidateMetadata.
	Metadata map[string]string
}

// Condition reports the write condition of o in a form suitable for logs.
func (o *PutOptions) Condition() string {
	switch {
	case o == nil:
		return ""
	case o.IfNoneMatch:
		return "if-none-match:*"
	case o.IfMatch != "":
		return "if-match:" + o.IfMatch
	}
	return ""
}

// Conditional reports whether o carries a write condition.
func (o *PutOptions) Conditional() bool { return o != nil && (o.IfNoneMatch || o.IfMatch != "") }

// GetOptions are the options of Get.
type GetOptions struct {
	// Range, if set, restricts the body to a byte range.
	Range *Range
	// IfNoneMatch: if the current ETag equals it, Get returns ErrNotModified.
	IfNoneMatch string
	// Immutable is the caller's word that the object under key is written
	// once and never replaced by other bytes (stowage's segments, blobs and
	// attachment data), and that it checks what it reads by its own
	// checksum: a store may then skip what guards a read against an
	// overwrite in flight (the body-against-ETag check of
	// s3compat.Quirks.OverwriteCorruptsReads).
	Immutable bool
}

// Range is a byte range: Length bytes from Offset. Length < 0 means to the end.
type Range struct {
	Offset int64
	Length int64
}

// DeleteOptions are the options of Delete.
type DeleteOptions struct {
	// IfMatch makes the delete conditional on the current ETag.
	IfMatch string
}

// ListOptions are the options of List.
type ListOptions struct {
	// StartAfter restarts a listing strictly after this key.
	StartAfter string
	// Delimiter, if non-empty, rolls keys up to common prefixes.
	Delimiter string
}

// UploadOptions are the options of Upload.
type UploadOptions struct {
	PutOptions
	// PartSize is the multipart part size; 0 means DefaultPartSize. It is
	// raised to MinPartSize if smaller.
	PartSize int64
	// Concurrency is the number of parts in flight; 0 means DefaultConcurrency.
	Concurrency int
}

// Multipart defaults and limits (S3's).
const (
	MinPartSize        = 5 << 20
	DefaultPartSize    = 16 << 20
	DefaultConcurrency = 4
	MaxParts           = 10000
	MaxDeleteBatch     = 1000
	MaxKeyLen          = 1024
)

// UploadInfo describes an incomplete multipart upload.
type UploadInfo struct {
	Key       string
	UploadID  string
	Initiated time.Time
}

// Capabilities says what a store enforces. Decided by the backend's
// knowledge of its server and confirmed by Probe; never assumed.
type Capabilities struct {
	// ConditionalPut: create-only puts are enforced (If-None-Match: *).
	ConditionalPut bool
	// CompareAndSwap: If-Match puts are enforced.
	CompareAndSwap bool
	// ConditionalMultipart: conditions on multipart completion are enforced.
	ConditionalMultipart bool
	// ConditionalDelete: If-Match deletes are enforced.
	ConditionalDelete bool
	// Durable: acknowledged writes survive the loss of this process.
	Durable bool
	// Provider names the backend and, where known, the server ("s3store/minio").
	Provider string
}
