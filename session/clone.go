package session

import (
	"bytes"
	"encoding/json"
	"slices"
)

// Values returned to callers never alias the handle's caches: callers may
// modify what they get.

func cloneRaw(b json.RawMessage) json.RawMessage {
	if b == nil {
		return nil
	}
	return bytes.Clone(b)
}

func cloneNode(n NodeRecord) NodeRecord {
	n.Event, n.Body = cloneRaw(n.Event), cloneRaw(n.Body)
	return n
}

// cloneNodes deep-copies ns with one allocation for all payload bytes (a
// load returns hundreds of nodes; one allocation per payload dominated a
// cached load). Each payload is capped so an append by the caller
// reallocates instead of overwriting its neighbour.
func cloneNodes(ns []NodeRecord) []NodeRecord {
	total := 0
	for _, n := range ns {
		total += len(n.Event) + len(n.Body)
	}
	arena := make([]byte, 0, total)
	take := func(b json.RawMessage) json.RawMessage {
		if b == nil {
			return nil
		}
		start := len(arena)
		arena = append(arena, b...)
		return json.RawMessage(arena[start:len(arena):len(arena)])
	}
	out := make([]NodeRecord, len(ns))
	for i, n := range ns {
		n.Event, n.Body = take(n.Event), take(n.Body)
		out[i] = n
	}
	return out
}

func cloneBatch(b QueuedWorkBatch) QueuedWorkBatch {
	b.Payload = cloneRaw(b.Payload)
	return b
}

func cloneInput(in PendingTurnInput) PendingTurnInput {
	in.Payload = cloneRaw(in.Payload)
	return in
}

func cloneTurnState(ts TurnState) TurnState {
	ts.TokenUsage, ts.LastPromptUsage = cloneRaw(ts.TokenUsage), cloneRaw(ts.LastPromptUsage)
	ts.ProtocolTurnOptions = cloneRaw(ts.ProtocolTurnOptions)
	return ts
}

// ownCommit copies what of c the next head keeps, so the caller may reuse
// its buffers.
func ownCommit(c *RuntimeCommit) {
	c.Graph.Nodes = cloneNodes(c.Graph.Nodes)
	c.AgentFrames = cloneRaw(c.AgentFrames)
	if c.Checkpoint != nil {
		cp := *c.Checkpoint
		cp.TurnState = cloneTurnState(cp.TurnState)
		c.Checkpoint = &cp
	}
	drafts := make([]QueuedWorkBatchDraft, len(c.EnqueuedQueueBatches))
	for i, d := range c.EnqueuedQueueBatches {
		d.Payload = cloneRaw(d.Payload)
		drafts[i] = d
	}
	c.EnqueuedQueueBatches = drafts
}

func cloneResult(r *CommitResult) *CommitResult {
	if r == nil {
		return nil
	}
	out := *r
	if r.Manifest != nil {
		m := *r.Manifest
		m.TurnState = cloneTurnState(m.TurnState)
		out.Manifest = &m
	}
	out.EnqueuedQueueBatches = nil
	for _, b := range r.EnqueuedQueueBatches {
		out.EnqueuedQueueBatches = append(out.EnqueuedQueueBatches, cloneBatch(b))
	}
	out.UnbackedAttachmentIDs = slices.Clone(r.UnbackedAttachmentIDs)
	out.TurnInputApplications = nil
	for _, a := range r.TurnInputApplications {
		a.Payload = cloneRaw(a.Payload)
		out.TurnInputApplications = append(out.TurnInputApplications, a)
	}
	return &out
}
