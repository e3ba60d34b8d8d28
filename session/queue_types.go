package session

import (
	"encoding/json"
	"fmt"
	"time"
)

// QueuedWorkBatchDraft is a batch to enqueue; the store assigns its id.
// SourceKey, if set, makes the enqueue idempotent: while a batch with the
// same key is unsettled, enqueueing it again returns that batch (its
// original payload) and admits nothing. SessionID may be left empty: it is
// the session of the handle (or commit) that enqueues it.
type QueuedWorkBatchDraft struct {
	SessionID string          `json:"session_id"`
	SourceKey string          `json:"source_key,omitempty"`
	Payload   json.RawMessage `json:"payload,omitempty"`
	// AvailableAt, if set, keeps the batch from being claimed before that
	// time by the store clock (it is listed meanwhile).
	AvailableAt time.Time `json:"available_at,omitzero"`
	// Delivery is when the batch may reach the session: at the next idle
	// boundary (DeliverAfterCurrentTurnCommit, the default) or already at a
	// checkpoint of the running turn (DeliverEarliestSafeBoundary).
	Delivery DeliveryPolicy `json:"delivery_policy,omitempty"`
	// Class says whether the batch is turn work (the default) or a session
	// command. A command is claimed alone, only by
	// ClaimLeadingSessionCommand; neither class overtakes the other.
	Class QueuedWorkClass `json:"class,omitempty"`
	// MergeKey, if set, lets the batch join adjacent turn work with the
	// same key and delivery policy in one claim; a batch without one is
	// exclusive (claimed alone).
	MergeKey string `json:"merge_key,omitempty"`
}

// DeliveryPolicy is when queued work may reach the session.
type DeliveryPolicy string

// Delivery policies.
const (
	// DeliverAfterCurrentTurnCommit: only at an idle boundary, after the
	// running turn (if any) has committed. The default.
	DeliverAfterCurrentTurnCommit DeliveryPolicy = "after_current_turn_commit"
	// DeliverEarliestSafeBoundary: at the next safe boundary, which may be
	// a checkpoint of the running turn.
	DeliverEarliestSafeBoundary DeliveryPolicy = "earliest_safe_boundary"
)

// QueuedWorkClass is the ingress family of a batch.
type QueuedWorkClass string

// Work classes.
const (
	// ClassTurnWork is work a turn consumes (the default).
	ClassTurnWork QueuedWorkClass = "turn_work"
	// ClassSessionCommand is a command the runtime applies to the session
	// (e.g. refresh a tool catalog), one batch per claim.
	ClassSessionCommand QueuedWorkClass = "session_command"
)

// QueuedWorkClaimBoundary is where a claim is made: idle, between turns,
// or at a checkpoint of a running turn.
type QueuedWorkClaimBoundary string

// Claim boundaries.
const (
	// BoundaryIdle admits work of either delivery policy.
	BoundaryIdle QueuedWorkClaimBoundary = "idle"
	// BoundaryActiveTurnCheckpoint admits only work whose first batch is
	// DeliverEarliestSafeBoundary.
	BoundaryActiveTurnCheckpoint QueuedWorkClaimBoundary = "active_turn_checkpoint"
)

// QueuedWorkClaimRefusal says why a claim of turn work took nothing.
type QueuedWorkClaimRefusal string

// Claim refusals.
const (
	// RefusalEmpty: no unsettled batch is waiting (none is, or every one
	// is held by a live claim).
	RefusalEmpty QueuedWorkClaimRefusal = "empty"
	// RefusalNotYetAvailable: batches wait, but none is available yet
	// (AvailableAt); a later claim will find them.
	RefusalNotYetAvailable QueuedWorkClaimRefusal = "not_yet_available"
	// RefusalCommandAtHead: the first claimable batch is a session command,
	// which turn work never overtakes.
	RefusalCommandAtHead QueuedWorkClaimRefusal = "command_at_head"
	// RefusalDeliveryBoundaryBlocked: the first claimable batch waits for
	// the idle boundary (DeliverAfterCurrentTurnCommit).
	RefusalDeliveryBoundaryBlocked QueuedWorkClaimRefusal = "delivery_boundary_blocked"
)

// QueuedWorkClaimOutcome is a claim, or (Claim nil) the refusal that took
// nothing.
type QueuedWorkClaimOutcome struct {
	Claim   *QueuedWorkClaim
	Refusal QueuedWorkClaimRefusal
}

// SelectedQueuedWorkClaim is the result of ClaimQueuedWorkByIDs: the claim
// of the named batches it could take (nil if none), and the named ids no
// unsettled batch has any more (settled, cancelled or never enqueued):
// those are already satisfied.
type SelectedQueuedWorkClaim struct {
	Claim            *QueuedWorkClaim
	AlreadySatisfied []string
}

// CheckpointWorkClaim is the result of ClaimCheckpointWork: the claims of
// both families taken at one checkpoint, either or both nil.
type CheckpointWorkClaim struct {
	Inputs *TurnInputClaim
	Queue  *QueuedWorkClaim
}

// QueuedWorkBatch is an enqueued batch.
type QueuedWorkBatch struct {
	BatchID    string          `json:"batch_id"`
	SessionID  string          `json:"session_id"`
	SourceKey  string          `json:"source_key,omitempty"`
	EnqueueSeq uint64          `json:"enqueue_seq"`
	Payload    json.RawMessage `json:"payload,omitempty"`
	EnqueuedAt time.Time       `json:"enqueued_at"`
	// AvailableAt is the draft's: not claimable before it (zero: at once).
	AvailableAt time.Time `json:"available_at,omitzero"`
	// Delivery, Class and MergeKey are the draft's, defaults filled in.
	Delivery DeliveryPolicy  `json:"delivery_policy,omitempty"`
	Class    QueuedWorkClass `json:"class,omitempty"`
	MergeKey string          `json:"merge_key,omitempty"`
}

// QueuedWorkClaim is a claim on a prefix of ready batches. It pins the
// session lease generation (the fencing token of the lease that claimed it):
// when a holder of a later lease reclaims, ClaimID and LeaseToken rotate and
// this claim is superseded. FencingToken counts the claims of its first
// batch: every claim of a batch (after an abandon, or a reclaim by a later
// generation) has a greater one.
type QueuedWorkClaim struct {
	SessionID              string            `json:"session_id"`
	ClaimID                string            `json:"claim_id"`
	LeaseToken             string            `json:"lease_token"`
	SessionLeaseGeneration uint64            `json:"session_lease_generation"`
	FencingToken           uint64            `json:"fencing_token"`
	Batches                []QueuedWorkBatch `json:"batches"`
}

// Completion returns the completion that settles every batch of c.
func (c QueuedWorkClaim) Completion() QueuedWorkCompletion {
	ids := make([]string, len(c.Batches))
	for i, b := range c.Batches {
		ids[i] = b.BatchID
	}
	return QueuedWorkCompletion{SessionID: c.SessionID, ClaimID: c.ClaimID, LeaseToken: c.LeaseToken, BatchIDs: ids}
}

// QueuedWorkCompletion settles claimed batches in a commit. It must own all
// of BatchIDs with matching ClaimID and LeaseToken.
type QueuedWorkCompletion struct {
	SessionID  string   `json:"session_id"`
	ClaimID    string   `json:"claim_id"`
	LeaseToken string   `json:"lease_token"`
	BatchIDs   []string `json:"batch_ids"`
}

// TurnInputState is the state of a pending turn input.
type TurnInputState string

// Turn input states.
const (
	// InputPending waits for the next turn.
	InputPending TurnInputState = "pending"
	// InputPendingActive waits to be folded into the active turn ActiveTurnID.
	InputPendingActive TurnInputState = "pending_active"
	// InputDeferredNextTurn was meant for a turn that was interrupted; it
	// waits for the next turn.
	InputDeferredNextTurn TurnInputState = "deferred_next_turn"
	// InputClaimed is held by a claim.
	InputClaimed TurnInputState = "claimed"
	// InputCompleted (terminal): a commit applied it. Kept as a tombstone so
	// a replay of its source key returns it instead of admitting it again.
	InputCompleted TurnInputState = "completed"
	// InputCancelled (terminal): cancelled before any claim settled it.
	InputCancelled TurnInputState = "cancelled"
)

// Terminal reports whether the input is settled (a tombstone).
func (s TurnInputState) Terminal() bool { return s == InputCompleted || s == InputCancelled }

// PendingTurnInputDraft is an input to enqueue. SourceKey, if set, makes the
// enqueue idempotent: an input with the same key and payload, unsettled or
// a tombstone (completed, cancelled), is returned as is and nothing is
// admitted; one with a different payload is a
// PendingTurnInputSourceKeyConflict naming the existing input. SessionID
// may be left empty: it is the enqueueing handle's session.
type PendingTurnInputDraft struct {
	SessionID    string          `json:"session_id"`
	SourceKey    string          `json:"source_key,omitempty"`
	ActiveTurnID string          `json:"active_turn_id,omitempty"` // "" = next turn
	Payload      json.RawMessage `json:"payload,omitempty"`
	// MinBoundary is the earliest checkpoint of the active turn the input
	// may join: InputAfterWork (the default) or InputBeforeCompletion. Only
	// with an ActiveTurnID.
	MinBoundary TurnInputCheckpointBoundary `json:"min_boundary,omitempty"`
}

// TurnInputCheckpointBoundary is the earliest checkpoint of its active turn
// an input may join.
type TurnInputCheckpointBoundary string

// Input checkpoint boundaries.
const (
	// InputAfterWork: at any checkpoint (the default).
	InputAfterWork TurnInputCheckpointBoundary = "after_work"
	// InputBeforeCompletion: only at the before-completion checkpoint.
	InputBeforeCompletion TurnInputCheckpointBoundary = "before_completion"
)

// CheckpointKind is the checkpoint of a running turn a claim is made at.
type CheckpointKind string

// Checkpoints.
const (
	// CheckpointAfterWork follows a unit of the turn's work; it admits
	// InputAfterWork inputs.
	CheckpointAfterWork CheckpointKind = "after_work"
	// CheckpointBeforeCompletion precedes the turn's completion; it admits
	// every input pending for the turn.
	CheckpointBeforeCompletion CheckpointKind = "before_completion"
)

// admits reports whether an input with min boundary b may join a claim at
// checkpoint k.
func (k CheckpointKind) admits(b TurnInputCheckpointBoundary) bool {
	return k == CheckpointBeforeCompletion || b != InputBeforeCompletion
}

// PendingTurnInput is an unsettled turn input.
type PendingTurnInput struct {
	InputID      string `json:"input_id"`
	SessionID    string `json:"session_id"`
	SourceKey    string `json:"source_key,omitempty"`
	ActiveTurnID string `json:"active_turn_id,omitempty"`
	// MinBoundary is the draft's (for an input of an active turn).
	MinBoundary TurnInputCheckpointBoundary `json:"min_boundary,omitempty"`
	EnqueueSeq  uint64                      `json:"enqueue_seq"`
	State       TurnInputState              `json:"state"`
	Payload     json.RawMessage             `json:"payload,omitempty"`
	EnqueuedAt  time.Time                   `json:"enqueued_at"`
	// ClaimID and ClaimTurnID are set while State is InputClaimed.
	ClaimID     string `json:"claim_id,omitempty"`
	ClaimTurnID string `json:"claim_turn_id,omitempty"`
}

// TurnInputClaim is a claim on turn inputs for TurnID.
type TurnInputClaim struct {
	SessionID              string             `json:"session_id"`
	ClaimID                string             `json:"claim_id"`
	LeaseToken             string             `json:"lease_token"`
	TurnID                 string             `json:"turn_id"`
	SessionLeaseGeneration uint64             `json:"session_lease_generation"`
	Inputs                 []PendingTurnInput `json:"inputs"`
}

// Completion returns the completion that settles every input of c.
func (c TurnInputClaim) Completion() TurnInputCompletion {
	ids := make([]string, len(c.Inputs))
	for i, in := range c.Inputs {
		ids[i] = in.InputID
	}
	return TurnInputCompletion{SessionID: c.SessionID, ClaimID: c.ClaimID, LeaseToken: c.LeaseToken, InputIDs: ids}
}

// TurnInputCompletion settles claimed inputs in a commit.
type TurnInputCompletion struct {
	SessionID  string   `json:"session_id"`
	ClaimID    string   `json:"claim_id"`
	LeaseToken string   `json:"lease_token"`
	InputIDs   []string `json:"input_ids"`
}

// TurnInputApplication records that a commit applied (completed) an input.
type TurnInputApplication struct {
	InputID    string          `json:"input_id"`
	TurnID     string          `json:"turn_id,omitempty"`
	ClaimID    string          `json:"claim_id"`
	SourceKey  string          `json:"source_key,omitempty"`
	EnqueueSeq uint64          `json:"enqueue_seq"`
	Payload    json.RawMessage `json:"payload,omitempty"`
}

// LeaseClaimOutcome is the result of TryClaimSessionExecutionLease: either
// Acquired, or Busy with the current holder.
type LeaseClaimOutcome struct {
	Acquired *SessionExecutionLease
	Busy     *SessionExecutionLease
}

// CancelTarget names a turn input to cancel: by InputID, or (if InputID is
// empty) by SourceKey.
type CancelTarget struct {
	InputID   string `json:"input_id,omitempty"`
	SourceKey string `json:"source_key,omitempty"`
}

// validate refuses a target that names neither an input id nor a source
// key, or names either by a malformed id, with ErrInvalidID.
func (tg CancelTarget) validate() error {
	if tg.InputID == "" && tg.SourceKey == "" {
		return fmt.Errorf("%w: a cancel target names neither an input id nor a source key", ErrInvalidID)
	}
	if err := validateOptionalID("input id", tg.InputID); err != nil {
		return err
	}
	return validateOptionalID("source key", tg.SourceKey)
}

// CancelOutcomeKind is what a cancel found.
type CancelOutcomeKind string

// Cancel outcomes.
const (
	// Cancelled: the input was pending (or held by a stale claim) and is now
	// a cancelled tombstone.
	Cancelled CancelOutcomeKind = "cancelled"
	// AlreadyClaimed: a live claim holds it; nothing changed.
	AlreadyClaimed CancelOutcomeKind = "already_claimed"
	// AlreadyCompleted: a commit applied it; nothing changed.
	AlreadyCompleted CancelOutcomeKind = "already_completed"
	// AlreadyCancelled: it was cancelled before; nothing changed.
	AlreadyCancelled CancelOutcomeKind = "already_cancelled"
	// NotFound: no such input (or its tombstone was dropped).
	NotFound CancelOutcomeKind = "not_found"
)

// CancelOutcome is the outcome of cancelling one input; Input is the input
// as it now is (nil when NotFound).
type CancelOutcome struct {
	Kind  CancelOutcomeKind `json:"kind"`
	Input *PendingTurnInput `json:"input,omitempty"`
}

// CancelResult pairs a target with its outcome.
type CancelResult struct {
	Target  CancelTarget  `json:"target"`
	Outcome CancelOutcome `json:"outcome"`
}

// SuffixCancelOutcome is the outcome of cancelling an input and every later
// one: AnchorFound false (and no outcomes) if the anchor is unknown.
type SuffixCancelOutcome struct {
	AnchorFound bool            `json:"anchor_found"`
	Outcomes    []CancelOutcome `json:"outcomes,omitempty"`
}
