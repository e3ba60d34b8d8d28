package session

import (
	"context"
	"time"

	"github.com/stowage-dev/stowage/manifest"
)

// CommitStore is lash's SessionCommitStore (docs/contract.md, "Session
// commit store"), bound to one session, with its mandatory
// AttachmentManifest supertrait.
type CommitStore interface {
	manifest.AttachmentManifest

	// DurabilityTier says whether state survives the loss of this process.
	DurabilityTier() DurabilityTier

	// LoadSession returns (nil, nil) if the session has no commit. Otherwise
	// the head's revision, config, frames and checkpoint (hydrated), the
	// merged token ledger, and the graph by scope: FullGraph is every live
	// node in insertion order with the persisted leaf; ActivePath is the
	// ancestor chain of the given (or persisted) leaf, root first, cut at
	// the first tombstoned or missing ancestor (empty with no leaf).
	LoadSession(ctx context.Context, scope ReadScope) (*PersistedRead, error)

	// LoadNode returns the node if it exists in the published head's graph
	// and is not tombstoned, else (nil, nil).
	LoadNode(ctx context.Context, nodeID string) (*NodeRecord, error)

	// CommitRuntimeState applies c atomically: everything or nothing
	// becomes visible, at the compare-and-swap of the session head.
	CommitRuntimeState(ctx context.Context, c RuntimeCommit) (*CommitResult, error)

	// SaveSessionMeta stores meta (last write wins).
	SaveSessionMeta(ctx context.Context, meta SessionMeta) error
	// LoadSessionMeta returns (nil, nil) if no meta was saved.
	LoadSessionMeta(ctx context.Context) (*SessionMeta, error)
}

// QueuedWorkStore is the queue side that grants the claims a commit
// settles.
type QueuedWorkStore interface {
	// EnqueueQueuedWork appends a batch; the store assigns its id.
	EnqueueQueuedWork(ctx context.Context, draft QueuedWorkBatchDraft) (QueuedWorkBatch, error)
	// ClaimQueuedWork claims ready turn work for the holder of fence,
	// which must be the live session execution lease, at the idle
	// boundary: the first candidate batch, alone unless it has a merge key
	// (then with the following batches of the same key and delivery
	// policy, up to max), never past a session command. Batches held by a
	// claim of an older lease generation are reclaimed (their claim is
	// superseded). Returns (nil, nil) when nothing is claimable.
	ClaimQueuedWork(ctx context.Context, fence LeaseFence, max int) (*QueuedWorkClaim, error)
	// ListQueuedWork returns the unsettled batches in enqueue order.
	ListQueuedWork(ctx context.Context) ([]QueuedWorkBatch, error)
}

// TurnInputStore is the turn-input side that grants the claims a commit
// settles.
type TurnInputStore interface {
	EnqueuePendingTurnInput(ctx context.Context, draft PendingTurnInputDraft) (PendingTurnInput, error)
	// ClaimTurnInputs claims up to max inputs for turnID: inputs for the
	// next turn, deferred ones, and those pending for turnID itself. Same
	// fencing and reclaim rules as ClaimQueuedWork.
	ClaimTurnInputs(ctx context.Context, fence LeaseFence, turnID string, max int) (*TurnInputClaim, error)
	// ListPendingTurnInputs returns the unsettled inputs in enqueue order.
	ListPendingTurnInputs(ctx context.Context) ([]PendingTurnInput, error)
}

// SessionExecutionLeaseStore grants the single-writer session execution
// lease. Expiry is judged by the store clock.
type SessionExecutionLeaseStore interface {
	// TryClaimSessionExecutionLease acquires the lease if it is free or
	// expired (fencing token = previous + 1); returns the live lease itself
	// to its own holder (same owner id and incarnation: re-entry, expiry
	// extended); else reports the holder as Busy.
	TryClaimSessionExecutionLease(ctx context.Context, owner LeaseOwner, ttl time.Duration) (LeaseClaimOutcome, error)
	// RenewSessionExecutionLease extends a live lease; a fence that is not
	// the live lease gets ErrSessionExecutionLeaseExpired.
	RenewSessionExecutionLease(ctx context.Context, fence LeaseFence, ttl time.Duration) (SessionExecutionLease, error)
	// ReleaseSessionExecutionLease releases the lease if completion matches
	// it (owner, incarnation, token, fencing token); otherwise does nothing.
	ReleaseSessionExecutionLease(ctx context.Context, completion LeaseFence) error
}
