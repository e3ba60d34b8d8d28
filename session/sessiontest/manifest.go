package sessiontest

import (
	"context"
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
	_ manifest.SessionScoped      = (*RecordingManifest)(nil)
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

// The store-wide methods act on every session's rows; their Session*
// forms (manifest.SessionScoped) on one session's. in(sid, k) says whether
// row key k is in scope ("" is every session).
func in(sid string, k [2]string) bool { return sid == "" || k[0] == sid }

func (m *RecordingManifest) ListUncommitted(ctx context.Context, olderThan time.Time) ([]manifest.Entry, error) {
	return m.SessionUncommitted(ctx, "", olderThan)
}

func (m *RecordingManifest) SessionUncommitted(_ context.Context, sid string, olderThan time.Time) ([]manifest.Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []manifest.Entry
	for k, e := range m.rows {
		if in(sid, k) && !e.Committed() && !e.IntentAt.After(olderThan) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *RecordingManifest) ForgetAgedUncommitted(ctx context.Context, cutoff time.Time) (int, error) {
	return m.ForgetAgedSession(ctx, "", cutoff)
}

func (m *RecordingManifest) ForgetAgedSession(_ context.Context, sid string, cutoff time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, e := range m.rows {
		if in(sid, k) && !e.Committed() && !e.IntentAt.After(cutoff) && e.Owner.Kind == manifest.OwnerNone {
			delete(m.rows, k)
			n++
		}
	}
	return n, nil
}

func (m *RecordingManifest) HasLiveRef(ctx context.Context, id string, cutoff time.Time) (bool, error) {
	return m.SessionHasLiveRef(ctx, "", id, cutoff)
}

func (m *RecordingManifest) SessionHasLiveRef(_ context.Context, sid, id string, cutoff time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, e := range m.rows {
		if in(sid, k) && k[1] == id && (e.Committed() || e.IntentAt.After(cutoff) || e.Owner.Kind != manifest.OwnerNone) {
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

func (m *RecordingManifest) ListAllRefs(ctx context.Context) ([]string, error) {
	return m.SessionRefs(ctx, "")
}

func (m *RecordingManifest) SessionRefs(_ context.Context, sid string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.rows {
		if in(sid, k) {
			out = append(out, k[1])
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// PrepareCommit implements manifest.CommitHook. A named id without a row
// of this session is unbacked (this manifest knows no bytes).
func (m *RecordingManifest) PrepareCommit(_ context.Context, sid string, _ uint64, turnID string, ids []string) (manifest.Prepared, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out manifest.Prepared
	for _, id := range ids {
		if _, ok := m.rows[[2]string{sid, id}]; !ok {
			out.Unbacked = append(out.Unbacked, id)
			continue
		}
		out.Stamp = append(out.Stamp, id)
	}
	if turnID != "" {
		for k, e := range m.rows {
			if k[0] == sid && !e.Committed() && e.Owner.Kind == manifest.OwnerTurn && e.Owner.ID == turnID {
				out.Stamp = append(out.Stamp, k[1])
			}
		}
	}
	slices.Sort(out.Stamp)
	out.Stamp = slices.Compact(out.Stamp)
	slices.Sort(out.Unbacked)
	out.Unbacked = slices.Compact(out.Unbacked)
	m.prepared = append(m.prepared, out.Stamp)
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
