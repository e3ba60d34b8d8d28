package session

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/stowage-dev/stowage/internal/codec"
)

// Checkpoint blobs are content-addressed by the lowercase hex SHA-256 of
// their bytes, but stored under fresh unique keys (never under the hash:
// see Rule 0 in docs/protocol.md). The head maps hash -> location for the
// blobs of its current checkpoint. Small blobs, and always the
// SessionCheckpoint manifest itself, live inline in the head.

func contentHash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// blobWrite is a blob object to write before the head is published.
type blobWrite struct {
	key  string
	data []byte
}

// checkpointPlan is the result of applying a HydratedCheckpoint to a head.
type checkpointPlan struct {
	ref      string
	manifest *SessionCheckpoint
	blobs    map[string]blobLoc
	writes   []blobWrite
}

// planCheckpoint computes the new checkpoint of a commit. prev is the head
// it builds on; written maps the hashes of blobs already written by earlier
// attempts of this commit to their keys, and is updated. A component
// without a body carries its ref, which must be one prev's checkpoint
// holds, else *CheckpointComponentMissingError (before anything is
// written: the plan's writes happen only after it is built).
func (s *Store) planCheckpoint(sid string, prev *head, cp *HydratedCheckpoint, written map[string]string) (*checkpointPlan, error) {
	if err := carriedRefsHeld(sid, prev, cp); err != nil {
		return nil, err
	}
	p := &checkpointPlan{blobs: map[string]blobLoc{}}
	component := func(ref string, body []byte) string {
		if body == nil {
			if loc, ok := prev.Blobs[ref]; ok && ref != "" {
				p.blobs[ref] = loc
			}
			return ref
		}
		hash := contentHash(body)
		switch loc, ok := prev.Blobs[hash]; {
		case ok:
			p.blobs[hash] = loc
		case len(body) <= s.tune.InlineBlobMax:
			p.blobs[hash] = blobLoc{Inline: append([]byte(nil), body...), Size: len(body)}
		default:
			key, ok := written[hash]
			if !ok {
				key = blobKey(sid, s.newID())
				written[hash] = key
				p.writes = append(p.writes, blobWrite{key: key, data: body})
			}
			p.blobs[hash] = blobLoc{Key: key, Size: len(body)}
		}
		return hash
	}
	m := &SessionCheckpoint{
		SchemaVersion:          CheckpointSchemaVersion,
		TurnState:              cp.TurnState,
		ToolStateRef:           component(cp.ToolStateRef, cp.ToolState),
		PluginSnapshotRef:      component(cp.PluginSnapshotRef, cp.PluginSnapshot),
		PluginSnapshotRevision: cp.PluginSnapshotRevision,
		ExecutionStateRef:      component(cp.ExecutionStateRef, cp.ExecutionState),
	}
	doc, err := codec.MarshalJSON(m)
	if err != nil {
		return nil, fmt.Errorf("%w: checkpoint: %v", ErrInvalidCommit, err)
	}
	p.ref = contentHash(doc)
	p.manifest = m
	p.blobs[p.ref] = blobLoc{Inline: doc, Size: len(doc)}
	return p, nil
}

// carriedRefsHeld checks that every component of cp without a body names
// no ref or one of prev's checkpoint blobs: a ref the head does not locate
// has no stored body it could protect or hydrate.
func carriedRefsHeld(sid string, prev *head, cp *HydratedCheckpoint) error {
	for _, c := range []struct {
		name, ref string
		body      []byte
	}{{"tool_state", cp.ToolStateRef, cp.ToolState}, {"plugin_snapshot", cp.PluginSnapshotRef, cp.PluginSnapshot},
		{"execution_state", cp.ExecutionStateRef, cp.ExecutionState}} {
		if _, ok := prev.Blobs[c.ref]; c.body == nil && c.ref != "" && !ok {
			return &CheckpointComponentMissingError{SessionID: sid, Component: c.name, Ref: c.ref}
		}
	}
	return nil
}

// writeBlobs writes blob objects in parallel, create-only.
func (s *Store) writeBlobs(ctx context.Context, writes []blobWrite) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, w := range writes {
		g.Go(func() error {
			data, err := codec.EncodeRaw(blobSchema, w.data)
			if err != nil {
				return err
			}
			return s.createObject(gctx, w.key, data)
		})
	}
	return g.Wait()
}

// manifestOf decodes the current checkpoint manifest of h (nil if none).
// The manifest is always inline.
func manifestOf(h *head) (*SessionCheckpoint, error) {
	if h.CheckpointRef == "" {
		return nil, nil
	}
	loc, ok := h.Blobs[h.CheckpointRef]
	if !ok || loc.Inline == nil {
		return nil, &CorruptError{Key: HeadKey(h.SessionID), Err: fmt.Errorf("%w: checkpoint manifest %s not inline", ErrCorrupt, h.CheckpointRef)}
	}
	if _, err := codec.CheckJSONSchemaVersion("session checkpoint", loc.Inline, CheckpointSchemaVersion); err != nil {
		return nil, &CorruptError{Key: HeadKey(h.SessionID), Err: err}
	}
	m := new(SessionCheckpoint)
	if err := codec.UnmarshalJSON(loc.Inline, m); err != nil {
		return nil, &CorruptError{Key: HeadKey(h.SessionID), Err: fmt.Errorf("%w: checkpoint manifest: %v", ErrCorrupt, err)}
	}
	return m, nil
}

// namesBlobObjects reports whether h names a blob stored as an object of
// its own, which hydrating its checkpoint may read; with none, hydrate
// makes no request.
func (h *head) namesBlobObjects() bool {
	for _, loc := range h.Blobs {
		if loc.Key != "" {
			return true
		}
	}
	return false
}

// hydrate reads the bodies of the checkpoint of h. A ref the head has no
// location for (carried through from elsewhere by a head written before
// commits refused that) hydrates to a nil body.
func (s *Store) hydrate(ctx context.Context, h *head) (*HydratedCheckpoint, error) {
	m, err := manifestOf(h)
	if err != nil || m == nil {
		return nil, err
	}
	out := &HydratedCheckpoint{
		TurnState:              m.TurnState,
		ToolStateRef:           m.ToolStateRef,
		PluginSnapshotRef:      m.PluginSnapshotRef,
		PluginSnapshotRevision: m.PluginSnapshotRevision,
		ExecutionStateRef:      m.ExecutionStateRef,
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range []struct {
		ref  string
		body *[]byte
	}{{m.ToolStateRef, &out.ToolState}, {m.PluginSnapshotRef, &out.PluginSnapshot}, {m.ExecutionStateRef, &out.ExecutionState}} {
		loc, ok := h.Blobs[c.ref]
		if c.ref == "" || !ok {
			continue
		}
		if loc.Key == "" {
			*c.body = append([]byte{}, loc.Inline...)
			continue
		}
		g.Go(func() error {
			body, err := s.readBlob(gctx, loc.Key, c.ref)
			*c.body = body
			return err
		})
	}
	return out, g.Wait()
}

// readBlob reads a blob object and verifies its content hash.
func (s *Store) readBlob(ctx context.Context, key, hash string) ([]byte, error) {
	data, err := s.getObject(ctx, key)
	if err != nil {
		return nil, err
	}
	body, _, err := codec.DecodeRaw(blobSchema, data)
	if err != nil {
		return nil, &CorruptError{Key: key, Err: err}
	}
	if contentHash(body) != hash {
		return nil, &CorruptError{Key: key, Err: errors.Join(ErrCorrupt, errors.New("blob content does not match its hash"))}
	}
	return body, nil
}
