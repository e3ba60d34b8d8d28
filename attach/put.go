package attach

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/observe"
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
func (a *Store) Put(ctx context.Context, r io.Reader, opts PutOptions) (ref Ref, err error) {
	ctx, op := observe.Start(ctx, a.obs, observe.AttachPut, a.sessionID)
	defer func() { endPut(op, ref, err) }()
	owner, err := a.owner(ctx, opts)
	if err != nil {
		return Ref{}, errorf("put: %w", err)
	}
	up, err := a.upload(ctx, r, opts.MediaType, owner, "", -1)
	if err != nil {
		return Ref{}, errorf("put: %w", err)
	}
	row, err := a.finish(ctx, up, opts, owner)
	if err != nil {
		return Ref{}, errorf("put: %w", err)
	}
	return refOf(row), nil
}

// PutKnown stores an attachment whose digest (and size, or -1 if unknown)
// the caller knows up front, such as a file.
//
// A digest is not a capability. If this session already holds a live ref
// to digest, nothing is read or uploaded. Otherwise the caller must prove
// it has the bytes: if another session stored them (the digest's blob
// pointer names live data), the bytes of open() are streamed through the
// hash, uploading and writing nothing, and only if they hash to digest (and
// number size) does the session adopt the stored data (proof of
// possession). If nobody stored them, the bytes of open() are uploaded and
// must hash to digest. Either way a body that does not match fails with
// ErrChecksum and a failing open fails with its error, and the two cases
// return the same errors (a failing reader's, or plain ctx.Err() for a
// context done while the body is read) and read the reader with the same
// Reads (of 64 KiB, see source). If the sweeper reclaims the data before it is
// protected, PutKnown opens the body again and uploads it under a new key
// (at most once after an upload). A reader returned by open that is an
// io.Closer is closed.
func (a *Store) PutKnown(ctx context.Context, digest string, size int64, open func() (io.Reader, error), opts PutOptions) (ref Ref, err error) {
	ctx, op := observe.Start(ctx, a.obs, observe.AttachPut, a.sessionID)
	defer func() { endPut(op, ref, err) }()
	if err := manifest.ValidateAttachmentID(digest); err != nil {
		return Ref{}, errorf("put known: %w", err)
	}
	if a.maxSize >= 0 && size > a.maxSize {
		return Ref{}, errorf("put known: %w", &TooLargeError{Limit: a.maxSize})
	}
	owner, err := a.owner(ctx, opts)
	if err != nil {
		return Ref{}, errorf("put known: %w", err)
	}
	in := a.intent(digest, owner)
	info := infoOf(opts)
	row, err := a.resolve(ctx, in, info, nil, false)
	if err == nil {
		return refOf(row), nil // this session's own live ref: nothing to prove
	}
	if !errors.Is(err, errMiss) {
		return Ref{}, errorf("put known: %w", err)
	}
	row, err = a.adoptProven(ctx, in, info, size, open)
	if err == nil {
		return refOf(row), nil // deduplicated after proof: nothing uploaded
	}
	if !errors.Is(err, errMiss) {
		return Ref{}, errorf("put known: %w", err)
	}
	for try := 0; ; try++ {
		up, err := a.uploadFrom(ctx, open, opts.MediaType, owner, digest, size)
		if err != nil {
			return Ref{}, errorf("put known: %w", err)
		}
		row, err := a.finish(ctx, up, opts, owner)
		if errors.Is(err, manifest.ErrReclaimed) && try == 0 {
			continue
		}
		if err != nil {
			return Ref{}, errorf("put known: %w", err)
		}
		return refOf(row), nil
	}
}

// adoptProven adopts the data the blob pointer of in.AttachmentID names,
// after proving possession: the bytes of open() hash to the id (and number
// size if size >= 0). It fails with errMiss, having read nothing, when no
// pointer exists, and with errMiss after the proof when the pointer's data
// was reclaimed: then the caller uploads.
func (a *Store) adoptProven(ctx context.Context, in manifest.Intent, info manifest.Info, size int64, open func() (io.Reader, error)) (manifest.Row, error) {
	if _, ok, err := a.m.LoadBlob(ctx, in.AttachmentID); err != nil || !ok {
		return manifest.Row{}, cmp.Or(err, errMiss)
	}
	if err := a.prove(ctx, in.AttachmentID, size, open); err != nil {
		return manifest.Row{}, err
	}
	return a.resolve(ctx, in, info, nil, true)
}

// prove streams the bytes of open() through the hash, writing nothing, and
// fails unless they hash to digest (and number size if size >= 0).
func (a *Store) prove(ctx context.Context, digest string, size int64, open func() (io.Reader, error)) error {
	r, err := open()
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	if c, ok := r.(io.Closer); ok {
		defer c.Close()
	}
	m := newMeter(newSource(ctx, r), a.maxSize)
	if _, err := io.Copy(io.Discard, m); err != nil {
		return m.cause(err)
	}
	if err := ctx.Err(); err != nil {
		return err // as upload reports a context done by the end of the stream
	}
	return declared(m, digest, size)
}

// streamErr is the error of an upload of the stream m reads that ended
// with err: the stream's own failure first (even if the store took the
// failed stream for a complete one: the object is then not the caller's
// bytes), then the end of ctx, then err. The first two are the errors the
// proof of possession reports for the same stream, without the store's
// wording, which names the data key.
func streamErr(ctx context.Context, m *meter, err error) error {
	switch {
	case m.err != nil:
		return m.err
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return err
}

// declared fails with ErrChecksum unless the bytes read through m hash to
// digest ("" if unknown) and number size (< 0 if unknown).
func declared(m *meter, digest string, size int64) error {
	if got := m.digest(); digest != "" && got != digest || size >= 0 && m.n != size {
		return fmt.Errorf("%w: got %d bytes hashing to %s, declared %d bytes of %s", ErrChecksum, m.n, got, size, digest)
	}
	return nil
}

// uploadFrom uploads the bytes of open(), closing the reader if it is an
// io.Closer.
func (a *Store) uploadFrom(ctx context.Context, open func() (io.Reader, error), mediaType string, owner manifest.Owner, digest string, size int64) (uploaded, error) {
	r, err := open()
	if err != nil {
		return uploaded{}, fmt.Errorf("open: %w", err)
	}
	if c, ok := r.(io.Closer); ok {
		defer c.Close()
	}
	return a.upload(ctx, r, mediaType, owner, digest, size)
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
			a.log.DebugContext(ctx, "attach: upload intent not marked aborted", "upload_id", intent.ID, "err", aerr)
		}
		return uploaded{}, err
	}
	m := newMeter(newSource(ctx, r), a.maxSize)
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
	// Create-only: a data object is written once, also when a PUT whose
	// response was lost is retried (the retry decorator then reads back its
	// write token), so that its whole reads (GetOptions.Immutable) never
	// race a rewrite.
	info, uerr := a.obj.Upload(ctx, intent.DataKey, body, &objstore.UploadOptions{
		PutOptions:  objstore.PutOptions{ContentType: "application/octet-stream", Metadata: md, IfNoneMatch: true},
		PartSize:    a.partSize,
		Concurrency: a.conc,
	})
	if err := streamErr(ctx, m, uerr); err != nil {
		return fail(err, uerr == nil)
	}
	data.Size, data.StoredSize = m.n, info.Size
	if err := declared(m, expect, size); err != nil {
		return fail(err, true)
	}
	return uploaded{intent: intent, data: data, digest: m.digest()}, nil
}

// finish records the session's ref to an upload's digest (deduplicating)
// and ends the upload intent.
func (a *Store) finish(ctx context.Context, up uploaded, opts PutOptions, owner manifest.Owner) (manifest.Row, error) {
	row, err := a.resolve(ctx, a.intent(up.digest, owner), infoOf(opts), &up, true)
	if err != nil {
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		if aerr := a.m.AbandonUpload(cctx, up.intent); aerr != nil {
			a.log.DebugContext(ctx, "attach: upload intent not marked aborted", "upload_id", up.intent.ID, "err", aerr)
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
