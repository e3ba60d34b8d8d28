package soak

import (
	"context"
	"fmt"
	"io"

	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/session"
)

// Loaded is what Verify read back of a session.
type Loaded struct {
	Revision    uint64
	Nodes       int
	Attachments int
	Bytes       int64
}

// Verify reads a session back through fresh handles and checks it against
// the turns acknowledged to its writers: every acknowledged turn's nodes
// are in the graph exactly once and in order, no node is there that no
// acknowledged turn wrote (unless extraOK: a writer killed mid-commit may
// have landed one unacknowledged turn), the head revision is the last
// acknowledgement's (or later, with extraOK), and every acknowledged
// attachment reads back in full with its digest checked.
func Verify(ctx context.Context, sess *session.Store, att *attach.Store, acked []Ack, extraOK bool) (Loaded, error) {
	var out Loaded
	read, err := sess.LoadSession(ctx, session.FullGraph())
	if err != nil {
		return out, fmt.Errorf("soak: load %s: %w", sess.SessionID(), err)
	}
	if read == nil {
		if len(acked) > 0 {
			return out, fmt.Errorf("soak: session %s: missing, %d turns acknowledged", sess.SessionID(), len(acked))
		}
		return out, nil
	}
	out.Revision, out.Nodes = read.HeadRevision, len(read.Graph.Nodes)
	seen := make(map[string]int, len(read.Graph.Nodes))
	for i, n := range read.Graph.Nodes {
		if _, dup := seen[n.NodeID]; dup {
			return out, fmt.Errorf("soak: session %s: node %s is in the graph twice", sess.SessionID(), n.NodeID)
		}
		seen[n.NodeID] = i
	}
	want, last := 0, -1
	for _, a := range acked {
		for _, id := range a.NodeIDs {
			i, ok := seen[id]
			if !ok {
				return out, fmt.Errorf("soak: session %s: acknowledged node %s (turn %s, revision %d) is missing",
					sess.SessionID(), id, a.TurnID, a.Revision)
			}
			if i < last {
				return out, fmt.Errorf("soak: session %s: node %s is out of order", sess.SessionID(), id)
			}
			last = i
			want++
		}
	}
	var lastRev uint64
	if len(acked) > 0 {
		lastRev = acked[len(acked)-1].Revision
	}
	switch {
	case !extraOK && want != len(read.Graph.Nodes):
		return out, fmt.Errorf("soak: session %s: %d nodes in the graph, %d acknowledged", sess.SessionID(), len(read.Graph.Nodes), want)
	case !extraOK && read.HeadRevision != lastRev:
		return out, fmt.Errorf("soak: session %s: head revision %d, last acknowledged %d", sess.SessionID(), read.HeadRevision, lastRev)
	case read.HeadRevision < lastRev:
		return out, fmt.Errorf("soak: session %s: head revision %d is behind the acknowledged %d", sess.SessionID(), read.HeadRevision, lastRev)
	}
	for _, a := range acked {
		for _, ref := range a.Attachments {
			n, err := readAll(ctx, att, ref.ID)
			if err != nil {
				return out, fmt.Errorf("soak: session %s: acknowledged attachment %s (turn %s): %w", sess.SessionID(), ref.ID, a.TurnID, err)
			}
			if n != ref.Size {
				return out, fmt.Errorf("soak: session %s: attachment %s reads %d bytes, acknowledged %d", sess.SessionID(), ref.ID, n, ref.Size)
			}
			out.Attachments++
			out.Bytes += n
		}
	}
	return out, nil
}

// readAll reads an attachment in full; the attachment store checks that the
// bytes hash to the id.
func readAll(ctx context.Context, att *attach.Store, id string) (int64, error) {
	body, _, err := att.Get(ctx, id, nil)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	return io.Copy(io.Discard, body)
}
