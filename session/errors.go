package session

import (
	"errors"
	"fmt"

	"github.com/stowage-dev/stowage/ids"
	"github.com/stowage-dev/stowage/internal/codec"
	"github.com/stowage-dev/stowage/objstore"
)

// Sentinel errors, one per lash StoreError variant plus stowage's own.
// Typed errors below carry fields and match their sentinel with errors.Is.
var (
	// ErrSessionBindingMismatch: the handle, head or an outbox batch belongs
	// to another session. See *SessionBindingMismatchError.
	ErrSessionBindingMismatch = errors.New("session: session binding mismatch")
	// ErrUnsupportedReadScope: the read scope is not supported (no scope is
	// unsupported today; kept for parity with lash).
	ErrUnsupportedReadScope = errors.New("session: unsupported read scope")
	// ErrHeadRevisionConflict: the expected head revision is not the actual
	// one. See *HeadRevisionConflictError.
	ErrHeadRevisionConflict = errors.New("session: head revision conflict")
	// ErrTurnCommitConflict: a turn was already committed with another hash,
	// or the stamp names another session. See *TurnCommitConflictError.
	ErrTurnCommitConflict = errors.New("session: runtime turn commit conflict")
	// ErrQueuedWorkClaimSuperseded: a queue completion no longer owns its
	// batches. See *ClaimSupersededError.
	ErrQueuedWorkClaimSuperseded = errors.New("session: queued work claim superseded")
	// ErrTurnInputClaimSuperseded: a turn-input completion no longer owns its
	// inputs. See *ClaimSupersededError.
	ErrTurnInputClaimSuperseded = errors.New("session: turn input claim superseded")
	// ErrUnsettledQueuedWorkClaim and ErrUnsettledTurnInputClaim are raised by
	// runtimes before calling the store; the store never returns them.
	ErrUnsettledQueuedWorkClaim = errors.New("session: unsettled queued work claim")
	ErrUnsettledTurnInputClaim  = errors.New("session: unsettled turn input claim")
	// ErrPendingTurnInputSourceKeyConflict: an unsettled input with the same
	// source key has a different payload.
	ErrPendingTurnInputSourceKeyConflict = errors.New("session: pending turn input source key conflict")
	// ErrSessionExecutionLeaseExpired: the given lease fence is not the live
	// lease of the session (expired, released or superseded). Nothing was
	// written.
	ErrSessionExecutionLeaseExpired = errors.New("session: session execution lease expired")
	// Schema-version errors of stored objects; distinct from each other and
	// from ErrCorrupt.
	ErrSchemaUnsupported = codec.ErrSchemaUnsupported
	ErrSchemaMissing     = codec.ErrSchemaMissing
	ErrSchemaInvalid     = codec.ErrSchemaInvalid
	// ErrCorrupt: a stored object is damaged or unparsable. A commit never
	// overwrites a head it cannot parse. See *CorruptError.
	ErrCorrupt = codec.ErrCorrupt
	// ErrBackend: the object store failed; the cause is wrapped too.
	ErrBackend = errors.New("session: backend error")
	// ErrInvalidID: a session, node, turn or other id is malformed. It is
	// ids.ErrInvalidID, which manifest.ErrInvalidID and attach.ErrInvalidID
	// are too.
	ErrInvalidID = ids.ErrInvalidID
	// ErrInvalidCommit: the commit is malformed (e.g. an unknown delta kind),
	// or so is an argument of another call (a draft's delivery policy, a
	// payload that is not JSON). Refused before any I/O.
	ErrInvalidCommit = errors.New("session: invalid commit")
	// ErrCheckpointComponentMissing: a commit's checkpoint carries a
	// component ref (a component without a body) that the session's current
	// checkpoint does not hold, so no stored body backs it. Nothing was
	// written. See *CheckpointComponentMissingError.
	ErrCheckpointComponentMissing = errors.New("session: checkpoint component missing")
	// ErrCommitOutcomeUnknown: the head write's response was lost and a
	// read-back could not decide whether it landed. It may still land; retry
	// the commit (with its turn stamp) to learn the outcome. Also matches
	// objstore.ErrOutcomeUnknown.
	ErrCommitOutcomeUnknown = errors.New("session: commit outcome unknown")
	// ErrContention: an optimistic update lost its compare-and-swap too many
	// times in a row.
	ErrContention = errors.New("session: too much contention on the session head")
)

// SessionBindingMismatchError is ErrSessionBindingMismatch with its fields.
type SessionBindingMismatchError struct {
	Bound     string
	Attempted string
}

func (e *SessionBindingMismatchError) Error() string {
	return fmt.Sprintf("%v: bound to %q, attempted %q", ErrSessionBindingMismatch, e.Bound, e.Attempted)
}

func (e *SessionBindingMismatchError) Is(target error) bool {
	return target == ErrSessionBindingMismatch
}

// HeadRevisionConflictError is ErrHeadRevisionConflict with its fields.
// Expected is nil when the commit expected no head.
type HeadRevisionConflictError struct {
	Expected *uint64
	Actual   uint64
}

func (e *HeadRevisionConflictError) Error() string {
	exp := "none"
	if e.Expected != nil {
		exp = fmt.Sprint(*e.Expected)
	}
	return fmt.Sprintf("%v: expected %s, actual %d", ErrHeadRevisionConflict, exp, e.Actual)
}

func (e *HeadRevisionConflictError) Is(target error) bool { return target == ErrHeadRevisionConflict }

// TurnCommitConflictError is ErrTurnCommitConflict with its fields.
type TurnCommitConflictError struct {
	SessionID string
	TurnID    string
}

func (e *TurnCommitConflictError) Error() string {
	return fmt.Sprintf("%v: session %q turn %q", ErrTurnCommitConflict, e.SessionID, e.TurnID)
}

func (e *TurnCommitConflictError) Is(target error) bool { return target == ErrTurnCommitConflict }

// ClaimSupersededError is ErrQueuedWorkClaimSuperseded (Queue) or
// ErrTurnInputClaimSuperseded (!Queue) with its fields.
type ClaimSupersededError struct {
	Queue     bool
	SessionID string
	ClaimID   string
}

func (e *ClaimSupersededError) sentinel() error {
	if e.Queue {
		return ErrQueuedWorkClaimSuperseded
	}
	return ErrTurnInputClaimSuperseded
}

func (e *ClaimSupersededError) Error() string {
	return fmt.Sprintf("%v: session %q claim %q", e.sentinel(), e.SessionID, e.ClaimID)
}

func (e *ClaimSupersededError) Is(target error) bool { return target == e.sentinel() }

// SourceKeyConflictError is ErrPendingTurnInputSourceKeyConflict with its
// fields.
type SourceKeyConflictError struct {
	SessionID string
	SourceKey string
	// ExistingInputID is the input (or, for queued work, the batch) the
	// key already names.
	ExistingInputID string
}

func (e *SourceKeyConflictError) Error() string {
	return fmt.Sprintf("%v: session %q source key %q (existing %q)", ErrPendingTurnInputSourceKeyConflict,
		e.SessionID, e.SourceKey, e.ExistingInputID)
}

func (e *SourceKeyConflictError) Is(target error) bool {
	return target == ErrPendingTurnInputSourceKeyConflict
}

// CheckpointComponentMissingError is ErrCheckpointComponentMissing with its
// fields: the component ("tool_state", "plugin_snapshot" or
// "execution_state") and the ref it carried.
type CheckpointComponentMissingError struct {
	SessionID string
	Component string
	Ref       string
}

func (e *CheckpointComponentMissingError) Error() string {
	return fmt.Sprintf("%v: session %q component %s ref %q is not in the current checkpoint (send its body)",
		ErrCheckpointComponentMissing, e.SessionID, e.Component, e.Ref)
}

func (e *CheckpointComponentMissingError) Is(target error) bool {
	return target == ErrCheckpointComponentMissing
}

// LeaseExpiredError is ErrSessionExecutionLeaseExpired with its fields.
type LeaseExpiredError struct {
	SessionID    string
	FencingToken uint64
}

func (e *LeaseExpiredError) Error() string {
	return fmt.Sprintf("%v: session %q fencing token %d", ErrSessionExecutionLeaseExpired, e.SessionID, e.FencingToken)
}

func (e *LeaseExpiredError) Is(target error) bool { return target == ErrSessionExecutionLeaseExpired }

// CorruptError names a stored object that failed to decode. It matches
// ErrCorrupt, or one of the schema errors, through its cause.
type CorruptError struct {
	Key string
	Err error
}

func (e *CorruptError) Error() string { return fmt.Sprintf("session: object %q: %v", e.Key, e.Err) }
func (e *CorruptError) Unwrap() error { return e.Err }

// outcomeUnknownError matches both ErrCommitOutcomeUnknown and
// objstore.ErrOutcomeUnknown.
type outcomeUnknownError struct{ cause error }

func (e *outcomeUnknownError) Error() string {
	return fmt.Sprintf("%v: %v", ErrCommitOutcomeUnknown, e.cause)
}

func (e *outcomeUnknownError) Is(target error) bool {
	return target == ErrCommitOutcomeUnknown || target == objstore.ErrOutcomeUnknown
}

func (e *outcomeUnknownError) Unwrap() error { return e.cause }

// backendErr wraps an object store failure so it matches ErrBackend as well
// as the objstore sentinel it carries.
func backendErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %s: %w", ErrBackend, op, err)
}
