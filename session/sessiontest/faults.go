package sessiontest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"sync"

	"github.com/stowage-dev/stowage/objstore"
)

// FaultMode is what a FaultStore does at its fault point.
type FaultMode int

const (
	// FaultFail: the Nth mutating call is not applied and fails with
	// ErrUnavailable; later calls work.
	FaultFail FaultMode = iota
	// FaultCrash: the Nth mutating call is not applied, and it and every
	// later call (reads too) fail: the process died before sending it.
	FaultCrash
	// FaultLostResponse: the Nth mutating call is applied, then reports
	// ErrOutcomeUnknown (its response was lost); later calls work.
	FaultLostResponse
	// FaultCrashAfter: the Nth mutating call is applied, then it and every
	// later call fail: the process died after sending it.
	FaultCrashAfter
)

func (m FaultMode) String() string {
	return [...]string{"fail", "crash", "lost-response", "crash-after"}[m]
}

// errCrashed is what a crashed FaultStore returns.
var errCrashed = fmt.Errorf("%w: sessiontest: process crashed", objstore.ErrUnavailable)

// FaultStore is an objstore.Store decorator that injects one fault at the
// Nth (1-based) mutating call (Put, Delete, DeleteMany, Upload,
// AbortUpload).
type FaultStore struct {
	objstore.Store
	at   int
	mode FaultMode

	mu      sync.Mutex
	calls   int
	fired   bool
	crashed bool
	ops     []string
}

// NewFaultStore wraps inner with a fault at mutating call at (0 = never).
func NewFaultStore(inner objstore.Store, at int, mode FaultMode) *FaultStore {
	return &FaultStore{Store: inner, at: at, mode: mode}
}

// Calls returns the mutating calls seen so far.
func (s *FaultStore) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Fired reports whether the fault happened.
func (s *FaultStore) Fired() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fired
}

// Ops lists the mutating calls seen, as "op key".
func (s *FaultStore) Ops() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ops...)
}

// mutate runs apply as mutating call number calls+1, with the fault.
func (s *FaultStore) mutate(op, key string, apply func() error) error {
	s.mu.Lock()
	if s.crashed {
		s.mu.Unlock()
		return errCrashed
	}
	s.calls++
	s.ops = append(s.ops, op+" "+key)
	hit := s.calls == s.at
	if hit {
		s.fired = true
		if s.mode == FaultCrash || s.mode == FaultCrashAfter {
			s.crashed = true
		}
	}
	s.mu.Unlock()
	if !hit {
		return apply()
	}
	switch s.mode {
	case FaultFail:
		return fmt.Errorf("%w: sessiontest: injected failure", objstore.ErrUnavailable)
	case FaultCrash:
		return errCrashed
	case FaultLostResponse:
		if err := apply(); err != nil {
			return err
		}
		return fmt.Errorf("%w: sessiontest: response lost", objstore.ErrOutcomeUnknown)
	default:
		_ = apply()
		return errCrashed
	}
}

func (s *FaultStore) readable() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.crashed {
		return errCrashed
	}
	return nil
}

func (s *FaultStore) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	var info objstore.ObjectInfo
	err := s.mutate("put", key, func() (err error) {
		info, err = s.Store.Put(ctx, key, data, opts)
		return err
	})
	return info, err
}

func (s *FaultStore) Delete(ctx context.Context, key string, opts *objstore.DeleteOptions) error {
	return s.mutate("delete", key, func() error { return s.Store.Delete(ctx, key, opts) })
}

func (s *FaultStore) DeleteMany(ctx context.Context, keys []string) error {
	return s.mutate("delete_many", fmt.Sprint(len(keys)), func() error { return s.Store.DeleteMany(ctx, keys) })
}

func (s *FaultStore) Upload(ctx context.Context, key string, body io.Reader, opts *objstore.UploadOptions) (objstore.ObjectInfo, error) {
	var info objstore.ObjectInfo
	err := s.mutate("upload", key, func() (err error) {
		info, err = s.Store.Upload(ctx, key, body, opts)
		return err
	})
	return info, err
}

func (s *FaultStore) AbortUpload(ctx context.Context, key, uploadID string) error {
	return s.mutate("abort_upload", key, func() error { return s.Store.AbortUpload(ctx, key, uploadID) })
}

func (s *FaultStore) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	if err := s.readable(); err != nil {
		return nil, objstore.ObjectInfo{}, err
	}
	return s.Store.Get(ctx, key, opts)
}

func (s *FaultStore) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	if err := s.readable(); err != nil {
		return objstore.ObjectInfo{}, err
	}
	return s.Store.Head(ctx, key)
}

func (s *FaultStore) List(ctx context.Context, prefix string, opts *objstore.ListOptions) iter.Seq2[objstore.ObjectInfo, error] {
	if err := s.readable(); err != nil {
		return func(yield func(objstore.ObjectInfo, error) bool) { yield(objstore.ObjectInfo{}, err) }
	}
	return s.Store.List(ctx, prefix, opts)
}

// CountingStore is an objstore.Store decorator that counts calls per
// operation, and conditional GETs answered "not modified".
type CountingStore struct {
	objstore.Store
	mu          sync.Mutex
	counts      map[string]int
	notModified int
}

// NewCountingStore wraps inner.
func NewCountingStore(inner objstore.Store) *CountingStore {
	return &CountingStore{Store: inner, counts: map[string]int{}}
}

func (c *CountingStore) count(op string) {
	c.mu.Lock()
	c.counts[op]++
	c.mu.Unlock()
}

// Reset zeroes the counters.
func (c *CountingStore) Reset() {
	c.mu.Lock()
	c.counts, c.notModified = map[string]int{}, 0
	c.mu.Unlock()
}

// Count returns the calls of op since the last Reset.
func (c *CountingStore) Count(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[op]
}

// Total returns all calls since the last Reset.
func (c *CountingStore) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.counts {
		n += v
	}
	return n
}

// NotModified returns the GETs answered ErrNotModified since the last Reset.
func (c *CountingStore) NotModified() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.notModified
}

func (c *CountingStore) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	c.count(objstore.OpPut)
	return c.Store.Put(ctx, key, data, opts)
}

func (c *CountingStore) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	c.count(objstore.OpGet)
	rc, info, err := c.Store.Get(ctx, key, opts)
	if errors.Is(err, objstore.ErrNotModified) {
		c.mu.Lock()
		c.notModified++
		c.mu.Unlock()
	}
	return rc, info, err
}

func (c *CountingStore) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	c.count(objstore.OpHead)
	return c.Store.Head(ctx, key)
}

func (c *CountingStore) Delete(ctx context.Context, key string, opts *objstore.DeleteOptions) error {
	c.count(objstore.OpDelete)
	return c.Store.Delete(ctx, key, opts)
}

func (c *CountingStore) DeleteMany(ctx context.Context, keys []string) error {
	c.count(objstore.OpDeleteMany)
	return c.Store.DeleteMany(ctx, keys)
}

func (c *CountingStore) List(ctx context.Context, prefix string, opts *objstore.ListOptions) iter.Seq2[objstore.ObjectInfo, error] {
	c.count(objstore.OpList)
	return c.Store.List(ctx, prefix, opts)
}
