package attach

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
)

// Data object metadata (informative; the row is authoritative).
const (
	metaEncoding = "stowage-encoding"
	metaUpload   = "stowage-upload"
	metaSession  = "stowage-session"
)

// Put stores the bytes of r (of any size, unknown up front) as an
// attachment of this session and returns its ref. See the package doc for
// the protocol. On failure no row is written by this call: the multipart
// upload is aborted and the upload intent is left, marked aborted, for the
// sweeper. A body above Options.MaxSize fails with a *TooLargeError.
func (a *Store) Put(ctx context.Context, r io.Reader, opts PutOptions) (Ref, error) {
	owner, err := a.owner(ctx, opts)
	if err != nil {
		return Ref{}, fmt.Errorf("attach: put: %w", err)
	}
	up, err := a.upload(ctx, r, opts.MediaType, owner, "", -1)
	if err != nil {
		return Ref{}, fmt.Errorf("attach: put: %w", err)
	}
	row, err := a.finish(ctx, up, opts, owner)
	if err != nil {
		return Ref{}, fmt.Errorf("attach: put: %w", err)
	}
	return refOf(row), nil
}

// PutKnown stores an attachment whose digest (and size, or -1 if unknown)
// the caller knows up front, such as a file. If the session or the digest's
// blob pointer already names live bytes, no byte is uploaded. Otherwise the
// bytes of open() are uploaded and must hash to digest (else ErrChecksum).
// If the sweeper reclaims the new upload before it is protected, PutKnown
// opens the body again once and uploads under a new key. A reader returned
// by open that is an io.Closer is closed.
func (a *Store) PutKnown(ctx context.Context, digest string, size int64, open func() (io.Reader, error), opts PutOptions) (Ref, error) {
	if err := manifest.ValidateAttachmentID(digest); err != nil {
		return Ref{}, fmt.Errorf("attach: put known: %w", err)
	}
	if a.maxSize >= 0 && size > a.maxSize {
		return Ref{}, fmt.Errorf("attach: put known: %w", &TooLargeError{Limit: a.maxSize})
	}
	owner, err := a.owner(ctx, opts)
	if err != nil {
		return Ref{}, fmt.Errorf("attach: put known: %w", err)
	}
	in := a.intent(digest, owner)
	info := infoOf(opts)
	row, err := a.resolve(ctx, in, info, nil)
	if err == nil {
		return refOf(row), nil // deduplicated: nothing to upload
	}
	if !errors.Is(err, errMiss) {
		return Ref{}, fmt.Errorf("attach: put known: %w", err)
	}
	for try := 0; ; try++ {
		r, err := open()
		if err != nil {
			return Ref{}, fmt.Errorf("attach: put known: open: %w", err)
		}
		up, err := a.upload(ctx, r, opts.MediaType, owner, digest, size)
		if c, ok := r.(io.Closer); ok {
			c.Close()
		}
		if err != nil {
			return Ref{}, fmt.Errorf("attach: put known: %w", err)
		}
		row, err := a.finish(ctx, up, opts, owner)
		if errors.Is(err, manifest.ErrReclaimed) && try == 0 {
			continue
		}
		if err != nil {
			return Ref{}, fmt.Errorf("attach: put known: %w", err)
		}
		return refOf(row), nil
	}
}

func (a *Store) owner(ctx context.Context, opts PutOptions) (manifest.Owner, error) {
	o := opts.Owner
	if o == (manifest.Owner{}) {
		o = OwnerFrom(ctx)
	}
	return o, o.Validate()
}

func (a *Store) intent(id string, owner manifest.Owner) manifest.Intent {
	return manifest.Intent{AttachmentID: id, SessionID: a.sessionID, Owner: owner}
}

func infoOf(opts PutOptions) manifest.Info {
	return manifest.Info{MediaType: opts.MediaType, Label: opts.Label, Metadata: opts.Metadata}
}

// uploaded is a finished upload: its intent, the data object and digest.
type uploaded struct {
	intent manifest.Upload
	data   manifest.Data
	digest string
	// keep: never delete the data at once when the row adopts other bytes
	// (a granted key must stay taken while its presigned PUT is valid).
	keep bool
}

// upload records an upload intent and streams r to its data key. expect is
// the declared digest ("" if unknown) and size the declared size (< 0 if
// unknown). On failure the intent is marked aborted and nothing else
// remains (Upload aborts its multipart upload; a data object already
// written is deleted, since no row names it).
func (a *Store) upload(ctx context.Context, r io.Reader, mediaType string, owner manifest.Owner, expect string, size int64) (uploaded, error) {
	intent, err := a.m.BeginUpload(ctx, a.sessionID, owner, expect)
	if err != nil {
		return uploaded{}, err
	}
	fail := func(err error, written bool) (uploaded, error) {
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		if written {
			a.deleteData(cctx, intent.DataKey)
		}
		if aerr := a.m.AbandonUpload(cctx, intent); aerr != nil {
			a.log.DebugContext(ctx, "attach: upload intent not marked aborted", "upload", intent.ID, "err", aerr)
		}
		return uploaded{}, err
	}
	m := newMeter(r, a.maxSize)
	body, compressed, err := a.chooseEncoding(m, mediaType)
	if err != nil {
		return fail(m.cause(err), false)
	}
	md := map[string]string{metaUpload: intent.ID, metaSession: a.sessionID}
	data := manifest.Data{Key: intent.DataKey}
	if compressed {
		md[metaEncoding] = manifest.EncodingZstdSeekable
		data.Encoding, data.FrameSize = manifest.EncodingZstdSeekable, frameSize
	}
	info, err := a.obj.Upload(ctx, intent.DataKey, body, &objstore.UploadOptions{
		PutOptions:  objstore.PutOptions{ContentType: "application/octet-stream", Metadata: md},
		PartSize:    a.partSize,
		Concurrency: a.conc,
	})
	if err != nil {
		return fail(m.cause(err), false)
	}
	data.Size, data.StoredSize = m.n, info.Size
	digest := m.digest()
	if expect != "" && digest != expect || size >= 0 && m.n != size {
		return fail(fmt.Errorf("%w: got %d bytes hashing to %s, declared %d bytes of %s", ErrChecksum, m.n, digest, size, expect), true)
	}
	return uploaded{intent: intent, data: data, digest: digest}, nil
}

// finish records the session's ref to an upload's digest (deduplicating)
// and ends the upload intent.
func (a *Store) finish(ctx context.Context, up uploaded, opts PutOptions, owner manifest.Owner) (manifest.Row, error) {
	row, err := a.resolve(ctx, a.intent(up.digest, owner), infoOf(opts), &up)
	if err != nil {
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		if aerr := a.m.AbandonUpload(cctx, up.intent); aerr != nil {
			a.log.DebugContext(ctx, "attach: upload intent not marked aborted", "upload", up.intent.ID, "err", aerr)
		}
		return manifest.Row{}, err
	}
	a.m.EndUpload(ctx, up.intent)
	return row, nil
}

// deleteData deletes a data object that nothing names; a failure leaves it
// to the sweeper.
func (a *Store) deleteData(ctx context.Context, key string) {
	if err := a.obj.Delete(ctx, key, nil); err != nil {
		a.log.DebugContext(ctx, "attach: data left for the sweeper", "key", key, "err", err)
	}
}
