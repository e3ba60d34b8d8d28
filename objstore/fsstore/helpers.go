package fsstore

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/stowage-dev/stowage/objstore"
)

// SetModTime rewrites the ModTime of the object under key, keeping its ETag
// and content: a test helper to age objects (ModTime is the store clock's
// time recorded in the object file, not the file's mtime). A missing key
// returns ErrNotExist.
func (s *Store) SetModTime(key string, t time.Time) error {
	if err := s.setModTime(key, t); err != nil {
		return opErr(objstore.OpSetModTime, key, err)
	}
	return nil
}

func (s *Store) setModTime(key string, mtime time.Time) error {
	unlock, err := s.locks.lock(key)
	if err != nil {
		return err
	}
	defer unlock()
	path, dirs := objectPath(s.objects, key)
	src, err := os.Open(path)
	if err != nil {
		return mapNotExist(err)
	}
	defer src.Close()
	t, err := readTrailer(src)
	if err != nil {
		return err
	}
	t.ModTime = mtime
	tmp := s.newTempPath()
	err = createFile(tmp, func(w io.Writer) error {
		if _, err := io.Copy(w, io.NewSectionReader(src, 0, t.Size)); err != nil {
			return err
		}
		return appendTrailer(w, t)
	})
	if err != nil {
		return err
	}
	if err := s.place(tmp, path, dirs); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// SetUploadInitiated rewrites the initiation time of an incomplete upload:
// a test helper to age uploads. An unknown upload returns ErrNotExist.
func (s *Store) SetUploadInitiated(key, uploadID string, t time.Time) error {
	notExist := opErr(objstore.OpSetUploadInitiated, key, fmt.Errorf("%w: upload %s", objstore.ErrNotExist, uploadID))
	if !validUploadID(uploadID) {
		return notExist
	}
	unlock, err := s.locks.lock(key)
	if err != nil {
		return opErr(objstore.OpSetUploadInitiated, key, err)
	}
	defer unlock()
	rec, err := s.readUploadRecord(uploadID)
	if err != nil || rec.Key != key {
		return notExist
	}
	rec.Initiated = t
	if err := s.writeUploadRecord(uploadID, rec); err != nil {
		return opErr(objstore.OpSetUploadInitiated, key, err)
	}
	return nil
}
