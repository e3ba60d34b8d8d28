package fsstore

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/stowage-dev/stowage/objstore"
)

// Object file format (part of the on-disk format):
//
//	content | trailer (JSON) | footer (16 bytes)
//
// The footer is the trailer's length (uint32, big endian), the CRC-32C of
// the trailer, and the magic "stwobj1\n". The trailer carries the ETag,
// content size and CRC-32C, ModTime, content type and metadata. Keeping
// everything in one file makes content and metadata atomic together: the
// file is renamed into place whole. The trailer sits at the end so that an
// upload can stream its content first and still be renamed, not copied.
const (
	footerLen   = 16
	footerMagic = "stwobj1\n"
	// readTail is how much of a file's end is read at once to find the
	// trailer; larger trailers take a second read.
	readTail = 4096
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func newCRC() hash.Hash32 { return crc32.New(castagnoli) }

type trailer struct {
	ETag        string            `json:"etag"`
	Size        int64             `json:"size"`
	CRC32C      uint32            `json:"crc32c"`
	ModTime     time.Time         `json:"mtime"`
	ContentType string            `json:"type"`
	Metadata    map[string]string `json:"meta,omitempty"`
}

func (t *trailer) info(key string, withMetadata bool) objstore.ObjectInfo {
	info := objstore.ObjectInfo{Key: key, Size: t.Size, ETag: t.ETag, ModTime: t.ModTime}
	if withMetadata {
		info.ContentType = t.ContentType
		info.Metadata = t.Metadata
		if info.Metadata == nil {
			info.Metadata = map[string]string{}
		}
	}
	return info
}

// appendTrailer writes the trailer and footer after content already written.
func appendTrailer(w io.Writer, t *trailer) error {
	js, err := json.Marshal(t)
	if err != nil {
		return err
	}
	var foot [footerLen]byte
	binary.BigEndian.PutUint32(foot[0:4], uint32(len(js)))
	binary.BigEndian.PutUint32(foot[4:8], crc32.Checksum(js, castagnoli))
	copy(foot[8:], footerMagic)
	_, err = w.Write(append(js, foot[:]...))
	return err
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: corrupt object file: %s", objstore.ErrChecksum, fmt.Sprintf(format, args...))
}

// readTrailer reads and checks the trailer of an open object file.
func readTrailer(f *os.File) (*trailer, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size < footerLen {
		return nil, corrupt("%d bytes", size)
	}
	tail := make([]byte, min(size, readTail))
	if _, err := f.ReadAt(tail, size-int64(len(tail))); err != nil {
		return nil, err
	}
	foot := tail[len(tail)-footerLen:]
	if string(foot[8:]) != footerMagic {
		return nil, corrupt("bad magic")
	}
	tlen := int64(binary.BigEndian.Uint32(foot[0:4]))
	if tlen > size-footerLen {
		return nil, corrupt("trailer of %d bytes in a file of %d", tlen, size)
	}
	var js []byte
	if tlen <= int64(len(tail))-footerLen {
		js = tail[int64(len(tail))-footerLen-tlen : len(tail)-footerLen]
	} else {
		js = make([]byte, tlen)
		if _, err := f.ReadAt(js, size-footerLen-tlen); err != nil {
			return nil, err
		}
	}
	if crc32.Checksum(js, castagnoli) != binary.BigEndian.Uint32(foot[4:8]) {
		return nil, corrupt("trailer checksum mismatch")
	}
	var t trailer
	if err := json.Unmarshal(js, &t); err != nil {
		return nil, corrupt("trailer: %v", err)
	}
	if t.Size != size-footerLen-tlen {
		return nil, corrupt("content of %d bytes, trailer says %d", size-footerLen-tlen, t.Size)
	}
	return &t, nil
}

// readObjectTrailer opens path and reads its trailer. A missing file is
// ErrNotExist.
func readObjectTrailer(path string) (*trailer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, mapNotExist(err)
	}
	defer f.Close()
	return readTrailer(f)
}

// mapNotExist turns a missing path (or a path through a non-directory) into
// objstore.ErrNotExist.
func mapNotExist(err error) error {
	if errors.Is(err, os.ErrNotExist) || isNotDir(err) {
		return fmt.Errorf("%w: %v", objstore.ErrNotExist, err)
	}
	return err
}

func isNotDir(err error) bool { return errors.Is(err, syscall.ENOTDIR) }

// objectReader streams content from an open object file. When it covers the
// whole content it verifies the CRC-32C at EOF and reports a mismatch as
// ErrChecksum instead of io.EOF, in an *objstore.OpError naming key, as
// every other read error of the store does.
type objectReader struct {
	key  string
	f    *os.File
	r    io.Reader
	crc  hash.Hash32 // nil for partial reads
	want uint32
}

func (o *objectReader) Read(p []byte) (int, error) {
	n, err := o.r.Read(p)
	if o.crc != nil {
		o.crc.Write(p[:n])
		if errors.Is(err, io.EOF) && o.crc.Sum32() != o.want {
			return n, opErr(objstore.OpGet, o.key, corrupt("content checksum mismatch"))
		}
	}
	return n, err
}

func (o *objectReader) Close() error { return o.f.Close() }

// writeObjectFile writes content and trailer to a new file at path, and
// syncs it. The file is removed on failure.
func writeObjectFile(path string, data []byte, t *trailer) error {
	return createFile(path, func(w io.Writer) error {
		if _, err := w.Write(data); err != nil {
			return err
		}
		return appendTrailer(w, t)
	})
}

// createFile creates the file path, which must not exist, has fill write
// its content, and syncs it. The file is removed on failure.
func createFile(path string, fill func(w io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	err = fill(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}
