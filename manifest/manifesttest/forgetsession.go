package manifesttest

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"

	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
)

// markerHooks runs a hook before the first DeleteMany through it, can lose
// that DeleteMany's response (applied, reported as an unknown outcome), and
// runs a hook before the first GET after it.
type markerHooks struct {
	objstore.Store
	mu              sync.Mutex
	beforeDelete    func()
	loseDelete      bool
	afterDelete     func()
	deleted, called bool
}

func (s *markerHooks) DeleteMany(ctx context.Context, keys []string) error {
	s.mu.Lock()
	hook := s.beforeDelete
	s.beforeDelete = nil
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	err := s.Store.DeleteMany(ctx, keys)
	s.mu.Lock()
	s.deleted = true
	s.mu.Unlock()
	if err == nil && s.loseDelete {
		return fmt.Errorf("markerHooks: response lost: %w", objstore.ErrOutcomeUnknown)
	}
	return err
}

func (s *markerHooks) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	s.mu.Lock()
	var hook func()
	if s.deleted && !s.called {
		hook, s.called = s.afterDelete, true
	}
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	return s.Store.Get(ctx, key, opts)
}

// testForgetSessionRacesTurnPut: a ForgetSession removes a turn's
// uncommitted row; the turn's put writes the row again, markers and all,
// before the removal's marker delete lands; the turn's commit then lists
// its markers before the removal reads the row again to put markers back
// (or never, when the marker delete's response was lost and ForgetSession
// failed). The commit must still adopt the row (A3: the row existed, owned
// by the turn, before the commit began). A ForgetSession that deletes the
// turn marker of a removed row leaves the re-put row unlisted for the
// turn's commit (internal/sim seeds 9456 and 59840).
func testForgetSessionRacesTurnPut(t *testing.T, e *Env) {
	for _, lose := range []bool{false, true} {
		t.Run(fmt.Sprint("lose-response=", lose), func(t *testing.T) {
			sid := fmt.Sprint("s-lose-", lose)
			t1 := manifest.TurnOwner("t1")
			x := ID("x")
			e.WithData(sid, x, t1, "x")
			var (
				prep    manifest.Prepared
				prepErr error
			)
			commit := func() { prep, prepErr = e.M.PrepareCommit(e.Ctx, sid, 1, "t1", nil) }
			hooks := &markerHooks{Store: e.Obj, loseDelete: lose,
				// The row is removed; its turn puts it again in full.
				beforeDelete: func() { e.WithData(sid, x, t1, "x") },
			}
			if !lose {
				hooks.afterDelete = commit
			}
			deleter := manifest.New(hooks, &manifest.Options{Now: e.Clock.Now})
			err := deleter.ForgetSession(e.Ctx, sid)
			if lose {
				commit()
			} else if err != nil {
				t.Fatalf("ForgetSession: %v", err)
			}
			e.Must(prepErr)
			if !slices.Contains(prep.Stamp, x) {
				t.Fatalf("the turn's commit adopted %v, not its re-put row %s (ForgetSession: %v)", short(prep.Stamp), x[:8], err)
			}
		})
	}
}
