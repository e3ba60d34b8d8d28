package memstore

import (
	"context"
	"iter"
	"sort"
	"strings"

	"github.com/stowage-dev/stowage/objstore"
)

// listPageSize is how many entries List snapshots per lock hold; between
// pages other operations proceed, as between the pages of an S3 listing.
const listPageSize = 1000

// listEntry is a listed object or rolled-up prefix, with the last key it
// covers (where the next page resumes).
type listEntry struct {
	info   objstore.ObjectInfo
	resume string
}

// List implements objstore.Store. Entries (objects and rolled-up prefixes)
// are yielded in ascending byte order, each only if its Key sorts strictly
// after opts.StartAfter, so a delimited listing restarted after a prefix
// entry does not repeat it.
func (s *Store) List(ctx context.Context, prefix string, opts *objstore.ListOptions) iter.Seq2[objstore.ObjectInfo, error] {
	if opts == nil {
		opts = &objstore.ListOptions{}
	}
	startAfter, delim := opts.StartAfter, opts.Delimiter
	return func(yield func(objstore.ObjectInfo, error) bool) {
		if err := objstore.ValidatePrefix(prefix); err != nil {
			yield(objstore.ObjectInfo{}, opErr(objstore.OpList, prefix, err))
			return
		}
		after := startAfter
		for {
			if err := s.begin(ctx, nil); err != nil {
				yield(objstore.ObjectInfo{}, opErr(objstore.OpList, prefix, err))
				return
			}
			page, err := s.listPage(prefix, after, delim)
			if err != nil {
				yield(objstore.ObjectInfo{}, opErr(objstore.OpList, prefix, err))
				return
			}
			if len(page) == 0 {
				return
			}
			for _, e := range page {
				if e.info.Key <= startAfter {
					continue // a rolled-up prefix at or before StartAfter
				}
				if !yield(e.info, nil) {
					return
				}
			}
			after = page[len(page)-1].resume
		}
	}
}

// listPage snapshots up to listPageSize entries with keys after after.
func (s *Store) listPage(prefix, after, delim string) ([]listEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, objstore.ErrClosed
	}
	keys := s.keys
	i := sort.Search(len(keys), func(j int) bool { return keys[j] >= prefix && keys[j] > after })
	var page []listEntry
	for i < len(keys) && len(page) < listPageSize && strings.HasPrefix(keys[i], prefix) {
		key := keys[i]
		if cp, ok := objstore.RollUp(key, prefix, delim); ok {
			// Keys under cp are contiguous from i: skip past all of them.
			rest := keys[i:]
			end := i + sort.Search(len(rest), func(j int) bool {
				return rest[j] > cp && !strings.HasPrefix(rest[j], cp)
			})
			page = append(page, listEntry{info: objstore.ObjectInfo{Key: cp, IsPrefix: true}, resume: keys[end-1]})
			i = end
			continue
		}
		page = append(page, listEntry{info: s.objects[key].info(key, false), resume: key})
		i++
	}
	return page, nil
}

// ListUploads implements objstore.Store. Uploads are yielded by key, then
// initiation time, then upload id.
func (s *Store) ListUploads(ctx context.Context, prefix string) iter.Seq2[objstore.UploadInfo, error] {
	return func(yield func(objstore.UploadInfo, error) bool) {
		if err := s.begin(ctx, objstore.ValidatePrefix(prefix)); err != nil {
			yield(objstore.UploadInfo{}, opErr(objstore.OpListUploads, prefix, err))
			return
		}
		s.mu.Lock()
		var out []objstore.UploadInfo
		for id, u := range s.uploads {
			if strings.HasPrefix(u.key, prefix) {
				out = append(out, objstore.UploadInfo{Key: u.key, UploadID: id, Initiated: u.initiated})
			}
		}
		s.mu.Unlock()
		objstore.SortUploads(out)
		for _, u := range out {
			if !yield(u, nil) {
				return
			}
		}
	}
}
