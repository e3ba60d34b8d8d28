package attachtest

import (
	"context"
	"io"
	"sync"
	"testing"

	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
)

// onFirstGet runs hook once, before the first Get of key.
type onFirstGet struct {
	objstore.Store
	key  string
	once sync.Once
	hook func(ctx context.Context)
}

func (s *onFirstGet) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	if key == s.key {
		s.once.Do(func() { s.hook(ctx) })
	}
	return s.Store.Get(ctx, key, opts)
}

// A row re-pointed between a Get's read of the row and its read of the
// bytes (a concurrent put of the same content moved the row to other data
// of that content and deleted the data it named: the race the simulation
// found, docs/protocol.md "A get") is followed: the Get returns the bytes,
// not ErrNotFound. Bytes gone while the row still names them are still
// ErrNotFound.
func testRepointedDuringGet(t *testing.T, e *env) {
	a := e.session("s1", nil)
	body := random(23, 5000)
	ref := e.put(a, body, attach.PutOptions{MediaType: "application/octet-stream"})
	old := e.row("s1", ref.ID)
	moved := manifest.DataKey(e.M.NewUploadID())
	rc, _, err := e.Obj.Get(e.Ctx, old.Data.Key, nil)
	e.Must(err)
	stored, err := io.ReadAll(rc)
	rc.Close()
	e.Must(err)
	_, err = e.Obj.Put(e.Ctx, moved, stored, nil)
	e.Must(err)

	hooked := &onFirstGet{Store: e.Obj, key: old.Data.Key}
	racing := newEnv(t, e.h, hooked)
	hooked.hook = func(ctx context.Context) {
		_, err := racing.M.RecordRef(ctx, old.Intent, old.Info, func(cur *manifest.Row) (manifest.Data, error) {
			d := cur.Data
			d.Key = moved
			return d, nil
		})
		e.Must(err)
		e.Must(e.Obj.Delete(ctx, old.Data.Key, nil))
	}
	racing.mustGet(racing.session("s1", nil), ref.ID, body)
	if got := e.row("s1", ref.ID).Data.Key; got != moved {
		t.Fatalf("row names %s after the re-point, want %s", got, moved)
	}

	e.Must(e.Obj.Delete(e.Ctx, moved, nil))
	_, err = racing.get(racing.session("s1", nil), ref.ID, nil)
	wantErr(t, "Get of bytes gone under an unchanged row", err, attach.ErrNotFound)
	e.Must(a.Delete(e.Ctx, ref.ID))
}
