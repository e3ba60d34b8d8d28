package attach_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
)

// endsAtUnexpectedEOF is a store that reads an upload body as io.ReadFull's
// callers did: the body's io.ErrUnexpectedEOF ends it, and the bytes read
// are stored as the whole object.
type endsAtUnexpectedEOF struct{ objstore.Store }

func (s endsAtUnexpectedEOF) Upload(ctx context.Context, key string, body io.Reader, opts *objstore.UploadOptions) (objstore.ObjectInfo, error) {
	return s.Store.Upload(ctx, key, unexpectedEOFIsEOF{body}, opts)
}

type unexpectedEOFIsEOF struct{ r io.Reader }

func (u unexpectedEOFIsEOF) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return n, err
}

// TestPutFailsOnAReaderErrorTheStoreSwallowed: Put fails with the reader's
// error even on a store that took the failed body for a complete one, and
// deletes what that store wrote: the attachment's meter, not the store, is
// the judge of whether the caller's stream ended.
func TestPutFailsOnAReaderErrorTheStoreSwallowed(t *testing.T) {
	obj := memstore.New(nil)
	defer obj.Close()
	a, err := attach.New(manifest.New(endsAtUnexpectedEOF{obj}, nil), "s1", nil)
	if err != nil {
		t.Fatal(err)
	}
	body := io.MultiReader(bytes.NewReader(make([]byte, 10)), errReader{io.ErrUnexpectedEOF})
	_, err = a.Put(t.Context(), body, attach.PutOptions{MediaType: "application/octet-stream"})
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Put = %v, want io.ErrUnexpectedEOF", err)
	}
	for info, err := range obj.List(t.Context(), manifest.DataPrefix, nil) {
		if err != nil {
			t.Fatal(err)
		}
		t.Errorf("a failed Put left data %q (%d bytes)", info.Key, info.Size)
	}
	if list, err := a.List(t.Context()); err != nil || len(list) != 0 {
		t.Fatalf("List = %v, %v; want no attachment", list, err)
	}
}

// errReader fails every read with err.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
