package fsck

import (
	"context"
	"errors"
	"io"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

// checkAttachments checks the manifest (upload intents, rows, blob
// pointers) against the data objects, and reports dead intents and
// unrooted data as orphans.
func (c *checker) checkAttachments(ctx context.Context) error {
	roots := map[string]bool{}
	var rootsMu sync.Mutex
	root := func(key string) {
		rootsMu.Lock()
		roots[key] = true
		rootsMu.Unlock()
	}
	if err := c.checkUploads(ctx, root); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.opts.Concurrency)
	var listErr error
	for info, err := range c.objs.List(ctx, manifest.RefPrefix, nil) {
		if err != nil {
			if listErr = c.listFailed(err, info, InvUnreadable, "row cannot be read", nil); listErr != nil {
				break
			}
			c.mu.Lock()
			c.rootsUnknown = true // it may name any data: none is an orphan
			c.mu.Unlock()
			continue
		}
		if info.Size == 0 {
			continue // a tombstone: no row
		}
		g.Go(func() error { return c.checkRow(gctx, info, root) })
	}
	if err := errors.Join(listErr, g.Wait()); err != nil {
		return err
	}
	if err := c.checkBlobs(ctx); err != nil {
		return err
	}
	return c.checkData(ctx, roots)
}

// checkUploads reads the upload intents, roots the data of the live ones
// and reports the dead ones as orphans. An intent that cannot be read is
// reported and skipped; an intent of upload U only ever names DataKey(U),
// which stays rooted.
func (c *checker) checkUploads(ctx context.Context, root func(string)) error {
	for info, err := range c.objs.List(ctx, manifest.UploadPrefix, nil) {
		id, ok := manifest.ParseUploadKey(damagedKey(err, info.Key))
		if err != nil {
			if err := c.listFailed(err, info, InvUnreadable, "upload intent cannot be read", nil); err != nil {
				return err
			}
		}
		if !ok {
			continue // not stowage's: the sweeper reports it
		}
		u, found, err := c.m.LoadUpload(ctx, id)
		if err == nil && !found {
			continue // ended or forgotten meanwhile
		}
		if err != nil {
			if err := c.readFailed(err, InvUnreadable, manifest.UploadKey(id), "upload intent cannot be read"); err != nil {
				return err
			}
			root(manifest.DataKey(id))
			c.intend(manifest.DataKey(id))
			continue
		}
		c.count(func(n *Counts) { n.UploadIntents++ })
		dead, err := c.judge.UploadDead(ctx, &u, c.cutoff)
		if err != nil {
			return err
		}
		if dead {
			c.orphan(gc.KindUploadIntent, objstore.ObjectInfo{Key: manifest.UploadKey(u.ID), ModTime: u.IntentAt})
			continue
		}
		root(u.DataKey)
		c.intend(u.DataKey)
	}
	return nil
}

// checkData counts the data objects and reports the unrooted ones as
// orphans.
func (c *checker) checkData(ctx context.Context, roots map[string]bool) error {
	for info, err := range c.objs.List(ctx, manifest.DataPrefix, nil) {
		if err != nil {
			// Damaged data is not an orphan: it is reported, and left.
			if err := c.listFailed(err, info, InvUnreadable, "attachment data cannot be read", nil); err != nil {
				return err
			}
			continue
		}
		c.count(func(n *Counts) { n.DataObjects++; n.DataBytes += info.Size })
		if _, ok := manifest.ParseDataKey(info.Key); !ok {
			c.unknown(info.Key)
			continue
		}
		if roots[info.Key] || c.rootsUnknown {
			continue // rooted, or perhaps named by a row that cannot be read
		}
		c.orphan(gc.KindAttachmentData, info)
	}
	return nil
}

// checkRow checks one row and roots its data unless the row is dead.
func (c *checker) checkRow(ctx context.Context, info objstore.ObjectInfo, root func(string)) error {
	row, rc, ok, err := c.readRow(ctx, info)
	if err != nil || !ok {
		return err
	}
	c.count(func(n *Counts) {
		n.Rows++
		if row.Committed() {
			n.CommittedRows++
		}
	})
	if row.SessionID != rc.sid || row.AttachmentID != rc.id {
		c.problem(InvManifest, info.Key, "row names session %q and attachment %q", row.SessionID, row.AttachmentID)
		return nil
	}
	dead, err := c.judge.RowDead(ctx, &row, c.cutoff)
	if err != nil {
		return err
	}
	if dead {
		if ok, err := rc.published(ctx); err != nil {
			return err
		} else if !ok {
			c.orphan(gc.KindRefRow, objstore.ObjectInfo{Key: info.Key, Size: info.Size, ModTime: row.IntentAt})
			return nil
		}
	}
	if row.Data.IsZero() {
		return nil // an intent whose bytes are not written yet
	}
	root(row.Data.Key)
	return c.checkRowData(ctx, info, &row, rc)
}

// readRow reads the row under info.Key. ok is false, with a nil error,
// when there is nothing more to check: a key that is not a row's (a
// problem), a row that does not decode (unreadable; then no data is an
// orphan) or one forgotten meanwhile.
func (c *checker) readRow(ctx context.Context, info objstore.ObjectInfo) (manifest.Row, *rowCommit, bool, error) {
	id, sid, ok := manifest.ParseRefKey(info.Key)
	if !ok {
		c.problem(InvManifest, info.Key, "not a row key")
		return manifest.Row{}, nil, false, nil
	}
	row, ok, err := c.m.Row(ctx, sid, id)
	switch {
	case err != nil:
		if err := c.loadFailed(err, InvUnreadable, info.Key, "row does not decode"); err != nil {
			return manifest.Row{}, nil, false, err
		}
		c.mu.Lock()
		c.rootsUnknown = true // it may name any data: none is an orphan
		c.mu.Unlock()
		return manifest.Row{}, nil, false, nil
	case !ok:
		return manifest.Row{}, nil, false, nil // forgotten meanwhile
	}
	return row, &rowCommit{c: c, sid: sid, id: id, committed: row.Committed()}, true, nil
}

// rowCommit is whether a row is committed. The head is the source of
// truth: a row a published commit named is committed even if a crash
// skipped its stamp (the sweeper repairs the stamp; it never reclaims such
// a row).
type rowCommit struct {
	c         *checker
	sid, id   string
	committed bool // stamped, or found in the head
}

// published reports whether the row is committed, asking the session's
// head when the row is not stamped (and counting an unstamped committed
// row once).
func (rc *rowCommit) published(ctx context.Context) (bool, error) {
	if rc.committed {
		return true, nil
	}
	ok, _, err := session.HeadRefs{Store: rc.c.objs}.Committed(ctx, rc.sid, rc.id)
	if ok {
		rc.committed = true
		rc.c.count(func(n *Counts) { n.UnstampedCommittedRows++ })
	}
	return ok, err
}

// checkRowData checks the data a row names: present (unless the row is
// uncommitted: a sweep may have reclaimed it before the writer's Protect)
// with the stored size the row says, and in a deep check, for a committed
// row, the bytes hash to the attachment id.
func (c *checker) checkRowData(ctx context.Context, info objstore.ObjectInfo, row *manifest.Row, rc *rowCommit) error {
	data, exists, err := c.exists(ctx, row.Data.Key)
	switch {
	case err != nil:
		return c.readFailed(err, InvRef, row.Data.Key, "data of row "+info.Key+" cannot be read")
	case !exists && rc.committed:
		c.problem(InvRef, info.Key, "committed ref names data %s, which is missing", row.Data.Key)
		return nil
	case !exists:
		if ok, err := rc.published(ctx); err != nil {
			return err
		} else if ok {
			c.problem(InvRef, info.Key, "a published commit names data %s, which is missing", row.Data.Key)
			return nil
		}
		// An uncommitted row may name data a sweep reclaimed before the
		// writer's Protect (which then fails and the writer uploads again):
		// no commit can adopt it, since PrepareCommit checks the data.
		return nil
	case data.Size != row.Data.StoredSize:
		c.problem(InvManifest, info.Key, "data %s holds %d bytes, the row says %d", row.Data.Key, data.Size, row.Data.StoredSize)
		return nil
	}
	if c.opts.Deep && rc.committed {
		return c.readAttachment(ctx, info.Key, row.Data.Key, rc.sid, rc.id, row.Data.Size)
	}
	return nil
}

// readAttachment reads an attachment in full through the attachment store,
// which checks that its bytes hash to its id. A problem names the row
// (key) whose data (dataKey) is damaged.
func (c *checker) readAttachment(ctx context.Context, key, dataKey, sid, id string, size int64) error {
	a, err := attach.New(c.m, sid, nil)
	if err != nil {
		return err
	}
	body, _, err := a.Get(ctx, id, nil)
	if err == nil {
		var n int64
		n, err = io.Copy(io.Discard, body)
		body.Close()
		if err == nil && n != size {
			c.problem(InvManifest, key, "attachment reads %d bytes, the row says %d", n, size)
			return nil
		}
	}
	if err != nil {
		return c.loadFailed(err, InvManifest, dataKey, "attachment of row "+key+" does not read back")
	}
	return nil
}

// checkBlobs checks that every blob pointer decodes. A pointer is a hint:
// the data it names may be gone.
func (c *checker) checkBlobs(ctx context.Context) error {
	for info, err := range c.objs.List(ctx, manifest.BlobPrefix, nil) {
		if err != nil {
			if err := c.listFailed(err, info, InvManifest, "blob pointer does not decode", nil); err != nil {
				return err
			}
			continue
		}
		id := info.Key[len(manifest.BlobPrefix):]
		if manifest.ValidateAttachmentID(id) != nil {
			c.problem(InvManifest, info.Key, "not a blob pointer key")
			continue
		}
		if _, _, err := c.m.LoadBlob(ctx, id); err != nil {
			if err := c.loadFailed(err, InvManifest, info.Key, "blob pointer does not decode"); err != nil {
				return err
			}
		}
	}
	return nil
}

// intend records that a live upload intent names dataKey.
func (c *checker) intend(dataKey string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.intended == nil {
		c.intended = map[string]bool{}
	}
	c.intended[dataKey] = true
}

// checkMultipart reports incomplete multipart uploads as orphans. Young
// ones, and ones a live upload intent names, are uploads in flight: a
// sweep forgets dead intents first and then keeps the uploads an intent
// still names (a grant's client may still be sending parts).
func (c *checker) checkMultipart(ctx context.Context) error {
	for u, err := range c.objs.ListUploads(ctx, "") {
		if errors.Is(err, objstore.ErrNotSupported) {
			return nil
		}
		if err != nil {
			return err
		}
		c.count(func(n *Counts) { n.Multipart++ })
		c.mu.Lock()
		stale := !u.Initiated.After(c.cutoff) && !c.intended[u.Key]
		c.rep.Orphans = append(c.rep.Orphans, Orphan{Kind: gc.KindMultipart, Key: u.Key, UploadID: u.UploadID,
			ModTime: u.Initiated, Stale: stale})
		c.mu.Unlock()
	}
	return nil
}
