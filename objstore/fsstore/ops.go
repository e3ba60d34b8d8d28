package fsstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/stowage-dev/stowage/objstore"
)

// Put implements objstore.Store. The object file is written to tmp/ and
// fsynced outside the lock; the condition is checked and the file renamed
// into place (and its directory fsynced) under the key's stripe lock.
func (s *Store) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	if opts == nil {
		opts = &objstore.PutOptions{}
	}
	if err := s.beginWrite(ctx, objstore.ValidatePut(key, opts)); err != nil {
		return objstore.ObjectInfo{}, opErr(objstore.OpPut, key, err)
	}
	t := s.newTrailer(opts, int64(len(data)))
	t.CRC32C = crc32Of(data)
	tmp := s.newTempPath()
	if err := writeObjectFile(tmp, data, t); err != nil {
		return objstore.ObjectInfo{}, opErr(objstore.OpPut, key, err)
	}
	if err := s.publish(ctx, key, tmp, opts, nil); err != nil {
		os.Remove(tmp)
		return objstore.ObjectInfo{}, opErr(objstore.OpPut, key, err)
	}
	return t.info(key, true), nil
}

func crc32Of(data []byte) uint32 {
	h := newCRC()
	h.Write(data)
	return h.Sum32()
}

// newTrailer describes a new write of size bytes (CRC32C left to the caller).
func (s *Store) newTrailer(opts *objstore.PutOptions, size int64) *trailer {
	ct := opts.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	var md map[string]string
	if len(opts.Metadata) > 0 {
		md = make(map[string]string, len(opts.Metadata))
		for k, v := range opts.Metadata {
			md[k] = v
		}
	}
	return &trailer{
		ETag:        randomHex(16),
		Size:        size,
		ModTime:     s.clock(),
		ContentType: ct,
		Metadata:    md,
	}
}

// publish moves the complete object file src to key's path if the
// condition in cond holds, under key's stripe lock. check, if not nil, runs
// first under the lock and may veto the publication.
func (s *Store) publish(ctx context.Context, key, src string, cond *objstore.PutOptions, check func() error) error {
	unlock, err := s.locks.lock(key)
	if err != nil {
		return err
	}
	defer unlock()
	if check != nil {
		if err := check(); err != nil {
			return err
		}
	}
	path, dirs := objectPath(s.objects, key)
	if err := checkCondition(path, cond.IfNoneMatch, cond.IfMatch); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.place(src, path, dirs)
}

// checkCondition evaluates a write or delete condition against the object
// file at path, reading only what the condition needs: whether the file
// exists for If-None-Match, its trailer's ETag for If-Match. The error
// matches ErrPreconditionFailed if the condition does not hold. The caller
// holds the key's lock.
func checkCondition(path string, ifNoneMatch bool, ifMatch string) error {
	var (
		exists bool
		etag   string
	)
	switch {
	case ifNoneMatch:
		_, err := os.Lstat(path)
		if err = mapNotExist(err); err != nil && !errors.Is(err, objstore.ErrNotExist) {
			return err
		}
		exists = err == nil
	case ifMatch != "":
		t, err := readObjectTrailer(path)
		if err != nil && !errors.Is(err, objstore.ErrNotExist) {
			return err
		}
		if exists = err == nil; exists {
			etag = t.ETag
		}
	default:
		return nil
	}
	return objstore.CheckCondition(exists, etag, ifNoneMatch, ifMatch)
}

// place renames src to path, creating the directories of dirs, and fsyncs
// the directories it changed. A directory pruned by a concurrent delete of
// another key (under a different lock) while it is being created, or between
// its creation and the rename, is made again.
func (s *Store) place(src, path string, dirs []string) error {
	for attempt := 0; ; attempt++ {
		err := s.mkdirs(dirs)
		if err == nil {
			if err = os.Rename(src, path); err == nil {
				// The directory holds our file now: prune cannot remove it.
				return syncDir(filepath.Dir(path))
			}
		}
		if !errors.Is(err, fs.ErrNotExist) || attempt == 100 {
			return err
		}
	}
}

// mkdirs creates the directories of dirs under objects/, fsyncing the
// parent of each directory it creates.
func (s *Store) mkdirs(dirs []string) error {
	parent := s.objects
	for i := range dirs {
		dir := dirPath(s.objects, dirs[:i+1])
		err := os.Mkdir(dir, 0o700)
		switch {
		case err == nil:
			if err := syncDir(parent); err != nil {
				return err
			}
		case !os.IsExist(err):
			return err
		}
		parent = dir
	}
	return nil
}

// prune removes the now empty directories of dirs, deepest first.
func (s *Store) prune(dirs []string) {
	for i := len(dirs); i > 0; i-- {
		if os.Remove(dirPath(s.objects, dirs[:i])) != nil {
			return // not empty (or gone): stop
		}
	}
}

// Get implements objstore.Store. The body is read from the open file, so
// it is a snapshot: a later write or delete of key does not change it. A
// body covering the whole object is verified against its CRC-32C at EOF;
// a mismatch is reported by Read as ErrChecksum.
func (s *Store) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	if opts == nil {
		opts = &objstore.GetOptions{}
	}
	if err := s.begin(ctx, objstore.ValidateKey(key)); err != nil {
		return nil, objstore.ObjectInfo{}, opErr(objstore.OpGet, key, err)
	}
	path, _ := objectPath(s.objects, key)
	f, err := os.Open(path)
	if err != nil {
		return nil, objstore.ObjectInfo{}, opErr(objstore.OpGet, key, mapNotExist(err))
	}
	t, err := readTrailer(f)
	if err == nil && opts.IfNoneMatch != "" && opts.IfNoneMatch == t.ETag {
		err = fmt.Errorf("%w: etag %q", objstore.ErrNotModified, t.ETag)
	}
	var off, n int64
	if err == nil {
		off, n, err = objstore.ResolveRange(opts.Range, t.Size)
	}
	if err != nil {
		f.Close()
		return nil, objstore.ObjectInfo{}, opErr(objstore.OpGet, key, err)
	}
	r := &objectReader{key: key, f: f, r: io.NewSectionReader(f, off, n)}
	if off == 0 && n == t.Size {
		r.crc, r.want = newCRC(), t.CRC32C
	}
	return r, t.info(key, true), nil
}

// Head implements objstore.Store.
func (s *Store) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	if err := s.begin(ctx, objstore.ValidateKey(key)); err != nil {
		return objstore.ObjectInfo{}, opErr(objstore.OpHead, key, err)
	}
	path, _ := objectPath(s.objects, key)
	t, err := readObjectTrailer(path)
	if err != nil {
		return objstore.ObjectInfo{}, opErr(objstore.OpHead, key, err)
	}
	return t.info(key, true), nil
}

// Delete implements objstore.Store. A conditional delete is checked and
// applied under the key's stripe lock, so it is atomic across processes.
func (s *Store) Delete(ctx context.Context, key string, opts *objstore.DeleteOptions) error {
	if opts == nil {
		opts = &objstore.DeleteOptions{}
	}
	if err := s.beginWrite(ctx, objstore.ValidateKey(key)); err != nil {
		return opErr(objstore.OpDelete, key, err)
	}
	if err := s.delete(ctx, key, opts.IfMatch); err != nil {
		return opErr(objstore.OpDelete, key, err)
	}
	return nil
}

func (s *Store) delete(ctx context.Context, key, ifMatch string) error {
	unlock, err := s.locks.lock(key)
	if err != nil {
		return err
	}
	defer unlock()
	path, dirs := objectPath(s.objects, key)
	if _, err := os.Lstat(path); errors.Is(mapNotExist(err), objstore.ErrNotExist) {
		return nil // missing is success, conditional or not
	}
	if err := checkCondition(path, false, ifMatch); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		if errors.Is(mapNotExist(err), objstore.ErrNotExist) {
			return nil
		}
		return err
	}
	// A concurrent delete of a sibling may already have pruned the (now
	// empty) directory: then the removal went with it.
	if err := syncDir(filepath.Dir(path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	s.prune(dirs)
	return nil
}

// DeleteMany implements objstore.Store, one key at a time. Invalid keys,
// and the keys left when ctx is cancelled, are reported in the
// *objstore.DeleteManyError.
func (s *Store) DeleteMany(ctx context.Context, keys []string) error {
	if err := s.beginWrite(ctx, nil); err != nil {
		return opErr(objstore.OpDeleteMany, "", err)
	}
	return objstore.DeleteEach(backend, keys, func(key string) error {
		if err := s.beginWrite(ctx, nil); err != nil {
			return err
		}
		return s.delete(ctx, key, "")
	})
}
