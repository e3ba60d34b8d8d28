// Package soak drives stowage the way an agent runtime does: simulated
// agents commit turns with attachments, through faults, while sweepers run.
// Its tests are the soak test (concurrent agents and sweeps through a
// fault-injecting proxy) and the crash test (a writer process killed at a
// random point, then recovery, a sweep and fsck). The CLI's demo and the
// bench use its agent and data generators too.
package soak

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"strings"
	"time"

	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

// AttachmentSpec describes an attachment a turn puts.
type AttachmentSpec struct {
	Size      int64
	MediaType string // empty: application/octet-stream
	Seed      uint64 // content seed (Stream): equal seeds and sizes give equal bytes
}

// TurnSpec describes a turn.
type TurnSpec struct {
	// TurnID must be unique within the session.
	TurnID string
	// Nodes are appended to the active path, each an event carrying
	// NodeBytes bytes of text.
	Nodes     int
	NodeBytes int
	// Events, if set, are the nodes' events as NodeEvents returns them for
	// this spec, made before the commit is called (as a runtime's turn
	// content is made before its commit: the bench makes them untimed);
	// nil makes them in the commit call.
	Events [][]byte
	// Attachments are put (streamed, owned by the turn) before the commit,
	// which adopts them.
	Attachments []AttachmentSpec
	// Unstamped commits without a turn stamp: no receipt, so a retry of a
	// commit whose outcome was unknown is not idempotent (the bench uses it
	// to measure the bare commit).
	Unstamped bool
}

// Ack is an acknowledged turn: the commit returned success.
type Ack struct {
	TurnID      string
	Revision    uint64
	NodeIDs     []string
	Attachments []attach.Ref
}

// Agent owns one session and commits turns to it, retrying what a runtime
// retries: transient failures, and commits whose outcome is unknown (with
// the same turn stamp, so a commit that landed is answered by its receipt).
// An Agent is used by one goroutine at a time.
type Agent struct {
	Session *session.Store
	Attach  *attach.Store
	// MaxAttempts bounds the attempts of one put or commit; 0 means 20.
	MaxAttempts int
	// OnRetry, if set, is called before each retry with the failure.
	OnRetry func(op string, err error)

	rev   uint64
	leaf  string
	acked []Ack
}

// NewAgent returns an agent for a session that has no commits yet, or
// (Resume) one that continues a session.
func NewAgent(sess *session.Store, att *attach.Store) *Agent {
	return &Agent{Session: sess, Attach: att}
}

// Resume loads the session's head revision and leaf, as a runtime taking
// over a session does.
func (a *Agent) Resume(ctx context.Context) error {
	read, err := a.Session.LoadSession(ctx, session.ActivePath(""))
	if err != nil {
		return err
	}
	if read != nil {
		a.rev, a.leaf = read.HeadRevision, read.Graph.LeafNodeID
	}
	return nil
}

// Acked returns the turns acknowledged so far, in order.
func (a *Agent) Acked() []Ack { return a.acked }

// Revision returns the head revision after the last acknowledged turn.
func (a *Agent) Revision() uint64 { return a.rev }

// Retryable reports whether a runtime retries an operation that failed with
// err: transient storage failures, unknown outcomes and contention.
func Retryable(err error) bool {
	return objstore.IsRetryable(err) || errors.Is(err, objstore.ErrOutcomeUnknown) ||
		errors.Is(err, session.ErrContention) || errors.Is(err, manifest.ErrContended)
}

func (a *Agent) attempts() int {
	if a.MaxAttempts > 0 {
		return a.MaxAttempts
	}
	return 20
}

// retry runs fn until it succeeds, fails for good, or runs out of attempts.
func (a *Agent) retry(ctx context.Context, op string, fn func() error) error {
	var err error
	for i := 0; i < a.attempts(); i++ {
		if err = fn(); err == nil || !Retryable(err) || ctx.Err() != nil {
			return err
		}
		if a.OnRetry != nil {
			a.OnRetry(op, err)
		}
		t := time.NewTimer(time.Duration(min(1<<i, 64)) * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
	return fmt.Errorf("soak: %s: giving up after %d attempts: %w", op, a.attempts(), err)
}

// PutAttachment streams one attachment owned by turnID.
func (a *Agent) PutAttachment(ctx context.Context, turnID string, spec AttachmentSpec, progress io.Writer) (attach.Ref, error) {
	ctx = attach.WithOwner(ctx, manifest.TurnOwner(turnID))
	var ref attach.Ref
	err := a.retry(ctx, "put attachment", func() error {
		body := Content(spec)
		if progress != nil {
			body = io.TeeReader(body, progress)
		}
		var err error
		ref, err = a.Attach.Put(ctx, body, attach.PutOptions{MediaType: spec.MediaType, Label: turnID})
		return err
	})
	return ref, err
}

// Content returns the bytes of an attachment as a stream of unknown size:
// text (compressible) for text and JSON media types up to 64 MiB, random
// bytes (incompressible) otherwise.
func Content(spec AttachmentSpec) io.Reader {
	mt := spec.MediaType
	if spec.Size <= 64<<20 && (strings.HasPrefix(mt, "text/") || strings.HasSuffix(mt, "json")) {
		return io.MultiReader(bytes.NewReader(Text(spec.Seed, int(spec.Size))))
	}
	return Stream(spec.Seed, spec.Size)
}

// Commit builds the turn's commit (nodes chained on the active path, the
// attachments adopted, a usage row, a turn stamp) and commits it.
func (a *Agent) Commit(ctx context.Context, spec TurnSpec, refs []attach.Ref) (Ack, error) {
	c, ids := a.build(spec, refs)
	var res *session.CommitResult
	err := a.retry(ctx, "commit", func() error {
		var err error
		res, err = a.Session.CommitRuntimeState(ctx, c)
		return err
	})
	if err != nil {
		return Ack{}, err
	}
	a.rev = res.HeadRevision
	if len(ids) > 0 {
		a.leaf = ids[len(ids)-1]
	}
	ack := Ack{TurnID: spec.TurnID, Revision: res.HeadRevision, NodeIDs: ids, Attachments: refs}
	a.acked = append(a.acked, ack)
	return ack, nil
}

// Turn puts the turn's attachments and commits it.
func (a *Agent) Turn(ctx context.Context, spec TurnSpec) (Ack, error) {
	refs := make([]attach.Ref, 0, len(spec.Attachments))
	for _, as := range spec.Attachments {
		ref, err := a.PutAttachment(ctx, spec.TurnID, as, nil)
		if err != nil {
			return Ack{}, err
		}
		refs = append(refs, ref)
	}
	return a.Commit(ctx, spec, refs)
}

// nodeID is the id of the i-th node of turn turnID.
func nodeID(turnID string, i int) string { return fmt.Sprintf("%s.n%d", turnID, i) }

// NodeEvents returns the events of spec's nodes: spec.Nodes events, each
// an assistant message of spec.NodeBytes bytes of text determined by its
// node's id.
func NodeEvents(spec TurnSpec) [][]byte {
	events := make([][]byte, spec.Nodes)
	for i := range events {
		f := fnv.New64a()
		f.Write([]byte(nodeID(spec.TurnID, i)))
		events[i], _ = json.Marshal(map[string]string{"role": "assistant", "text": string(Text(f.Sum64(), spec.NodeBytes))})
	}
	return events
}

// build returns the commit of spec on the agent's current state and the
// ids of its nodes.
func (a *Agent) build(spec TurnSpec, refs []attach.Ref) (session.RuntimeCommit, []string) {
	sid := a.Session.SessionID()
	rev := a.rev
	c := session.RuntimeCommit{
		SessionID:            sid,
		ExpectedHeadRevision: &rev,
		Config:               session.SessionConfig{ProviderID: "soak", Model: "sim-1"},
		Graph:                session.GraphDelta{Kind: session.DeltaAppend},
		UsageDeltas: []session.TokenLedgerEntry{{Source: "turn", Model: "sim-1",
			Input: int64(spec.Nodes * spec.NodeBytes), Output: int64(spec.Nodes)}},
		Checkpoint: &session.HydratedCheckpoint{
			TurnState:      session.TurnState{TurnIndex: uint64(len(a.acked) + 1)},
			ExecutionState: []byte(`{"turn":"` + spec.TurnID + `"}`),
		},
	}
	parent := a.leaf
	ids := make([]string, 0, spec.Nodes)
	events := spec.Events
	if events == nil {
		events = NodeEvents(spec)
	}
	for i, event := range events {
		id := nodeID(spec.TurnID, i)
		c.Graph.Nodes = append(c.Graph.Nodes, session.NodeRecord{
			NodeID: id, ParentNodeID: parent, Timestamp: time.Unix(int64(rev), 0).UTC().Format(time.RFC3339),
			Kind: session.PayloadEvent, Event: event,
		})
		parent = id
		ids = append(ids, id)
	}
	c.Graph.Leaf = parent
	for _, r := range refs {
		c.CommittedAttachmentIDs = append(c.CommittedAttachmentIDs, r.ID)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%q\x00%q", sid, spec.TurnID, ids, c.CommittedAttachmentIDs)
	if !spec.Unstamped {
		c.TurnCommit = &session.TurnCommitStamp{SessionID: sid, TurnID: spec.TurnID, TurnCommitHash: hex.EncodeToString(h.Sum(nil))}
	}
	return c, ids
}
