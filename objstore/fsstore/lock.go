//go:build unix

package fsstore

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/stowage-dev/stowage/objstore"
)

// lockStripes is the number of lock files (part of the on-disk format: all
// processes sharing a directory must map a key to the same stripe).
const lockStripes = 64

// stripeLocks serialise mutations of a key across goroutines (a mutex per
// stripe) and across processes (flock on the stripe's lock file, held on one
// descriptor per stripe while the mutex is held). flock locks belong to the
// open file description, so they also exclude other descriptors of this
// process, and the kernel releases them when a process dies.
type stripeLocks struct {
	mu     [lockStripes]sync.Mutex
	files  [lockStripes]*os.File
	closed [lockStripes]bool // guarded by mu[i]
}

func openLocks(dir string) (*stripeLocks, error) {
	l := &stripeLocks{}
	for i := range l.files {
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("%02x", i)), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			l.close()
			return nil, err
		}
		l.files[i] = f
	}
	return l, nil
}

func stripe(key string) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % lockStripes)
}

// lock takes the exclusive lock of key's stripe. It returns ErrClosed once
// the locks are closed.
func (l *stripeLocks) lock(key string) (unlock func(), err error) {
	if l == nil { // a read-only store has no locks
		return nil, fmt.Errorf("%w (%w)", objstore.ErrReadOnly, objstore.ErrPermission)
	}
	i := stripe(key)
	l.mu[i].Lock()
	if l.closed[i] {
		l.mu[i].Unlock()
		return nil, objstore.ErrClosed
	}
	fd := int(l.files[i].Fd())
	for {
		err = syscall.Flock(fd, syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		l.mu[i].Unlock()
		return nil, fmt.Errorf("fsstore: lock: %w", err)
	}
	return func() {
		_ = syscall.Flock(fd, syscall.LOCK_UN)
		l.mu[i].Unlock()
	}, nil
}

// close waits for every held stripe and closes the lock files.
func (l *stripeLocks) close() {
	for i := range l.files {
		l.mu[i].Lock()
		l.closed[i] = true
		if l.files[i] != nil {
			l.files[i].Close()
		}
		l.mu[i].Unlock()
	}
}
