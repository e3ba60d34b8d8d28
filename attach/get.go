package attach

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"

	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/observe"
)

// Get opens attachment id for streaming; rng (nil for all of it) selects a
// byte range. A session that holds no ref to id gets ErrNotFound, even if
// the bytes exist. A full read fails with ErrChecksum at the end if the
// bytes do not hash to id.
//
// The row and the bytes are two reads: a row re-pointed between them (a
// concurrent put of the same content moved it to other data and deleted
// the data it named) leaves the bytes read first gone. Get then reads the
// row again and opens what it names now; the bytes are reported gone only
// when the row still names what was found missing.
func (a *Store) Get(ctx context.Context, id string, rng *Range) (io.ReadCloser, Ref, error) {
	ctx, op := observe.Start(ctx, a.obs, observe.AttachGet, a.sessionID)
	row, err := a.row(ctx, id)
	if err != nil {
		return nil, Ref{}, failGet(op, errorf("get: %w", err))
	}
	for attempt := 1; ; attempt++ {
		rc, err := a.open(ctx, row.Data, id, rng)
		if errors.Is(err, objstore.ErrNotExist) {
			if again, rerr := a.row(ctx, id); attempt < maxRepoints && rerr == nil && again.Data.Key != row.Data.Key {
				row = again
				continue
			}
			err = fmt.Errorf("%w: bytes of %s are gone: %w", ErrNotFound, id, err)
		}
		if err != nil {
			return nil, Ref{}, failGet(op, errorf("get: %w", err))
		}
		return observe.Body(rc, op, id), refOf(row), nil
	}
}

// maxRepoints bounds how many re-pointed rows one Get follows. A row is
// re-pointed only away from reclaimed data or from a writer's own upload,
// so a read that keeps losing that race is one among writers that keep
// replacing the same content.
const maxRepoints = 8

// Stat returns the ref this session holds to id.
func (a *Store) Stat(ctx context.Context, id string) (Ref, error) {
	row, err := a.row(ctx, id)
	if err != nil {
		return Ref{}, errorf("stat: %w", err)
	}
	return refOf(row), nil
}

// List returns the refs this session holds to written attachments, sorted
// by id, each once.
func (a *Store) List(ctx context.Context) ([]Ref, error) {
	rows, err := a.m.SessionRows(ctx, a.sessionID)
	if err != nil {
		return nil, errorf("list: %w", err)
	}
	out := make([]Ref, 0, len(rows))
	for _, row := range rows {
		if !row.Data.IsZero() {
			out = append(out, refOf(row))
		}
	}
	return out, nil
}

// Delete drops this session's ref to id, committed or not. The bytes stay
// for other sessions' refs and are reclaimed by the sweeper when none is
// left. Deleting an id the session does not hold succeeds.
func (a *Store) Delete(ctx context.Context, id string) error {
	if err := a.m.Forget(ctx, a.sessionID, id); err != nil {
		return errorf("delete: %w", err)
	}
	return nil
}

// row returns this session's row for id if it names data.
func (a *Store) row(ctx context.Context, id string) (manifest.Row, error) {
	if err := manifest.ValidateAttachmentID(id); err != nil {
		return manifest.Row{}, err
	}
	row, ok, err := a.m.Row(ctx, a.sessionID, id)
	switch {
	case err != nil:
		return manifest.Row{}, err
	case !ok || row.Data.IsZero():
		return manifest.Row{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return row, nil
}

// span resolves rng against size: the offset and length to read, and
// whether that is the whole attachment.
func span(rng *Range, size int64) (off, n int64, whole bool, err error) {
	if rng == nil {
		return 0, size, true, nil
	}
	if rng.Offset < 0 || rng.Offset > size {
		return 0, 0, false, fmt.Errorf("%w: offset %d outside %d bytes", ErrInvalidRange, rng.Offset, size)
	}
	n = size - rng.Offset
	if rng.Length >= 0 && rng.Length < n {
		n = rng.Length
	}
	return rng.Offset, n, rng.Offset == 0 && n == size, nil
}

// open opens the bytes of d (attachment id), or the range rng of them.
func (a *Store) open(ctx context.Context, d manifest.Data, id string, rng *Range) (io.ReadCloser, error) {
	off, n, whole, err := span(rng, d.Size)
	if err != nil {
		return nil, err
	}
	if n == 0 && !whole {
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	switch d.Encoding {
	case manifest.EncodingRaw:
		if whole {
			// A data key is written once and every whole read is checked
			// against the attachment's SHA-256 (newVerifier).
			body, _, err := a.obj.Get(ctx, d.Key, &objstore.GetOptions{Immutable: true})
			if err != nil {
				return nil, err
			}
			v := newVerifier(body, body.Close, id, d.Size)
			v.ahead = true
			return v, nil
		}
		body, _, err := a.obj.Get(ctx, d.Key, &objstore.GetOptions{Range: &objstore.Range{Offset: off, Length: n}})
		return body, err
	case manifest.EncodingZstdSeekable:
		if whole {
			return a.openCompressed(ctx, d, id)
		}
		return a.openFrames(ctx, d, off, n)
	}
	return nil, fmt.Errorf("data %s has unknown encoding %q", d.Key, d.Encoding)
}

// openCompressed streams all of a compressed object through one decoder
// (which skips the seek table, a skippable frame) and verifies the digest.
func (a *Store) openCompressed(ctx context.Context, d manifest.Data, id string) (io.ReadCloser, error) {
	body, _, err := a.obj.Get(ctx, d.Key, &objstore.GetOptions{Immutable: true})
	if err != nil {
		return nil, err
	}
	src := &errTap{r: body}
	dec, err := zstd.NewReader(src, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(frameSize))
	if err != nil {
		body.Close()
		return nil, err
	}
	closer := func() error {
		dec.Close()
		return body.Close()
	}
	return newVerifier(&decodeErrors{r: dec, src: src}, closer, id, d.Size), nil
}

// openFrames reads the seek table and then only the frames covering
// [off, off+n).
func (a *Store) openFrames(ctx context.Context, d manifest.Data, off, n int64) (io.ReadCloser, error) {
	if d.FrameSize <= 0 {
		return nil, fmt.Errorf("%w: data %s has no frame size", ErrChecksum, d.Key)
	}
	count := frames(d.Size, d.FrameSize)
	tl := seekTableLen(count)
	tbody, _, err := a.obj.Get(ctx, d.Key, &objstore.GetOptions{Range: &objstore.Range{Offset: d.StoredSize - tl, Length: tl}})
	if err != nil {
		return nil, err
	}
	table, err := io.ReadAll(io.LimitReader(tbody, tl+1))
	tbody.Close()
	if err != nil {
		return nil, err
	}
	entries, err := parseSeekTable(table, count)
	if err != nil {
		return nil, fmt.Errorf("data %s: %w", d.Key, err)
	}
	first, last := off/d.FrameSize, (off+n-1)/d.FrameSize
	var cOff, cLen int64
	for i, e := range entries[:last+1] {
		if int64(i) < first {
			cOff += e.compressed
		} else {
			cLen += e.compressed
		}
	}
	body, _, err := a.obj.Get(ctx, d.Key, &objstore.GetOptions{Range: &objstore.Range{Offset: cOff, Length: cLen}})
	if err != nil {
		return nil, err
	}
	return &frameReader{
		body:    body,
		dec:     a.dec,
		entries: entries[first : last+1],
		skip:    off - first*d.FrameSize,
		remain:  n,
	}, nil
}

// errTap remembers the first error of the reader it wraps.
type errTap struct {
	r   io.Reader
	err error
}

func (t *errTap) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF && t.err == nil {
		t.err = err
	}
	return n, err
}

// decodeErrors reports a decoder failure that its source did not cause as
// ErrChecksum (the stored bytes are corrupt).
type decodeErrors struct {
	r   io.Reader
	src *errTap
}

func (d *decodeErrors) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil && err != io.EOF && d.src.err == nil {
		err = fmt.Errorf("%w: %w", ErrChecksum, err)
	}
	return n, err
}
