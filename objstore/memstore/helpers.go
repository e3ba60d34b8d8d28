package memstore

import (
	"fmt"
	"time"

	"github.com/stowage-dev/stowage/objstore"
)

// SetModTime sets the ModTime of the object under key, keeping its ETag and
// content: a test helper to age objects. A missing key returns ErrNotExist.
func (s *Store) SetModTime(key string, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	obj, ok := s.objects[key]
	if !ok {
		return opErr(objstore.OpSetModTime, key, objstore.ErrNotExist)
	}
	aged := *obj
	aged.modTime = t
	s.objects[key] = &aged
	return nil
}

// SetUploadInitiated sets the initiation time of an incomplete upload: a
// test helper to age uploads. An unknown upload returns ErrNotExist.
func (s *Store) SetUploadInitiated(key, uploadID string, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.uploads[uploadID]
	if !ok || u.key != key {
		return opErr(objstore.OpSetUploadInitiated, key, fmt.Errorf("%w: upload %s", objstore.ErrNotExist, uploadID))
	}
	u.initiated = t
	return nil
}

// Keys returns the keys of all objects in ascending order.
func (s *Store) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.keys...)
}
