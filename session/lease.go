package session

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// The session execution lease lives in the head, so granting, renewing and
// releasing it are compare-and-swaps of the head (they bump its write
// generation, not its revision), and a commit checks its fence against the
// very head it replaces.

// MaxLeaseTTL bounds lease durations so expiry arithmetic never overflows.
const MaxLeaseTTL = 365 * 24 * time.Hour

func clampTTL(ttl time.Duration) time.Duration {
	switch {
	case ttl <= 0:
		return time.Millisecond
	case ttl > MaxLeaseTTL:
		return MaxLeaseTTL
	}
	return ttl
}

// leaseMatches reports whether fence names lease l (owner, incarnation,
// token and fencing token), regardless of expiry.
func leaseMatches(l *SessionExecutionLease, f LeaseFence) bool {
	return l != nil && l.SessionID == f.SessionID && l.LeaseToken == f.LeaseToken &&
		l.FencingToken == f.FencingToken && l.Owner.OwnerID == f.Owner.OwnerID &&
		l.Owner.IncarnationID == f.Owner.IncarnationID
}

// leaseLive reports whether fence is the unexpired lease of h at now.
func leaseLive(h *head, f LeaseFence, now time.Time) bool {
	return h.live() && leaseMatches(h.Lease, f) && now.Before(h.Lease.ExpiresAt)
}

// requireLease is the fence check of the queue and input claim operations.
func requireLease(sid string, h *head, f LeaseFence, now time.Time) error {
	if f.SessionID != sid || !leaseLive(h, f, now) {
		return &LeaseExpiredError{SessionID: sid, FencingToken: f.FencingToken}
	}
	return nil
}

// TryClaimSessionExecutionLease implements SessionExecutionLeaseStore. Of
// concurrent claims of a free lease exactly one is Acquired; the others see
// it Busy. The live lease's own holder (same owner id and incarnation) gets
// it back (re-entry): Acquired with the same lease and fencing tokens, its
// expiry extended to now+ttl if that is later.
func (s *Store) TryClaimSessionExecutionLease(ctx context.Context, owner LeaseOwner, ttl time.Duration) (LeaseClaimOutcome, error) {
	return s.claimLease(ctx, owner, ttl, func(sid string, base *head, now time.Time, ttl time.Duration, out *LeaseClaimOutcome) (plan, error) {
		if l := base.Lease; l != nil && now.Before(l.ExpiresAt) {
			if l.Owner.OwnerID != owner.OwnerID || l.Owner.IncarnationID != owner.IncarnationID {
				busy := *l
				out.Busy = &busy
				return plan{}, nil
			}
			// Re-entry: the holder's own incarnation gets its lease back,
			// same token and fencing token, expiry extended if ttl reaches
			// further.
			if until := leaseExpiry(now, ttl); !until.After(l.ExpiresAt) {
				same := *l
				out.Acquired = &same
				return plan{}, nil
			}
			next := base.clone()
			next.Lease.ExpiresAt = leaseExpiry(now, ttl)
			same := *next.Lease
			out.Acquired = &same
			return plan{next: next}, nil
		}
		next := base.clone()
		out.Acquired = s.grantLease(next, sid, owner, now, ttl)
		return plan{next: next}, nil
	})
}

// ReclaimSessionExecutionLease takes the lease over from a holder the
// caller knows is dead, before its expiry: if the lease is still exactly
// observed (owner, incarnation, token, fencing token) and its holder's death
// is provable by the claimant (both are local processes of the same host
// and boot), claimant gets a new lease with the next fencing token, which
// fences every claim and commit of the dead holder. Otherwise (the lease
// moved on, the holder is opaque or on another host or boot) the outcome
// is Busy with the current holder; a free or expired lease is an ordinary
// claim. The caller judges that the holder's process is gone (the store
// does not read the process table).
func (s *Store) ReclaimSessionExecutionLease(ctx context.Context, claimant LeaseOwner, observed LeaseFence, ttl time.Duration) (LeaseClaimOutcome, error) {
	return s.claimLease(ctx, claimant, ttl, func(sid string, base *head, now time.Time, ttl time.Duration, out *LeaseClaimOutcome) (plan, error) {
		if l := base.Lease; l != nil && now.Before(l.ExpiresAt) && (!leaseMatches(l, observed) || !provablyDead(l.Owner, claimant)) {
			busy := *l
			out.Busy = &busy
			return plan{}, nil
		}
		next := base.clone()
		out.Acquired = s.grantLease(next, sid, claimant, now, ttl)
		return plan{next: next}, nil
	})
}

// claimLease is the head update of a lease claim by owner: decide sees the
// live (or fresh) head, the store clock and the clamped ttl, and fills out.
func (s *Store) claimLease(ctx context.Context, owner LeaseOwner, ttl time.Duration,
	decide func(sid string, base *head, now time.Time, ttl time.Duration, out *LeaseClaimOutcome) (plan, error)) (LeaseClaimOutcome, error) {
	sid, err := s.boundID()
	if err != nil {
		return LeaseClaimOutcome{}, err
	}
	if err := validateID("lease owner id", owner.OwnerID); err != nil {
		return LeaseClaimOutcome{}, err
	}
	ttl = clampTTL(ttl)
	var out LeaseClaimOutcome
	_, err = s.update(ctx, sid, true, func(_ context.Context, cur snapshot) (plan, error) {
		out = LeaseClaimOutcome{}
		return decide(sid, liveOrFresh(sid, cur.h), s.now(), ttl, &out)
	})
	return out, err
}

// provablyDead reports whether claimant can prove holder's death: both are
// local processes of the same host and boot.
func provablyDead(holder, claimant LeaseOwner) bool {
	h, c := holder.Liveness, claimant.Liveness
	return h.Kind == LivenessLocalProcess && c.Kind == LivenessLocalProcess && h.Host == c.Host && h.Boot == c.Boot
}

// grantLease gives h a new lease for owner with the next fencing token and
// returns a copy of it.
func (s *Store) grantLease(h *head, sid string, owner LeaseOwner, now time.Time, ttl time.Duration) *SessionExecutionLease {
	h.LeaseGen++
	l := SessionExecutionLease{
		LeaseFence: LeaseFence{SessionID: sid, Owner: owner, LeaseToken: s.newToken(), FencingToken: h.LeaseGen},
		ExpiresAt:  leaseExpiry(now, ttl),
	}
	h.Lease = &l
	acquired := l
	return &acquired
}

// RenewSessionExecutionLease implements SessionExecutionLeaseStore.
func (s *Store) RenewSessionExecutionLease(ctx context.Context, fence LeaseFence, ttl time.Duration) (SessionExecutionLease, error) {
	sid, err := s.boundID()
	if err != nil {
		return SessionExecutionLease{}, err
	}
	ttl = clampTTL(ttl)
	var out SessionExecutionLease
	_, err = s.update(ctx, sid, true, func(_ context.Context, cur snapshot) (plan, error) {
		now := s.now()
		if err := requireLease(sid, cur.h, fence, now); err != nil {
			return plan{}, err
		}
		next := cur.h.clone()
		next.Lease.ExpiresAt = leaseExpiry(now, ttl)
		out = *next.Lease
		return plan{next: next}, nil
	})
	return out, err
}

// ReleaseSessionExecutionLease implements SessionExecutionLeaseStore.
func (s *Store) ReleaseSessionExecutionLease(ctx context.Context, completion LeaseFence) error {
	sid, err := s.boundID()
	if err != nil {
		return err
	}
	_, err = s.update(ctx, sid, true, func(_ context.Context, cur snapshot) (plan, error) {
		if !cur.h.live() || !leaseMatches(cur.h.Lease, completion) {
			return plan{}, nil
		}
		next := cur.h.clone()
		next.Lease = nil
		return plan{next: next}, nil
	})
	return err
}

// boundID returns the session the handle is bound to, or an error if it is
// unbound (operations other than a commit need a bound handle).
func (s *Store) boundID() (string, error) {
	sid := s.SessionID()
	if sid == "" {
		return "", fmt.Errorf("%w: handle is not bound to a session", ErrInvalidID)
	}
	return sid, nil
}

// inheritSession fills the session ids c leaves empty with the handle's
// session: the commit's own, its turn stamp's and its outbox drafts'. A
// handle knows its session, so a commit need not repeat it; an id that is
// set is kept and checked as before (another session's is
// *SessionBindingMismatchError). The caller's slices and stamp are copied
// before anything is filled in.
func (s *Store) inheritSession(c *RuntimeCommit) {
	if c.SessionID == "" {
		c.SessionID = s.SessionID()
	}
	sid := c.SessionID
	if sid == "" {
		return
	}
	if st := c.TurnCommit; st != nil && st.SessionID == "" {
		cp := *st
		cp.SessionID = sid
		c.TurnCommit = &cp
	}
	if slices.ContainsFunc(c.EnqueuedQueueBatches, func(d QueuedWorkBatchDraft) bool { return d.SessionID == "" }) {
		c.EnqueuedQueueBatches = slices.Clone(c.EnqueuedQueueBatches)
		for i := range c.EnqueuedQueueBatches {
			if c.EnqueuedQueueBatches[i].SessionID == "" {
				c.EnqueuedQueueBatches[i].SessionID = sid
			}
		}
	}
}

// draftSession returns the session a draft names, or the handle's session
// sid if it names none.
func draftSession(named, sid string) string {
	if named == "" {
		return sid
	}
	return named
}

// liveOrFresh returns h, or an empty head for sid if h is absent or deleted.
func liveOrFresh(sid string, h *head) *head {
	if h.live() {
		return h
	}
	return freshHead(sid, h)
}
