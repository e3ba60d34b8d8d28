package sessiontest

import (
	"slices"
	"testing"
)

// testVacuumBeforeFlushAdoption: a handle's commit fills the tail (its
// segment is written in the background, holding node x); x is tombstoned
// and vacuumed out of the tail; the handle's next commit must not name the
// background segment, which still holds x. Fails if adoptFlush matches the
// tail by commit ids alone (x comes back).
func testVacuumBeforeFlushAdoption(t *testing.T, f *fixture) {
	f.tuning.FlushDeltas = 2
	const sid = "vacflush"
	s := f.open(sid)
	ids := f.chain(s, sid, 0, "n", 2, "") // a background flush of n0, n1
	if err := s.TombstoneNodes(f.ctx, []string{"n1"}); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Vacuum(f.ctx); err != nil || v.RemovedNodes != 1 {
		t.Fatalf("vacuum: %+v, %v", v, err)
	}
	f.chain(s, sid, 2, "m", 3, ids[0])
	r := f.checkNamed(sid, nil)
	if got := nodeIDs(r.Graph); slices.Contains(got, "n1") {
		t.Fatalf("the vacuumed node is back: %v", got)
	}
	f.wantIDs("graph", nodeIDs(r.Graph), []string{"n0", "m0", "m1", "m2"})
}
