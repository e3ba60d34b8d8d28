package session

import (
	"errors"
	"fmt"
)

// Size limits. Every limit is checked before anything is encoded or
// written, by summing the lengths of what the caller handed in (no copy),
// and a commit over a limit changes nothing. docs/format.md lists them.
const (
	// MaxNodeBytes bounds one graph node: its ids, timestamp and payload
	// (Event or PluginType and Body). Larger outputs belong in attachments.
	MaxNodeBytes = 16 << 20
	// MaxCommitBytes bounds one commit: its nodes, checkpoint bodies, agent
	// frames, enqueued batch payloads, usage rows and attachment ids
	// together.
	MaxCommitBytes = 64 << 20
	// MaxHeadBytes bounds the session head (its JSON before compression).
	// Graph nodes never make a head large: a commit whose nodes do not fit
	// the head's tail writes them to a segment in the same commit. What
	// stays in the head is the runtime state (agent frames, queue, inputs,
	// receipts, segment list, usage ledger). A commit's attachment ids
	// count as head state: each id's JSON once for the commit's delta and,
	// with a turn stamp, once more for the receipt, which may keep them
	// all as unbacked; a commit whose head state alone exceeds the limit
	// is refused before any I/O (about 31,000 ids with a stamp, 62,000
	// without). A commit whose distinct usage rows cannot fit it (at least
	// minLedgerRowBytes, 110, each plus source and model) is refused
	// before any I/O, in time linear in its rows.
	MaxHeadBytes = 4 << 20
)

// ErrTooLarge: a node, a commit or the head it would make exceeds its
// documented limit. Nothing was written. See *TooLargeError.
var ErrTooLarge = errors.New("session: too large")

// TooLargeError is ErrTooLarge with the limit that was exceeded. What names
// the thing measured ("node n1", "commit", "head").
type TooLargeError struct {
	What  string
	Size  int64
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%v: %s is %d bytes, the limit is %d", ErrTooLarge, e.What, e.Size, e.Limit)
}

func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// checkCommitSize enforces MaxNodeBytes and MaxCommitBytes on c. It only
// adds lengths: a commit of any size is refused in time proportional to its
// number of parts, with no allocation.
func checkCommitSize(c *RuntimeCommit) error {
	var total int64
	for i := range c.Graph.Nodes {
		n := int64(nodeBytes(c.Graph.Nodes[i]))
		if n > MaxNodeBytes {
			return &TooLargeError{What: fmt.Sprintf("node %.64q", c.Graph.Nodes[i].NodeID), Size: n, Limit: MaxNodeBytes}
		}
		total += n
	}
	// What a commit leaves in the head itself must fit it on its own.
	inHead := int64(len(c.AgentFrames)) + int64(len(c.Config.Model)+len(c.Config.ProviderID)+len(c.CurrentAgentFrameID))
	for _, b := range c.EnqueuedQueueBatches {
		inHead += int64(len(b.Payload)) + 256
	}
	inHead += attachmentHeadBytes(c)
	if inHead > MaxHeadBytes {
		return &TooLargeError{What: "head state of the commit", Size: inHead, Limit: MaxHeadBytes}
	}
	total += inHead
	if cp := c.Checkpoint; cp != nil {
		ts := cp.TurnState
		total += int64(len(cp.ToolState) + len(cp.PluginSnapshot) + len(cp.ExecutionState) +
			len(ts.TokenUsage) + len(ts.LastPromptUsage) + len(ts.ProtocolTurnOptions))
	}
	total += int64(len(c.UsageDeltas)) * 128
	if total > MaxCommitBytes {
		return &TooLargeError{What: "commit", Size: total, Limit: MaxCommitBytes}
	}
	return nil
}

// checkInHead enforces MaxHeadBytes on n bytes a call would add to the
// head (a queued batch, a turn input, the session meta), by their lengths
// before anything is validated further or encoded: an oversized value is
// refused at once, in memory that does not grow with it.
func checkInHead(what string, n int) error {
	if n > MaxHeadBytes {
		return &TooLargeError{What: what, Size: int64(n), Limit: MaxHeadBytes}
	}
	return nil
}

// metaBytes is the length of meta's strings (checkInHead).
func metaBytes(m *SessionMeta) int {
	return len(m.SessionID) + len(m.SessionName) + len(m.CreatedAt) + len(m.Model) + len(m.Cwd) +
		len(m.Relation.Kind) + len(m.Relation.ParentSessionID) + len(m.Relation.CausedBy)
}

// attachmentHeadBytes is what c's attachment ids may take in the head: each
// id's JSON (its length, quotes and a comma) in the commit's delta, and,
// with a turn stamp, again in the receipt, which keeps the ids reported
// unbacked (all of them, at worst) so that a retry returns them verbatim.
func attachmentHeadBytes(c *RuntimeCommit) int64 {
	var n int64
	for _, id := range c.CommittedAttachmentIDs {
		n += int64(len(id)) + 3
	}
	if c.TurnCommit != nil {
		n *= 2
	}
	return n
}

// checkHeadSize enforces MaxHeadBytes on an encoded head payload length.
func checkHeadSize(n int) error {
	if n > MaxHeadBytes {
		return &TooLargeError{What: "head", Size: int64(n), Limit: MaxHeadBytes}
	}
	return nil
}
