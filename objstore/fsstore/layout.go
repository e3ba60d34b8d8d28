package fsstore

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Key layout (part of the on-disk format).
//
// A key is cut into pieces: while fewer than maxSlashDepth pieces have been
// cut, a piece runs up to and including the first '/' if more bytes follow
// it; otherwise (and always beyond that depth) a piece is maxPiece bytes if
// more bytes follow. The last piece names the object file; the others name
// directories. So "sessions/s1/head" is sessions%2f.d/s1%2f.d/head.o, and a
// listing of "sessions/s1/" reads one directory.
//
// Each piece is escaped: bytes of [a-z0-9._-] stay, all others become %xx
// (lowercase hex), so names are ASCII, never hold '/', and stay distinct on
// case-insensitive file systems. Files end in ".o", directories in ".d", so
// "dir", "dir/" and "dir/x" map to distinct paths, and no name is "." or
// "..". The layout is safe for any byte string, whether or not
// objstore.ValidateKey accepts it.
// A piece of maxPiece bytes escapes to at most 3*maxPiece+2 = 254 bytes, under
// the usual 255-byte name limit; a whole key to at most about 3.2 KiB.
//
// Ordering: no directory piece is a proper prefix of another piece at the
// same level, so sorting a directory's entries by decoded piece (a file
// before a directory with the same piece) lists keys in byte order.
const (
	maxPiece      = 84
	maxSlashDepth = 16
	fileSuffix    = ".o"
	dirSuffix     = ".d"
)

// splitKey cuts key (or a list prefix) into directory pieces and the last
// piece. All keys starting with a prefix p share p's directory pieces, and
// their next piece starts with p's last piece.
func splitKey(key string) (dirs []string, last string) {
	for {
		rest := key
		if len(dirs) < maxSlashDepth {
			window := rest[:min(len(rest), maxPiece)]
			if j := strings.IndexByte(window, '/'); j >= 0 && j+1 < len(rest) {
				dirs = append(dirs, rest[:j+1])
				key = rest[j+1:]
				continue
			}
		}
		if len(rest) > maxPiece {
			dirs = append(dirs, rest[:maxPiece])
			key = rest[maxPiece:]
			continue
		}
		return dirs, rest
	}
}

func keepByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

func escapePiece(piece string) string {
	const hexdig = "0123456789abcdef"
	var b strings.Builder
	b.Grow(len(piece))
	for i := 0; i < len(piece); i++ {
		c := piece[i]
		if keepByte(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdig[c>>4])
		b.WriteByte(hexdig[c&15])
	}
	return b.String()
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// decodeName returns the piece a directory entry name encodes and whether it
// is a directory; ok is false for names this layout never produces.
func decodeName(name string) (piece string, isDir, ok bool) {
	switch {
	case strings.HasSuffix(name, fileSuffix):
	case strings.HasSuffix(name, dirSuffix):
		isDir = true
	default:
		return "", false, false
	}
	esc := name[:len(name)-2]
	if esc == "" {
		return "", false, false
	}
	var b strings.Builder
	for i := 0; i < len(esc); i++ {
		c := esc[i]
		if keepByte(c) {
			b.WriteByte(c)
			continue
		}
		if c != '%' || i+2 >= len(esc) {
			return "", false, false
		}
		hi, ok1 := unhex(esc[i+1])
		lo, ok2 := unhex(esc[i+2])
		if !ok1 || !ok2 || keepByte(hi<<4|lo) {
			return "", false, false // not canonical
		}
		b.WriteByte(hi<<4 | lo)
		i += 2
	}
	return b.String(), isDir, true
}

// dirPath returns the directory under objRoot holding the given dir pieces.
func dirPath(objRoot string, dirs []string) string {
	elems := make([]string, 0, len(dirs)+1)
	elems = append(elems, objRoot)
	for _, d := range dirs {
		elems = append(elems, escapePiece(d)+dirSuffix)
	}
	return filepath.Join(elems...)
}

// objectPath returns the file of key under objRoot and its directory pieces.
func objectPath(objRoot, key string) (path string, dirs []string) {
	dirs, last := splitKey(key)
	return filepath.Join(dirPath(objRoot, dirs), escapePiece(last)+fileSuffix), dirs
}

// maxRootLen bounds the store directory's absolute path so that every
// object path stays under PATH_MAX (4096 on Linux, 1024 on macOS for some
// calls; we budget for Linux): 3*MaxKeyLen escaped bytes, 3 bytes per piece
// for suffix and separator, and the fixed "objects" element.
const maxRootLen = 4096 - 3*1024 - 3*(maxSlashDepth+1024/maxPiece+1) - len("/objects/") - 1

func checkRootLen(root string) error {
	if len(root) > maxRootLen {
		return fmt.Errorf("fsstore: directory path of %d bytes exceeds %d", len(root), maxRootLen)
	}
	return nil
}
