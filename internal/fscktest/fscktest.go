// Package fscktest checks a store's invariants when a test ends: a deep
// fsck.Check (every committed attachment read back and hashed) in the
// test's cleanup, failing the test on any violated invariant. The
// conformance suites (sessiontest, manifesttest, attachtest) and gc's tests
// attach it to every case, as bbolt checks its invariants after every test.
//
// Orphans are not violations (a crash, a lost race or an aborted upload
// leaves them by design, for the sweeper); problems are. A case that breaks
// an invariant on purpose (a corrupted head, bytes deleted behind the
// manifest's back) declares what it expects with Expect, or opts out with
// Skip and a reason.
package fscktest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/fsck"
	"github.com/stowage-dev/stowage/objstore"
)

// Timeout bounds one check.
const Timeout = 2 * time.Minute

// Checker checks one store when its test ends.
type Checker struct {
	objs objstore.Store
	now  func() time.Time

	mu      sync.Mutex
	skip    string
	expects []*expectation
}

// expectation is a problem a case declared it leaves.
type expectation struct {
	invariant, detail string
	optional          bool   // a harness-wide allowance: need not occur
	reason            string // why the problem is not a violation here
	met               bool
}

// AtCleanup registers a deep check of objs in t's cleanup and returns its
// Checker. Register it after the store's own cleanup (cleanups run last
// registered first), so the store is still open when it runs. now is the
// test's clock (nil means time.Now); it only ages orphans. A test that has
// already failed or was skipped is not checked.
func AtCleanup(t testing.TB, objs objstore.Store, now func() time.Time) *Checker {
	t.Helper()
	c := &Checker{objs: objs, now: now}
	t.Cleanup(func() {
		if t.Failed() || t.Skipped() {
			return
		}
		c.mu.Lock()
		skip := c.skip
		c.mu.Unlock()
		if skip != "" {
			t.Logf("fscktest: skipped: %s", skip)
			return
		}
		c.verify(t)
	})
	return c
}

// Skip turns the check off for this test; reason says why (a case that
// corrupts objects at random, say).
func (c *Checker) Skip(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.skip = reason
}

// Expect declares that the test leaves at least one problem of invariant
// whose detail contains detail. Such problems do not fail the test; an
// expectation that no problem meets does (the declaration went stale).
func (c *Checker) Expect(invariant, detail string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expects = append(c.expects, &expectation{invariant: invariant, detail: detail})
}

// Allow is Expect for a whole harness: problems of invariant whose detail
// contains detail are not violations here, for reason, and need not occur.
func (c *Checker) Allow(invariant, detail, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expects = append(c.expects, &expectation{invariant: invariant, detail: detail, optional: true, reason: reason})
}

// Verify runs the check now and fails t on a violation.
func Verify(t testing.TB, objs objstore.Store, now func() time.Time) {
	t.Helper()
	(&Checker{objs: objs, now: now}).verify(t)
}

func (c *Checker) verify(t testing.TB) {
	t.Helper()
	rep, err := Check(c.objs, c.now)
	if err != nil {
		t.Errorf("fscktest: %v", err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var bad []string
	for _, p := range rep.Problems {
		i := slices.IndexFunc(c.expects, func(e *expectation) bool {
			return e.invariant == p.Invariant && strings.Contains(p.Detail, e.detail)
		})
		if i < 0 {
			bad = append(bad, p.String())
			continue
		}
		c.expects[i].met = true
	}
	for _, e := range c.expects {
		if !e.met && !e.optional {
			bad = append(bad, fmt.Sprintf("expected a %s problem containing %q; fsck found none", e.invariant, e.detail))
		}
	}
	if len(bad) > 0 {
		t.Errorf("fscktest: the store violates its invariants after the test:\n  %s", strings.Join(bad, "\n  "))
		return
	}
	t.Logf("fscktest: checked: %d problems (all expected), %d orphans %v, counts %+v",
		len(rep.Problems), len(rep.Orphans), rep.OrphanCounts(false), rep.Counts)
}

// Check runs a deep fsck.Check of objs, read-only, with the clock now.
func Check(objs objstore.Store, now func() time.Time) (*fsck.Report, error) {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	st, err := stowage.OpenStore(ctx, objs, stowage.Config{Now: now})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return fsck.Check(ctx, st, &fsck.Options{Deep: true, Now: now})
}
