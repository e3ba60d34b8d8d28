package s3compat

import (
	"fmt"
	"strings"

	"github.com/stowage-dev/stowage/objstore"
)

// Quirks is what an S3-compatible server enforces and where it departs from
// AWS S3. Backends read it instead of testing provider names, so every
// difference lives here, once, with its reason. The zero value means
// Generic (see Normalize).
type Quirks struct {
	// Name labels the server in Capabilities.Provider ("aws", "minio", ...).
	Name string

	// PathStyle addresses the bucket in the path (http://host/bucket/key)
	// rather than in the host name. Local servers (MinIO, versitygw) have no
	// wildcard DNS for virtual-host buckets.
	PathStyle bool

	// ConditionalPut: PutObject honours If-None-Match: * (412 when the key
	// exists). AWS since 2024-08; MinIO since RELEASE.2024-05-07; versitygw
	// v1.8.0 (measured). Without it a create-only Put returns ErrNotSupported.
	ConditionalPut bool

	// CompareAndSwap: PutObject honours If-Match: <etag>. AWS since 2024-11;
	// MinIO since 2023-02 (a missing key wrongly passed until 2025-09);
	// versitygw v1.8.0 (measured). Without it an If-Match Put returns
	// ErrNotSupported.
	CompareAndSwap bool

	// ConditionalMultipart: CompleteMultipartUpload honours If-None-Match and
	// If-Match. AWS yes; MinIO since RELEASE.2024-05-27 (fixed 2025-09);
	// versitygw yes (measured). Without it a conditional Upload larger than
	// one part returns ErrNotSupported (and aborts) instead of writing
	// unconditionally.
	ConditionalMultipart bool

	// ConditionalDelete: DeleteObject honours If-Match. AWS since 2025-09;
	// versitygw yes (measured: 412 on a stale ETag). MinIO ignores the header
	// and deletes (minio/minio#21677, measured), so for MinIO this is false
	// and an If-Match Delete returns ErrNotSupported, never an unconditional
	// delete.
	ConditionalDelete bool

	// BatchDeleteHonoursETag: DeleteObjects honours the per-object <ETag>.
	// AWS yes; versitygw and MinIO ignore it and delete (measured). Recorded
	// for completeness: the backends never send per-object ETags, because a
	// server that ignores them turns a guarded delete into a plain one.
	BatchDeleteHonoursETag bool

	// ChecksPayloadHash: the server refuses an UploadPart whose body does
	// not hash to its signed x-amz-content-sha256 (400
	// XAmzContentSHA256Mismatch). AWS documents it; MinIO and versitygw
	// yes (measured: s3test's Live/Checksum corrupts a part in transit);
	// rclone serve s3 v1.76.0 does not check it (only Content-MD5). With it
	// parts carry their SHA-256 as a signed payload instead of a
	// Content-MD5 header: a stronger check, at half the client CPU
	// (SHA-256 runs on the CPU's SHA extensions, MD5 in software) and
	// without a second MD5 pass on a server that also hashes each part
	// with MD5 for its ETag (versitygw). Single PUTs keep Content-MD5.
	ChecksPayloadHash bool

	// ChecksPartCRC32C: the server refuses an UploadPart whose body does
	// not match its x-amz-checksum-crc32c, on an upload created with that
	// checksum algorithm (MinIO: 400 XAmzContentChecksumMismatch;
	// versitygw: 400 BadDigest; measured by s3test's Live/Checksum). AWS
	// documents it; rclone serve s3 v1.76.0 does not check it. With it the
	// parts of a streamed upload carry their CRC32C (computed by the CPU's
	// CRC instruction) as UNSIGNED-PAYLOAD, in place of ChecksPayloadHash's
	// SHA-256, which the client and the server then no longer compute:
	// 1 GiB in 64 parts took 3.8-4.7 s against 6.2-7.4 s signed on
	// versitygw, 2.4-3.4 s against 2.7-3.9 s on MinIO
	// (docs/performance.md). Presigned uploads keep the plain algorithm.
	ChecksPartCRC32C bool

	// ChecksPutCRC32C: the server refuses a PutObject whose body does not
	// match its x-amz-checksum-crc32c (MinIO: 400
	// XAmzContentChecksumMismatch; versitygw: 400 BadDigest; measured by
	// s3test's Live/Checksum). AWS documents it. With it a single PUT
	// carries its CRC32C (the CPU's CRC instruction) in place of
	// Content-MD5, which the client computed in software over every head,
	// segment and merge it wrote: MD5 was 6% of the process's CPU in a
	// profile of commit_p50 (docs/performance.md). The object is then
	// stored with a full-object CRC32C, which a GET's checksum check
	// verifies in hardware too. rclone serve s3 v1.76.0 checks it as well
	// (400 BadDigest) but is left without: it then answers a GET racing an
	// overwrite (OverwriteCorruptsReads) with one version's body and
	// another's CRC32C, which fails as ErrChecksum instead of being
	// retried (s3test's Live/QuirkOverwriteCorruptsReads, measured).
	ChecksPutCRC32C bool

	// ListUploadsExactPrefix: ListMultipartUploads finds an upload only when
	// the prefix is empty or the upload's exact key; a directory prefix such
	// as "dir/" finds nothing (MinIO, measured). With it the backends list
	// every upload and filter by prefix themselves.
	ListUploadsExactPrefix bool

	// ListUploadsMissingIsEmpty: ListMultipartUploads answers 404
	// NoSuchUpload instead of an empty listing while no multipart upload
	// has ever been created in the bucket (rclone serve s3 v1.76.0,
	// measured: its upload index appears with the first upload). With it a
	// NoSuchUpload on the first page reads as no uploads; NoSuchBucket and
	// every other error still fail the listing.
	ListUploadsMissingIsEmpty bool

	// EmptyDelimiterRollsUp: ListMultipartUploads takes an empty
	// "delimiter=" parameter as a delimiter and rolls every upload up into
	// CommonPrefixes, so none is listed (rclone, measured). minio-go
	// always sends the parameter; with this quirk miniostore sends
	// NoDelimiter instead, which no valid key contains. s3store never sends
	// an empty delimiter.
	EmptyDelimiterRollsUp bool

	// DeleteDirectoryFails: DeleteObject of a key that does not exist but
	// names a directory on the server's disk (K while keys under "K/"
	// exist) answers 500 InternalError, and DeleteObjects reports
	// InternalError for such a key (rclone's local backend, measured).
	// With it a 5xx answer for a key is followed by one HEAD: a key that
	// does not exist counts as deleted, as any missing key does; otherwise
	// the 5xx stands (and is retried above).
	DeleteDirectoryFails bool

	// OverwriteCorruptsReads: a GET racing an overwrite of its key can end
	// early (unexpected EOF) or, at the announced length, carry the new
	// version's bytes after the old one's, or come without an ETag
	// (rclone, measured: session heads read during compare-and-swap races
	// decoded as corrupt; about 1 GET in 1000 there had no ETag), or carry
	// the new version's body with the previous version's ETag (versitygw
	// v1.8.0, measured, s3test's Live/QuirkOverwriteCorruptsReads: its
	// posix GetObject reads the ETag attribute by path, then opens the
	// file; a session that based a compare-and-swap on such a read saw
	// "commit outcome unknown: head moved 0 writes past ours"). With it
	// a whole-object body whose ETag is a plain MD5 (single-part objects on
	// these servers; rclone gives every object one) is checked against it
	// (VerifyMD5); a mismatch, or an ETag that is neither an MD5 nor a
	// multipart ETag, is ErrUnavailable, which the retry decorator
	// retries. A multipart ETag cannot be checked: such a body is returned
	// as is (stowage overwrites only single-part objects). Ranged reads are
	// not checked: stowage ranges only over immutable objects.
	OverwriteCorruptsReads bool

	// DeleteBatch, if set, is the number of keys per DeleteObjects request
	// (below the S3 limit of 1000). rclone deletes the keys of a batch one
	// by one, tidying directories after each (measured: about 40-90 ms a
	// key on a loaded machine), so a batch of 1000 can outlast minio-go's
	// 60-second wait for response headers; 100 keys answer in seconds.
	DeleteBatch int

	// ListsDirectoryMarkers: ListObjectsV2 without a delimiter lists each
	// empty directory as a zero-byte key ending in "/" (rclone, measured:
	// a directory emptied by an aborted multipart upload stays). No
	// objstore key ends in "/", so with it such entries are dropped.
	ListsDirectoryMarkers bool
}

// NoDelimiter is the ListMultipartUploads delimiter miniostore sends to a
// server with Quirks.EmptyDelimiterRollsUp: a tab, a control character no
// valid key contains (objstore.ValidateKey), so no upload rolls up, and one
// XML can carry (rclone echoes the delimiter into its answer verbatim;
// U+0001 there makes the answer unparseable, measured).
const NoDelimiter = "\t"

// Profiles of known servers.
var (
	// AWS is Amazon S3 general-purpose buckets.
	AWS = Quirks{
		Name:                   "aws",
		ConditionalPut:         true,
		CompareAndSwap:         true,
		ConditionalMultipart:   true,
		ConditionalDelete:      true,
		BatchDeleteHonoursETag: true,
		ChecksPayloadHash:      true,
		ChecksPartCRC32C:       true,
		ChecksPutCRC32C:        true,
	}

	// MinIO is the community MinIO server (last release 2025-10; the tests
	// pin the 2026-02 master build).
	MinIO = Quirks{
		Name:                   "minio",
		PathStyle:              true,
		ConditionalPut:         true,
		CompareAndSwap:         true,
		ConditionalMultipart:   true,
		ListUploadsExactPrefix: true,
		ChecksPayloadHash:      true,
		ChecksPartCRC32C:       true,
		ChecksPutCRC32C:        true,
	}

	// VersityGW is Versity S3 Gateway v1.8.0 with its posix backend.
	VersityGW = Quirks{
		Name:                   "versitygw",
		PathStyle:              true,
		ConditionalPut:         true,
		CompareAndSwap:         true,
		ConditionalMultipart:   true,
		ConditionalDelete:      true,
		ChecksPayloadHash:      true,
		ChecksPartCRC32C:       true,
		ChecksPutCRC32C:        true,
		OverwriteCorruptsReads: true,
	}

	// RClone is rclone v1.76.0's "serve s3" over its local backend (any
	// rclone remote behind it stores keys as paths, as the local one does).
	RClone = Quirks{
		Name:                      "rclone",
		PathStyle:                 true,
		ConditionalPut:            true,
		CompareAndSwap:            true,
		ConditionalMultipart:      true,
		ConditionalDelete:         true,
		ListUploadsMissingIsEmpty: true,
		EmptyDelimiterRollsUp:     true,
		DeleteDirectoryFails:      true,
		OverwriteCorruptsReads:    true,
		DeleteBatch:               100,
		ListsDirectoryMarkers:     true,
	}

	// Generic is a server nothing specific is known about. It claims the
	// conditional writes the S3 API has had since 2024 (the conformance
	// suite and a startup probe must confirm them before anything relies on
	// them), no conditional delete, and lists uploads the slow, always
	// correct way, reading NoSuchUpload on a listing as no uploads (no
	// listing has an upload to miss).
	Generic = Quirks{
		Name:                      "generic",
		PathStyle:                 true,
		ConditionalPut:            true,
		CompareAndSwap:            true,
		ConditionalMultipart:      true,
		ListUploadsExactPrefix:    true,
		ListUploadsMissingIsEmpty: true,
	}
)

// Profile returns the named profile ("aws", "minio", "versitygw",
// "rclone", "generic"; case-insensitive).
func Profile(name string) (Quirks, error) {
	for _, q := range []Quirks{AWS, MinIO, VersityGW, RClone, Generic} {
		if strings.EqualFold(q.Name, name) {
			return q, nil
		}
	}
	return Quirks{}, fmt.Errorf("s3compat: unknown provider %q (want aws, minio, versitygw, rclone or generic): %w", name, objstore.ErrInvalidArgument)
}

// Normalize returns q, or Generic if q is the zero value.
func (q Quirks) Normalize() Quirks {
	if q == (Quirks{}) {
		return Generic
	}
	return q
}

// Capabilities reports what a store built on q enforces. backend names the
// store package ("s3store"); Provider becomes "backend/name".
func (q Quirks) Capabilities(backend string) objstore.Capabilities {
	return objstore.Capabilities{
		ConditionalPut:       q.ConditionalPut,
		CompareAndSwap:       q.CompareAndSwap,
		ConditionalMultipart: q.ConditionalMultipart,
		ConditionalDelete:    q.ConditionalDelete,
		Durable:              true,
		Provider:             backend + "/" + q.Name,
	}
}

// CheckPut returns ErrNotSupported if opts carries a condition the server
// does not enforce: such a write must be refused, not sent unconditionally.
func (q Quirks) CheckPut(opts *objstore.PutOptions) error {
	switch {
	case opts == nil:
		return nil
	case opts.IfMatch == "*":
		return errStarETag("If-Match")
	case opts.IfNoneMatch && !q.ConditionalPut:
		return fmt.Errorf("s3compat: %s does not enforce If-None-Match on PUT: %w", q.Name, objstore.ErrNotSupported)
	case opts.IfMatch != "" && !q.CompareAndSwap:
		return fmt.Errorf("s3compat: %s does not enforce If-Match on PUT: %w", q.Name, objstore.ErrNotSupported)
	}
	return nil
}

// CheckComplete is CheckPut for CompleteMultipartUpload.
func (q Quirks) CheckComplete(opts *objstore.PutOptions) error {
	if opts.Conditional() && !q.ConditionalMultipart {
		return fmt.Errorf("s3compat: %s does not enforce conditions on CompleteMultipartUpload: %w", q.Name, objstore.ErrNotSupported)
	}
	return nil
}

// CheckDelete returns ErrNotSupported for an If-Match delete on a server
// that ignores If-Match on DELETE.
func (q Quirks) CheckDelete(opts *objstore.DeleteOptions) error {
	if opts != nil && opts.IfMatch == "*" {
		return errStarETag("If-Match")
	}
	if opts != nil && opts.IfMatch != "" && !q.ConditionalDelete {
		return fmt.Errorf("s3compat: %s ignores If-Match on DELETE: %w", q.Name, objstore.ErrNotSupported)
	}
	return nil
}

// validateAbortUpload checks the arguments of AbortUpload: a valid key and a
// non-empty upload id.
func validateAbortUpload(key, uploadID string) error {
	if err := objstore.ValidateKey(key); err != nil {
		return err
	}
	if uploadID == "" {
		return fmt.Errorf("s3compat: empty upload id: %w", objstore.ErrInvalidArgument)
	}
	return nil
}

// CheckGet refuses Get options S3 servers disagree on.
func CheckGet(opts *objstore.GetOptions) error {
	if opts != nil && opts.IfNoneMatch == "*" {
		return errStarETag("If-None-Match")
	}
	return nil
}

// errStarETag refuses "*" where objstore wants an ETag: "If-Match: *" is
// not portable (MinIO answers 200 for any existing object, versitygw 412),
// and objstore has no use for it (IfNoneMatch is its create-only flag).
func errStarETag(header string) error {
	return fmt.Errorf("s3compat: %s: \"*\" is not an ETag: %w", header, objstore.ErrInvalidArgument)
}
