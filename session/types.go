package session

import (
	"encoding/json"
	"time"
)

// DurabilityTier is lash's DurabilityTier (docs/contract.md, "Durability tier").
type DurabilityTier int

const (
	// Inline: state and coordination may be confined to one OS process.
	Inline DurabilityTier = iota
	// Durable: the journal and coordination survive the loss of the owning
	// process, across processes.
	Durable
)

func (t DurabilityTier) String() string {
	if t == Durable {
		return "durable"
	}
	return "inline"
}

// RelationKind says whether a session is a root or a child session.
type RelationKind string

// Relation kinds.
const (
	RelationRoot  RelationKind = "root"
	RelationChild RelationKind = "child"
)

// SessionRelation is Root, or Child of ParentSessionID (optionally caused by
// a node of the parent).
type SessionRelation struct {
	Kind            RelationKind `json:"kind"`
	ParentSessionID string       `json:"parent_session_id,omitempty"`
	CausedBy        string       `json:"caused_by,omitempty"`
}

// SessionMeta describes a session. Saved with last-write-wins semantics.
type SessionMeta struct {
	SessionID   string          `json:"session_id"`
	SessionName string          `json:"session_name"`
	CreatedAt   string          `json:"created_at"` // RFC 3339
	Model       string          `json:"model"`
	Cwd         string          `json:"cwd,omitempty"`
	Relation    SessionRelation `json:"relation"`
}

// ReadScope selects what LoadSession returns of the graph. The zero value is
// FullGraph().
type ReadScope struct {
	// ActivePath selects the ancestor chain of a leaf instead of the full
	// graph.
	ActivePath bool
	// LeafNodeID is the leaf of the active path; empty means the persisted
	// leaf. Ignored for the full graph.
	LeafNodeID string
}

// FullGraph returns the scope of every live node in insertion order (the
// zero ReadScope).
func FullGraph() ReadScope { return ReadScope{} }

// ActivePath is the scope of leaf's ancestor chain, root first; an empty
// leaf means the persisted leaf.
func ActivePath(leaf string) ReadScope { return ReadScope{ActivePath: true, LeafNodeID: leaf} }

// PayloadKind tags a node's payload.
type PayloadKind string

// Payload kinds.
const (
	PayloadEvent  PayloadKind = "event"
	PayloadPlugin PayloadKind = "plugin"
)

// NodeRecord is one node of a session graph. The payload is flattened into
// the record and tagged by Kind: Event for "event", PluginType and Body for
// "plugin". Payload JSON is opaque to the store.
type NodeRecord struct {
	NodeID       string `json:"node_id"`
	ParentNodeID string `json:"parent_node_id,omitempty"`
	CausedBy     string `json:"caused_by,omitempty"`
	AgentFrameID string `json:"agent_frame_id,omitempty"`
	// Timestamp is when the node was made, in RFC 3339 (as
	// time.Time.Format(time.RFC3339Nano) writes it, e.g.
	// "2026-01-02T03:04:05.123Z"), or empty; a commit refuses any other
	// form. The store keeps the string as given.
	Timestamp  string          `json:"timestamp"`
	Kind       PayloadKind     `json:"kind"`
	Event      json.RawMessage `json:"event,omitempty"`
	PluginType string          `json:"plugin_type,omitempty"`
	Body       json.RawMessage `json:"body,omitempty"`
}

// Graph is a list of nodes and the leaf ("" = none).
type Graph struct {
	Nodes      []NodeRecord `json:"nodes"`
	LeafNodeID string       `json:"leaf_node_id,omitempty"`
}

// DeltaKind is the variant of a GraphDelta.
type DeltaKind string

// Graph delta kinds. The zero kind keeps the graph and the persisted leaf.
const (
	DeltaKeep        DeltaKind = ""
	DeltaUnchanged   DeltaKind = "unchanged"
	DeltaAppend      DeltaKind = "append"
	DeltaReplaceFull DeltaKind = "replace_full"
)

// GraphDelta is lash's GraphCommitDelta.
//
//   - Unchanged: no nodes; the persisted leaf becomes Leaf.
//   - Append: Nodes are added in order, the leaf becomes Leaf (required,
//     also for an append of no node: an append never clears the leaf). A node whose
//     id already exists replaces it in place (upsert, un-tombstoning it).
//   - ReplaceFull: every existing node is tombstoned and Nodes become the
//     graph, with Leaf its leaf.
type GraphDelta struct {
	Kind  DeltaKind    `json:"kind"`
	Nodes []NodeRecord `json:"nodes,omitempty"`
	Leaf  string       `json:"leaf,omitempty"`
}

// SessionConfig is the runtime configuration persisted with the head.
type SessionConfig struct {
	ProviderID string `json:"provider_id"`
	Model      string `json:"model"`
}

// TurnState is the turn bookkeeping of a checkpoint. The usage and option
// fields are opaque JSON.
type TurnState struct {
	TurnIndex           uint64          `json:"turn_index"`
	TokenUsage          json.RawMessage `json:"token_usage,omitempty"`
	LastPromptUsage     json.RawMessage `json:"last_prompt_usage,omitempty"`
	ProtocolTurnOptions json.RawMessage `json:"protocol_turn_options,omitempty"`
}

// HydratedCheckpoint is a checkpoint with its bodies. For each of the three
// components: a non-nil body is stored as a content-addressed blob and its
// ref becomes the lowercase hex SHA-256 of the body; a nil body carries the
// given ref through unchanged, which must then be empty or a ref of the
// session's current checkpoint, else the commit fails with
// *CheckpointComponentMissingError and writes nothing.
type HydratedCheckpoint struct {
	TurnState              TurnState `json:"turn_state"`
	ToolStateRef           string    `json:"tool_state_ref,omitempty"`
	ToolState              []byte    `json:"tool_state,omitempty"`
	PluginSnapshotRef      string    `json:"plugin_snapshot_ref,omitempty"`
	PluginSnapshot         []byte    `json:"plugin_snapshot,omitempty"`
	PluginSnapshotRevision uint64    `json:"plugin_snapshot_revision"`
	ExecutionStateRef      string    `json:"execution_state_ref,omitempty"`
	ExecutionState         []byte    `json:"execution_state,omitempty"`
}

// CheckpointSchemaVersion is the schema version of SessionCheckpoint.
const CheckpointSchemaVersion = 1

// SessionCheckpoint is the manifest of a checkpoint: refs plus turn state.
// It is itself stored as a blob; its hash is the checkpoint_ref.
type SessionCheckpoint struct {
	SchemaVersion          uint32    `json:"schema_version"`
	TurnState              TurnState `json:"turn_state"`
	ToolStateRef           string    `json:"tool_state_ref,omitempty"`
	PluginSnapshotRef      string    `json:"plugin_snapshot_ref,omitempty"`
	PluginSnapshotRevision uint64    `json:"plugin_snapshot_revision"`
	ExecutionStateRef      string    `json:"execution_state_ref,omitempty"`
}

// TokenLedgerEntry is a usage row. Reads merge rows per (Source, Model) by
// summing, saturating at the int64 bounds.
type TokenLedgerEntry struct {
	Source          string `json:"source"`
	Model           string `json:"model"`
	Input           int64  `json:"input"`
	Output          int64  `json:"output"`
	CacheReadInput  int64  `json:"cache_read_input"`
	CacheWriteInput int64  `json:"cache_write_input"`
	ReasoningOutput int64  `json:"reasoning_output"`
}

// TurnCommitStamp identifies a turn's commit for idempotent retries. The
// hash is opaque to the store. SessionID may be left empty: it is the
// committing handle's session.
type TurnCommitStamp struct {
	SessionID      string `json:"session_id"`
	TurnID         string `json:"turn_id"`
	TurnCommitHash string `json:"turn_commit_hash"`
}

// LivenessKind says how a lease owner's liveness can be judged.
type LivenessKind string

// Liveness kinds.
const (
	LivenessOpaque       LivenessKind = "opaque"
	LivenessLocalProcess LivenessKind = "local_process"
)

// OwnerLiveness is LocalProcess{host, boot, pid, start} or Opaque.
type OwnerLiveness struct {
	Kind  LivenessKind `json:"kind"`
	Host  string       `json:"host,omitempty"`
	Boot  string       `json:"boot,omitempty"`
	PID   uint32       `json:"pid,omitempty"`
	Start uint64       `json:"start,omitempty"`
}

// LeaseOwner identifies a lease holder.
type LeaseOwner struct {
	OwnerID       string        `json:"owner_id"`
	IncarnationID string        `json:"incarnation_id"`
	Liveness      OwnerLiveness `json:"liveness"`
}

// LeaseFence proves the holding of a session execution lease. The same
// fields serve as the completion that releases it.
type LeaseFence struct {
	SessionID    string     `json:"session_id"`
	Owner        LeaseOwner `json:"owner"`
	LeaseToken   string     `json:"lease_token"`
	FencingToken uint64     `json:"fencing_token"`
}

// SessionExecutionLease is a granted lease: its fence and its expiry.
type SessionExecutionLease struct {
	LeaseFence
	ExpiresAt time.Time `json:"expires_at"`
}

// Fence returns the lease's fence (also its completion).
func (l SessionExecutionLease) Fence() LeaseFence { return l.LeaseFence }

// RuntimeCommit is everything one turn boundary persists, atomically.
type RuntimeCommit struct {
	// SessionID may be left empty: a commit is for the session of the
	// handle it is given to. If set it must be that session, else
	// *SessionBindingMismatchError (an unbound handle is bound by its
	// first commit, which must then name the session).
	SessionID string
	// ExpectedHeadRevision is the revision the commit builds on; nil counts
	// as 0 (no head).
	ExpectedHeadRevision *uint64
	// SessionExecutionLease, if set, must be the live lease of the session
	// at commit time, else ErrSessionExecutionLeaseExpired and nothing is
	// written.
	SessionExecutionLease *LeaseFence
	// ReleaseSessionExecutionLease, if set, releases the lease it names
	// with the commit (no-op if it no longer matches).
	ReleaseSessionExecutionLease *LeaseFence
	// Config is the runtime configuration (provider and model) persisted
	// with the head. The zero SessionConfig keeps the stored one, so a
	// commit that leaves it out does not wipe it; a non-zero one replaces
	// it whole (set both fields).
	Config              SessionConfig
	AgentFrames         json.RawMessage
	CurrentAgentFrameID string
	Graph               GraphDelta
	// Checkpoint, if nil, keeps the current checkpoint.
	Checkpoint                 *HydratedCheckpoint
	UsageDeltas                []TokenLedgerEntry
	TurnCommit                 *TurnCommitStamp
	CompletedQueueClaims       []QueuedWorkCompletion
	CompletedTurnInputClaims   []TurnInputCompletion
	EnqueuedQueueBatches       []QueuedWorkBatchDraft
	InterruptedTurnInputTurnID string
	CommittedAttachmentIDs     []string
}

// CommitResult is lash's RuntimeCommitResult. With a turn stamp it is stored
// verbatim as the turn receipt and returned as is by an identical retry.
type CommitResult struct {
	HeadRevision          uint64                 `json:"head_revision"`
	CheckpointRef         string                 `json:"checkpoint_ref,omitempty"`
	Manifest              *SessionCheckpoint     `json:"manifest,omitempty"`
	EnqueuedQueueBatches  []QueuedWorkBatch      `json:"enqueued_queue_batches,omitempty"`
	TurnInputApplications []TurnInputApplication `json:"turn_input_applications,omitempty"`
	// UnbackedAttachmentIDs are the attachment ids the commit named (or its
	// turn owned) that this session holds no bytes for: an id carried from
	// a parent session, an intent whose upload never finished. The commit
	// went through without them; no ref was recorded or stamped for them.
	UnbackedAttachmentIDs []string `json:"unbacked_attachment_ids,omitempty"`
}

// PersistedRead is what LoadSession returns.
type PersistedRead struct {
	SessionID           string
	HeadRevision        uint64
	Config              SessionConfig
	AgentFrames         json.RawMessage
	CurrentAgentFrameID string
	Graph               Graph
	CheckpointRef       string
	Checkpoint          *HydratedCheckpoint
	TokenLedger         []TokenLedgerEntry
}
