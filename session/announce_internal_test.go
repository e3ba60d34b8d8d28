package session

import (
	"fmt"
	"slices"
	"testing"
)

// TestAnnounceWriters: the writers of an announced turn, as a commit's
// base head reports them (docs/protocol.md, "One-request commits"). A
// head that reports writers must report every manifest that announced the
// turn; a head that cannot (a writer without an id, too many writers, too
// many turns, a head of schema 6 or older) must report them unknown.
func TestAnnounceWriters(t *testing.T) {
	writers := func(h *head, turn string) string {
		ws, known := h.turnWritersOf(turn)
		if !known {
			return "unknown"
		}
		return fmt.Sprint(ws)
	}
	h := &head{}
	if !h.announce("t1", "w1") || writers(h, "t1") != "[w1]" {
		t.Fatalf("first announcement: %s", writers(h, "t1"))
	}
	if h.announce("t1", "w1") {
		t.Fatal("announcing again by the same writer changed the head")
	}
	before := h.clone()
	if !h.announce("t1", "w0") || writers(h, "t1") != "[w0 w1]" || writers(before, "t1") != "[w1]" {
		t.Fatalf("second writer: %s (the clone before: %s)", writers(h, "t1"), writers(before, "t1"))
	}
	if !h.announce("t2", "") || writers(h, "t2") != "unknown" || !h.announces("t2") {
		t.Fatalf("a writer without an id: %s", writers(h, "t2"))
	}
	if h.announce("t2", "w1") || writers(h, "t2") != "unknown" {
		t.Fatalf("a turn of unknown writers gained one: %s", writers(h, "t2"))
	}
	if !h.announce("t1", "") || writers(h, "t1") != "unknown" || !h.announces("t1") {
		t.Fatalf("a writer without an id on a known turn: %s", writers(h, "t1"))
	}
	h.announce("t3", "w1")
	for i := range maxTurnWriters {
		h.announce("t3", fmt.Sprint("x", i))
	}
	if writers(h, "t3") != "unknown" {
		t.Fatalf("more than %d writers: %s", maxTurnWriters, writers(h, "t3"))
	}
	h.announce("t4", "w1")
	h.adopted("t4")
	if h.announces("t4") || writers(h, "t4") != "unknown" || slices.ContainsFunc(h.AttachWriters, func(w turnWriters) bool { return w.Turn == "t4" }) {
		t.Fatal("an adopted turn kept its writers")
	}
	h.announce("t5", "w1")
	for i := range maxAttachTurns {
		h.announce(fmt.Sprint("u", i), "w1")
	}
	if !h.AttachTurnsFull || writers(h, "t5") != "unknown" || len(h.AttachWriters) != 0 {
		t.Fatalf("past %d turns: full %v, t5 %s", maxAttachTurns, h.AttachTurnsFull, writers(h, "t5"))
	}
	h = &head{}
	h.announce("t1", "w1")
	if fresh := freshHead("s", h); writers(fresh, "t1") != "[w1]" {
		t.Fatalf("across a deletion: %s", writers(fresh, "t1"))
	}
}

// TestWritersProblems: fsck's check of the writers of announced turns.
func TestWritersProblems(t *testing.T) {
	h := &head{}
	h.announce("t1", "w1")
	h.announce("t1", "w2")
	h.announce("t2", "w1")
	if p := writersProblems(h); len(p) != 0 {
		t.Fatalf("a sound head: %q", p)
	}
	for name, break_ := range map[string]func(h *head){
		"unsorted":      func(h *head) { h.AttachWriters[0], h.AttachWriters[1] = h.AttachWriters[1], h.AttachWriters[0] },
		"not announced": func(h *head) { h.AttachTurns = h.AttachTurns[1:] },
		"full":          func(h *head) { h.AttachTurnsFull = true },
		"no writers":    func(h *head) { h.AttachWriters[0].Writers = nil },
		"duplicate":     func(h *head) { h.AttachWriters[0].Writers = []string{"w1", "w1"} },
		"empty id":      func(h *head) { h.AttachWriters[1].Writers = []string{""} },
	} {
		c := h.clone()
		c.AttachWriters = slices.Clone(c.AttachWriters)
		break_(c)
		if len(writersProblems(c)) == 0 {
			t.Errorf("%s: not reported", name)
		}
	}
}
