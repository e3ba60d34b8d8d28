package sessiontest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/session"
)

// Hostile caller input (docs/contract.md, "Conventions"): times no JSON
// time stamp holds, JSON that is not JSON, values too large for the head.
var inputTests = []namedTest{
	{"ExtremeTimesStayLoadable", testExtremeTimes},
	{"InvalidJSONRefusedBeforeIO", testInvalidJSON},
	{"OddJSONReadsBackTheSameOnBothPaths", testOddJSON},
	{"OversizedCallsRefusedBeforeIO", testOversizedCalls},
}

// extremeTimes are times a caller may pass: outside the years JSON time
// stamps hold, at their edges, zone offsets no RFC 3339 offset holds, a
// monotonic clock reading.
func extremeTimes() map[string]time.Time {
	return map[string]time.Time{
		"year-5":    time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC),
		"year0":     time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		"year1":     time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		"year9999":  time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		"year10000": time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		"max":       time.Unix(math.MaxInt64-62135596801, 999999999),
		"min":       time.Unix(math.MinInt64, 0),
		"plus30h":   time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 30*3600)),
		"minus30h":  time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("y", -30*3600)),
		"edge-5h":   time.Date(9999, 12, 31, 23, 0, 0, 0, time.FixedZone("z", -5*3600)),
		"monotonic": time.Now(),
	}
}

// storedTime fails unless t is a time the store can write and read back:
// UTC, no monotonic reading, within the years 1 to 9999.
func storedTime(t *testing.T, what string, tm time.Time) {
	t.Helper()
	if tm.Location() != time.UTC || tm.Year() < 1 || tm.Year() > 9999 || strings.Contains(tm.String(), "m=") {
		t.Errorf("%s: %v is not a stored time (UTC, years 1 to 9999, no monotonic reading)", what, tm)
	}
}

// testExtremeTimes passes every extreme time through every call that takes
// a time or a duration (queued work, an outbox batch, lease ttls, and the
// store clock itself, which stamps enqueues, inputs, receipts and leases),
// then requires a fresh handle (a new process, no shared cache) to read
// every session, and fsck to find the store clean.
func testExtremeTimes(t *testing.T, f *fixture) {
	ttls := []time.Duration{math.MaxInt64, math.MinInt64, 0, session.MaxLeaseTTL}
	for name, tm := range extremeTimes() {
		sid := "times-" + name
		clock := func() time.Time { return tm }
		s, err := session.New(session.Config{Store: f.env.Store, SessionID: sid, Manifest: f.env.Manifest,
			Hook: f.env.Hook, Now: clock, Tuning: f.tuning})
		if err != nil {
			t.Fatal(err)
		}
		c := appendCommit(sid, 0, "", "a")
		c.TurnCommit = stamp(sid, "turn-1", "h1")
		c.EnqueuedQueueBatches = []session.QueuedWorkBatchDraft{{SourceKey: "outbox", AvailableAt: tm}}
		res := f.mustCommit(s, c)
		storedTime(t, name+": outbox AvailableAt", res.EnqueuedQueueBatches[0].AvailableAt)
		b, err := s.EnqueueQueuedWork(f.ctx, session.QueuedWorkBatchDraft{Payload: json.RawMessage(`{}`), AvailableAt: tm})
		if err != nil {
			t.Fatalf("%s: enqueue: %v", name, err)
		}
		storedTime(t, name+": AvailableAt", b.AvailableAt)
		storedTime(t, name+": EnqueuedAt", b.EnqueuedAt)
		if _, err := s.EnqueuePendingTurnInput(f.ctx, session.PendingTurnInputDraft{Payload: json.RawMessage(`1`)}); err != nil {
			t.Fatalf("%s: input: %v", name, err)
		}
		for _, ttl := range ttls {
			out, err := s.TryClaimSessionExecutionLease(f.ctx, session.LeaseOwner{OwnerID: "o", IncarnationID: "i"}, ttl)
			if err != nil || out.Acquired == nil {
				t.Fatalf("%s: claim lease, ttl %v: %+v, %v", name, ttl, out, err)
			}
			storedTime(t, name+": lease expiry", out.Acquired.ExpiresAt)
			if l, err := s.RenewSessionExecutionLease(f.ctx, out.Acquired.Fence(), ttl); err == nil {
				storedTime(t, name+": renewed lease expiry", l.ExpiresAt)
			}
		}
		if err := s.SaveSessionMeta(f.ctx, session.SessionMeta{SessionID: sid, CreatedAt: "2026-01-02T03:04:05Z"}); err != nil {
			t.Fatalf("%s: save meta: %v", name, err)
		}
		readsBack(t, f, sid, b)
	}
}

// readsBack requires a fresh handle to read session sid, its queue (with
// batch b as enqueued) and inputs, and to delete and recreate it.
func readsBack(t *testing.T, f *fixture, sid string, b session.QueuedWorkBatch) {
	t.Helper()
	s := f.open(sid)
	if r, err := s.LoadSession(f.ctx, session.FullGraph()); err != nil || r == nil {
		t.Fatalf("%s: a fresh handle loads %v, %v", sid, r, err)
	}
	q, err := s.ListQueuedWork(f.ctx)
	if err != nil || len(q) != 2 {
		t.Fatalf("%s: list queue: %d batches, %v", sid, len(q), err)
	}
	if got := q[1]; !got.AvailableAt.Equal(b.AvailableAt) || !got.EnqueuedAt.Equal(b.EnqueuedAt) {
		t.Errorf("%s: reads back available %v enqueued %v, enqueue returned %v, %v", sid, got.AvailableAt, got.EnqueuedAt, b.AvailableAt, b.EnqueuedAt)
	}
	if in, err := s.ListPendingTurnInputs(f.ctx); err != nil || len(in) != 1 {
		t.Fatalf("%s: list inputs: %d, %v", sid, len(in), err)
	}
	if m, err := s.LoadSessionMeta(f.ctx); err != nil || m == nil {
		t.Fatalf("%s: load meta: %v, %v", sid, m, err)
	}
}

// badJSON are values that are not one JSON value.
var badJSON = []string{"{not json", "NaN", "[1,", "\"\x01\"", "   ", "{} {}", "'a'"}

// testInvalidJSON requires every caller JSON that is not JSON to be
// ErrInvalidCommit before any request, whatever path its commit takes (a
// small commit stays in the head; one with a 3 MiB node writes a segment).
func testInvalidJSON(t *testing.T, f *fixture) {
	cs := NewCountingStore(f.env.Store)
	s := f.open("badjson", cs)
	f.mustCommit(s, appendCommit("badjson", 0, "", "a"))
	big := node("big", "a")
	big.Event = quoted(3 << 20)
	for _, bad := range badJSON {
		raw := json.RawMessage(bad)
		calls := map[string]func() error{}
		for _, withBig := range []bool{false, true} {
			with := func(edit func(c *session.RuntimeCommit)) func() error {
				return func() error {
					c := appendCommit("badjson", 1, "a", "b")
					if withBig {
						c.Graph.Nodes = append([]session.NodeRecord{big}, c.Graph.Nodes...)
					}
					edit(&c)
					_, err := s.CommitRuntimeState(f.ctx, c)
					return err
				}
			}
			p := fmt.Sprintf("big=%v ", withBig)
			calls[p+"event"] = with(func(c *session.RuntimeCommit) { c.Graph.Nodes[len(c.Graph.Nodes)-1].Event = raw })
			calls[p+"body"] = with(func(c *session.RuntimeCommit) {
				n := &c.Graph.Nodes[len(c.Graph.Nodes)-1]
				n.Kind, n.Event, n.PluginType, n.Body = session.PayloadPlugin, nil, "p", raw
			})
			calls[p+"frames"] = with(func(c *session.RuntimeCommit) { c.AgentFrames = raw })
			calls[p+"usage"] = with(func(c *session.RuntimeCommit) {
				c.Checkpoint = &session.HydratedCheckpoint{TurnState: session.TurnState{TokenUsage: raw}}
			})
			calls[p+"outbox"] = with(func(c *session.RuntimeCommit) {
				c.EnqueuedQueueBatches = []session.QueuedWorkBatchDraft{{Payload: raw}}
			})
		}
		calls["enqueue"] = func() error {
			_, err := s.EnqueueQueuedWork(f.ctx, session.QueuedWorkBatchDraft{Payload: raw})
			return err
		}
		calls["input"] = func() error {
			_, err := s.EnqueuePendingTurnInput(f.ctx, session.PendingTurnInputDraft{Payload: raw})
			return err
		}
		for what, call := range calls {
			cs.Reset()
			if err := call(); !errors.Is(err, session.ErrInvalidCommit) || cs.Total() != 0 {
				t.Errorf("%q as %s: %v after %d requests, want ErrInvalidCommit before any", bad, what, err, cs.Total())
			}
		}
	}
	if r := f.load(f.open("badjson"), session.FullGraph()); r.HeadRevision != 1 || len(r.Graph.Nodes) != 1 {
		t.Fatalf("refused commits changed the session: revision %d, %d nodes", r.HeadRevision, len(r.Graph.Nodes))
	}
}

// oddJSON are valid JSON values a canonical encoder would write otherwise.
var oddJSON = []string{" { \"a\" : [ 1 , 2 ] }\n", "1e999999", "\"\xff\xfe\"", "\"<a & b>\u2028\u2029\"",
	"\"\\u00e9 \\\" \\\\\"", "-0.0E+00", "\"a\\u0000b\"", "{\"a\":1,\"a\":2}", "null"}

// testOddJSON requires a valid but odd value to read back as the same
// bytes whether its node was written to the head or to a segment, and as
// documented: the text a JSON encoder writes for a json.RawMessage
// (whitespace outside strings dropped, <, >, &, U+2028 and U+2029 in strings
// escaped), everything else verbatim.
func testOddJSON(t *testing.T, f *fixture) {
	s := f.open("oddjson")
	f.mustCommit(s, appendCommit("oddjson", 0, "", "a"))
	big := node("big", "a")
	big.Event = quoted(3 << 20)
	for i, odd := range oddJSON {
		want, err := json.Marshal(json.RawMessage(odd))
		if err != nil {
			t.Fatalf("%q: %v", odd, err)
		}
		small, seg := fmt.Sprintf("h%d", i), fmt.Sprintf("s%d", i)
		c := appendCommit("oddjson", uint64(1+2*i), "a", small)
		c.Graph.Nodes[0].Event = json.RawMessage(odd)
		f.mustCommit(s, c)
		c = appendCommit("oddjson", uint64(2+2*i), "a", "big", seg)
		c.Graph.Nodes[0], c.Graph.Nodes[1].Event = big, json.RawMessage(odd)
		f.mustCommit(s, c)
		for _, h := range []*session.Store{s, f.open("oddjson")} {
			for _, id := range []string{small, seg} {
				n, err := h.LoadNode(f.ctx, id)
				if err != nil || n == nil || !bytes.Equal(n.Event, want) {
					t.Errorf("%q: node %s reads back %v, %v; want %q", odd, id, n, err, want)
				}
			}
		}
	}
}

// testOversizedCalls requires a value over MaxHeadBytes handed to a call
// that keeps it in the head to be refused before any request (each call on
// a fresh handle, which would have to read the head first).
func testOversizedCalls(t *testing.T, f *fixture) {
	cs := NewCountingStore(f.env.Store)
	big := quoted(session.MaxHeadBytes + 1)
	calls := map[string]func(s *session.Store) error{
		"meta": func(s *session.Store) error {
			return s.SaveSessionMeta(f.ctx, session.SessionMeta{SessionID: "oversized", SessionName: string(big)})
		},
		"create": func(s *session.Store) error {
			_, err := s.CreateSession(f.ctx, session.SessionMeta{SessionID: "oversized", Cwd: string(big)})
			return err
		},
		"enqueue": func(s *session.Store) error {
			_, err := s.EnqueueQueuedWork(f.ctx, session.QueuedWorkBatchDraft{Payload: big})
			return err
		},
		"input": func(s *session.Store) error {
			_, err := s.EnqueuePendingTurnInput(f.ctx, session.PendingTurnInputDraft{Payload: big})
			return err
		},
	}
	for what, call := range calls {
		s := f.open("oversized", cs)
		cs.Reset()
		wantTooLarge(t, what, call(s), session.MaxHeadBytes)
		if n := cs.Total(); n != 0 {
			t.Errorf("%s: refused after %d requests, want none", what, n)
		}
	}
}
