package gc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/stowage-dev/stowage/fence"
	"github.com/stowage-dev/stowage/internal/codec"
	"github.com/stowage-dev/stowage/objstore"
)

// Lease errors.
var (
	// ErrLeaseHeld is returned when another sweeper holds the shard's lease.
	// The error is a *LeaseHeldError.
	ErrLeaseHeld = errors.New("gc: lease held by another sweeper")
	// ErrLeaseLost is returned when a sweeper finds that its lease was taken
	// over (it was paused past its expiry, or its clock was wrong). It stops;
	// nothing it did is unsafe.
	ErrLeaseLost = errors.New("gc: lease lost")
)

// LeaseHeldError names the holder of a lease.
type LeaseHeldError struct {
	Key       string
	Holder    string
	Token     uint64
	ExpiresAt time.Time
}

func (e *LeaseHeldError) Error() string {
	return fmt.Sprintf("gc: lease %q held by %q (token %d) until %s", e.Key, e.Holder, e.Token, e.ExpiresAt.UTC().Format(time.RFC3339))
}

func (e *LeaseHeldError) Unwrap() error { return ErrLeaseHeld }

var leaseSchema = codec.Schema{Kind: "LEAS", Current: 1, Min: 1}

// leaseBody is the content of a lease object.
type leaseBody struct {
	Holder string `json:"holder"`
	// Token is the fencing token: it grows by one with every acquisition.
	Token uint64 `json:"token"`
	// Seq grows with every renewal, so no two bodies are equal (S3 ETags
	// are MD5s: equal bodies would give equal ETags).
	Seq       uint64    `json:"seq"`
	ExpiresAt time.Time `json:"expires_at"`
	Released  bool      `json:"released,omitempty"`
}

// LeaseKey returns the key of the lease of shard i of n.
func LeaseKey(shard Shard) string {
	shard = shard.norm()
	return fmt.Sprintf("%s%d-of-%d", leasePrefix, shard.Index, shard.Count)
}

// leasePrefix holds the sweeper leases.
const leasePrefix = "gc/lease/"

// LeasePrefix is where the sweeper leases live, one object per shard.
const LeasePrefix = leasePrefix

// CheckLease reads the lease under key and returns nil if it decodes, else
// the error (objstore.ErrNotExist if there is none). It writes nothing
// (fsck reads every lease with it).
func CheckLease(ctx context.Context, store objstore.Store, key string) error {
	_, _, err := readLease(ctx, store, key)
	return err
}

// Lease is a held sweeper lease: one object created with If-None-Match and
// renewed or released with If-Match (litestream's leaser, plus a fencing
// token). A time-based lease is not a fence by itself: the deletion fence is
// package fence; the lease only keeps two sweepers from wasting work and
// names the holder in the fence.
type Lease struct {
	store objstore.Store
	key   string
	clock func() time.Time
	ttl   time.Duration
	etag  string
	body  leaseBody
}

// AcquireLease takes the lease under key for holder, for ttl. A lease that is
// missing, released, or expired by clock is taken (its token + 1); a live one
// returns a *LeaseHeldError.
func AcquireLease(ctx context.Context, store objstore.Store, key, holder string, ttl time.Duration, clock func() time.Time) (*Lease, error) {
	cur, etag, err := readLease(ctx, store, key)
	if err != nil && !errors.Is(err, objstore.ErrNotExist) {
		return nil, err
	}
	now := clock()
	if err == nil && !cur.Released && now.Before(cur.ExpiresAt) {
		return nil, &LeaseHeldError{Key: key, Holder: cur.Holder, Token: cur.Token, ExpiresAt: cur.ExpiresAt}
	}
	l := &Lease{store: store, key: key, clock: clock, ttl: ttl}
	next := leaseBody{Holder: holder, Token: cur.Token + 1, Seq: cur.Seq + 1, ExpiresAt: now.Add(ttl)}
	opts := &objstore.PutOptions{IfMatch: etag}
	if etag == "" {
		opts = &objstore.PutOptions{IfNoneMatch: true}
	}
	err = l.put(ctx, next, opts)
	if errors.Is(err, objstore.ErrOutcomeUnknown) {
		err = l.readBack(ctx, next, err)
	}
	if err != nil {
		if errors.Is(err, objstore.ErrPreconditionFailed) {
			// Someone else acquired it between our read and write.
			if now, _, rerr := readLease(ctx, store, key); rerr == nil {
				return nil, &LeaseHeldError{Key: key, Holder: now.Holder, Token: now.Token, ExpiresAt: now.ExpiresAt}
			}
			return nil, errorf("acquire lease %q: %w", key, ErrLeaseHeld)
		}
		return nil, errorf("acquire lease %q: %w", key, err)
	}
	return l, nil
}

// readLease returns the lease under key and its ETag.
func readLease(ctx context.Context, store objstore.Store, key string) (leaseBody, string, error) {
	rc, info, err := store.Get(ctx, key, nil)
	if err != nil {
		if errors.Is(err, objstore.ErrNotExist) {
			return leaseBody{}, "", err
		}
		return leaseBody{}, "", errorf("read lease %q: %w", key, err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return leaseBody{}, "", errorf("read lease %q: %w", key, err)
	}
	var b leaseBody
	if _, err := codec.Decode(leaseSchema, data, &b); err != nil {
		return leaseBody{}, "", errorf("read lease %q: %w", key, err)
	}
	return b, info.ETag, nil
}

// readBack resolves a write of b whose outcome was unknown: it landed if
// the lease now holds exactly b (Seq and Token make bodies unique).
func (l *Lease) readBack(ctx context.Context, b leaseBody, cause error) error {
	cur, etag, err := readLease(ctx, l.store, l.key)
	if err != nil {
		return cause
	}
	if cur.Holder == b.Holder && cur.Token == b.Token && cur.Seq == b.Seq {
		l.etag, l.body = etag, cur
		return nil
	}
	return fmt.Errorf("%w: %w", objstore.ErrPreconditionFailed, cause)
}

func (l *Lease) put(ctx context.Context, b leaseBody, opts *objstore.PutOptions) error {
	data, err := codec.Encode(leaseSchema, b)
	if err != nil {
		return err
	}
	opts.ContentType = "application/octet-stream"
	info, err := l.store.Put(ctx, l.key, data, opts)
	if err != nil {
		return err
	}
	l.etag, l.body = info.ETag, b
	return nil
}

// Holder returns the fence holder this lease stands for.
func (l *Lease) Holder() fence.Holder {
	return fence.Holder{Lease: l.key, Token: l.body.Token, ID: l.body.Holder}
}

// ExpiresAt returns when the lease expires by the holder's clock.
func (l *Lease) ExpiresAt() time.Time { return l.body.ExpiresAt }

// Renew extends the lease by its ttl. ErrLeaseLost if it was taken over.
func (l *Lease) Renew(ctx context.Context) error {
	next := l.body
	next.Seq++
	next.ExpiresAt = l.clock().Add(l.ttl)
	err := l.put(ctx, next, &objstore.PutOptions{IfMatch: l.etag})
	if errors.Is(err, objstore.ErrOutcomeUnknown) {
		err = l.readBack(ctx, next, err)
	}
	if err != nil {
		if errors.Is(err, objstore.ErrPreconditionFailed) {
			return errorf("renew lease %q token %d: %w", l.key, l.body.Token, ErrLeaseLost)
		}
		return errorf("renew lease %q: %w", l.key, err)
	}
	return nil
}

// RenewIfDue renews the lease when less than half its ttl is left.
func (l *Lease) RenewIfDue(ctx context.Context) error {
	if l.clock().Add(l.ttl / 2).Before(l.body.ExpiresAt) {
		return nil
	}
	return l.Renew(ctx)
}

// Release gives the lease up (a CAS to a released body, so it works without
// conditional deletes). Releasing a lease that was lost returns ErrLeaseLost.
func (l *Lease) Release(ctx context.Context) error {
	next := l.body
	next.Seq++
	next.Released = true
	err := l.put(ctx, next, &objstore.PutOptions{IfMatch: l.etag})
	if errors.Is(err, objstore.ErrOutcomeUnknown) {
		err = l.readBack(ctx, next, err)
	}
	if err != nil {
		if errors.Is(err, objstore.ErrPreconditionFailed) {
			return errorf("release lease %q: %w", l.key, ErrLeaseLost)
		}
		return errorf("release lease %q: %w", l.key, err)
	}
	return nil
}

// holderLive reports whether the fence holder h still holds its lease, by
// the caller's clock. An unreadable lease counts as live (the caller defers).
func holderLive(ctx context.Context, store objstore.Store, h fence.Holder, now time.Time) (bool, error) {
	b, _, err := readLease(ctx, store, h.Lease)
	switch {
	case errors.Is(err, objstore.ErrNotExist):
		return false, nil
	case err != nil:
		return true, err
	}
	return b.Token == h.Token && !b.Released && now.Before(b.ExpiresAt), nil
}
