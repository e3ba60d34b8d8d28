package manifest

import (
	"golang.org/x/sync/errgroup"

	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/stowage-dev/stowage/objstore"
)

// maxObjectSize bounds the JSON objects (rows, intents, pointers) read back.
const maxObjectSize = 1 << 20

type rowState int

const (
	rowAbsent    rowState = iota // no object under the key
	rowTombstone                 // a 0-byte object: no row
	rowLive                      // a row
)

// version is the state of a row key when it was read, and its ETag.
type version struct {
	state rowState
	etag  string
}

// lostRace reports whether err means a conditional write or delete did not
// apply because the object changed (412) or a concurrent request interfered
// (409): re-read and decide again.
func lostRace(err error) bool {
	return errors.Is(err, objstore.ErrPreconditionFailed) || errors.Is(err, objstore.ErrConflict)
}

// readObject reads a small object whole; ok is false if it does not exist.
func (s *Store) readObject(ctx context.Context, key string) (data []byte, info objstore.ObjectInfo, ok bool, err error) {
	body, info, err := s.obj.Get(ctx, key, nil)
	if errors.Is(err, objstore.ErrNotExist) {
		return nil, objstore.ObjectInfo{}, false, nil
	}
	if err != nil {
		return nil, objstore.ObjectInfo{}, false, err
	}
	defer body.Close()
	data, err = io.ReadAll(io.LimitReader(body, maxObjectSize+1))
	if err != nil {
		return nil, objstore.ObjectInfo{}, false, err
	}
	if len(data) > maxObjectSize {
		return nil, objstore.ObjectInfo{}, false, fmt.Errorf("object %q exceeds %d bytes", key, maxObjectSize)
	}
	return data, info, true, nil
}

// readRow reads the row under key.
func (s *Store) readRow(ctx context.Context, key string) (Row, version, error) {
	data, info, ok, err := s.readObject(ctx, key)
	switch {
	case err != nil:
		return Row{}, version{}, err
	case !ok:
		s.cache.drop(key)
		return Row{}, version{state: rowAbsent}, nil
	case len(data) == 0:
		s.cache.drop(key)
		return Row{}, version{state: rowTombstone, etag: info.ETag}, nil
	}
	row, err := decodeRow(data)
	if err != nil {
		return Row{}, version{}, &UnreadableError{Key: key, Err: err}
	}
	s.cache.put(key, info.ETag, "", row, nil)
	return row, version{state: rowLive, etag: info.ETag}, nil
}

// writeRow writes row under key on condition that the key is as v says.
// seen is the head state seen before the write (nil: none taken).
func (s *Store) writeRow(ctx context.Context, key string, row *Row, v version, seen *HeadState) error {
	data, err := encodeRow(row)
	if err != nil {
		return err
	}
	opts := &objstore.PutOptions{}
	if v.state == rowAbsent {
		opts.IfNoneMatch = true
	} else {
		opts.IfMatch = v.etag
	}
	info, err := s.obj.Put(ctx, key, data, opts)
	if err != nil {
		return err
	}
	s.cache.put(key, info.ETag, opts.IfMatch, *row, seen)
	return nil
}

// removeRow deletes the live row under key if its ETag is still v.etag:
// with a conditional delete where the store enforces one, else by a
// conditional write of a tombstone (a 0-byte object, which every reader takes
// for "no row"). Tombstones are never deleted: on a store that ignores
// If-Match on DELETE, any delete of a key that a writer may create again could
// land late and destroy the new row. It reports whether the row is gone.
func (s *Store) removeRow(ctx context.Context, key string, v version) (bool, error) {
	var err error
	if s.condDelete.Load() {
		err = s.obj.Delete(ctx, key, &objstore.DeleteOptions{IfMatch: v.etag})
		if errors.Is(err, objstore.ErrNotSupported) {
			s.condDelete.Store(false)
		}
	}
	if !s.condDelete.Load() {
		_, err = s.obj.Put(ctx, key, nil, &objstore.PutOptions{IfMatch: v.etag})
	}
	s.cache.drop(key)
	switch {
	case err == nil:
		return true, nil
	case lostRace(err):
		return false, nil
	case errors.Is(err, objstore.ErrOutcomeUnknown):
		_, now, rerr := s.readRow(ctx, key)
		if rerr != nil {
			return false, err
		}
		return now.state != rowLive, nil
	}
	return false, err
}

// updateRow is the read-modify-write loop of the row (sessionID, id). fn
// gets the current row (nil if there is none) and returns the row to write,
// or nil to leave it as is. fn may be called several times. It returns the
// row as written (or as found, if fn returned nil) and whether it wrote.
//
// A row this Store wrote or read last is tried first without reading it:
// the conditional write on its ETag applies only if the row is still
// exactly that one (every write carries a fresh Rev), so the outcome is
// the same as after a read. A write that fails, and a decision to write
// nothing, are taken again on the row as read.
func (s *Store) updateRow(ctx context.Context, sessionID, id string, fn func(cur *Row) (*Row, error)) (Row, bool, error) {
	return s.update(ctx, sessionID, id, false, fn)
}

// update is updateRow; with see (a put's write, on a Store that adopts
// directly) each write first takes the head state this process has cached
// and binds the row to its incarnation if it is live, and the row cache
// remembers that state with the version written (adoptsDirectly).
func (s *Store) update(ctx context.Context, sessionID, id string, see bool, fn func(cur *Row) (*Row, error)) (Row, bool, error) {
	key := RefKey(id, sessionID)
	var pending string // Rev of a write whose outcome is not known yet
	pendingCreated := false
	guess, hasGuess := s.cache.peek(key)
	for attempt := 0; ; {
		guessed := hasGuess
		hasGuess = false
		cur, v := guess.row, version{state: rowLive, etag: guess.etag}
		if !guessed {
			var err error
			if cur, v, err = s.readRow(ctx, key); err != nil {
				return Row{}, false, err
			}
		}
		if pending != "" && v.state == rowLive && cur.Rev == pending {
			// Our write landed after all.
			return cur, true, s.confirmMarkers(ctx, pendingCreated, &cur)
		}
		var curp *Row
		if v.state == rowLive {
			curp = &cur
		}
		next, err := fn(curp)
		switch {
		case guessed && (err != nil || next == nil):
			continue // decide on the stored row
		case err != nil || next == nil:
			return cur, false, err
		}
		next.AttachmentID, next.SessionID = id, sessionID
		next.Rev = s.newRev()
		if err := s.ensureMarkers(ctx, curp, next); err != nil {
			return Row{}, false, err
		}
		err = s.writeRow(ctx, key, next, v, s.see(see, next))
		switch {
		case err == nil:
			return *next, true, s.confirmMarkers(ctx, curp == nil, next)
		case lostRace(err), errors.Is(err, objstore.ErrOutcomeUnknown):
			// A retried request may report 412 for a write that landed: the
			// next read tells by Rev.
			pending, pendingCreated = next.Rev, curp == nil
		default:
			return Row{}, false, err
		}
		if guessed {
			continue // the row changed since this Store saw it: read it
		}
		if attempt++; attempt >= s.maxAttempts {
			return Row{}, false, fmt.Errorf("%q: %w", key, ErrContended)
		}
		if err := backoff(ctx, attempt-1); err != nil {
			return Row{}, false, err
		}
	}
}

// see takes the head state before a put's write of next, binds next to
// its incarnation if it is live and marks it as a row its removers must
// fence (see update); nil if not asked or not adopting directly.
func (s *Store) see(ask bool, next *Row) *HeadState {
	if !ask || !s.direct() {
		return nil
	}
	next.Fence = true
	h, _ := s.headCache.CachedHead(next.SessionID) // the zero state if none
	if h.Live {
		next.Inc = max(next.Inc, h.Inc)
	}
	return &h
}

// ensureMarkers writes the session marker of a row about to be created and
// the turn marker of an uncommitted row whose turn owner is new.
func (s *Store) ensureMarkers(ctx context.Context, cur, next *Row) error {
	var keys []string
	if cur == nil {
		keys = append(keys, sessionMarker(next.SessionID, next.AttachmentID))
	}
	if !next.Committed() && next.Owner.Kind == OwnerTurn && (cur == nil || cur.Owner != next.Owner) {
		// The head announces the turn before its row exists, so a commit
		// of the turn whose base does not announce it has no row to adopt.
		if err := s.announceTurn(ctx, next.SessionID, next.Owner.ID, next.AttachmentID, next.Rev); err != nil {
			return err
		}
		keys = append(keys, turnMarker(next.SessionID, next.Owner.ID, next.AttachmentID))
	}
	return s.putMarkers(ctx, keys)
}

// confirmMarkers puts the markers of a row it has just created again. A
// removal of the row before it (ForgetSession) deletes the row's session
// marker and then reads the row to put it back if it was written again
// meanwhile; if that delete fell between our markers and our row, and the
// read before our row, only this second put keeps the row listed under its
// session. Found by the simulation (seeds 2912 and 53910, when the removal
// deleted the turn marker too).
func (s *Store) confirmMarkers(ctx context.Context, created bool, row *Row) error {
	if !created {
		return nil
	}
	keys := []string{sessionMarker(row.SessionID, row.AttachmentID)}
	if !row.Committed() && row.Owner.Kind == OwnerTurn {
		keys = append(keys, turnMarker(row.SessionID, row.Owner.ID, row.AttachmentID))
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, k := range keys {
		g.Go(func() error { return s.putMarkers(gctx, []string{k}) })
	}
	return g.Wait()
}

func (s *Store) putMarkers(ctx context.Context, keys []string) error {
	for _, k := range keys {
		if _, err := s.obj.Put(ctx, k, nil, nil); err != nil {
			return err
		}
	}
	return nil
}

// forEachRow calls fn for every live row under prefix (RefPrefix or a
// RefsOf prefix), reading up to Options.Concurrency rows at a time; fn may be
// called concurrently. Rows unchanged since the last scan (same ETag) come
// from the row cache. Keys that are not row keys are skipped with a warning.
func (s *Store) forEachRow(ctx context.Context, prefix string, fn func(key string, row Row, v version) error) error {
	return s.forEachRowOr(ctx, prefix, fn, nil)
}

// forEachRowOr is forEachRow that passes a row that cannot be read (an
// *UnreadableError) to unreadable, if not nil, and goes on.
func (s *Store) forEachRowOr(ctx context.Context, prefix string, fn func(key string, row Row, v version) error,
	unreadable func(key string, err error) error) error {
	visit := func(ctx context.Context, info objstore.ObjectInfo) error {
		if _, _, ok := ParseRefKey(info.Key); !ok {
			s.log.WarnContext(ctx, "manifest: skipping unparsable row key", "key", info.Key)
			return nil
		}
		if info.Size == 0 {
			return nil // tombstone
		}
		row, ok := s.cache.get(info.Key, info.ETag)
		v := version{state: rowLive, etag: info.ETag}
		if !ok {
			var err error
			var ue *UnreadableError
			row, v, err = s.readRow(ctx, info.Key)
			if errors.As(err, &ue) && unreadable != nil {
				return unreadable(info.Key, err)
			}
			if err != nil {
				return err
			}
			if v.state != rowLive {
				return nil
			}
		}
		return fn(info.Key, row, v)
	}
	return s.forEach(ctx, prefix, visit)
}

// rowCache remembers decoded rows by key and ETag. An ETag changes whenever
// the content does, and every row write holds a fresh Rev, so a hit is
// exactly the row the store holds under that ETag.
type rowCache struct {
	mu  sync.Mutex
	max int
	m   map[string]cachedRow
}

type cachedRow struct {
	etag string
	row  Row
	// protected: this version, durable before, had the data it names
	// protected (Protect returned nil), or was written over such a version
	// naming the same data. The data is then safe from every sweep while
	// the row stands (fence package, "Why it holds"): a commit that
	// prepares this version by compare-and-swap needs no Protect of its own.
	protected bool
	// seen: the head state this Store had cached before it wrote this
	// version (nil: read, or written without one); settled: the put that
	// wrote it ended on it naming data no other put re-points (its own
	// upload, or the data of the blob pointer it read). See adoptsDirectly.
	seen    *HeadState
	settled bool
}

func newRowCache(max int) *rowCache { return &rowCache{max: max, m: map[string]cachedRow{}} }

func (c *rowCache) get(key, etag string) (Row, bool) {
	if c == nil || etag == "" {
		return Row{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || e.etag != etag {
		return Row{}, false
	}
	return e.row, true
}

// peek returns the row last remembered under key, whatever its ETag.
func (c *rowCache) peek(key string) (cachedRow, bool) {
	if c == nil {
		return cachedRow{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	return e, ok
}

// put remembers row under key at etag. over is the ETag of the version a
// conditional write of row replaced ("" after a read or a create): the new
// version stays protected if that one was and names the same data. A read
// of the version remembered keeps its marks; seen is what a write saw
// (nil after a read).
func (c *rowCache) put(key, etag, over string, row Row, seen *HeadState) {
	if c == nil || etag == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.m[key]
	if !ok && len(c.m) >= c.max {
		for k := range c.m { // evict an arbitrary entry
			delete(c.m, k)
			break
		}
	}
	if ok && old.etag == etag {
		return // the version remembered, read again
	}
	protected := ok && old.protected && over != "" && old.etag == over && old.row.Data.Key == row.Data.Key
	c.m[key] = cachedRow{etag: etag, row: row, protected: protected, seen: seen}
}

// markProtected marks the version rev of the row under key protected, if
// it is the version remembered.
func (c *rowCache) markProtected(key, rev string) {
	c.mark(key, rev, func(e *cachedRow) { e.protected = true })
}

// markSettled marks the version rev of the row under key settled, if it is
// the version remembered and protected.
func (c *rowCache) markSettled(key, rev string) {
	c.mark(key, rev, func(e *cachedRow) { e.settled = e.protected })
}

// mark changes the entry under key by fn if it is the version rev.
func (c *rowCache) mark(key, rev string, fn func(*cachedRow)) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok && e.row.Rev == rev {
		fn(&e)
		c.m[key] = e
	}
}

// protected reports whether the version rev of the row under key is the
// one remembered and is protected.
func (c *rowCache) protected(key, rev string) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	return ok && e.protected && e.row.Rev == rev
}

func (c *rowCache) drop(key string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}
