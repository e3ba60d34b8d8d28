package session

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"unsafe"

	"github.com/stowage-dev/stowage/internal/codec"
)

// The payload of a block of schema 2 (docs/format.md, the segment's
// blocks): the node count as a uvarint, then each node's fields in this order, each a
// uvarint length and that many bytes. Decoding slices one copy of the
// payload instead of parsing JSON: a cold load decodes its nodes several
// times faster (BenchmarkColdLoad). An empty event or body reads as none,
// as an omitted one does in JSON.
var nodeFields = [...]func(n *NodeRecord) *string{
	func(n *NodeRecord) *string { return &n.NodeID },
	func(n *NodeRecord) *string { return &n.ParentNodeID },
	func(n *NodeRecord) *string { return &n.CausedBy },
	func(n *NodeRecord) *string { return &n.AgentFrameID },
	func(n *NodeRecord) *string { return &n.Timestamp },
	func(n *NodeRecord) *string { return (*string)(&n.Kind) },
	func(n *NodeRecord) *string { return &n.PluginType },
}

// encodeNodes returns the schema-2 block payload of nodes.
func encodeNodes(nodes []NodeRecord) []byte {
	size := binary.MaxVarintLen64
	for i := range nodes {
		size += nodeBytes(nodes[i]) + 9*binary.MaxVarintLen32
	}
	out := binary.AppendUvarint(make([]byte, 0, size), uint64(len(nodes)))
	for i := range nodes {
		n := &nodes[i]
		for _, f := range nodeFields {
			s := *f(n)
			out = append(binary.AppendUvarint(out, uint64(len(s))), s...)
		}
		out = append(binary.AppendUvarint(out, uint64(len(n.Event))), n.Event...)
		out = append(binary.AppendUvarint(out, uint64(len(n.Body))), n.Body...)
	}
	return out
}

// decodeNodes decodes a schema-2 block payload. The nodes' strings and
// their event and body bytes all alias payload, which neither the caller
// nor anyone after it may write again: decoded nodes are only ever read
// (what a load returns is a copy, cloneNodes). Sharing payload instead of
// copying it into a string saves a cold load a copy of every byte it
// decodes (BenchmarkColdLoad).
func decodeNodes(payload []byte) ([]NodeRecord, error) {
	if len(payload) == 0 {
		return nil, fmt.Errorf("%w: empty block", codec.ErrCorrupt)
	}
	str := unsafe.String(&payload[0], len(payload))
	off := 0
	field := func() (int, int, error) {
		n, k := binary.Uvarint(payload[off:])
		if k <= 0 || n > uint64(len(payload)-off-k) {
			return 0, 0, fmt.Errorf("%w: block field at byte %d", codec.ErrCorrupt, off)
		}
		start := off + k
		off = start + int(n)
		return start, off, nil
	}
	count, k := binary.Uvarint(payload)
	if k <= 0 || count > uint64(len(payload)/9) {
		return nil, fmt.Errorf("%w: block node count", codec.ErrCorrupt)
	}
	off = k
	nodes := make([]NodeRecord, count)
	for i := range nodes {
		for _, f := range nodeFields {
			a, b, err := field()
			if err != nil {
				return nil, err
			}
			*f(&nodes[i]) = str[a:b]
		}
		for _, raw := range []*json.RawMessage{&nodes[i].Event, &nodes[i].Body} {
			a, b, err := field()
			if err != nil {
				return nil, err
			}
			if b > a {
				*raw = json.RawMessage(payload[a:b:b])
			}
		}
	}
	if off != len(payload) {
		return nil, fmt.Errorf("%w: %d bytes after the block's nodes", codec.ErrCorrupt, len(payload)-off)
	}
	return nodes, nil
}
