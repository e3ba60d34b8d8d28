package session_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/session"
)

// TestColdLoadReadsBlobsWithSegments: a cold load of a session whose
// checkpoint has a body stored as an object of its own reads that body in
// the same round as the segments, not after them (docs/protocol.md,
// "Loads": two sequential round trips). Here the first blob GET and the
// first segment GET each wait until the other has been sent, so a load
// that reads them one after the other never finishes.
func TestColdLoadReadsBlobsWithSegments(t *testing.T) {
	ctx := t.Context()
	objs := memstore.New(nil)
	w, err := session.New(session.Config{Store: objs, SessionID: "s", Tuning: session.Tuning{FlushBytes: 1 << 10}})
	if err != nil {
		t.Fatal(err)
	}
	state := bytes.Repeat([]byte("x"), 4<<10) // over InlineBlobMax: a blob object
	for r := uint64(0); r < 40; r++ {
		c := benchCommit("s", r, int(r))
		c.Checkpoint.ExecutionState = append([]byte(nil), state...)
		if r > 0 {
			c.Graph.Nodes[0].ParentNodeID = fmt.Sprintf("n%d", r-1)
		}
		if _, err := w.CommitRuntimeState(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	w.WaitCompaction()

	m := &meetingStore{Store: objs, sent: map[string]chan struct{}{"/blob/": make(chan struct{}), "/seg/": make(chan struct{})}}
	cold, err := session.New(session.Config{Store: m, SessionID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	lctx, cancel := context.WithTimeout(ctx, time.Minute) // bounds the failure, not the success
	defer cancel()
	res, err := cold.LoadSession(lctx, session.ActivePath(""))
	if err != nil {
		t.Fatalf("cold load: %v (the blob and the segments were not read in one round)", err)
	}
	if len(res.Graph.Nodes) != 40 || !bytes.Equal(res.Checkpoint.ExecutionState, state) {
		t.Fatalf("cold load: %d nodes, execution state of %d bytes", len(res.Graph.Nodes), len(res.Checkpoint.ExecutionState))
	}
	cold.WaitCompaction()
}

// meetingStore holds the first GET of each kind of key in sent until the
// other kind has been asked for too.
type meetingStore struct {
	objstore.Store
	mu   sync.Mutex
	sent map[string]chan struct{}
}

func (m *meetingStore) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	for kind, ch := range m.sent {
		if !strings.Contains(key, kind) {
			continue
		}
		m.mu.Lock()
		select {
		case <-ch:
		default:
			close(ch)
		}
		m.mu.Unlock()
		for other, och := range m.sent {
			if other == kind {
				continue
			}
			select {
			case <-och:
			case <-ctx.Done():
				return nil, objstore.ObjectInfo{}, ctx.Err()
			}
		}
	}
	return m.Store.Get(ctx, key, opts)
}
