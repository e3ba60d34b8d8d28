package openurl

import (
	"context"
	"fmt"
	"io"

	"github.com/stowage-dev/stowage/objstore"
)

// guarded reports the capabilities the probe confirmed instead of those the
// backend claimed, and keeps the contract for the one it can: a conditional
// delete on a store without ConditionalDelete fails with ErrNotSupported and
// deletes nothing.
type guarded struct {
	objstore.Store
	caps objstore.Capabilities
}

func (g *guarded) Capabilities() objstore.Capabilities { return g.caps }

func (g *guarded) Delete(ctx context.Context, key string, opts *objstore.DeleteOptions) error {
	if opts != nil && opts.IfMatch != "" && !g.caps.ConditionalDelete {
		return &objstore.OpError{Backend: "openurl", Op: objstore.OpDelete, Key: key,
			Err: fmt.Errorf("%w: the probe found conditional deletes not enforced by %s", objstore.ErrNotSupported, g.caps.Provider)}
	}
	return g.Store.Delete(ctx, key, opts)
}

// readOnly refuses every write with ErrReadOnly (which also matches
// ErrPermission), before anything is sent.
type readOnly struct{ objstore.Store }

func errReadOnly(op, key string) error {
	return &objstore.OpError{Backend: "openurl", Op: op, Key: key,
		Err: fmt.Errorf("%w (%w)", objstore.ErrReadOnly, objstore.ErrPermission)}
}

func (readOnly) Put(_ context.Context, key string, _ []byte, _ *objstore.PutOptions) (objstore.ObjectInfo, error) {
	return objstore.ObjectInfo{}, errReadOnly(objstore.OpPut, key)
}

func (readOnly) Delete(_ context.Context, key string, _ *objstore.DeleteOptions) error {
	return errReadOnly(objstore.OpDelete, key)
}

func (readOnly) DeleteMany(context.Context, []string) error {
	return errReadOnly(objstore.OpDeleteMany, "")
}

func (readOnly) Upload(_ context.Context, key string, _ io.Reader, _ *objstore.UploadOptions) (objstore.ObjectInfo, error) {
	return objstore.ObjectInfo{}, errReadOnly(objstore.OpUpload, key)
}

func (readOnly) AbortUpload(_ context.Context, key, _ string) error {
	return errReadOnly(objstore.OpAbortUpload, key)
}
