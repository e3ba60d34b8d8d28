package session

import (
	"errors"
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
	id := newID()
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

func TestPlanFlushIsABinaryCounter(t *testing.T) {
	var segs []segRef
	tail := []delta{{Rev: 1}}
	for flush := 1; flush <= 64; flush++ {
		p := planFlush(segs, tail)
		segs = append(segs[:len(segs)-len(p.merge)], p.ref)
		// The levels are the binary digits of the flush count.
		n := 0
		for _, s := range segs {
			n += 1 << s.Level
		}
		if n != flush {
			t.Fatalf("after %d flushes the segments cover %d flushes: %+v", flush, n, segs)
		}
		for i := 1; i < len(segs); i++ {
			if segs[i].Level >= segs[i-1].Level {
				t.Fatalf("levels not strictly decreasing: %+v", segs)
			}
		}
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
	}
	all := []error{ErrSessionBindingMismatch, ErrHeadRevisionConflict, ErrTurnCommitConflict, ErrQueuedWorkClaimSuperseded,
		ErrTurnInputClaimSuperseded, ErrPendingTurnInputSourceKeyConflict, ErrSessionExecutionLeaseExpired, ErrCorrupt,
		ErrSchemaMissing, ErrSchemaInvalid, ErrSchemaUnsupported, ErrCommitOutcomeUnknown}
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
