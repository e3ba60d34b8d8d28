//go:build unix

package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
)

// fileRaw is the baseline of file stores: the plain os operations a careful
// program would do for the same durability. A conditional write takes an
// flock, compares the file's version (modification time and size), writes a
// temporary file, fsyncs it, renames it into place and fsyncs the directory.
type fileRaw struct {
	dir  string
	lock *os.File
	seq  atomic.Int64
}

func newFileRaw(dir string) (*fileRaw, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("bench: raw dir: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("bench: raw lock: %w", err)
	}
	return &fileRaw{dir: dir, lock: lock}, nil
}

func (r *fileRaw) Name() string { return "os" }

func (r *fileRaw) path(key string) string { return filepath.Join(r.dir, filepath.FromSlash(key)) }

func version(fi fs.FileInfo) string {
	return strconv.FormatInt(fi.ModTime().UnixNano(), 36) + "-" + strconv.FormatInt(fi.Size(), 36)
}

// write stores data at key's path durably (temp file, fsync, rename, fsync
// of the directory) and returns the new version.
func (r *fileRaw) write(key string, src io.Reader, bufSize int64) (string, int64, error) {
	p := r.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", 0, err
	}
	tmp := fmt.Sprintf("%s.tmp%d", p, r.seq.Add(1))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", 0, err
	}
	n, err := io.CopyBuffer(f, src, make([]byte, max(bufSize, 32<<10)))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return "", 0, err
	}
	if d, err := os.Open(filepath.Dir(p)); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return "", 0, err
		}
	}
	fi, err := os.Stat(p)
	if err != nil {
		return "", 0, err
	}
	return version(fi), n, nil
}

func (r *fileRaw) Put(_ context.Context, key string, data []byte) (string, error) {
	v, _, err := r.write(key, bytes.NewReader(data), int64(len(data)))
	return v, err
}

func (r *fileRaw) PutIfMatch(_ context.Context, key string, data []byte, etag string) (string, error) {
	if err := syscall.Flock(int(r.lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer syscall.Flock(int(r.lock.Fd()), syscall.LOCK_UN)
	fi, err := os.Stat(r.path(key))
	switch {
	case etag == "" && err == nil:
		return "", fmt.Errorf("bench: raw put %q: exists", key)
	case etag == "" && errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return "", err
	case version(fi) != etag:
		return "", fmt.Errorf("bench: raw put %q: version changed", key)
	}
	v, _, err := r.write(key, bytes.NewReader(data), int64(len(data)))
	return v, err
}

func (r *fileRaw) Get(_ context.Context, key string, w io.Writer) (int64, error) {
	f, err := os.Open(r.path(key))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return io.CopyBuffer(w, f, make([]byte, 1<<20))
}

func (r *fileRaw) GetIfNoneMatch(_ context.Context, key, etag string) (bool, error) {
	fi, err := os.Stat(r.path(key))
	if err != nil {
		return false, err
	}
	if version(fi) == etag {
		return true, nil
	}
	_, err = r.Get(context.Background(), key, io.Discard)
	return false, err
}

func (r *fileRaw) Upload(_ context.Context, key string, body io.Reader, partSize int64, _ int) (int64, error) {
	_, n, err := r.write(key, body, partSize)
	return n, err
}

func (r *fileRaw) Delete(_ context.Context, keys []string) error {
	for _, k := range keys {
		if err := os.Remove(r.path(k)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

func (r *fileRaw) ListDelete(_ context.Context, prefix string) (int, error) {
	n := 0
	err := filepath.WalkDir(r.path(prefix), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == r.lock.Name() {
			return err
		}
		if err := os.Remove(p); err != nil {
			return err
		}
		n++
		return nil
	})
	return n, err
}

// Cleanup removes the baseline's directory, and its parent (the run's
// bench-<id>/ beside the file store's own directories) once that is empty.
func (r *fileRaw) Cleanup(context.Context) error {
	if err := os.RemoveAll(r.dir); err != nil {
		return err
	}
	_ = os.Remove(filepath.Dir(filepath.Clean(r.dir))) // fails, harmlessly, if not empty
	return nil
}

func (r *fileRaw) Close() error { return r.lock.Close() }
