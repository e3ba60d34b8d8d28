package session_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/session"
)

// immutableGets records, per key kind, the whole GETs made with and
// without GetOptions.Immutable.
type immutableGets struct {
	objstore.Store
	mu   sync.Mutex
	with map[session.KeyKind]int
	not  map[session.KeyKind]int
}

func (s *immutableGets) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	if _, kind, ok := session.ParseKey(key); ok && (opts == nil || opts.Range == nil) {
		s.mu.Lock()
		if opts != nil && opts.Immutable {
			s.with[kind]++
		} else {
			s.not[kind]++
		}
		s.mu.Unlock()
	}
	return s.Store.Get(ctx, key, opts)
}

// TestImmutableReads: a cold load reads its segments whole saying they are
// written once (GetOptions.Immutable: on a server whose GETs racing an
// overwrite may pair a body with another ETag, the body check is skipped
// for them; the codec envelope checks them), and never says so of the
// head, which every commit overwrites.
func TestImmutableReads(t *testing.T) {
	ctx := context.Background()
	objs := &immutableGets{Store: memstore.New(nil), with: map[session.KeyKind]int{}, not: map[session.KeyKind]int{}}
	s, err := session.New(session.Config{Store: objs, SessionID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Repeat("words of a turn ", 64)
	for r := uint64(0); r < 40; r++ {
		c := benchCommit("s", r, int(r))
		parent := ""
		if r > 0 {
			parent = fmt.Sprintf("n%d", r-1)
		}
		c.Graph.Nodes = []session.NodeRecord{{NodeID: fmt.Sprintf("n%d", r), ParentNodeID: parent, Kind: session.PayloadEvent,
			Timestamp: "2026-01-02T03:04:05Z", Event: []byte(fmt.Sprintf(`{"text":%q,"n":%d}`, text, r))}}
		c.Graph.Leaf = fmt.Sprintf("n%d", r)
		if _, err := s.CommitRuntimeState(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	s.WaitCompaction()
	cold, err := session.New(session.Config{Store: objs, SessionID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cold.LoadSession(ctx, session.ActivePath("")); err != nil {
		t.Fatal(err)
	}
	objs.mu.Lock()
	defer objs.mu.Unlock()
	if objs.with[session.KeySegment] == 0 || objs.not[session.KeySegment] != 0 {
		t.Errorf("whole segment reads: %d immutable, %d not; want all of them, at least one", objs.with[session.KeySegment], objs.not[session.KeySegment])
	}
	if objs.with[session.KeyHead] != 0 || objs.not[session.KeyHead] == 0 {
		t.Errorf("head reads: %d immutable, %d not; want none of them", objs.with[session.KeyHead], objs.not[session.KeyHead])
	}
}
