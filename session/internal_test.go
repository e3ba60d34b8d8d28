package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestValidateSessionID(t *testing.T) {
	for _, id := range []string{"a", "A-Z_0.9~", "..a", strings.Repeat("x", 128)} {
		if err := ValidateSessionID(id); err != nil {
			t.Errorf("%q: %v", id, err)
		}
	}
	for _, id := range []string{"", ".", "..", "a/b", "a\\b", "a b", "a\x00", "\x7f", "é", strings.Repeat("x", 129)} {
		if err := ValidateSessionID(id); !errors.Is(err, ErrInvalidID) {
			t.Errorf("%q: %v", id, err)
		}
	}
}

func TestParseKey(t *testing.T) {
	id := (&Store{}).newID()
	cases := map[string]KeyKind{
		HeadKey("s1"):     KeyHead,
		segKey("s1", id):  KeySegment,
		idxKey("s1", id):  KeyIndex,
		blobKey("s1", id): KeyBlob,
		segKey("s1", "01ARZ3NDEKTSV4RRFFQ69G5FAV"): KeySegment,
	}
	for k, want := range cases {
		sid, kind, ok := ParseKey(k)
		if !ok || sid != "s1" || kind != want {
			t.Errorf("ParseKey(%q) = %q %q %v", k, sid, kind, ok)
		}
	}
	for _, k := range []string{"sessions/", "sessions/s1", "sessions/s1/", "sessions/s1/seg/", "sessions/s1/seg/a/b",
		"sessions/s1/other/x", "sessions/../head", "other/s1/head", "sessions/a b/head",
		// Rule 0: only a ULID as stowage writes it goes where an id goes.
		"sessions/s1/seg/01ABC", "sessions/s1/seg/x", "sessions/s1/idx/" + strings.ToLower(id),
		"sessions/s1/blob/" + id + "x", "sessions/s1/seg/" + id + "/x", "sessions/s1/seg/81ARZ3NDEKTSV4RRFFQ69G5FAV"} {
		if _, _, ok := ParseKey(k); ok {
			t.Errorf("ParseKey(%q) accepted", k)
		}
	}
}

// TestCompactionBoundsEveryMerge simulates 2,000 flushes of a session with
// a small segment cap, each followed by at most one merge (as a handle
// merges one run in the background between commits): no merge exceeds the
// cap, the unsealed segments stay few, and the sealed ones are large.
func TestCompactionBoundsEveryMerge(t *testing.T) {
	tune := Tuning{SegmentMaxBytes: 64 << 10}.withDefaults()
	body := json.RawMessage(strings.Repeat("x", 900))
	var segs []segRef
	var total int64
	for flush := 1; flush <= 2000; flush++ {
		tail := []delta{{Rev: uint64(flush), Nodes: []NodeRecord{{NodeID: fmt.Sprint(flush), Body: body}}}}
		if flush%97 == 0 { // now and then a commit larger than the cap
			tail[0].Nodes[0].Body = json.RawMessage(strings.Repeat("y", 80<<10))
		}
		tb := int64(tailBytes(tail))
		p := (&Store{tune: tune}).planFlush(segs, tail)
		p.ref.Bytes = tb
		segs = p.apply(segs)
		sealFull(segs, tune)
		total += tb
		if lo, fits, ok := mergeRun(segs, tune); ok {
			if !fits {
				t.Fatalf("flush %d: an unmergeable run left unsealed: %+v", flush, segs)
			}
			run := segs[lo : lo+tune.SegmentFanout]
			m := segRef{Level: run[0].Level + 1, FromRev: run[0].FromRev, ToRev: run[len(run)-1].ToRev}
			for _, r := range run {
				m.Bytes += r.Bytes
			}
			if m.Bytes > int64(tune.SegmentMaxBytes) {
				t.Fatalf("flush %d merges %d bytes, cap %d", flush, m.Bytes, tune.SegmentMaxBytes)
			}
			segs = append(append(append([]segRef(nil), segs[:lo]...), m), segs[lo+len(run):]...)
		}
		var covered int64
		perLevel := map[int]int{}
		for i, r := range segs {
			covered += r.Bytes
			if !r.Sealed {
				perLevel[r.Level]++
				if perLevel[r.Level] > 2*tune.SegmentFanout {
					t.Fatalf("flush %d: %d unsealed segments at level %d: %+v", flush, perLevel[r.Level], r.Level, segs)
				}
			}
			if i > 0 && segs[i-1].ToRev+1 != r.FromRev {
				t.Fatalf("flush %d: segments not contiguous: %+v", flush, segs)
			}
		}
		if covered != total {
			t.Fatalf("flush %d: segments cover %d bytes of %d", flush, covered, total)
		}
	}
	sealed := 0
	for _, r := range segs {
		if r.Sealed {
			sealed++
		}
	}
	t.Logf("%d bytes in %d segments, %d sealed", total, len(segs), sealed)
	// 2,000 flushes of ~1 KiB (plus 20 of 80 KiB) is ~3.6 MiB: sealed
	// segments average at least cap/fanout.
	if max := int(total/int64(tune.SegmentMaxBytes/tune.SegmentFanout)) + 20; sealed > max || len(segs) > max+16 {
		t.Fatalf("%d segments (%d sealed) for %d bytes", len(segs), sealed, total)
	}
}

func TestMergeSegmentsHonoursResetAndUpsert(t *testing.T) {
	a := &segment{FromRev: 1, ToRev: 2, Nodes: []NodeRecord{{NodeID: "x", Timestamp: "1"}, {NodeID: "y"}}}
	b := &segment{FromRev: 3, ToRev: 3, Nodes: []NodeRecord{{NodeID: "x", Timestamp: "2"}, {NodeID: "z"}}}
	m := mergeSegments("s", []*segment{a, b})
	if len(m.Nodes) != 3 || m.Nodes[0].NodeID != "x" || m.Nodes[0].Timestamp != "2" || m.Nodes[2].NodeID != "z" {
		t.Fatalf("upsert merge: %+v", m.Nodes)
	}
	c := &segment{FromRev: 4, ToRev: 4, Reset: true, Nodes: []NodeRecord{{NodeID: "q"}}}
	m = mergeSegments("s", []*segment{a, b, c})
	if !m.Reset || len(m.Nodes) != 1 || m.Nodes[0].NodeID != "q" || m.FromRev != 1 || m.ToRev != 4 {
		t.Fatalf("reset merge: %+v", m)
	}
}

func TestTrimReceiptsKeepsUnflushed(t *testing.T) {
	var rs []receipt
	for i := uint64(1); i <= 10; i++ {
		rs = append(rs, receipt{Revision: i})
	}
	if got := trimReceipts(rs, 4, 2); len(got) != 6 || got[0].Revision != 5 {
		t.Fatalf("kept %+v", got)
	}
	if got := trimReceipts(rs, 10, 3); len(got) != 3 || got[0].Revision != 8 {
		t.Fatalf("kept %+v", got)
	}
}

func TestLedgerSaturates(t *testing.T) {
	rows := mergeLedger(nil, []TokenLedgerEntry{{Source: "s", Model: "m", Input: math.MaxInt64 - 1}})
	rows = mergeLedger(rows, []TokenLedgerEntry{{Source: "s", Model: "m", Input: 5, Output: math.MinInt64}, {Source: "s", Model: "m", Output: -1}})
	if len(rows) != 1 || rows[0].Input != math.MaxInt64 || rows[0].Output != math.MinInt64 {
		t.Fatalf("rows %+v", rows)
	}
}

func TestErrorsMatchTheirSentinelsOnly(t *testing.T) {
	exp := uint64(3)
	cases := map[error]error{
		&SessionBindingMismatchError{Bound: "a", Attempted: "b"}: ErrSessionBindingMismatch,
		&HeadRevisionConflictError{Expected: &exp, Actual: 4}:    ErrHeadRevisionConflict,
		&TurnCommitConflictError{SessionID: "s", TurnID: "t"}:    ErrTurnCommitConflict,
		&ClaimSupersededError{Queue: true}:                       ErrQueuedWorkClaimSuperseded,
		&ClaimSupersededError{}:                                  ErrTurnInputClaimSuperseded,
		&SourceKeyConflictError{}:                                ErrPendingTurnInputSourceKeyConflict,
		&LeaseExpiredError{}:                                     ErrSessionExecutionLeaseExpired,
		&CheckpointComponentMissingError{}:                       ErrCheckpointComponentMissing,
	}
	all := []error{ErrSessionBindingMismatch, ErrHeadRevisionConflict, ErrTurnCommitConflict, ErrQueuedWorkClaimSuperseded,
		ErrTurnInputClaimSuperseded, ErrPendingTurnInputSourceKeyConflict, ErrSessionExecutionLeaseExpired, ErrCorrupt,
		ErrSchemaMissing, ErrSchemaInvalid, ErrSchemaUnsupported, ErrCommitOutcomeUnknown, ErrCheckpointComponentMissing}
	for err, want := range cases {
		for _, s := range all {
			if errors.Is(err, s) != (s == want) {
				t.Errorf("%v matches %v: %v", err, s, errors.Is(err, s))
			}
		}
	}
	if msg := (&HeadRevisionConflictError{Actual: 1}).Error(); !strings.Contains(msg, "expected none") {
		t.Errorf("message %q", msg)
	}
}

// TestActivePathChains: a graph's active path is the leaf's ancestors,
// root first, cut at a missing ancestor, and cut at the first repeated one
// when upserts made the parents a cycle.
func TestActivePathChains(t *testing.T) {
	g := func(pairs ...string) *graphState {
		nl := nodeList{}
		for i := 0; i < len(pairs); i += 2 {
			nl.put(NodeRecord{NodeID: pairs[i], ParentNodeID: pairs[i+1]})
		}
		return &graphState{nodes: nl.nodes, pos: nl.pos}
	}
	ids := func(ns []NodeRecord) string {
		var out []string
		for _, n := range ns {
			out = append(out, n.NodeID)
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		g          *graphState
		leaf, want string
	}{
		{g("a", "", "b", "a", "c", "b", "x", "a"), "c", "a,b,c"},
		{g("a", "", "b", "a", "c", "b", "x", "a"), "x", "a,x"},
		{g("b", "gone", "c", "b"), "c", "b,c"},
		{g("a", "b", "b", "a"), "a", "b,a"},
		{g("a", "c", "b", "a", "c", "b", "d", "c"), "d", "a,b,c,d"},
		{g("a", "a"), "a", "a"},
		{g("a", ""), "nope", ""},
	} {
		if got := ids(c.g.activePath(c.leaf)); got != c.want {
			t.Errorf("active path of %s = %q, want %q", c.leaf, got, c.want)
		}
	}
}
