package lashconf

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/internal/codec"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/session"
)

// testCASAcrossHandles: head CAS holds across two processes: each commits
// on the revision it read; the second writer on a stale revision gets
// HeadRevisionConflict naming the actual revision.
func testCASAcrossHandles(t *testing.T, e *env) {
	other := e.open(storeConfig())
	a := e.sess("cas2")
	b, err := other.Session("cas2")
	e.must(err)
	e.commit(a, emptyCommit("cas2", 0))
	_, err = b.CommitRuntimeState(e.ctx, emptyCommit("cas2", 0))
	var hc *session.HeadRevisionConflictError
	if !errors.As(err, &hc) || hc.Actual != 1 {
		t.Fatalf("stale commit from the other process: %v", err)
	}
	e.commit(b, emptyCommit("cas2", 1))
	if _, err := a.CommitRuntimeState(e.ctx, emptyCommit("cas2", 1)); !isErr(err, session.ErrHeadRevisionConflict) {
		t.Fatalf("stale commit from the first process: %v", err)
	}
}

// testSecondClaimNotWon: a batch held by a live claim is not won by a
// second claim of the same generation, from another process either.
func testSecondClaimNotWon(t *testing.T, e *env) {
	s := e.sess("held")
	e.enqueue(s, "held", "exclusive", "")
	f := e.lease(s, "owner", time.Hour).Fence()
	c1, err := s.ClaimQueuedWork(e.ctx, f, 1)
	if err != nil || c1 == nil {
		t.Fatalf("first claim %+v, %v", c1, err)
	}
	b, err := e.open(storeConfig()).Session("held")
	e.must(err)
	if c2, err := b.ClaimQueuedWork(e.ctx, f, 1); err != nil || c2 != nil {
		t.Fatalf("second claim %+v, %v", c2, err)
	}
}

// testConcurrentClaimsNeverDouble: many concurrent claims over many
// batches never give one batch to two claims.
func testConcurrentClaimsNeverDouble(t *testing.T, e *env) {
	s := e.sess("many")
	const n = 12
	for i := range n {
		e.enqueue(s, "many", "batch", "k"+string(rune('a'+i)))
	}
	f := e.lease(s, "owner", time.Hour).Fence()
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := e.sess("many")
			for {
				c, err := h.ClaimQueuedWork(e.ctx, f, 1)
				if err != nil {
					t.Error(err)
					return
				}
				if c == nil {
					return
				}
				mu.Lock()
				seen[c.Batches[0].BatchID]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d batches claimed, want %d", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Fatalf("batch %s claimed %d times", id, k)
		}
	}
}

// testUnsupportedSchema: a head written by a newer schema version is
// refused with ErrSchemaUnsupported, and the error names the version found.
func testUnsupportedSchema(t *testing.T, e *env) {
	data, err := codec.Encode(codec.Schema{Kind: "HEAD", Current: 99, Min: 1}, map[string]any{"session_id": "future"})
	e.must(err)
	_, err = e.objs.Put(e.ctx, session.HeadKey("future"), data, nil)
	e.must(err)
	_, err = e.sess("future").LoadSession(e.ctx, session.FullGraph())
	if !isErr(err, session.ErrSchemaUnsupported) || !strings.Contains(err.Error(), "99") {
		t.Fatalf("future head: %v", err)
	}
	if _, err := e.sess("future").CommitRuntimeState(e.ctx, emptyCommit("future", 0)); !isErr(err, session.ErrSchemaUnsupported) {
		t.Fatalf("commit over a future head: %v", err)
	}
}

// testProcessIntentsImmortal: without a process registry, a process-owned
// intent is never dead: a sweep long past the grace period keeps its row
// and its bytes.
func testProcessIntentsImmortal(t *testing.T, e *env) {
	ref := e.put("unwired-process-owner", "process-owned", manifest.ProcessOwner("missing-process"))
	e.clock.Advance(48 * time.Hour)
	_, err := e.sweeper(time.Hour).Run(e.ctx)
	e.must(err)
	refs, err := e.st.Manifest().ListAllRefs(e.ctx)
	e.must(err)
	if !contains(refs, ref.ID) {
		t.Fatal("a process-owned intent was forgotten without a registry")
	}
	e.mustRead(e.attach("unwired-process-owner"), ref.ID, []byte("process-owned"))
}

// failingRegistry is a process registry whose lookups fail.
type failingRegistry struct{}

var errRegistry = errors.New("process registry unavailable")

func (failingRegistry) HasProcess(context.Context, string) (bool, error) { return false, errRegistry }

// testRegistryFailsGC: a failing process registry fails the sweep (its
// error carries the cause), not opening or using a session.
func testRegistryFailsGC(t *testing.T, e *env) {
	cfg := storeConfig()
	cfg.Processes = failingRegistry{}
	st := e.open(cfg)
	h, err := st.CreateSession(e.ctx, rootMeta("validation-boundary", "v"))
	e.must(err)
	e.commit(h, emptyCommit("validation-boundary", 0))
	e.put("validation-boundary", "owned", manifest.ProcessOwner("p1"))
	e.clock.Advance(2 * time.Hour)
	sw := &gc.Sweeper{Store: e.objs, Manifest: st.Manifest(), Clock: e.sweepClock, Grace: -1, ForgetDeadIntents: true}
	_, err = sw.Run(e.ctx)
	if !isErr(err, gc.ErrIncomplete) || !isErr(err, errRegistry) {
		t.Fatalf("sweep with a failing registry: %v", err)
	}
}

// testSafeSessionPaths: session ids that could leave their key space are
// refused before any I/O; a valid id maps under its own prefix only.
func testSafeSessionPaths(t *testing.T, e *env) {
	for _, id := range []string{"", ".", "..", "a/b", `a\b`, "with space", strings.Repeat("x", 129)} {
		if _, err := e.st.Session(id); !isErr(err, session.ErrInvalidID) {
			t.Fatalf("session id %q: %v", id, err)
		}
	}
	e.commit(e.sess("safe-id_1.2"), emptyCommit("safe-id_1.2", 0))
	for info, err := range e.objs.List(e.ctx, "", nil) {
		e.must(err)
		if strings.HasPrefix(info.Key, "sessions/") && !strings.HasPrefix(info.Key, session.SessionPrefix("safe-id_1.2")) {
			t.Fatalf("key %s outside the session's prefix", info.Key)
		}
	}
}
