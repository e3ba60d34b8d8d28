package manifest

import (
	"context"
	"errors"
	"iter"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/stowage-dev/stowage/objstore"
)

// AllRefs yields the distinct attachment ids that have at least one row, in
// ascending order, streaming: it holds one id in memory whatever the bucket
// size, and reads no row (tombstones are told apart by their size).
func (s *Store) AllRefs(ctx context.Context) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		s.pending.wait("")
		last := ""
		for info, err := range s.obj.List(ctx, RefPrefix, nil) {
			if err != nil {
				yield("", wrap("all refs", err))
				return
			}
			id, _, ok := ParseRefKey(info.Key)
			if !ok || info.Size == 0 || id == last {
				continue
			}
			last = id
			if !yield(id, nil) {
				return
			}
		}
	}
}

// ListAllRefs returns the distinct attachment ids of all rows (see AllRefs
// for a streaming form).
func (s *Store) ListAllRefs(ctx context.Context) ([]string, error) {
	var out []string
	for id, err := range s.AllRefs(ctx) {
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}

// SessionRows returns the rows of sessionID, sorted by attachment id.
func (s *Store) SessionRows(ctx context.Context, sessionID string) ([]Row, error) {
	if err := ValidateSessionID(sessionID); err != nil {
		return nil, wrap("session rows", err)
	}
	s.pending.wait(sessionID)
	var (
		mu  sync.Mutex
		out []Row
	)
	prefix := sessionMarkers(sessionID)
	err := s.forEach(ctx, prefix, func(ctx context.Context, info objstore.ObjectInfo) error {
		id := tailAfter(info.Key, prefix)
		if ValidateAttachmentID(id) != nil {
			return nil
		}
		row, v, err := s.readRow(ctx, RefKey(id, sessionID))
		if err != nil || v.state != rowLive {
			return err
		}
		mu.Lock()
		out = append(out, row)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, wrap("session rows", err)
	}
	slices.SortFunc(out, func(a, b Row) int { return strings.Compare(a.AttachmentID, b.AttachmentID) })
	return out, nil
}

// SessionIDs yields, in ascending order of "<sid>/", the ids of the
// sessions that may hold rows (those with a session marker prefix),
// streaming. A session listed may hold no live row; SessionRows tells.
func (s *Store) SessionIDs(ctx context.Context) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for info, err := range s.obj.List(ctx, SessionPrefix, &objstore.ListOptions{Delimiter: "/"}) {
			if err != nil {
				yield("", wrap("session ids", err))
				return
			}
			if !info.IsPrefix {
				continue
			}
			sid := strings.TrimSuffix(tailAfter(info.Key, SessionPrefix), "/")
			if ValidateSessionID(sid) != nil {
				continue
			}
			if !yield(sid, nil) {
				return
			}
		}
	}
}

// Uploads yields the upload intents, in key order. An intent that vanishes
// between listing and reading is skipped, as are keys that are not upload
// intent keys (ParseUploadKey). An intent that cannot be read is yielded as
// an error matching *UnreadableError, with an Upload that carries only its
// ID and DataKey (taken from its key), and the walk goes on if the caller
// does; any other error ends it.
func (s *Store) Uploads(ctx context.Context) iter.Seq2[Upload, error] {
	return func(yield func(Upload, error) bool) {
		for info, err := range s.obj.List(ctx, UploadPrefix, nil) {
			if err != nil {
				yield(Upload{}, wrap("uploads", err))
				return
			}
			id, ok := ParseUploadKey(info.Key)
			if !ok {
				continue // not stowage's: the sweeper reports it
			}
			u, ok, err := s.readUpload(ctx, info.Key)
			var unreadable *UnreadableError
			switch {
			case errors.As(err, &unreadable):
				if !yield(Upload{ID: id, DataKey: DataKey(id)}, wrap("uploads", err)) {
					return
				}
			case err != nil:
				yield(Upload{}, wrap("uploads", err))
				return
			case ok && !yield(u, nil):
				return
			}
		}
	}
}

// Root is a data key that something still names.
type Root struct {
	// DataKey is the rooted data key.
	DataKey string
	// By is the key of the upload intent or row that names it.
	By string
	// Unreadable, if set, says the intent or row By could not be read
	// (an *UnreadableError): DataKey is what its key implies, or empty.
	Unreadable error
}

// WalkRoots calls fn (from one goroutine at a time) for every data key an
// upload intent or a row names: the sweeper's roots. Call it after
// ForgetAgedUncommitted. It reads upload intents first and rows second, and
// that order matters: a writer deletes its upload intent only after its row
// names the data, so data that moved from intent to row between the two
// listings is seen in one of them. A row that names data which the sweep
// then misses (written after this walk) is the fence's business: its writer
// calls Protect before relying on the data.
//
// An intent or row that cannot be read is passed to fn too, with
// Root.Unreadable set, and the walk goes on: an intent's root is then the
// data key its own key implies (an intent of upload U only ever names
// DataKey(U)); a row's is unknown (DataKey empty), so whatever data it may
// name is not known to be unrooted.
func (s *Store) WalkRoots(ctx context.Context, fn func(Root) error) error {
	for u, err := range s.Uploads(ctx) {
		var unreadable *UnreadableError
		if err != nil && !errors.As(err, &unreadable) {
			return err
		}
		if err := fn(Root{DataKey: u.DataKey, By: UploadKey(u.ID), Unreadable: err}); err != nil {
			return err
		}
	}
	var mu sync.Mutex
	visit := func(key string, row Row, _ version) error {
		if row.Data.IsZero() {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		return fn(Root{DataKey: row.Data.Key, By: key})
	}
	unreadable := func(key string, err error) error {
		mu.Lock()
		defer mu.Unlock()
		return fn(Root{By: key, Unreadable: err})
	}
	return wrap("walk roots", s.forEachRowOr(ctx, RefPrefix, visit, unreadable))
}

// forEach lists prefix and calls fn for each listed object, up to
// Options.Concurrency at a time (in the calling goroutine when it is 1).
func (s *Store) forEach(ctx context.Context, prefix string, fn func(context.Context, objstore.ObjectInfo) error) error {
	if s.conc == 1 {
		for info, err := range s.obj.List(ctx, prefix, nil) {
			if err != nil {
				return err
			}
			if err := fn(ctx, info); err != nil {
				return err
			}
		}
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.conc)
	for info, err := range s.obj.List(gctx, prefix, nil) {
		if err != nil {
			g.Go(func() error { return err })
			break
		}
		g.Go(func() error { return fn(gctx, info) })
	}
	return g.Wait()
}
