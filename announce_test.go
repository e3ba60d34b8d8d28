package stowage_test

import (
	"context"
	"errors"
	"fmt"
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

func (noAnnouncer) AnnounceTurn(context.Context, string, string) error { return nil }

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
	m := manifest.New(objs, &manifest.Options{Turns: session.TurnReceipts{Store: objs},
		Heads: session.HeadRefs{Store: objs}, Incarnations: session.HeadRefs{Store: objs}, Announcer: ann})
	h, err := session.New(session.Config{Store: objs, SessionID: sid, Manifest: m, Hook: m})
	if err != nil {
		return err
	}
	commit := func(rev uint64, turn string) error {
		node := fmt.Sprint("n", rev)
		c := session.RuntimeCommit{ExpectedHeadRevision: &rev, Graph: session.GraphDelta{Kind: session.DeltaAppend, Leaf: node,
			Nodes: []session.NodeRecord{{NodeID: node, Kind: session.PayloadEvent, Event: []byte(`{}`)}}}}
		if turn != "" {
			c.TurnCommit = &session.TurnCommitStamp{TurnID: turn, TurnCommitHash: "h"}
		}
		_, err := h.CommitRuntimeState(ctx, c)
		return err
	}
	if err := commit(0, ""); err != nil { // the handle now caches the head
		return err
	}
	a, err := attach.New(m, sid, nil)
	if err != nil {
		return err
	}
	ref, err := a.Put(attach.WithOwner(ctx, manifest.TurnOwner("t1")), strings.NewReader("tool output"), attach.PutOptions{})
	if err != nil {
		return err
	}
	if err := commit(1, "t1"); err != nil {
		return err
	}
	row, ok, err := m.Row(ctx, sid, ref.ID)
	switch {
	case err != nil:
		return err
	case !ok || !row.Committed():
		return fmt.Errorf("%w: row %+v (found %v)", errNotAdopted, row, ok)
	}
	return nil
}
