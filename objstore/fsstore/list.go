package fsstore

import (
	"context"
	"errors"
	"iter"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/stowage-dev/stowage/objstore"
)

// List implements objstore.Store by walking the object tree in key order:
// only the directories that can hold keys with the prefix (and after
// StartAfter) are read, each when the walk reaches it. Entries (objects and
// rolled-up prefixes) are yielded only if their Key sorts strictly after
// opts.StartAfter. An object whose file is corrupt is yielded as an error
// matching ErrChecksum; the walk continues if the consumer does.
func (s *Store) List(ctx context.Context, prefix string, opts *objstore.ListOptions) iter.Seq2[objstore.ObjectInfo, error] {
	if opts == nil {
		opts = &objstore.ListOptions{}
	}
	return func(yield func(objstore.ObjectInfo, error) bool) {
		if err := s.begin(ctx, objstore.ValidatePrefix(prefix)); err != nil {
			yield(objstore.ObjectInfo{}, opErr(objstore.OpList, prefix, err))
			return
		}
		w := &walker{s: s, ctx: ctx, prefix: prefix, startAfter: opts.StartAfter, delim: opts.Delimiter, yield: yield}
		dirs, last := splitKey(prefix)
		path, keyPrefix := dirPath(s.objects, dirs), strings.Join(dirs, "")
		if last != "" && isDirPiece(len(dirs), last) {
			// Only the object named prefix and the directory named by the
			// last piece can match: visit them without reading the parent.
			esc := escapePiece(last)
			w.visitAll(path, keyPrefix, []dirEntry{{last, false, esc + fileSuffix}, {last, true, esc + dirSuffix}})
			return
		}
		w.walk(path, keyPrefix, last)
	}
}

// isDirPiece reports whether piece, cut at the given depth, would be a
// directory piece of every longer key starting with it.
func isDirPiece(depth int, piece string) bool {
	return len(piece) == maxPiece || depth < maxSlashDepth && strings.HasSuffix(piece, "/")
}

// readDir reads a directory of the object tree; tests replace it to see
// which directories a listing reads.
var readDir = os.ReadDir

type walker struct {
	s                         *Store
	ctx                       context.Context
	prefix, startAfter, delim string
	yield                     func(objstore.ObjectInfo, error) bool
	lastCP                    string // the last rolled-up prefix, emitted or skipped
}

type dirEntry struct {
	piece string
	isDir bool
	name  string
}

// walk lists the directory at path, whose keys all start with keyPrefix,
// considering only entries whose piece starts with filter. It returns false
// when the walk must stop.
func (w *walker) walk(path, keyPrefix, filter string) bool {
	if err := w.s.begin(w.ctx, nil); err != nil {
		w.yield(objstore.ObjectInfo{}, opErr(objstore.OpList, w.prefix, err))
		return false
	}
	ents, err := readDir(path)
	if err != nil && !errors.Is(mapNotExist(err), objstore.ErrNotExist) {
		w.yield(objstore.ObjectInfo{}, opErr(objstore.OpList, w.prefix, err))
		return false
	}
	list := make([]dirEntry, 0, len(ents))
	for _, e := range ents {
		piece, isDir, ok := decodeName(e.Name())
		if ok && strings.HasPrefix(piece, filter) {
			list = append(list, dirEntry{piece: piece, isDir: isDir, name: e.Name()})
		}
	}
	sort.Slice(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if a.piece != b.piece {
			return a.piece < b.piece
		}
		return !a.isDir && b.isDir
	})
	return w.visitAll(path, keyPrefix, list)
}

// visitAll visits the sorted entries of the directory at path, whose keys
// all start with keyPrefix. It returns false when the walk must stop.
func (w *walker) visitAll(path, keyPrefix string, list []dirEntry) bool {
	for _, e := range list {
		key := keyPrefix + e.piece
		if w.lastCP != "" && strings.HasPrefix(key, w.lastCP) {
			continue // rolled up already
		}
		if e.isDir {
			// Every key below is key plus at least one byte: skip the
			// directory if all of them sort at or before StartAfter.
			if key < w.startAfter && !strings.HasPrefix(w.startAfter, key) {
				continue
			}
			if !w.walk(filepath.Join(path, e.name), key, "") {
				return false
			}
			continue
		}
		if key <= w.startAfter {
			continue
		}
		if !w.emit(key, filepath.Join(path, e.name)) {
			return false
		}
	}
	return true
}

// emit yields the object key, or the prefix it rolls up to.
func (w *walker) emit(key, path string) bool {
	if cp, ok := objstore.RollUp(key, w.prefix, w.delim); ok {
		w.lastCP = cp
		if cp <= w.startAfter {
			return true
		}
		return w.yield(objstore.ObjectInfo{Key: cp, IsPrefix: true}, nil)
	}
	t, err := readObjectTrailer(path)
	switch {
	case errors.Is(err, objstore.ErrNotExist):
		return true // deleted since the directory was read
	case err != nil:
		return w.yield(objstore.ObjectInfo{Key: key}, opErr(objstore.OpList, key, err))
	}
	return w.yield(t.info(key, false), nil)
}
