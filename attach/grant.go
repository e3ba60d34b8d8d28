package attach

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/stowage-dev/stowage/ids"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
)

// Direct transfer: a client uploads an attachment's bytes straight to the
// bucket through presigned requests, and downloads them the same way, so the
// agent's process moves no byte of them. See docs/attachments.md.

// Errors of direct transfer.
var (
	// ErrNoPresign: the store cannot presign requests (memstore, fsstore).
	ErrNoPresign = fmt.Errorf("attach: direct transfer needs a store that presigns requests (S3): %w", objstore.ErrNotSupported)
	// ErrNotUploaded: Seal found no bytes under the grant's data key.
	ErrNotUploaded = errors.New("attach: the granted upload has not been sent")
	// ErrNotCommitted: GrantGet on a ref no commit adopted yet.
	ErrNotCommitted = errors.New("attach: attachment not committed")
	// ErrCompressed: GrantGet on bytes stowage stored compressed (a
	// presigned GET hands out the stored bytes verbatim); read them with Get.
	ErrCompressed = fmt.Errorf("attach: attachment stored compressed; read it with Get: %w", objstore.ErrNotSupported)
)

// Defaults of direct transfer.
const (
	// DefaultGrantExpiry is how long presigned requests stay valid.
	DefaultGrantExpiry = 15 * time.Minute
	// DefaultMultipartThreshold: a grant for more bytes than this is a
	// multipart upload.
	DefaultMultipartThreshold = 64 << 20
	// MaxGrantExpiry is the longest expiry S3's signatures allow.
	MaxGrantExpiry = 7 * 24 * time.Hour
)

// GrantPutOptions describe a direct upload.
type GrantPutOptions struct {
	PutOptions
	// SHA256 is the lowercase hex SHA-256 the client's bytes must hash to
	// (the attachment id). Required.
	SHA256 string
	// Size is the exact number of bytes the client will send. Required.
	Size int64
	// Expires is how long the presigned requests are valid; 0 means
	// DefaultGrantExpiry.
	Expires time.Duration
	// MultipartThreshold: above it the grant is a multipart upload of
	// PartSize parts; 0 means DefaultMultipartThreshold.
	MultipartThreshold int64
	// PartSize is the size of every part but the last; 0 means
	// objstore.DefaultPartSize (raised so there are at most
	// objstore.MaxParts parts).
	PartSize int64
}

// UploadGrant is what GrantPut returns: the presigned request(s) to hand
// to the client, and what Seal needs. It holds no secret beyond the
// signatures, which allow exactly the requests listed until Expires.
type UploadGrant struct {
	// UploadID names the upload intent (Seal takes the grant back).
	UploadID string `json:"upload_id"`
	// ID is the attachment id the bytes must hash to.
	ID      string    `json:"id"`
	Size    int64     `json:"size"`
	Expires time.Time `json:"expires"`
	// Put is the one request of a single-PUT grant.
	Put *objstore.PresignedRequest `json:"put,omitempty"`
	// Parts are the UploadPart requests of a multipart grant: part i+1 is
	// Parts[i], each bound to its exact length (PartSize, the last shorter).
	Parts       []objstore.PresignedRequest `json:"parts,omitempty"`
	PartSize    int64                       `json:"part_size,omitempty"`
	MultipartID string                      `json:"multipart_id,omitempty"`
	// Options are the PutOptions of the grant, applied to the ref at Seal.
	Options PutOptions `json:"options"`
}

// GrantPut records the intent of a direct upload and returns presigned
// requests for a client to send opts.Size bytes hashing to opts.SHA256
// straight to a fresh data key: one PUT, or a multipart upload above
// opts.MultipartThreshold (stowage creates it; the client sends the parts;
// Seal completes it). The requests cannot choose the key, overwrite any
// object (If-None-Match: * is signed) or send another length (each
// Content-Length is signed); a single PUT also signs the SHA-256, which
// servers that support it verify before storing. Nothing is committable
// until Seal verified the bytes.
func (a *Store) GrantPut(ctx context.Context, opts GrantPutOptions) (UploadGrant, error) {
	g, err := a.grantPut(ctx, opts)
	if err != nil {
		return UploadGrant{}, fmt.Errorf("attach: grant put: %w", err)
	}
	return g, nil
}

func (a *Store) grantPut(ctx context.Context, opts GrantPutOptions) (UploadGrant, error) {
	sum, err := grantDigest(opts.SHA256)
	if err != nil {
		return UploadGrant{}, err
	}
	if opts.Size < 0 {
		return UploadGrant{}, fmt.Errorf("%w: size %d", objstore.ErrInvalidArgument, opts.Size)
	}
	if a.maxSize >= 0 && opts.Size > a.maxSize {
		return UploadGrant{}, &TooLargeError{Limit: a.maxSize}
	}
	expires := opts.Expires
	if expires == 0 {
		expires = DefaultGrantExpiry
	}
	if expires < 0 || expires > MaxGrantExpiry {
		return UploadGrant{}, fmt.Errorf("%w: expiry %v outside (0, %v]", objstore.ErrInvalidArgument, expires, MaxGrantExpiry)
	}
	owner, err := a.owner(ctx, opts.PutOptions)
	if err != nil {
		return UploadGrant{}, err
	}
	p, ok := objstore.FindPresigner(a.obj)
	if !ok {
		return UploadGrant{}, ErrNoPresign
	}
	now := a.m.Now()
	u, err := a.m.BeginGrant(ctx, a.sessionID, owner, opts.SHA256, opts.Size, now.Add(expires))
	if err != nil {
		return UploadGrant{}, err
	}
	g := UploadGrant{UploadID: u.ID, ID: opts.SHA256, Size: opts.Size, Expires: u.ExpiresAt, Options: opts.PutOptions}
	in := objstore.PresignInput{Method: http.MethodPut, Key: u.DataKey, Expires: expires, SignedAt: now}
	threshold := opts.MultipartThreshold
	if threshold <= 0 {
		threshold = DefaultMultipartThreshold
	}
	if opts.Size <= threshold {
		in.ContentLength, in.ChecksumSHA256, in.IfNoneMatch = opts.Size, sum, true
		req, err := p.Presign(ctx, in)
		if err != nil {
			return UploadGrant{}, a.abandonGrant(ctx, u, err)
		}
		g.Put = &req
		return g, nil
	}
	if err := a.presignParts(ctx, p, u, in, opts.PartSize, &g); err != nil {
		return UploadGrant{}, a.abandonGrant(ctx, u, err)
	}
	return g, nil
}

// presignParts creates the multipart upload of a grant and signs its parts.
func (a *Store) presignParts(ctx context.Context, p objstore.Presigner, u manifest.Upload, in objstore.PresignInput, partSize int64, g *UploadGrant) error {
	if partSize <= 0 {
		partSize = objstore.DefaultPartSize
	}
	partSize = max(partSize, objstore.MinPartSize, (g.Size+objstore.MaxParts-1)/objstore.MaxParts)
	md := map[string]string{metaUpload: u.ID, metaSession: a.sessionID}
	mp, err := p.CreateUpload(ctx, u.DataKey, &objstore.PutOptions{ContentType: "application/octet-stream", Metadata: md})
	if err != nil {
		return err
	}
	g.MultipartID, g.PartSize, in.UploadID = mp, partSize, mp
	for off, n := int64(0), 1; off < g.Size; off, n = off+partSize, n+1 {
		in.PartNumber, in.ContentLength = n, min(partSize, g.Size-off)
		req, err := p.Presign(ctx, in)
		if err != nil {
			return err
		}
		g.Parts = append(g.Parts, req)
	}
	return nil
}

// abandonGrant marks a grant's intent aborted after a failure to sign it.
func (a *Store) abandonGrant(ctx context.Context, u manifest.Upload, err error) error {
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	if aerr := a.m.AbandonUpload(cctx, u); aerr != nil {
		a.log.DebugContext(ctx, "attach: grant intent not marked aborted", "upload_id", u.ID, "err", aerr)
	}
	return err
}

func grantDigest(id string) ([]byte, error) {
	if err := manifest.ValidateAttachmentID(id); err != nil {
		return nil, err
	}
	return hex.DecodeString(id)
}

// Seal verifies the bytes a client sent through g and records the
// session's ref to them, like Put: the next commit naming the attachment
// makes it committed. It completes a multipart grant first. The stored
// bytes must be exactly g.Size bytes hashing to g.ID: the server's verified
// checksum is used where it reports one, else the bytes are read back and
// hashed (streaming). On a mismatch nothing is sealed, the bytes are
// deleted at once and the error matches ErrChecksum. A grant of another
// session, or one already sealed or reclaimed, is ErrNotFound.
func (a *Store) Seal(ctx context.Context, g UploadGrant) (Ref, error) {
	row, err := a.seal(ctx, g)
	if err != nil {
		return Ref{}, fmt.Errorf("attach: seal: %w", err)
	}
	return refOf(row), nil
}

func (a *Store) seal(ctx context.Context, g UploadGrant) (manifest.Row, error) {
	if ids.Upload(g.UploadID) != nil {
		return manifest.Row{}, fmt.Errorf("%w: grant %q", ErrNotFound, g.UploadID) // as LoadUpload's ErrInvalidID below
	}
	p, ok := objstore.FindPresigner(a.obj)
	if !ok {
		return manifest.Row{}, ErrNoPresign
	}
	u, ok, err := a.m.LoadUpload(ctx, g.UploadID)
	switch {
	case errors.Is(err, manifest.ErrInvalidID):
		return manifest.Row{}, fmt.Errorf("%w: grant %q", ErrNotFound, g.UploadID)
	case err != nil:
		return manifest.Row{}, err
	case !ok || u.SessionID != a.sessionID || u.State != manifest.UploadGranted:
		return manifest.Row{}, fmt.Errorf("%w: grant %q", ErrNotFound, g.UploadID)
	}
	if g.MultipartID != "" {
		_, err := p.CompleteUpload(ctx, u.DataKey, g.MultipartID, u.Size, &objstore.PutOptions{IfNoneMatch: true})
		if err != nil && !errors.Is(err, objstore.ErrNotExist) && !errors.Is(err, objstore.ErrPreconditionFailed) {
			return manifest.Row{}, err // a retried Seal finds the upload completed: go on
		}
	}
	info, err := a.obj.Head(ctx, u.DataKey)
	if errors.Is(err, objstore.ErrNotExist) {
		return manifest.Row{}, fmt.Errorf("%w: %s", ErrNotUploaded, u.DataKey)
	}
	if err != nil {
		return manifest.Row{}, err
	}
	if err := a.verifyGrant(ctx, p, u, info); err != nil {
		a.deleteData(ctx, u.DataKey)
		return manifest.Row{}, a.abandonGrant(ctx, u, err)
	}
	up := uploaded{
		intent: u,
		data:   manifest.Data{Key: u.DataKey, Size: u.Size, StoredSize: info.Size},
		digest: u.AttachmentID,
		keep:   true, // a replayed request must keep finding the key taken
	}
	return a.finish(ctx, up, g.Options, u.Owner)
}

// verifyGrant checks that the data of grant u is u.Size bytes hashing to
// u.AttachmentID.
func (a *Store) verifyGrant(ctx context.Context, p objstore.Presigner, u manifest.Upload, info objstore.ObjectInfo) error {
	if info.Size != u.Size {
		return fmt.Errorf("%w: %d bytes stored, %d declared", ErrChecksum, info.Size, u.Size)
	}
	sum, ok, err := p.ChecksumSHA256(ctx, u.DataKey)
	if err != nil {
		return err
	}
	if !ok {
		if sum, err = a.hashObject(ctx, u.DataKey); err != nil {
			return err
		}
	}
	if got := hex.EncodeToString(sum); got != u.AttachmentID {
		return fmt.Errorf("%w: stored bytes hash to %s, declared %s", ErrChecksum, got, u.AttachmentID)
	}
	return nil
}

// hashObject streams the object under key through SHA-256.
func (a *Store) hashObject(ctx context.Context, key string) ([]byte, error) {
	rc, _, err := a.obj.Get(ctx, key, nil)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// GrantGetOptions describe a direct download.
type GrantGetOptions struct {
	// Expires is how long the request is valid; 0 means DefaultGrantExpiry.
	Expires time.Duration
	// Filename, if set, makes the server answer Content-Disposition:
	// attachment with this file name.
	Filename string
}

// GrantGet returns a presigned GET of attachment id's bytes for a client,
// answered with the ref's media type (and opts.Filename as a download
// name). The client may add a Range header. The session must hold a
// committed ref to id (ErrNotFound if it holds none, ErrNotCommitted if no
// commit adopted it yet); bytes stowage stored compressed are ErrCompressed
// (direct uploads are never compressed; see docs/attachments.md).
func (a *Store) GrantGet(ctx context.Context, id string, opts GrantGetOptions) (objstore.PresignedRequest, error) {
	req, err := a.grantGet(ctx, id, opts)
	if err != nil {
		return objstore.PresignedRequest{}, fmt.Errorf("attach: grant get: %w", err)
	}
	return req, nil
}

func (a *Store) grantGet(ctx context.Context, id string, opts GrantGetOptions) (objstore.PresignedRequest, error) {
	if err := manifest.ValidateAttachmentID(id); err != nil {
		return objstore.PresignedRequest{}, err
	}
	p, ok := objstore.FindPresigner(a.obj)
	if !ok {
		return objstore.PresignedRequest{}, ErrNoPresign
	}
	row, err := a.row(ctx, id)
	switch {
	case err != nil:
		return objstore.PresignedRequest{}, err
	case row.CommittedAt.IsZero():
		return objstore.PresignedRequest{}, fmt.Errorf("%w: %s", ErrNotCommitted, id)
	case row.Data.Encoding != manifest.EncodingRaw:
		return objstore.PresignedRequest{}, ErrCompressed
	}
	expires := opts.Expires
	if expires == 0 {
		expires = DefaultGrantExpiry
	}
	in := objstore.PresignInput{
		Method: http.MethodGet, Key: row.Data.Key, Expires: expires, SignedAt: a.m.Now(),
		ResponseContentType: row.Info.MediaType,
	}
	if opts.Filename != "" {
		in.ResponseContentDisposition = mime.FormatMediaType("attachment", map[string]string{"filename": opts.Filename})
	}
	return p.Presign(ctx, in)
}
