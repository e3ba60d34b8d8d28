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
	return copyNodes(ns, func(dst, b []byte) []byte { return append(dst, b...) })
}

// copyNodes copies ns, their payloads appended by appendPayload into one
// arena (cloneNodes: as they are; ownNodes: in their canonical text).
func copyNodes(ns []NodeRecord, appendPayload func(dst, b []byte) []byte) []NodeRecord {
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
		arena = appendPayload(arena, b)
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
// its buffers: its JSON values in their canonical text (ownJSON; c passed
// checkCommitJSON), its drafts as ownDraft keeps them.
func ownCommit(c *RuntimeCommit) {
	c.Graph.Nodes = ownNodes(c.Graph.Nodes)
	c.AgentFrames = ownJSON(c.AgentFrames)
	if c.Checkpoint != nil {
		cp := *c.Checkpoint
		ts := &cp.TurnState
		ts.TokenUsage, ts.LastPromptUsage = ownJSON(ts.TokenUsage), ownJSON(ts.LastPromptUsage)
		ts.ProtocolTurnOptions = ownJSON(ts.ProtocolTurnOptions)
		c.Checkpoint = &cp
	}
	drafts := make([]QueuedWorkBatchDraft, len(c.EnqueuedQueueBatches))
	for i, d := range c.EnqueuedQueueBatches {
		drafts[i] = ownDraft(d)
	}
	c.EnqueuedQueueBatches = drafts
}

// ownNodes is cloneNodes for a commit's nodes (ownCommit): one allocation
// for the payloads, each in its canonical text.
func ownNodes(ns []NodeRecord) []NodeRecord {
	return copyNodes(ns, appendCanonicalJSON)
}

// ownDraft is the batch draft d as the store keeps it: its payload owned
// (ownJSON; d passed checkDraft) and its AvailableAt a stored time
// (stampTime).
func ownDraft(d QueuedWorkBatchDraft) QueuedWorkBatchDraft {
	d.Payload = ownJSON(d.Payload)
	d.AvailableAt = stampTime(d.AvailableAt)
	return d
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
