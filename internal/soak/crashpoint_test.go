package soak

import (
	"context"
	"io"
	"sync"

	"github.com/stowage-dev/stowage/objstore"
)

// haltStore counts the crash points of a writer's storage calls (before
// and after every mutating call, and every MiB of an upload's body) and, at
// point number at, calls halt, which never returns (the parent kills the
// process). Reads are not crash points: dying before or after a read
// changes nothing on the bucket.
type haltStore struct {
	objstore.Store
	at   int
	halt func(point int, desc string)

	mu sync.Mutex
	n  int
}

// point counts one crash point and halts there if it is the chosen one.
func (s *haltStore) point(desc string) {
	s.mu.Lock()
	s.n++
	hit := s.n == s.at
	n := s.n
	s.mu.Unlock()
	if hit {
		s.halt(n, desc)
	}
}

func (s *haltStore) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	s.point("before put " + key)
	info, err := s.Store.Put(ctx, key, data, opts)
	s.point("after put " + key)
	return info, err
}

func (s *haltStore) Delete(ctx context.Context, key string, opts *objstore.DeleteOptions) error {
	s.point("before delete " + key)
	err := s.Store.Delete(ctx, key, opts)
	s.point("after delete " + key)
	return err
}

func (s *haltStore) DeleteMany(ctx context.Context, keys []string) error {
	s.point("before delete-many")
	err := s.Store.DeleteMany(ctx, keys)
	s.point("after delete-many")
	return err
}

func (s *haltStore) Upload(ctx context.Context, key string, body io.Reader, opts *objstore.UploadOptions) (objstore.ObjectInfo, error) {
	s.point("before upload " + key)
	info, err := s.Store.Upload(ctx, key, &haltReader{r: body, s: s, key: key}, opts)
	s.point("after upload " + key)
	return info, err
}

func (s *haltStore) AbortUpload(ctx context.Context, key, uploadID string) error {
	s.point("before abort " + key)
	err := s.Store.AbortUpload(ctx, key, uploadID)
	s.point("after abort " + key)
	return err
}

// haltReader is an upload body whose every MiB read is a crash point.
type haltReader struct {
	r    io.Reader
	s    *haltStore
	key  string
	read int64
}

func (h *haltReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	before := h.read >> 20
	h.read += int64(n)
	for mib := before + 1; mib <= h.read>>20; mib++ {
		h.s.point("mid-upload " + h.key)
	}
	return n, err
}
