package retry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/stowage-dev/stowage/objstore"
)

// ErrTruncated is the cause of a Get body that ended before the length its
// response announced: a connection cut off mid-body, or a server that cut
// the response short when the object was overwritten under it (rclone's
// serve s3 does). It matches objstore.ErrUnavailable, so it is retried like
// any transient failure.
var ErrTruncated = fmt.Errorf("%w: body cut short", objstore.ErrUnavailable)

// Get opens key through the base store. A body of at most
// Options.ReadWhole bytes is read whole inside the retried attempt, so a
// body cut off mid-way (a reset, a truncation) is retried like a failed
// request, and the caller gets the bytes and ObjectInfo of one complete
// response: never the info of one version with the bytes of another. This
// covers every object stowage reads back to decide something (heads,
// manifest rows, leases, fences). A larger body streams; its length is
// checked at the end, so a cut-off body fails (ErrTruncated), never passes
// for a short object.
func (s *store) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	var (
		rc   io.ReadCloser
		info objstore.ObjectInfo
	)
	err := s.do(ctx, objstore.OpGet, key, func() (err error) {
		rc, info, err = s.base.Get(ctx, key, opts)
		if err != nil {
			return err
		}
		want := bodyLen(info.Size, opts)
		if want < 0 || want > s.opts.ReadWhole {
			rc = &checkedBody{rc: rc, want: want, key: key}
			return nil
		}
		data, err := readWhole(rc, want, key)
		if err != nil {
			return err
		}
		rc = io.NopCloser(bytes.NewReader(data))
		return nil
	})
	return rc, info, err
}

// bodyLen is the length of the body of a Get of an object of size bytes
// with opts: the object, or the part of the range within it. -1 if it
// cannot be known (a range the store should have refused).
func bodyLen(size int64, opts *objstore.GetOptions) int64 {
	if opts == nil || opts.Range == nil {
		return size
	}
	r := opts.Range
	if r.Offset < 0 || r.Offset > size {
		return -1
	}
	n := size - r.Offset
	if r.Length >= 0 && r.Length < n {
		n = r.Length
	}
	return n
}

// readWhole reads and closes a body of want bytes.
func readWhole(rc io.ReadCloser, want int64, key string) ([]byte, error) {
	defer rc.Close()
	data, got, err := objstore.ReadSized(rc, want)
	switch {
	case err != nil:
		return nil, err
	case got != want:
		return nil, truncated(key, got, want)
	}
	return data, nil
}

func truncated(key string, got, want int64) error {
	return &objstore.OpError{Op: objstore.OpGet, Key: key,
		Err: fmt.Errorf("%w: read %d of %d bytes", ErrTruncated, got, want)}
}

// checkedBody is a streamed Get body whose end is checked against the
// length the response announced: a body that ends early fails with
// ErrTruncated instead of a clean io.EOF, and one that runs long fails too.
type checkedBody struct {
	rc   io.ReadCloser
	want int64 // -1: unknown, not checked
	key  string
	got  int64
}

func (b *checkedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.got += int64(n)
	if b.want >= 0 && (errors.Is(err, io.EOF) && b.got != b.want || b.got > b.want) {
		return n, truncated(b.key, b.got, b.want)
	}
	return n, err
}

func (b *checkedBody) Close() error { return b.rc.Close() }
