// Package testclock is the manual clock the test suites inject wherever
// stowage takes a clock (stores, manifests, leases, sweepers), so that no
// test sleeps to let time pass.
package testclock

import (
	"sync"
	"time"
)

// start is where New starts.
var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Clock is a manual clock, safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a clock at 2026-01-01T00:00:00Z.
func New() *Clock { return &Clock{now: start} }

// Now returns the clock's time; pass the method value (c.Now) as a clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}
