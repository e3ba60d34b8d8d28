package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/stowage-dev/stowage/internal/codec"
)

// randomNodes returns n nodes with every field drawn, empty ones included.
func randomNodes(rng *rand.Rand, n int) []NodeRecord {
	str := func() string {
		if rng.IntN(3) == 0 {
			return ""
		}
		return fmt.Sprintf("x%d-é✓-%d", rng.IntN(1000), rng.Uint64())
	}
	raw := func() json.RawMessage {
		if rng.IntN(3) == 0 {
			return nil
		}
		b, _ := json.Marshal(map[string]any{"text": str(), "n": rng.IntN(1 << 20), "pad": make([]int, rng.IntN(300))})
		return b
	}
	out := make([]NodeRecord, n)
	for i := range out {
		out[i] = NodeRecord{NodeID: fmt.Sprint("n", i), ParentNodeID: str(), CausedBy: str(), AgentFrameID: str(),
			Timestamp: str(), Kind: PayloadKind(str()), Event: raw(), PluginType: str(), Body: raw()}
	}
	return out
}

// TestBlockSchemasRoundTrip: a block of schema 2 (binary) and one of
// schema 1 (the JSON written before) decode to the same nodes, which are
// the nodes encoded.
func TestBlockSchemasRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	v1 := codec.Schema{Kind: blockSchema.Kind, Current: 1, Min: 1}
	for _, n := range []int{0, 1, 7, 300} {
		nodes := randomNodes(rng, n)
		bin, err := codec.EncodeRaw(blockSchema, encodeNodes(nodes))
		if err != nil {
			t.Fatal(err)
		}
		js, err := codec.Encode(v1, nodes)
		if err != nil {
			t.Fatal(err)
		}
		for name, env := range map[string][]byte{"schema 2": bin, "schema 1": js} {
			got, err := decodeBlock(env, n)
			if err != nil {
				t.Fatalf("%s, %d nodes: %v", name, n, err)
			}
			if n == 0 && len(got) == 0 {
				continue
			}
			if !reflect.DeepEqual(got, nodes) {
				t.Fatalf("%s, %d nodes: decoded nodes differ", name, n)
			}
		}
	}
}

// TestBlockPayloadDamage: a schema-2 payload cut short, with bytes after
// its nodes, or with a length past its end is codec.ErrCorrupt, never a
// panic or a wrong node list.
func TestBlockPayloadDamage(t *testing.T) {
	payload := encodeNodes(randomNodes(rand.New(rand.NewPCG(3, 4)), 20))
	for cut := 0; cut < len(payload); cut += 1 + cut/8 {
		if _, err := decodeNodes(payload[:cut]); !errors.Is(err, codec.ErrCorrupt) {
			t.Fatalf("cut at %d of %d: %v", cut, len(payload), err)
		}
	}
	if _, err := decodeNodes(append(payload[:len(payload):len(payload)], 0)); !errors.Is(err, codec.ErrCorrupt) {
		t.Fatalf("trailing byte: %v", err)
	}
	huge := append([]byte{1}, 0xff, 0xff, 0xff, 0xff, 0x0f)
	if _, err := decodeNodes(huge); !errors.Is(err, codec.ErrCorrupt) {
		t.Fatalf("length past the end: %v", err)
	}
	if _, err := decodeNodes([]byte{0xff, 0xff, 0xff, 0xff, 0x0f}); !errors.Is(err, codec.ErrCorrupt) {
		t.Fatalf("node count past the payload: %v", err)
	}
}

// TestSegmentOfManyBlocksDecodesInOrder: a segment of many blocks, which
// decodeBlocks decodes on several goroutines, decodes to its nodes in
// their order; a damaged block among them, wherever it is, is
// codec.ErrCorrupt.
func TestSegmentOfManyBlocksDecodesInOrder(t *testing.T) {
	nodes := randomNodes(rand.New(rand.NewPCG(5, 6)), 3000)
	data, _, _, err := encodeSegment(&segment{SessionID: "s", FromRev: 1, ToRev: 1, Nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	for _, nodesOnly := range []bool{false, true} {
		seg, err := decodeSegment(data, nodesOnly)
		if err != nil {
			t.Fatal(err)
		}
		if len(seg.Blocks) < 8 {
			t.Fatalf("%d blocks: the test needs many", len(seg.Blocks))
		}
		if !reflect.DeepEqual(seg.Nodes, nodes) {
			t.Fatalf("nodesOnly %v: decoded nodes differ from those encoded", nodesOnly)
		}
	}
	seg, _ := decodeSegment(data, false)
	for _, b := range []blockRef{seg.Blocks[0], seg.Blocks[len(seg.Blocks)/2], seg.Blocks[len(seg.Blocks)-1]} {
		bad := slices.Clone(data)
		bad[b.Off+b.Len-1] ^= 0xff
		if _, err := decodeSegment(bad, false); !errors.Is(err, codec.ErrCorrupt) {
			t.Fatalf("block at %d damaged: %v", b.Off, err)
		}
	}
}
