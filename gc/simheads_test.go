package gc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

// simHead is the simulated session head: the writer protocol of
// docs/protocol.md ("Sweeping") on the real key layout, with a head format
// of the simulation's own. Sweep is the head's sweep generation; a
// placeholder (the sweeper's fence for a headless session) reads as no
// session and is replaced by the first commit, as in package session.
type simHead struct {
	Gen         uint64   `json:"gen"`
	Sweep       uint64   `json:"sweep"`
	WriteID     string   `json:"wid"`
	Deleted     bool     `json:"deleted,omitempty"`
	Placeholder bool     `json:"placeholder,omitempty"`
	Blobs       []string `json:"blobs,omitempty"` // checkpoint objects named
	Atts        []string `json:"atts,omitempty"`  // committed attachment ids
}

// readSimHead reads sid's head; nil if none.
func readSimHead(ctx context.Context, st objstore.Store, sid string) (*simHead, string, error) {
	rc, info, err := st.Get(ctx, session.HeadKey(sid), nil)
	if errors.Is(err, objstore.ErrNotExist) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, "", err
	}
	var h simHead
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, "", fmt.Errorf("sim: decode head of %s: %w", sid, err)
	}
	return &h, info.ETag, nil
}

// writeSimHead writes h over the head whose ETag is etag (create-only if
// empty).
func writeSimHead(ctx context.Context, st objstore.Store, sid, etag string, h *simHead) (string, error) {
	data, err := json.Marshal(h)
	if err != nil {
		return "", err
	}
	opts := &objstore.PutOptions{IfMatch: etag}
	if etag == "" {
		opts = &objstore.PutOptions{IfNoneMatch: true}
	}
	info, err := st.Put(ctx, session.HeadKey(sid), data, opts)
	return info.ETag, err
}

func blobKeyOf(sid, id string) string { return session.SessionPrefix(sid) + "blob/" + id }

// simHeads is the gc.Heads of the simulated session layer.
type simHeads struct {
	ids func() string
}

func (simHeads) Read(ctx context.Context, st objstore.Store, sid string) (*session.HeadInfo, error) {
	h, etag, err := readSimHead(ctx, st, sid)
	if err != nil || h == nil {
		return nil, err
	}
	return h.info(sid, etag), nil
}

func (h *simHead) info(sid, etag string) *session.HeadInfo {
	return &session.HeadInfo{SessionID: sid, ETag: etag, Gen: h.Gen, SweepGen: h.Sweep, Deleted: h.Deleted,
		Placeholder: h.Placeholder, Keys: h.Blobs}
}

// Sweep advances the sweep generation of the head whose ETag is etag, or
// creates a placeholder for a headless session.
func (s simHeads) Sweep(ctx context.Context, st objstore.Store, sid, etag string) (*session.HeadInfo, error) {
	next := &simHead{Gen: 1, Sweep: 1, Placeholder: true, WriteID: s.ids()}
	if etag != "" {
		cur, curTag, err := readSimHead(ctx, st, sid)
		if err != nil {
			return nil, err
		}
		if cur == nil || curTag != etag {
			return nil, fmt.Errorf("sim: head of %s changed: %w", sid, objstore.ErrPreconditionFailed)
		}
		c := *cur
		c.Gen++
		c.Sweep++
		c.WriteID = s.ids()
		next = &c
	}
	newTag, err := writeSimHead(ctx, st, sid, etag, next)
	if err != nil {
		return nil, err
	}
	return next.info(sid, newTag), nil
}

// simHeadRefs is the manifest.HeadRefs of the simulated session layer: it
// tells the manifest which attachments a published head committed, so that a
// row whose FinishCommit was skipped is repaired, not forgotten.
type simHeadRefs struct{ st objstore.Store }

func (r simHeadRefs) Committed(ctx context.Context, sid, id string) (bool, time.Time, error) {
	h, _, err := readSimHead(ctx, r.st, sid)
	if err != nil || h == nil || h.Deleted {
		return false, time.Time{}, err
	}
	return slices.Contains(h.Atts, id), time.Time{}, nil
}
