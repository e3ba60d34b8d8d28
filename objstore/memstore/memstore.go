// Package memstore is an in-memory objstore.Store: a mutex, a map and a
// sorted key index. It is the product backend for tests and for the Inline
// durability tier: everything is lost with the process (Capabilities.Durable
// is false), and everything else in the contract is enforced, including
// conditional puts, compare-and-swap, conditional multipart completion and
// conditional deletes.
//
// # ETags
//
// Every write gets a fresh ETag from a per-store counter, so a memstore ETag
// never repeats, even when identical bytes are written again. S3 ETags are
// MD5s and do repeat; code must not rely on this property, but tests may use
// it to tell writes apart.
//
// # Time
//
// ModTime of objects and Initiated of uploads come from Options.Clock.
// SetModTime and SetUploadInitiated age them for tests of sweepers.
package memstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/stowage-dev/stowage/objstore"
)

const backend = "memstore"

// Options configure a Store. A nil *Options is the zero value.
type Options struct {
	// Clock returns the current time for ModTime and upload Initiated; nil
	// means time.Now.
	Clock func() time.Time
}

// Store is an in-memory objstore.Store. The zero value is not usable; call New.
type Store struct {
	clock func() time.Time
	// etagBase makes ETags of different stores differ; etagSeq (guarded by
	// mu) makes them unique within one store.
	etagBase uint32

	mu      sync.Mutex
	closed  bool
	objects map[string]*object
	keys    []string // sorted keys of objects
	uploads map[string]*upload
	etagSeq uint64
}

var _ objstore.Store = (*Store)(nil)

// object is a stored object. Its fields are never mutated after it is stored
// (SetModTime replaces the object), so readers may share data without a copy.
type object struct {
	data        []byte
	etag        string
	modTime     time.Time
	contentType string
	metadata    map[string]string
}

// New returns an empty Store.
func New(opts *Options) *Store {
	if opts == nil {
		opts = &Options{}
	}
	clock := opts.Clock
	if clock == nil {
		clock = time.Now
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &Store{
		clock:    clock,
		etagBase: binary.BigEndian.Uint32(b[:]),
		objects:  make(map[string]*object),
		uploads:  make(map[string]*upload),
	}
}

func opErr(op, key string, err error) error {
	return &objstore.OpError{Backend: backend, Op: op, Key: key, Err: err}
}

// begin is what every method checks before any side effect, in this
// order: invalid, the error of its argument validation (returned as it is);
// that the store is open; that ctx is live.
func (s *Store) begin(ctx context.Context, invalid error) error {
	if invalid != nil {
		return invalid
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return objstore.ErrClosed
	}
	return ctx.Err()
}

// nextETagLocked returns a never-repeating ETag. s.mu must be held.
func (s *Store) nextETagLocked() string {
	s.etagSeq++
	return fmt.Sprintf("%08x%016x", s.etagBase, s.etagSeq)
}

// Put implements objstore.Store.
func (s *Store) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	if err := s.begin(ctx, objstore.ValidatePut(key, opts)); err != nil {
		return objstore.ObjectInfo{}, opErr(objstore.OpPut, key, err)
	}
	info, err := s.commit(ctx, key, bytes.Clone(data), opts, "")
	if err != nil {
		return objstore.ObjectInfo{}, opErr(objstore.OpPut, key, err)
	}
	return info, nil
}

// commit stores data (owned by the store from now on) under key if the
// condition in opts holds, all under s.mu. A non-empty uploadID names the
// upload being completed, which must still be registered.
func (s *Store) commit(ctx context.Context, key string, data []byte, opts *objstore.PutOptions, uploadID string) (objstore.ObjectInfo, error) {
	if opts == nil {
		opts = &objstore.PutOptions{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return objstore.ObjectInfo{}, objstore.ErrClosed
	}
	if uploadID != "" {
		if _, ok := s.uploads[uploadID]; !ok {
			return objstore.ObjectInfo{}, fmt.Errorf("%w: upload %s was aborted", objstore.ErrNotExist, uploadID)
		}
	}
	if err := checkCondition(s.objects[key], opts.IfNoneMatch, opts.IfMatch); err != nil {
		return objstore.ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return objstore.ObjectInfo{}, err
	}
	ct := opts.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	obj := &object{
		data:        data,
		etag:        s.nextETagLocked(),
		modTime:     s.clock(),
		contentType: ct,
		metadata:    maps.Clone(opts.Metadata),
	}
	s.storeLocked(key, obj)
	if uploadID != "" {
		delete(s.uploads, uploadID)
	}
	return obj.info(key, true), nil
}

// checkCondition evaluates a write or delete condition against cur (nil if
// the key is missing).
func checkCondition(cur *object, ifNoneMatch bool, ifMatch string) error {
	var etag string
	if cur != nil {
		etag = cur.etag
	}
	return objstore.CheckCondition(cur != nil, etag, ifNoneMatch, ifMatch)
}

// storeLocked sets key to obj, keeping s.keys sorted. s.mu must be held.
func (s *Store) storeLocked(key string, obj *object) {
	if _, ok := s.objects[key]; !ok {
		i, _ := slices.BinarySearch(s.keys, key)
		s.keys = slices.Insert(s.keys, i, key)
	}
	s.objects[key] = obj
}

// removeLocked deletes key if present. s.mu must be held.
func (s *Store) removeLocked(key string) {
	if _, ok := s.objects[key]; !ok {
		return
	}
	delete(s.objects, key)
	if i, ok := slices.BinarySearch(s.keys, key); ok {
		s.keys = slices.Delete(s.keys, i, i+1)
	}
}

func (o *object) info(key string, withMetadata bool) objstore.ObjectInfo {
	info := objstore.ObjectInfo{
		Key:     key,
		Size:    int64(len(o.data)),
		ETag:    o.etag,
		ModTime: o.modTime,
	}
	if withMetadata {
		info.ContentType = o.contentType
		info.Metadata = maps.Clone(o.metadata)
		if info.Metadata == nil {
			info.Metadata = map[string]string{}
		}
	}
	return info
}

// lookup returns the current object under key, or ErrNotExist.
func (s *Store) lookup(key string) (*object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, objstore.ErrClosed
	}
	obj, ok := s.objects[key]
	if !ok {
		return nil, objstore.ErrNotExist
	}
	return obj, nil
}

// Get implements objstore.Store. The body reads a snapshot: later writes to
// key do not change it.
func (s *Store) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	if opts == nil {
		opts = &objstore.GetOptions{}
	}
	if err := s.begin(ctx, objstore.ValidateKey(key)); err != nil {
		return nil, objstore.ObjectInfo{}, opErr(objstore.OpGet, key, err)
	}
	obj, err := s.lookup(key)
	if err != nil {
		return nil, objstore.ObjectInfo{}, opErr(objstore.OpGet, key, err)
	}
	info := obj.info(key, true)
	if opts.IfNoneMatch != "" && opts.IfNoneMatch == obj.etag {
		return nil, objstore.ObjectInfo{}, opErr(objstore.OpGet, key, fmt.Errorf("%w: etag %q", objstore.ErrNotModified, obj.etag))
	}
	off, n, err := objstore.ResolveRange(opts.Range, info.Size)
	if err != nil {
		return nil, objstore.ObjectInfo{}, opErr(objstore.OpGet, key, err)
	}
	return io.NopCloser(bytes.NewReader(obj.data[off : off+n])), info, nil
}

// Head implements objstore.Store.
func (s *Store) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	if err := s.begin(ctx, objstore.ValidateKey(key)); err != nil {
		return objstore.ObjectInfo{}, opErr(objstore.OpHead, key, err)
	}
	obj, err := s.lookup(key)
	if err != nil {
		return objstore.ObjectInfo{}, opErr(objstore.OpHead, key, err)
	}
	return obj.info(key, true), nil
}

// Delete implements objstore.Store. Conditional deletes are supported.
func (s *Store) Delete(ctx context.Context, key string, opts *objstore.DeleteOptions) error {
	if opts == nil {
		opts = &objstore.DeleteOptions{}
	}
	if err := s.begin(ctx, objstore.ValidateKey(key)); err != nil {
		return opErr(objstore.OpDelete, key, err)
	}
	if err := s.delete(key, opts.IfMatch); err != nil {
		return opErr(objstore.OpDelete, key, err)
	}
	return nil
}

func (s *Store) delete(key, ifMatch string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return objstore.ErrClosed
	}
	if s.objects[key] == nil {
		return nil // missing is success, conditional or not
	}
	if err := checkCondition(s.objects[key], false, ifMatch); err != nil {
		return err
	}
	s.removeLocked(key)
	return nil
}

// DeleteMany implements objstore.Store. Invalid keys are reported in the
// *objstore.DeleteManyError; the valid ones are deleted.
func (s *Store) DeleteMany(ctx context.Context, keys []string) error {
	if err := s.begin(ctx, nil); err != nil {
		return opErr(objstore.OpDeleteMany, "", err)
	}
	return objstore.DeleteEach(backend, keys, func(key string) error { return s.delete(key, "") })
}

// Capabilities implements objstore.Store: everything is enforced, nothing is
// durable.
func (s *Store) Capabilities() objstore.Capabilities {
	return objstore.Capabilities{
		ConditionalPut:       true,
		CompareAndSwap:       true,
		ConditionalMultipart: true,
		ConditionalDelete:    true,
		Durable:              false,
		Provider:             backend,
	}
}

// Close drops all objects and uploads. Later calls return ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.objects = nil
	s.keys = nil
	s.uploads = nil
	return nil
}
