package openurl

import (
	"context"
	"fmt"

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
