package sessiontest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/stowage-dev/stowage/manifest"
)

// RecordingManifest is a small in-memory manifest.AttachmentManifest and
// manifest.CommitHook with the contract's row semantics, for harnesses that
// do not bring a real manifest. It records the hook calls. Only ownerless
// intents count as dead owners (it knows no receipts or processes).
type RecordingManifest struct {
	now func() time.Time

	mu       sync.Mutex
	rows     map[[2]string]manifest.Entry
	prepared [][]string
	finished [][]string
}

// NewRecordingManifest returns an empty manifest using now as its clock.
func NewRecordingManifest(now func() time.Time) *RecordingManifest {
	return &RecordingManifest{now: now, rows: map[[2]string]manifest.Entry{}}
}

var (
	_ manifest.AttachmentManifest = (*RecordingManifest)(nil)
	_ manifest.CommitHook         = (*RecordingManifest)(nil)
)

// Finished returns the id lists passed to FinishCommit, in call order.
func (m *RecordingManifest) Finished() [][]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.finished)
}

func (m *RecordingManifest) RecordIntent(_ context.Context, in manifest.Intent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{in.SessionID, in.AttachmentID}
	e := m.rows[k]
	e.Intent = in
	m.rows[k] = e
	return nil
}

func (m *RecordingManifest) stampLocked(sid string, ids []string, at time.Time) {
	for _, id := range ids {
		k := [2]string{sid, id}
		if e, ok := m.rows[k]; ok && !e.Committed() {
			e.CommittedAt = at
			m.rows[k] = e
		}
	}
}

func (m *RecordingManifest) CommitRefs(_ context.Context, sid string, ids []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stampLocked(sid, ids, m.now())
	return nil
}

func (m *RecordingManifest) ListUncommitted(_ context.Context, olderThan time.Time) ([]manifest.Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []manifest.Entry
	for _, e := range m.rows {
		if !e.Committed() && !e.IntentAt.After(olderThan) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *RecordingManifest) ForgetAgedUncommitted(_ context.Context, cutoff time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, e := range m.rows {
		if !e.Committed() && !e.IntentAt.After(cutoff) && e.Owner.Kind == manifest.OwnerNone {
			delete(m.rows, k)
			n++
		}
	}
	return n, nil
}

func (m *RecordingManifest) HasLiveRef(_ context.Context, id string, cutoff time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, e := range m.rows {
		if k[1] == id && (e.Committed() || e.IntentAt.After(cutoff) || e.Owner.Kind != manifest.OwnerNone) {
			return true, nil
		}
	}
	return false, nil
}

func (m *RecordingManifest) Forget(_ context.Context, sid, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.rows, [2]string{sid, id})
	return nil
}

func (m *RecordingManifest) HoldsRef(_ context.Context, sid, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.rows[[2]string{sid, id}]
	return ok, nil
}

func (m *RecordingManifest) ListAllRefs(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.rows {
		out = append(out, k[1])
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// PrepareCommit implements manifest.CommitHook.
func (m *RecordingManifest) PrepareCommit(_ context.Context, sid string, _ uint64, turnID string, ids []string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, id := range ids {
		if _, ok := m.rows[[2]string{sid, id}]; !ok {
			return nil, fmt.Errorf("%w: session %q has no intent for %q", manifest.ErrDanglingRef, sid, id)
		}
		out = append(out, id)
	}
	if turnID != "" {
		for k, e := range m.rows {
			if k[0] == sid && !e.Committed() && e.Owner.Kind == manifest.OwnerTurn && e.Owner.ID == turnID {
				out = append(out, k[1])
			}
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	m.prepared = append(m.prepared, out)
	return out, nil
}

// FinishCommit implements manifest.CommitHook.
func (m *RecordingManifest) FinishCommit(_ context.Context, sid string, ids []string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stampLocked(sid, ids, at)
	m.finished = append(m.finished, slices.Clone(ids))
	return nil
}
