package fsck

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/session"
)

// checkSessions checks every session's head and what it names, and reports
// the session objects no head names.
func (c *checker) checkSessions(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.opts.Concurrency)
	var listErr error
	for sid, err := range session.ListSessionIDs(ctx, c.objs) {
		if err != nil {
			listErr = err
			break
		}
		g.Go(func() error { return c.checkSession(gctx, sid) })
	}
	return errors.Join(listErr, g.Wait())
}

func (c *checker) checkSession(ctx context.Context, sid string) error {
	head := session.HeadKey(sid)
	info, err := session.ReadHead(ctx, c.objs, sid)
	if err != nil {
		// A damaged head is a problem; its objects are of unknown status:
		// not orphans.
		return c.readFailed(err, InvHead, head, "head does not decode")
	}
	named := map[string]bool{head: true}
	switch {
	case info == nil || info.Placeholder:
		// No session (a placeholder is a sweeper's fence for one that
		// never committed).
		c.count(func(n *Counts) { n.HeadlessPrefix++ })
	case info.Deleted:
		c.count(func(n *Counts) { n.DeletedHeads++ })
	default:
		c.count(func(n *Counts) { n.Sessions++; n.SessionObjects += len(info.Keys) })
		for _, k := range info.Keys {
			named[k] = true
		}
		if err := c.checkLiveSession(ctx, info); err != nil {
			return err
		}
	}
	for obj, err := range c.objs.List(ctx, session.SessionPrefix(sid), nil) {
		if err != nil {
			// A named object is reported by the checks of the live head.
			if err := c.listFailed(err, obj, InvUnreadable, "session object cannot be read",
				func(k string) bool { return named[k] }); err != nil {
				return err
			}
			continue
		}
		if named[obj.Key] {
			continue
		}
		if _, _, ok := session.ParseKey(obj.Key); !ok {
			c.unknown(obj.Key) // outside the layout: never deleted
			continue
		}
		c.orphan(gc.KindSessionObject, obj)
	}
	return nil
}

// checkLiveSession checks that everything a live head names is there and
// loads, and that its recent committed refs have rows.
func (c *checker) checkLiveSession(ctx context.Context, info *session.HeadInfo) error {
	for _, p := range info.StateProblems {
		c.problem(InvHead, session.HeadKey(info.SessionID), "%s", p)
	}
	for _, k := range info.Keys {
		if _, ok, err := c.exists(ctx, k); err != nil {
			if err := c.readFailed(err, InvNamed, k, fmt.Sprintf("named by the head of session %s (revision %d) but damaged", info.SessionID, info.Revision)); err != nil {
				return err
			}
		} else if !ok {
			c.problem(InvNamed, k, "named by the head of session %s (revision %d) but missing", info.SessionID, info.Revision)
		}
	}
	h, err := c.st.Session(info.SessionID)
	if err != nil {
		return err
	}
	read, err := h.LoadSession(ctx, session.FullGraph())
	switch {
	case err == nil && read != nil:
		c.count(func(n *Counts) { n.Nodes += len(read.Graph.Nodes) })
	case err == nil:
	case ctx.Err() != nil:
		return ctx.Err()
	default:
		if err := c.loadFailed(err, InvNamed, session.HeadKey(info.SessionID), "session does not load"); err != nil {
			return err
		}
	}
	if err := c.checkCommittedRefs(ctx, info); err != nil {
		return err
	}
	for rev, ids := range info.UnbackedAttachmentIDs {
		for _, id := range ids {
			c.warning(InvUnbacked, session.HeadKey(info.SessionID),
				"revision %d named attachment %s without bytes in this session; not stamped", rev, id)
		}
	}
	return nil
}

// checkCommittedRefs checks that the attachments a live head's recent
// commits name have rows (or were deleted since).
func (c *checker) checkCommittedRefs(ctx context.Context, info *session.HeadInfo) error {
	head := session.HeadKey(info.SessionID)
	for _, id := range info.CommittedAttachmentIDs {
		row, ok, err := c.m.Row(ctx, info.SessionID, id)
		switch {
		case err != nil:
			if err := c.readFailed(err, InvUnreadable, manifest.RefKey(id, info.SessionID), "row does not decode"); err != nil {
				return err
			}
		case !ok:
			// Forget (attach.Delete) may drop a committed row: the
			// attachment was deleted, which the contract allows, and the
			// session's marker stays. A head naming an attachment its
			// session never recorded is a violation.
			marker := manifest.SessionMarkerKey(info.SessionID, id)
			_, recorded, err := c.exists(ctx, marker)
			if err != nil {
				if err := c.readFailed(err, InvUnreadable, marker, "session marker cannot be read"); err != nil {
					return err
				}
				continue
			}
			if recorded {
				c.count(func(n *Counts) { n.DeletedCommittedRefs++ })
				continue
			}
			c.problem(InvRef, head, "committed attachment %s has no manifest row and its session never recorded it", id)
		case row.Data.IsZero():
			c.problem(InvRef, head, "committed attachment %s has a row naming no data", id)
		}
	}
	return nil
}
