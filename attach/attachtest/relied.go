package attachtest

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/fence"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
)

var errStopped = errors.New("attachtest: the writer stopped")

// beforePointer runs hook once, before the first PUT of a blob pointer, and
// from then on fails every read of a deletion fence (the writer stops
// before its next Protect).
type beforePointer struct {
	objstore.Store
	mu      sync.Mutex
	hook    func(ctx context.Context)
	stopped bool
}

func (s *beforePointer) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	s.mu.Lock()
	hook := s.hook
	if strings.HasPrefix(key, manifest.BlobPrefix) {
		s.hook, s.stopped = nil, true
	} else {
		hook = nil
	}
	s.mu.Unlock()
	if hook != nil {
		hook(ctx)
	}
	return s.Store.Put(ctx, key, data, opts)
}

func (s *beforePointer) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	s.mu.Lock()
	stopped := s.stopped
	s.mu.Unlock()
	if stopped && strings.HasPrefix(key, fence.Prefix) {
		return nil, objstore.ObjectInfo{}, errStopped
	}
	return s.Store.Get(ctx, key, opts)
}

// A put whose row names its own upload and loses the race to publish the
// blob pointer adopts the pointer's data in its next round, unless a commit
// relied on the row meanwhile: a commit of the session prepared and stamped
// the row naming the upload, and the pointer's data was reclaimed (its only
// row forgotten, its bytes swept). Re-pointing the committed row would make
// it name gone bytes until the put's Protect finds them reclaimed, and for
// good if the put stops first (a crash): the acknowledged attachment would
// be lost while its bytes, the put's own upload, are still there. Found by
// internal/sim (seed 87, once ForgetSession left turn markers).
func testCommittedRowKeepsItsData(t *testing.T, e *env) {
	body := random(29, 3000)
	id := digest(body)
	hooked := &beforePointer{Store: e.Obj}
	writer := newEnv(t, e.h, hooked)
	hooked.hook = func(ctx context.Context) {
		// Another session puts the same bytes and publishes the pointer.
		other := e.session("s2", nil)
		e.put(other, body, attach.PutOptions{})
		reclaimed := e.row("s2", id).Data.Key
		// A commit of s1 adopts the writer's row, naming its upload.
		prep, err := e.M.PrepareCommit(ctx, "s1", 1, "", []string{id})
		e.Must(err)
		e.Must(e.M.FinishCommit(ctx, "s1", prep.Stamp, e.Clock.Now()))
		// The other session's row goes and a sweep reclaims its bytes.
		e.Must(other.Delete(ctx, id))
		e.Must(e.Obj.Delete(ctx, reclaimed, nil))
	}
	_, err := writer.session("s1", nil).Put(e.Ctx, strings.NewReader(string(body)), attach.PutOptions{})
	wantErr(t, "put stopped before its second Protect", err, errStopped)
	row := e.row("s1", id)
	if !row.Committed() {
		t.Fatalf("the commit did not stamp the row: %+v", row)
	}
	if _, err := e.Obj.Head(e.Ctx, row.Data.Key); err != nil {
		t.Fatalf("the committed row names %s, whose bytes are gone: %v", row.Data.Key, err)
	}
	e.mustGet(e.session("s1", nil), id, body)
}
