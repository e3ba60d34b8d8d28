package session

import (
	"time"

	"github.com/stowage-dev/stowage/manifest"
)

// stampTime is the one rule for every time the session store writes: the
// store clock's readings, a draft's AvailableAt, a lease expiry. It is
// manifest.ClampTime (UTC, no monotonic reading, clamped to the years 1
// to 9999), so a stored time always encodes as RFC 3339 and decodes back
// to the same instant, and no comparison is inverted by an overflow
// (docs/contract.md, "Conventions"). The zero time stays zero.
func stampTime(t time.Time) time.Time { return manifest.ClampTime(t) }

// leaseExpiry is now+ttl as stored: ttl is clamped to MaxLeaseTTL by the
// caller, and the sum is clamped like every stored time.
func leaseExpiry(now time.Time, ttl time.Duration) time.Time { return stampTime(now.Add(ttl)) }
