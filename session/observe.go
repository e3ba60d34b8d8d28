package session

import (
	"context"
	"errors"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/observe"
)

// endOp ends an observed operation with the revision it read or wrote (0:
// none) and its outcome.
func endOp(op observe.Op, rev uint64, err error) {
	if conflict := (*HeadRevisionConflictError)(nil); errors.As(err, &conflict) {
		rev = conflict.Actual
	}
	if rev > 0 {
		op.Revision(rev)
	}
	op.End(err)
}

func (r *CommitResult) revision() uint64 {
	if r == nil {
		return 0
	}
	return r.HeadRevision
}

func (r *PersistedRead) revision() uint64 {
	if r == nil {
		return 0
	}
	return r.HeadRevision
}

// observeResolved reports how resolve decided a head write that did not
// report success; a plain lost race (precondition failed) is no ambiguity,
// and neither is a definite refusal.
func (s *Store) observeResolved(ctx context.Context, putErr error, lost bool, err error) {
	var ev string
	switch {
	case errors.Is(putErr, objstore.ErrPreconditionFailed):
		return
	case errors.Is(err, ErrCommitOutcomeUnknown):
		ev = observe.ResolvedUnknown
	case err != nil:
		return
	case lost:
		ev = observe.ResolvedLost
	default:
		ev = observe.ResolvedLanded
	}
	observe.Event(ctx, s.obs, ev)
}
