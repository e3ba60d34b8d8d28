package fsstore

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stowage-dev/stowage/objstore"
)

// Incomplete uploads live in uploads/ as two files: <id>.info, a JSON
// record of key and initiation time written atomically before any content,
// and <id>.data, the object file being streamed. A crashed upload leaves
// both; ListUploads reports it and AbortUpload removes it.
const (
	infoSuffix = ".info"
	dataSuffix = ".data"
	// uploadIDLen is the length of an upload id: 16 random bytes in hex.
	uploadIDLen = 32
	// copyBufferSize bounds the memory of an Upload.
	copyBufferSize = 256 << 10
)

type uploadRecord struct {
	Key       string    `json:"key"`
	Initiated time.Time `json:"initiated"`
}

func (s *Store) uploadInfoPath(id string) string { return filepath.Join(s.uploadsDir, id+infoSuffix) }
func (s *Store) uploadDataPath(id string) string { return filepath.Join(s.uploadsDir, id+dataSuffix) }

func validUploadID(id string) bool {
	if len(id) != uploadIDLen {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

// Upload implements objstore.Store. The upload is registered (visible in
// ListUploads) before its content is streamed to uploads/<id>.data through a
// fixed buffer; at completion, under the key's stripe lock, the upload must
// still be registered (else ErrNotExist: it was aborted), the condition is
// checked and the file is renamed into place. PartSize and Concurrency are
// ignored. On failure the upload is removed.
func (s *Store) Upload(ctx context.Context, key string, body io.Reader, opts *objstore.UploadOptions) (objstore.ObjectInfo, error) {
	opts, invalid := objstore.ValidateUpload(key, body, opts)
	if err := s.beginWrite(ctx, invalid); err != nil {
		return objstore.ObjectInfo{}, opErr(objstore.OpUpload, key, err)
	}
	id := randomHex(uploadIDLen / 2)
	if err := s.writeUploadRecord(id, uploadRecord{Key: key, Initiated: s.clock()}); err != nil {
		return objstore.ObjectInfo{}, opErr(objstore.OpUpload, key, err)
	}
	info, err := s.upload(ctx, key, id, body, &opts.PutOptions)
	if err != nil {
		s.removeUpload(id)
		return objstore.ObjectInfo{}, opErr(objstore.OpUpload, key, err)
	}
	return info, nil
}

func (s *Store) upload(ctx context.Context, key, id string, body io.Reader, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	var t *trailer
	err := createFile(s.uploadDataPath(id), func(w io.Writer) (err error) {
		t, err = s.stream(ctx, id, w, body, opts)
		return err
	})
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	stillRegistered := func() error { return s.checkRegistered(id) }
	if err := s.publish(ctx, key, s.uploadDataPath(id), opts, stillRegistered); err != nil {
		return objstore.ObjectInfo{}, err
	}
	s.removeUpload(id) // only the record is left
	return t.info(key, true), nil
}

// checkRegistered returns ErrNotExist if upload id has been aborted.
func (s *Store) checkRegistered(id string) error {
	if _, err := os.Stat(s.uploadInfoPath(id)); err != nil {
		return fmt.Errorf("%w: upload %s was aborted", objstore.ErrNotExist, id)
	}
	return nil
}

// stream copies body to w and appends the trailer, checking ctx and the
// upload's registration between chunks.
func (s *Store) stream(ctx context.Context, id string, w io.Writer, body io.Reader, opts *objstore.PutOptions) (*trailer, error) {
	crc := newCRC()
	buf := make([]byte, copyBufferSize)
	var size int64
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, eof, rerr := objstore.ReadChunk(body, buf)
		if rerr != nil {
			return nil, fmt.Errorf("fsstore: read upload body: %w", rerr)
		}
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return nil, err
			}
			crc.Write(buf[:n])
			size += int64(n)
		}
		if eof {
			break
		}
		if err := s.checkRegistered(id); err != nil {
			return nil, err
		}
	}
	t := s.newTrailer(opts, size)
	t.CRC32C = crc.Sum32()
	return t, appendTrailer(w, t)
}

// writeUploadRecord atomically writes the record of upload id.
func (s *Store) writeUploadRecord(id string, rec uploadRecord) error {
	js, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	tmp := s.newTempPath()
	if err := createFile(tmp, func(w io.Writer) error { _, err := w.Write(js); return err }); err != nil {
		return err
	}
	if err := os.Rename(tmp, s.uploadInfoPath(id)); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(s.uploadsDir)
}

func (s *Store) readUploadRecord(id string) (uploadRecord, error) {
	var rec uploadRecord
	b, err := os.ReadFile(s.uploadInfoPath(id))
	if err != nil {
		return rec, mapNotExist(err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("fsstore: upload record %s: %w", id, err)
	}
	return rec, nil
}

// removeUpload removes the content, then the record, of upload id (best
// effort: what is left is found by ListUploads or by Open's cleanup).
func (s *Store) removeUpload(id string) {
	os.Remove(s.uploadDataPath(id))
	os.Remove(s.uploadInfoPath(id))
	_ = syncDir(s.uploadsDir)
}

// ListUploads implements objstore.Store. Uploads are yielded by key, then
// initiation time, then upload id.
func (s *Store) ListUploads(ctx context.Context, prefix string) iter.Seq2[objstore.UploadInfo, error] {
	return func(yield func(objstore.UploadInfo, error) bool) {
		if err := s.begin(ctx, objstore.ValidatePrefix(prefix)); err != nil {
			yield(objstore.UploadInfo{}, opErr(objstore.OpListUploads, prefix, err))
			return
		}
		ents, err := os.ReadDir(s.uploadsDir)
		if err != nil && s.readOnly && os.IsNotExist(err) {
			return // a read-only view of a directory that holds no store
		}
		if err != nil {
			yield(objstore.UploadInfo{}, opErr(objstore.OpListUploads, prefix, err))
			return
		}
		var out []objstore.UploadInfo
		for _, e := range ents {
			id, ok := strings.CutSuffix(e.Name(), infoSuffix)
			if !ok || !validUploadID(id) {
				continue
			}
			rec, err := s.readUploadRecord(id)
			switch {
			case errors.Is(err, objstore.ErrNotExist):
				continue // completed or aborted since the directory was read
			case err != nil:
				if !yield(objstore.UploadInfo{UploadID: id}, opErr(objstore.OpListUploads, prefix, err)) {
					return
				}
				continue
			}
			if strings.HasPrefix(rec.Key, prefix) {
				out = append(out, objstore.UploadInfo{Key: rec.Key, UploadID: id, Initiated: rec.Initiated})
			}
		}
		objstore.SortUploads(out)
		for _, u := range out {
			if !yield(u, nil) {
				return
			}
		}
	}
}

// AbortUpload implements objstore.Store. It runs under the key's stripe
// lock, so it either prevents the upload's completion or finds it complete.
// An unknown upload id, or one registered for another key, is a successful
// no-op.
func (s *Store) AbortUpload(ctx context.Context, key, uploadID string) error {
	if err := s.beginWrite(ctx, objstore.ValidateKey(key)); err != nil {
		return opErr(objstore.OpAbortUpload, key, err)
	}
	if !validUploadID(uploadID) {
		return nil // no such upload can exist
	}
	unlock, err := s.locks.lock(key)
	if err != nil {
		return opErr(objstore.OpAbortUpload, key, err)
	}
	defer unlock()
	rec, err := s.readUploadRecord(uploadID)
	switch {
	case errors.Is(err, objstore.ErrNotExist):
		return nil
	case err != nil:
		return opErr(objstore.OpAbortUpload, key, err)
	case rec.Key != key:
		return nil
	}
	s.removeUpload(uploadID)
	return nil
}

// UploadSize implements objstore.Store: the size of the upload's content
// file, which grows by whole copy buffers as the body is read. An unknown
// upload id, or one registered for another key, is ErrNotExist.
func (s *Store) UploadSize(ctx context.Context, key, uploadID string) (int64, error) {
	if err := s.begin(ctx, objstore.ValidateKey(key)); err != nil {
		return 0, opErr(objstore.OpUploadSize, key, err)
	}
	missing := opErr(objstore.OpUploadSize, key, fmt.Errorf("%w: no upload %q", objstore.ErrNotExist, uploadID))
	if !validUploadID(uploadID) {
		return 0, missing
	}
	rec, err := s.readUploadRecord(uploadID)
	switch {
	case errors.Is(err, objstore.ErrNotExist) || err == nil && rec.Key != key:
		return 0, missing
	case err != nil:
		return 0, opErr(objstore.OpUploadSize, key, err)
	}
	fi, err := os.Stat(s.uploadDataPath(uploadID))
	switch {
	case os.IsNotExist(err):
		return 0, nil // registered, no content yet (or just completed: a race the caller loses either way)
	case err != nil:
		return 0, opErr(objstore.OpUploadSize, key, err)
	}
	return fi.Size(), nil
}
