package s3compat

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/stowage-dev/stowage/objstore"
)

// DefaultContentType is stored when PutOptions.ContentType is empty.
const DefaultContentType = "application/octet-stream"

// ContentType returns opts' content type or the default.
func ContentType(opts *objstore.PutOptions) string {
	if opts == nil || opts.ContentType == "" {
		return DefaultContentType
	}
	return opts.ContentType
}

// UnquoteETag returns an ETag as objstore carries it: without the quotes
// S3 puts around it (and without a weak validator's W/ prefix).
func UnquoteETag(etag string) string {
	etag = strings.TrimPrefix(etag, "W/")
	if len(etag) >= 2 && etag[0] == '"' && etag[len(etag)-1] == '"' {
		return etag[1 : len(etag)-1]
	}
	return etag
}

// QuoteETag returns an ETag as an HTTP header wants it: in quotes.
func QuoteETag(etag string) string {
	return `"` + UnquoteETag(etag) + `"`
}

// ContentMD5 returns the base64 MD5 of data for a Content-MD5 header, which
// every S3 server verifies before it stores a PUT or a part (400 BadDigest
// otherwise): the end-to-end payload checksum of both backends.
func ContentMD5(data []byte) string {
	sum := md5.Sum(data)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// RangeHeader returns the HTTP Range header for r ("" for nil). A negative
// offset is ErrInvalidArgument. r.Length must not be 0 (S3 cannot express an
// empty range; callers handle it without a ranged request).
func RangeHeader(r *objstore.Range) (string, error) {
	switch {
	case r == nil:
		return "", nil
	case r.Offset < 0:
		return "", fmt.Errorf("s3compat: range offset %d is negative: %w", r.Offset, objstore.ErrInvalidArgument)
	case r.Length == 0:
		return "", fmt.Errorf("s3compat: empty range has no Range header: %w", objstore.ErrInvalidArgument)
	case r.Length < 0:
		return fmt.Sprintf("bytes=%d-", r.Offset), nil
	}
	return fmt.Sprintf("bytes=%d-%d", r.Offset, r.Offset+r.Length-1), nil
}

// ObjectSize returns the full object size from a ranged response's
// Content-Range ("bytes 0-9/1000" -> 1000), or contentLength if there is no
// usable Content-Range (the response was not ranged).
func ObjectSize(contentRange string, contentLength int64) int64 {
	_, total, ok := strings.Cut(contentRange, "/")
	if !ok {
		return contentLength
	}
	n, err := strconv.ParseInt(total, 10, 64)
	if err != nil {
		return contentLength
	}
	return n
}

// Metadata returns user metadata with lowercase keys, or nil if there is
// none. Both SDKs strip the x-amz-meta- prefix; minio-go keeps the
// canonical header case ("Session-Id"), which objstore does not.
func Metadata(md map[string]string) map[string]string {
	if len(md) == 0 {
		return nil
	}
	out := make(map[string]string, len(md))
	for k, v := range md {
		out[strings.ToLower(k)] = v
	}
	return out
}

// PutInfo is the ObjectInfo of a successful write of size bytes with opts:
// the server answers with the ETag only.
func PutInfo(key string, size int64, etag string, opts *objstore.PutOptions) objstore.ObjectInfo {
	info := objstore.ObjectInfo{Key: key, Size: size, ETag: UnquoteETag(etag), ContentType: ContentType(opts)}
	if opts != nil {
		info.Metadata = Metadata(opts.Metadata)
	}
	return info
}

// Body wraps a GET response body so that its read errors, too, go through
// the backend's error mapping (a connection reset mid-body becomes
// ErrUnavailable). wrap is called for errors other than io.EOF.
func Body(rc io.ReadCloser, wrap func(error) error) io.ReadCloser {
	return &body{ReadCloser: rc, wrap: wrap}
}

type body struct {
	io.ReadCloser
	wrap func(error) error
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = b.wrap(err)
	}
	return n, err
}

// ErrBodyMismatch is the cause of a whole-object GET body whose MD5 is not
// its ETag: cut off, or mixed with the bytes of a concurrent overwrite (see
// Quirks.OverwriteCorruptsReads). It matches objstore.ErrUnavailable, so
// the read is retried.
var ErrBodyMismatch = fmt.Errorf("%w: body does not match its ETag", objstore.ErrUnavailable)

// VerifyMD5 wraps a whole-object GET body so that, at its end, its MD5 is
// compared with etag; a mismatch fails the last read with
// wrap(ErrBodyMismatch). A multipart ETag (an MD5, "-", the part count)
// hashes no body: such a body is returned unchecked (versitygw and MinIO
// give multipart objects one; rclone gives every object its MD5). Any
// other etag that is not a plain MD5 (32 hex digits; rclone answers a GET
// racing an overwrite without one, measured) is ErrBodyMismatch at once:
// the body cannot be trusted.
func VerifyMD5(rc io.ReadCloser, etag string, wrap func(error) error) (io.ReadCloser, error) {
	etag = UnquoteETag(etag)
	if isMultipartETag(etag) {
		return rc, nil
	}
	if !isMD5(etag) {
		return nil, wrap(fmt.Errorf("%w: ETag %q is not an MD5", ErrBodyMismatch, etag))
	}
	return &md5Body{ReadCloser: rc, want: strings.ToLower(etag), h: md5.New(), wrap: wrap}, nil
}

// isMD5 reports whether s is 32 hex digits.
func isMD5(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil && len(s) == 2*md5.Size
}

// isMultipartETag reports whether etag is an MD5, "-" and a part count
// (1 to 10000, in its shortest form).
func isMultipartETag(etag string) bool {
	sum, parts, ok := strings.Cut(etag, "-")
	if !ok || !isMD5(sum) {
		return false
	}
	n, err := strconv.Atoi(parts)
	return err == nil && n >= 1 && n <= 10000 && strconv.Itoa(n) == parts
}

type md5Body struct {
	io.ReadCloser
	want string
	h    hash.Hash
	wrap func(error) error
}

func (b *md5Body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.h.Write(p[:n])
	if err == io.EOF {
		if got := hex.EncodeToString(b.h.Sum(nil)); got != b.want {
			return n, b.wrap(fmt.Errorf("%w: MD5 %s, ETag %s", ErrBodyMismatch, got, b.want))
		}
	}
	return n, err
}

// RequestBody is a request body over caller memory that can be cut off.
// net/http may go on reading a request's body after the response has
// arrived (a server that answers early, say 400 BadDigest, before reading
// all of it), so a caller that reuses its buffer once Put or UploadPart
// returned (StreamUpload does) would race with that read. Release, called
// before returning, makes every later Read fail instead.
//
// A RequestBody also carries what the request's headers say of the body:
// its Size (Content-Length) and one of its ContentMD5, PayloadSHA256 or
// ChecksumCRC32C, whichever the server is to check.
type RequestBody struct {
	size   int64
	md5    string
	sha256 string
	crc32c string

	mu       sync.Mutex
	r        *bytes.Reader
	released bool
}

var errReleased = errors.New("s3compat: request body read after its request returned")

// NewRequestBody returns a RequestBody reading data, whose MD5 it computes
// for a Content-MD5 header.
func NewRequestBody(data []byte) *RequestBody {
	return &RequestBody{size: int64(len(data)), md5: ContentMD5(data), r: bytes.NewReader(data)}
}

// NewSignedRequestBody returns a RequestBody reading data, whose SHA-256 it
// computes to be signed as the payload hash (x-amz-content-sha256) in
// place of a Content-MD5 header: for a server that checks it
// (Quirks.ChecksPayloadHash).
func NewSignedRequestBody(data []byte) *RequestBody {
	sum := sha256.Sum256(data)
	return &RequestBody{size: int64(len(data)), sha256: hex.EncodeToString(sum[:]), r: bytes.NewReader(data)}
}

// NewCRC32CRequestBody returns a RequestBody reading data, whose CRC32C it
// computes for an x-amz-checksum-crc32c header (sent as UNSIGNED-PAYLOAD):
// for a single PUT or a part of an upload created with that algorithm, on
// a server that checks it (Quirks.ChecksPutCRC32C, ChecksPartCRC32C).
func NewCRC32CRequestBody(data []byte) *RequestBody {
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc32.Checksum(data, castagnoli))
	return &RequestBody{size: int64(len(data)), crc32c: base64.StdEncoding.EncodeToString(sum[:]), r: bytes.NewReader(data)}
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ChecksumCRC32C is the x-amz-checksum-crc32c header of a body of
// NewCRC32CRequestBody, or "".
func (b *RequestBody) ChecksumCRC32C() string { return b.crc32c }

// Size is the length of the body.
func (b *RequestBody) Size() int64 { return b.size }

// ContentMD5 is the Content-MD5 header of the body (see ContentMD5), or ""
// for a body of NewSignedRequestBody.
func (b *RequestBody) ContentMD5() string { return b.md5 }

// PayloadSHA256 is the lowercase hex SHA-256 of a body of
// NewSignedRequestBody, to be signed as its payload hash, or "" for a body
// of NewRequestBody (sent as UNSIGNED-PAYLOAD with its Content-MD5).
func (b *RequestBody) PayloadSHA256() string { return b.sha256 }

// Read implements io.Reader.
func (b *RequestBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.released {
		return 0, errReleased
	}
	return b.r.Read(p)
}

// Seek implements io.Seeker, so that SDKs can rewind the body.
func (b *RequestBody) Seek(off int64, whence int) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.released {
		return 0, errReleased
	}
	return b.r.Seek(off, whence)
}

// Release cuts the body off from the caller's memory. After it returns, no
// Read or Seek touches data again.
func (b *RequestBody) Release() {
	b.mu.Lock()
	b.released = true
	b.mu.Unlock()
}
