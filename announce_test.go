package stowage_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

// noAnnouncer is the mutant of A3 (docs/protocol.md, "One-request
// commits"): it claims to announce a turn and writes nothing.
type noAnnouncer struct{}

func (noAnnouncer) AnnounceTurn(context.Context, string, string, string) error { return nil }

// TestAnnouncedTurnAdoption: a turn puts an attachment it does not name
// in its commit, through a handle whose cached head predates the put; the
// commit must still adopt it (the put announced the turn, so the commit
// lists the turn's markers). With an announcer that announces nothing, the
// commit takes the one-request path on the stale head and the attachment
// stays uncommitted: the check must catch that.
func TestAnnouncedTurnAdoption(t *testing.T) {
	raceBackends(t, func(t *testing.T, objs objstore.Store) {
		if err := adoptUnnamed(t.Context(), objs, "real", session.HeadRefs{Store: objs}); err != nil {
			t.Fatal(err)
		}
		err := adoptUnnamed(t.Context(), objs, "mutant", noAnnouncer{})
		if !errors.Is(err, errNotAdopted) {
			t.Fatalf("announce-skipped mutant not caught: %v", err)
		}
	})
}

var errNotAdopted = errors.New("the turn's attachment was not adopted by its commit")

// adoptUnnamed runs the schedule of TestAnnouncedTurnAdoption on session
// sid with ann as the manifest's announcer.
func adoptUnnamed(ctx context.Context, objs objstore.Store, sid string, ann manifest.TurnAnnouncer) error {
	m := announcingManifest(objs, ann)
	h, err := session.New(session.Config{Store: objs, SessionID: sid, Manifest: m, Hook: m})
	if err != nil {
		return err
	}
	ref, err := putTurnOutput(ctx, h, m, sid)
	if err != nil {
		return err
	}
	if err := commitNode(ctx, h, 1, "t1"); err != nil {
		return err
	}
	return checkAdopted(ctx, m, sid, ref)
}

// putTurnOutput commits node n0 on h (the handle then caches the head) and
// puts, through m, a tool output owned by turn t1 that no commit names.
func putTurnOutput(ctx context.Context, h *session.Store, m *manifest.Store, sid string) (attach.Ref, error) {
	if err := commitNode(ctx, h, 0, ""); err != nil {
		return attach.Ref{}, err
	}
	a, err := attach.New(m, sid, nil)
	if err != nil {
		return attach.Ref{}, err
	}
	return a.Put(attach.WithOwner(ctx, manifest.TurnOwner("t1")), strings.NewReader("tool output"), attach.PutOptions{})
}

// announcingManifest is a manifest over objs wired as stowage.Open wires
// one, with ann as its announcer.
func announcingManifest(objs objstore.Store, ann manifest.TurnAnnouncer) *manifest.Store {
	return manifest.New(objs, &manifest.Options{Turns: session.TurnReceipts{Store: objs},
		Heads: session.HeadRefs{Store: objs}, Incarnations: session.HeadRefs{Store: objs}, Announcer: ann})
}

// commitNode commits node n<rev> on h at revision rev, with a stamp of
// turn unless turn is empty.
func commitNode(ctx context.Context, h *session.Store, rev uint64, turn string) error {
	node := fmt.Sprint("n", rev)
	c := session.RuntimeCommit{ExpectedHeadRevision: &rev, Graph: session.GraphDelta{Kind: session.DeltaAppend, Leaf: node,
		Nodes: []session.NodeRecord{{NodeID: node, Kind: session.PayloadEvent, Event: []byte(`{}`)}}}}
	if turn != "" {
		c.TurnCommit = &session.TurnCommitStamp{TurnID: turn, TurnCommitHash: "h"}
	}
	_, err := h.CommitRuntimeState(ctx, c)
	return err
}

// checkAdopted fails with errNotAdopted unless every ref's row of sid is
// committed.
func checkAdopted(ctx context.Context, m *manifest.Store, sid string, refs ...attach.Ref) error {
	for _, ref := range refs {
		row, ok, err := m.Row(ctx, sid, ref.ID)
		switch {
		case err != nil:
			return err
		case !ok || !row.Committed():
			return fmt.Errorf("%w: row %+v (found %v)", errNotAdopted, row, ok)
		}
	}
	return nil
}

// selfishAnnouncer is the mutant of the writers rule (docs/protocol.md,
// "One-request commits"): it announces a turn that no head announces yet,
// and leaves a turn some other manifest announced alone instead of adding
// itself to the turn's writers (what a writer of head schema 6 would do).
type selfishAnnouncer struct{ session.HeadRefs }

func (a selfishAnnouncer) AnnounceTurn(ctx context.Context, sid, turn, writer string) error {
	info, err := session.ReadHead(ctx, a.Store, sid)
	if err != nil {
		return err
	}
	if info != nil && slices.Contains(info.AttachTurns, turn) {
		return nil
	}
	return a.HeadRefs.AnnounceTurn(ctx, sid, turn, writer)
}

// TestAnnouncedTurnWriters: two manifests (two processes) put attachments
// owned by one turn, neither named by the commit; the turn commits through
// the first. The commit must adopt both rows: the head names both
// manifests as the turn's writers, so the first does not take its own
// remembered rows for all of them. With a second manifest that does not
// add itself to the writers, the second row stays uncommitted, and the
// check must catch that.
func TestAnnouncedTurnWriters(t *testing.T) {
	raceBackends(t, func(t *testing.T, objs objstore.Store) {
		if err := adoptTwoWriters(t.Context(), objs, "real", session.HeadRefs{Store: objs}); err != nil {
			t.Fatal(err)
		}
		err := adoptTwoWriters(t.Context(), objs, "mutant", selfishAnnouncer{session.HeadRefs{Store: objs}})
		if !errors.Is(err, errNotAdopted) {
			t.Fatalf("selfish-announcer mutant not caught: %v", err)
		}
	})
}

// adoptTwoWriters runs the schedule of TestAnnouncedTurnWriters on session
// sid; second is the second manifest's announcer.
func adoptTwoWriters(ctx context.Context, objs objstore.Store, sid string, second manifest.TurnAnnouncer) error {
	segs := session.NewSegmentCache(1 << 20)
	first, other := announcingManifest(objs, session.HeadRefs{Store: objs, Cache: segs}), announcingManifest(objs, second)
	h, err := session.New(session.Config{Store: objs, SessionID: sid, Manifest: first, Hook: first, Segments: segs})
	if err != nil {
		return err
	}
	if err := commitNode(ctx, h, 0, ""); err != nil {
		return err
	}
	var refs []attach.Ref
	for i, m := range []*manifest.Store{first, other} {
		a, err := attach.New(m, sid, nil)
		if err != nil {
			return err
		}
		ref, err := a.Put(attach.WithOwner(ctx, manifest.TurnOwner("t1")), strings.NewReader(fmt.Sprint("tool output ", i)), attach.PutOptions{})
		if err != nil {
			return err
		}
		refs = append(refs, ref)
	}
	if err := commitNode(ctx, h, 1, "t1"); err != nil {
		return err
	}
	return checkAdopted(ctx, first, sid, refs...)
}
