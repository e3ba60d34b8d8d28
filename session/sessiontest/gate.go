package sessiontest

import (
	"context"
	"fmt"
	"sync"

	"github.com/stowage-dev/stowage/objstore"
)

// GateMode says where a GateStore stops the gated Put.
type GateMode int

const (
	// GateBefore stops the Put before it is sent: a writer stalled after
	// everything it wrote before it.
	GateBefore GateMode = iota
	// GateLostResponse applies the Put, stops, then reports its response
	// lost (objstore.ErrOutcomeUnknown).
	GateLostResponse
)

// GateStore is an objstore.Store decorator that stops the first Put of one
// key until the test releases it, so that a test can run something else
// (a sweep) while a writer is stalled at that exact point, without sleeps.
type GateStore struct {
	objstore.Store
	key  string
	mode GateMode

	once    sync.Once
	reached chan struct{}
	release chan struct{}
}

// NewGateStore gates the first Put of key on inner.
func NewGateStore(inner objstore.Store, key string, mode GateMode) *GateStore {
	return &GateStore{Store: inner, key: key, mode: mode, reached: make(chan struct{}), release: make(chan struct{})}
}

// Reached is closed when the gated Put has stopped at the gate.
func (g *GateStore) Reached() <-chan struct{} { return g.reached }

// Release lets the gated Put go on.
func (g *GateStore) Release() { close(g.release) }

// Put implements objstore.Store.
func (g *GateStore) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	gated := false
	if key == g.key {
		g.once.Do(func() { gated = true })
	}
	if !gated {
		return g.Store.Put(ctx, key, data, opts)
	}
	if g.mode == GateBefore {
		close(g.reached)
		if err := g.wait(ctx); err != nil {
			return objstore.ObjectInfo{}, err
		}
		return g.Store.Put(ctx, key, data, opts)
	}
	if _, err := g.Store.Put(ctx, key, data, opts); err != nil {
		close(g.reached)
		return objstore.ObjectInfo{}, err
	}
	close(g.reached)
	if err := g.wait(ctx); err != nil {
		return objstore.ObjectInfo{}, err
	}
	return objstore.ObjectInfo{}, fmt.Errorf("%w: sessiontest: response lost at the gate", objstore.ErrOutcomeUnknown)
}

func (g *GateStore) wait(ctx context.Context) error {
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
