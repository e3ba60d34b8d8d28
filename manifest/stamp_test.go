package manifest_test

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/manifest/manifesttest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
)

// failingRows fails every row write while fail is set.
type failingRows struct {
	objstore.Store
	fail atomic.Bool
}

func (f *failingRows) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	if f.fail.Load() && strings.HasPrefix(key, manifest.RefPrefix) {
		return objstore.ObjectInfo{}, objstore.ErrUnavailable
	}
	return f.Store.Put(ctx, key, data, opts)
}

// TestCommitRefsKeepsMarkersUntilStamped: CommitRefs deletes a row's turn
// marker only after its stamp wrote (FinishCommit may delete it sooner: a
// published head names the row). A CommitRefs whose stamp fails must leave
// the marker, or the turn's commit, which finds its rows by marker, would
// not adopt the row.
func TestCommitRefsKeepsMarkersUntilStamped(t *testing.T) {
	ctx := t.Context()
	objs := &failingRows{Store: memstore.New(nil)}
	m := manifest.New(objs, &manifest.Options{MaxAttempts: 2})
	id := manifesttest.ID("tool output")
	key := manifest.DataKey(m.NewUploadID())
	if _, err := objs.Put(ctx, key, []byte("tool output"), nil); err != nil {
		t.Fatal(err)
	}
	d := manifest.Data{Key: key, Size: 11, StoredSize: 11}
	if _, err := m.RecordRef(ctx, manifest.Intent{SessionID: "s1", AttachmentID: id, Owner: manifest.TurnOwner("t1")},
		manifest.Info{}, func(*manifest.Row) (manifest.Data, error) { return d, nil }); err != nil {
		t.Fatal(err)
	}
	objs.fail.Store(true)
	if err := m.CommitRefs(ctx, "s1", []string{id}); err == nil {
		t.Fatal("CommitRefs succeeded though every row write failed")
	}
	objs.fail.Store(false)
	got, err := m.PrepareCommit(ctx, "s1", 1, "t1", nil)
	if err != nil || !slices.Equal(got.Stamp, []string{id}) {
		t.Fatalf("the turn's commit after a failed CommitRefs = %+v, %v; want the row adopted", got, err)
	}
}
