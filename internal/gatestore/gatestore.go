// Package gatestore is an objstore.Store decorator that stops one Put at a
// gate, for tests that run something else (a sweep) while a writer is
// stalled at that exact point, without sleeps.
package gatestore

import (
	"context"
	"fmt"
	"sync"

	"github.com/stowage-dev/stowage/objstore"
)

// Mode says where a Store stops the gated Put.
type Mode int

const (
	// Before stops the Put before it is sent: a writer stalled after
	// everything it wrote before it.
	Before Mode = iota
	// LostResponse applies the Put, stops, then reports its response
	// lost (objstore.ErrOutcomeUnknown).
	LostResponse
)

// Store stops the first Put of one key until the test releases it.
type Store struct {
	objstore.Store
	key  string
	mode Mode

	once    sync.Once
	reached chan struct{}
	release chan struct{}
}

// New gates the first Put of key on inner.
func New(inner objstore.Store, key string, mode Mode) *Store {
	return &Store{Store: inner, key: key, mode: mode, reached: make(chan struct{}), release: make(chan struct{})}
}

// Reached is closed when the gated Put has stopped at the gate.
func (g *Store) Reached() <-chan struct{} { return g.reached }

// Release lets the gated Put go on.
func (g *Store) Release() { close(g.release) }

// Put implements objstore.Store.
func (g *Store) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	gated := false
	if key == g.key {
		g.once.Do(func() { gated = true })
	}
	if !gated {
		return g.Store.Put(ctx, key, data, opts)
	}
	if g.mode == Before {
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
	return objstore.ObjectInfo{}, fmt.Errorf("%w: gatestore: response lost at the gate", objstore.ErrOutcomeUnknown)
}

func (g *Store) wait(ctx context.Context) error {
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
