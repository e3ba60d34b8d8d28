package session_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/session"
	"github.com/stowage-dev/stowage/session/sessiontest"
)

// segWatch records the largest segment object written.
type segWatch struct {
	objstore.Store
	mu  sync.Mutex
	max int
}

func (s *segWatch) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	if _, kind, _ := session.ParseKey(key); kind == session.KeySegment {
		s.mu.Lock()
		s.max = max(s.max, len(data))
		s.mu.Unlock()
	}
	return s.Store.Put(ctx, key, data, opts)
}

// TestLongSessionFullScale is LongSessionMergesStayBounded at full scale
// (make test-long): 50,000 revisions of about 2 KiB of incompressible text
// with the default tuning, several times the default 4 MiB segment cap.
// No segment written exceeds the cap, the session loads right, and the
// bucket holds little more than the live bytes.
func TestLongSessionFullScale(t *testing.T) {
	if os.Getenv("STOWAGE_TEST_LONG") == "" {
		t.Skip("STOWAGE_TEST_LONG=1 (make test-long)")
	}
	ctx := context.Background()
	mem := memstore.New(nil)
	watch := &segWatch{Store: mem}
	const sid, revisions = "long", 50_000
	w, err := session.New(session.Config{Store: watch, SessionID: sid})
	if err != nil {
		t.Fatal(err)
	}
	parent, total := "", 0
	sum := sha256.Sum256([]byte("seed"))
	for i := range revisions {
		id := fmt.Sprintf("n%05d", i)
		text := make([]byte, 0, 2100)
		text = append(text, '"')
		for len(text) < 2000 {
			sum = sha256.Sum256(sum[:])
			text = hex.AppendEncode(text, sum[:])
		}
		text = append(text, '"')
		total += len(text)
		c := session.RuntimeCommit{SessionID: sid, ExpectedHeadRevision: ptr(uint64(i)),
			Graph: session.GraphDelta{Kind: session.DeltaAppend, Leaf: id, Nodes: []session.NodeRecord{
				{NodeID: id, ParentNodeID: parent, Timestamp: "2026-01-02T03:04:05Z", Kind: session.PayloadEvent, Event: text}}}}
		if _, err := w.CommitRuntimeState(ctx, c); err != nil {
			t.Fatalf("commit %d: %v", i+1, err)
		}
		parent = id
	}
	const segCap = 4 << 20
	if watch.max > segCap+segCap/8 {
		t.Fatalf("a segment of %d bytes was written; cap %d", watch.max, segCap)
	}
	r, err := session.New(session.Config{Store: mem, SessionID: sid})
	if err != nil {
		t.Fatal(err)
	}
	read, err := r.LoadSession(ctx, session.ActivePath(""))
	if err != nil || len(read.Graph.Nodes) != revisions {
		t.Fatalf("active path: %v", err)
	}
	if n, err := r.LoadNode(ctx, "n00007"); err != nil || n == nil {
		t.Fatalf("load node: %v", err)
	}
	bucket, live, err := sessiontest.Amplification(ctx, mem, sid)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := session.ReadHead(ctx, mem, sid)
	t.Logf("%d revisions, %d bytes of nodes; %d objects named; largest segment %d bytes; bucket %d / live %d = %.2fx",
		revisions, total, len(info.Keys), watch.max, bucket, live, float64(bucket)/float64(live))
	if float64(bucket) > 1.5*float64(live) {
		t.Fatalf("bucket %d bytes for %d live", bucket, live)
	}
}
