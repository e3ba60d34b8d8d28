package fsstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stowage-dev/stowage/objstore"
)

const backend = "fsstore"

// formatMarker is the content of the format file at the store's root.
const formatMarker = "stowage fsstore v1\n"

// StaleTempAge is the age (by file mtime, against the real clock) past which
// Open removes leftovers of crashed writers: files in tmp/ and upload
// content without an upload record. Registered uploads are never removed by
// Open; they are listed by ListUploads for the sweeper to abort.
const StaleTempAge = time.Hour

// Options configure a Store. A nil *Options is the zero value.
type Options struct {
	// Clock returns the time recorded as ModTime of objects and Initiated of
	// uploads; nil means time.Now.
	Clock func() time.Time
	// Logger receives the cleanup done by Open; nil discards.
	Logger *slog.Logger
	// ReadOnly opens the store for reading only: Open creates nothing (no
	// directory, format file or lock file), removes nothing, and a
	// directory that does not exist is an empty store. Every write fails
	// with objstore.ErrReadOnly before it touches the file system.
	ReadOnly bool
}

// Store is an objstore.Store in a local directory. Several Stores, in one or
// many processes, may share a directory.
type Store struct {
	root       string
	objects    string // root/objects
	uploadsDir string // root/uploads
	tmp        string // root/tmp
	clock      func() time.Time
	log        *slog.Logger
	locks      *stripeLocks // nil when read-only
	readOnly   bool
	closed     atomic.Bool
}

var _ objstore.Store = (*Store)(nil)

// Open opens the store in dir, creating dir and its layout if needed, and
// removes leftovers of crashed writers older than StaleTempAge.
func Open(dir string, opts *Options) (*Store, error) {
	if opts == nil {
		opts = &Options{}
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("fsstore: open %q: %w", dir, err)
	}
	if err := checkRootLen(root); err != nil {
		return nil, err
	}
	s := &Store{
		root:       root,
		objects:    filepath.Join(root, "objects"),
		uploadsDir: filepath.Join(root, "uploads"),
		tmp:        filepath.Join(root, "tmp"),
		clock:      opts.Clock,
		log:        opts.Logger,
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if opts.ReadOnly {
		s.readOnly = true
		if err := s.checkFormatReadOnly(); err != nil {
			return nil, err
		}
		return s, nil
	}
	for _, d := range []string{root, s.objects, s.uploadsDir, s.tmp, filepath.Join(root, "locks")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("fsstore: open %q: %w", dir, err)
		}
	}
	if err := s.checkFormat(); err != nil {
		return nil, err
	}
	if s.locks, err = openLocks(filepath.Join(root, "locks")); err != nil {
		return nil, fmt.Errorf("fsstore: open %q: %w", dir, err)
	}
	s.removeStale(time.Now().Add(-StaleTempAge))
	return s, nil
}

// checkFormat writes the format marker of a new store, or checks that of an
// existing one.
func (s *Store) checkFormat() error {
	path := filepath.Join(s.root, "format")
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		tmp := filepath.Join(s.tmp, "format-"+randomHex(8))
		if err := os.WriteFile(tmp, []byte(formatMarker), 0o600); err != nil {
			return fmt.Errorf("fsstore: write format: %w", err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("fsstore: write format: %w", err)
		}
		return syncDir(s.root)
	}
	if err != nil {
		return fmt.Errorf("fsstore: read format: %w", err)
	}
	if string(b) != formatMarker {
		return fmt.Errorf("fsstore: %s is not a %q store", s.root, strings.TrimSpace(formatMarker))
	}
	return nil
}

// checkFormatReadOnly checks the format marker of an existing store, if
// there is one; it writes nothing.
func (s *Store) checkFormatReadOnly() error {
	b, err := os.ReadFile(filepath.Join(s.root, "format"))
	switch {
	case os.IsNotExist(err):
		return nil // no store here (yet): an empty store
	case err != nil:
		return fmt.Errorf("fsstore: read format: %w", err)
	case string(b) != formatMarker:
		return fmt.Errorf("fsstore: %s is not a %q store", s.root, strings.TrimSpace(formatMarker))
	}
	return nil
}

// removeStale removes temp files older than cutoff, and upload content
// older than cutoff whose upload record is gone. Errors are logged.
func (s *Store) removeStale(cutoff time.Time) {
	remove := func(path, what string) {
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			s.log.Warn("fsstore: remove stale file", "path", path, "err", err)
			return
		}
		s.log.Info("fsstore: removed stale "+what, "path", path)
	}
	stale := func(e os.DirEntry) bool {
		fi, err := e.Info()
		return err == nil && fi.Mode().IsRegular() && fi.ModTime().Before(cutoff)
	}
	if ents, err := os.ReadDir(s.tmp); err == nil {
		for _, e := range ents {
			if stale(e) {
				remove(filepath.Join(s.tmp, e.Name()), "temp file")
			}
		}
	}
	if ents, err := os.ReadDir(s.uploadsDir); err == nil {
		for _, e := range ents {
			id, ok := strings.CutSuffix(e.Name(), dataSuffix)
			if !ok || !stale(e) {
				continue
			}
			if _, err := os.Stat(s.uploadInfoPath(id)); os.IsNotExist(err) {
				remove(filepath.Join(s.uploadsDir, e.Name()), "upload content")
			}
		}
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
	if s.closed.Load() {
		return objstore.ErrClosed
	}
	return ctx.Err()
}

// beginWrite is begin for a method that writes: on a read-only store it
// fails with ErrReadOnly, after argument validation and before any side
// effect.
func (s *Store) beginWrite(ctx context.Context, invalid error) error {
	if invalid == nil && s.readOnly {
		return fmt.Errorf("%w (%w)", objstore.ErrReadOnly, objstore.ErrPermission)
	}
	return s.begin(ctx, invalid)
}

// Capabilities implements objstore.Store: everything is enforced, across
// processes sharing the directory, and acknowledged writes are fsynced.
func (s *Store) Capabilities() objstore.Capabilities {
	return objstore.Capabilities{
		ConditionalPut:       true,
		CompareAndSwap:       true,
		ConditionalMultipart: true,
		ConditionalDelete:    true,
		Durable:              true,
		Provider:             backend,
	}
}

// Close waits for mutations in their critical section and releases the lock
// files. Later calls return ErrClosed; readers already open keep working.
func (s *Store) Close() error {
	if s.closed.Swap(true) || s.locks == nil {
		return nil
	}
	s.locks.close()
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand documents it)
	return hex.EncodeToString(b)
}

// syncDir fsyncs a directory so that entries created, renamed or removed in
// it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// newTempPath returns a fresh path in tmp/ for a file to be renamed into
// place.
func (s *Store) newTempPath() string {
	return filepath.Join(s.tmp, randomHex(16)+".tmp")
}
