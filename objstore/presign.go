package objstore

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Presigner is implemented by backends that can sign a request for a third
// party to send straight to the server: a client that holds the URL can do
// exactly the one request it describes (method, key, signed headers) until
// it expires, and nothing else. Presigning sends no request; the upload
// methods do. Find a store's presigner with FindPresigner, which sees
// through the decorators.
type Presigner interface {
	// Presign signs one request. See PresignInput for what is bound.
	Presign(ctx context.Context, in PresignInput) (PresignedRequest, error)
	// CreateUpload starts a multipart upload to key whose parts a client
	// sends through presigned UploadPart requests (PresignInput.UploadID).
	CreateUpload(ctx context.Context, key string, opts *PutOptions) (uploadID string, err error)
	// CompleteUpload lists the parts the client uploaded and completes the
	// upload with all of them, in order, under opts' condition. Parts must
	// be numbered 1..n without gaps and sum to at most maxSize bytes
	// (ErrInvalidArgument otherwise: the upload is left for the caller to
	// abort).
	CompleteUpload(ctx context.Context, key, uploadID string, maxSize int64, opts *PutOptions) (ObjectInfo, error)
	// ChecksumSHA256 returns the SHA-256 the server verified when the
	// object was written with a signed x-amz-checksum-sha256 header, or
	// ok=false if the server reports none.
	ChecksumSHA256(ctx context.Context, key string) (sum []byte, ok bool, err error)
}

// PresignInput describes a request to sign.
type PresignInput struct {
	// Method is http.MethodPut (a PutObject, or an UploadPart when UploadID
	// is set) or http.MethodGet.
	Method string
	Key    string
	// Expires is how long the signature is valid (at most 7 days on S3).
	Expires time.Duration
	// SignedAt is the signing time; zero means now. Tests sign in the past
	// to get an expired URL without waiting.
	SignedAt time.Time

	// PUT: ContentLength (> 0 binds the size, where the server checks the
	// signed header), ChecksumSHA256 (a signed x-amz-checksum-sha256 that
	// the server verifies against the body, where it supports it),
	// IfNoneMatch (a signed If-None-Match: * so the URL can never
	// overwrite) and ContentType.
	ContentLength  int64
	ChecksumSHA256 []byte
	IfNoneMatch    bool
	ContentType    string
	// UploadID and PartNumber make a PUT an UploadPart of a multipart
	// upload created by CreateUpload.
	UploadID   string
	PartNumber int

	// GET: what the server answers as Content-Type and
	// Content-Disposition.
	ResponseContentType        string
	ResponseContentDisposition string
}

// PresignedRequest is a signed request: send Method to URL with every
// header in Header (they are part of the signature).
type PresignedRequest struct {
	Method  string      `json:"method"`
	URL     string      `json:"url"`
	Header  http.Header `json:"header,omitempty"`
	Expires time.Time   `json:"expires"`
}

// FindPresigner returns the presigner behind s, seeing through decorators
// that expose Unwrap() Store; a store made by WithPrefix adds its prefix to
// every key. ok is false if the backend cannot presign (memstore, fsstore).
func FindPresigner(s Store) (p Presigner, ok bool) {
	prefix := ""
	for s != nil {
		if ps, is := s.(*prefixedStore); is {
			prefix = ps.prefix + prefix
		}
		if p, is := s.(Presigner); is {
			if prefix == "" {
				return p, true
			}
			return &prefixedPresigner{base: p, prefix: prefix}, true
		}
		u, is := s.(interface{ Unwrap() Store })
		if !is {
			return nil, false
		}
		s = u.Unwrap()
	}
	return nil, false
}

// prefixedPresigner adds a store prefix to every key.
type prefixedPresigner struct {
	base   Presigner
	prefix string
}

func (p *prefixedPresigner) Presign(ctx context.Context, in PresignInput) (PresignedRequest, error) {
	if err := ValidateKey(in.Key); err != nil {
		return PresignedRequest{}, err
	}
	in.Key = p.prefix + in.Key
	return p.base.Presign(ctx, in)
}

func (p *prefixedPresigner) CreateUpload(ctx context.Context, key string, opts *PutOptions) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	return p.base.CreateUpload(ctx, p.prefix+key, opts)
}

func (p *prefixedPresigner) CompleteUpload(ctx context.Context, key, uploadID string, maxSize int64, opts *PutOptions) (ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return ObjectInfo{}, err
	}
	info, err := p.base.CompleteUpload(ctx, p.prefix+key, uploadID, maxSize, opts)
	info.Key = strings.TrimPrefix(info.Key, p.prefix)
	return info, err
}

func (p *prefixedPresigner) ChecksumSHA256(ctx context.Context, key string) ([]byte, bool, error) {
	if err := ValidateKey(key); err != nil {
		return nil, false, err
	}
	return p.base.ChecksumSHA256(ctx, p.prefix+key)
}

// ValidatePresign checks a PresignInput before any signing.
func ValidatePresign(in PresignInput) error {
	if err := ValidateKey(in.Key); err != nil {
		return err
	}
	switch {
	case in.Method != http.MethodPut && in.Method != http.MethodGet:
		return fmt.Errorf("%w: presign method %q", ErrInvalidArgument, in.Method)
	case in.Expires <= 0 || in.Expires > 7*24*time.Hour:
		return fmt.Errorf("%w: presign expiry %v outside (0, 168h]", ErrInvalidArgument, in.Expires)
	case in.UploadID != "" && (in.PartNumber < 1 || in.PartNumber > MaxParts):
		return fmt.Errorf("%w: part number %d outside 1..%d", ErrInvalidArgument, in.PartNumber, MaxParts)
	case in.ChecksumSHA256 != nil && len(in.ChecksumSHA256) != 32:
		return fmt.Errorf("%w: SHA-256 checksum of %d bytes", ErrInvalidArgument, len(in.ChecksumSHA256))
	}
	return nil
}
