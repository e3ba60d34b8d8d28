package attach_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/objstore/objstoretest"
)

// TestPutFailsOnAReaderErrorTheStoreSwallowed: Put fails with the reader's
// error even on a store that took the failed body for a complete one, and
// deletes what that store wrote: the attachment's meter, not the store, is
// the judge of whether the caller's stream ended.
func TestPutFailsOnAReaderErrorTheStoreSwallowed(t *testing.T) {
	obj := memstore.New(nil)
	defer obj.Close()
	a := sessionOver(t, objstoretest.EndsAtUnexpectedEOF(obj))
	body := io.MultiReader(bytes.NewReader(make([]byte, 10)), errReader{io.ErrUnexpectedEOF})
	_, err := a.Put(t.Context(), body, attach.PutOptions{MediaType: "application/octet-stream"})
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
