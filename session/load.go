package session

import (
	"context"
	"slices"
	"sync"

	"github.com/stowage-dev/stowage/observe"
)

// graphState is the decoded live graph of one head: nodes in insertion
// order with an id index. Shared read-only once built.
type graphState struct {
	etag    string
	writeID string // the head write it was built from: an ETag match is double-checked
	nodes   []NodeRecord
	pos     map[string]int

	mu    sync.Mutex
	paths map[string][]NodeRecord // active paths by leaf, root first, not cloned
}

// activePath returns leaf's ancestor chain, root first, cut at the first
// missing or tombstoned ancestor. The chain is computed once per graph (a
// graph is immutable: it belongs to one head write) and shares g's payloads:
// callers clone it.
func (g *graphState) activePath(leaf string) []NodeRecord {
	g.mu.Lock()
	defer g.mu.Unlock()
	if p, ok := g.paths[leaf]; ok {
		return p
	}
	chain := g.chain(leaf)
	if g.paths == nil {
		g.paths = map[string][]NodeRecord{}
	}
	if len(g.paths) >= 8 { // a few leaves are ever asked of one head
		clear(g.paths)
	}
	g.paths[leaf] = chain
	return chain
}

// chain returns leaf's ancestor chain, root first, cut at the first
// missing ancestor or at the first repeated one. It counts the chain first
// and fills it from the root end; only a walk longer than the graph (a
// cycle) needs the set of ids seen.
func (g *graphState) chain(leaf string) []NodeRecord {
	n := 0
	for id := leaf; id != ""; n++ {
		i, ok := g.pos[id]
		if !ok {
			break
		}
		if n == len(g.nodes) {
			return g.chainOfCycle(leaf)
		}
		id = g.nodes[i].ParentNodeID
	}
	chain := make([]NodeRecord, n)
	id := leaf
	for k := n - 1; k >= 0; k-- {
		i := g.pos[id]
		chain[k] = g.nodes[i]
		id = g.nodes[i].ParentNodeID
	}
	return chain
}

// chainOfCycle is chain for a leaf whose ancestors repeat.
func (g *graphState) chainOfCycle(leaf string) []NodeRecord {
	var chain []NodeRecord
	seen := map[string]bool{}
	for id := leaf; id != "" && !seen[id]; {
		i, ok := g.pos[id]
		if !ok {
			break // tombstoned or missing: the chain is cut here
		}
		seen[id] = true
		chain = append(chain, g.nodes[i])
		id = g.nodes[i].ParentNodeID
	}
	slices.Reverse(chain)
	return chain
}

// linearChain is buildGraph(h, segs).activePath(leaf) for the common
// graph of an unbranched session: its nodes, in the order they were
// appended (segments, then the tail, each from its newest reset on), with
// distinct ids, each but the first the child of the one before it, the
// last leaf. The chain is then those nodes, in that order, and needs no
// map from id to node and no walk (the walk from leaf ends at the first
// node, whose parent is missing or a node already walked). ok is false
// for any other graph (tombstones, an upsert, a branch, a leaf
// elsewhere), which the caller walks.
func linearChain(h *head, segs []*segment, leaf string) (chain []NodeRecord, ok bool) {
	if len(h.Tombstones) > 0 {
		return nil, false
	}
	chain = make([]NodeRecord, 0, graphSize(h, segs))
	add := func(reset bool, nodes []NodeRecord) {
		if reset {
			chain = chain[:0]
		}
		chain = append(chain, nodes...)
	}
	for _, seg := range segs {
		add(seg.Reset, seg.Nodes)
	}
	for _, d := range h.Tail {
		add(d.Reset, d.Nodes)
	}
	if len(chain) == 0 || chain[len(chain)-1].NodeID != leaf {
		return nil, false
	}
	seen := make(map[string]struct{}, len(chain))
	for i := range chain {
		if i > 0 && chain[i].ParentNodeID != chain[i-1].NodeID {
			return nil, false
		}
		seen[chain[i].NodeID] = struct{}{}
		if len(seen) != i+1 { // an upsert: the graph holds the id once, in the earlier place
			return nil, false
		}
	}
	return chain, true
}

// activeChain is the active path of leaf over h and segs: linearChain's
// when it takes the graph, else the walk's.
func activeChain(h *head, segs []*segment, leaf string) []NodeRecord {
	if chain, ok := linearChain(h, segs, leaf); ok {
		return chain
	}
	return buildGraph("", h, segs).activePath(leaf)
}

// graphSize is how many nodes segs and h's tail hold, repeats included.
func graphSize(h *head, segs []*segment) int {
	total := 0
	for _, seg := range segs {
		total += len(seg.Nodes)
	}
	for _, d := range h.Tail {
		total += len(d.Nodes)
	}
	return total
}

// liveSegs returns the segments LoadSession must read: those from the
// newest reset on (earlier nodes are tombstoned). If the tail holds a reset
// none are needed.
func liveSegs(h *head) []segRef {
	for _, d := range h.Tail {
		if d.Reset {
			return nil
		}
	}
	start := 0
	for i, r := range h.Segs {
		if r.Reset {
			start = i
		}
	}
	return h.Segs[start:]
}

// buildGraph applies segments and then the tail of h.
func buildGraph(etag string, h *head, segs []*segment) *graphState {
	total := graphSize(h, segs)
	nl := nodeList{nodes: make([]NodeRecord, 0, total), pos: make(map[string]int, total)}
	for _, seg := range segs {
		if seg.Reset {
			nl.reset()
		}
		for _, n := range seg.Nodes {
			nl.put(n)
		}
	}
	for _, d := range h.Tail {
		if d.Reset {
			nl.reset()
		}
		for _, n := range d.Nodes {
			nl.put(n)
		}
	}
	if len(h.Tombstones) > 0 {
		nl = dropTombstoned(nl, h.Tombstones)
	}
	if nl.pos == nil {
		nl.pos = map[string]int{}
	}
	return &graphState{etag: etag, writeID: h.WriteID, nodes: nl.nodes, pos: nl.pos}
}

// readLive returns the current head of a live session (nil if none), with
// at most one conditional GET.
func (s *Store) readLive(ctx context.Context) (*head, error) {
	snap, _, err := s.liveSnapshot(ctx)
	if err != nil || snap == nil {
		return nil, err
	}
	return snap.h, nil
}

// liveSnapshot returns the current head snapshot of a live session and its
// id, or nil if the handle is unbound or the session does not exist
// (no head, a deletion tombstone or a sweeper's placeholder).
func (s *Store) liveSnapshot(ctx context.Context) (*snapshot, string, error) {
	sid := s.SessionID()
	if sid == "" {
		return nil, "", nil
	}
	snap, err := s.revalidate(ctx, sid)
	if err != nil {
		return nil, "", err
	}
	if !snap.h.live() {
		return nil, "", nil
	}
	return &snap, sid, nil
}

// LoadSession implements CommitStore. It costs at most two sequential round
// trips (the head; then the segments and checkpoint blobs it names, in
// parallel), and one conditional GET when the head is unchanged since this
// handle last decoded it.
func (s *Store) LoadSession(ctx context.Context, scope ReadScope) (out *PersistedRead, err error) {
	ctx, op := observe.Start(ctx, s.obs, observe.Load, s.SessionID())
	defer func() { endOp(op, out.revision(), err) }()
	if scope.ActivePath {
		if err := validateOptionalID("leaf node id", scope.LeafNodeID); err != nil {
			return nil, err
		}
	}
	err = s.retryMissing(ctx, s.SessionID(), func() (err error) {
		out, err = s.loadSession(ctx, scope)
		return err
	})
	return out, err
}

func (s *Store) loadSession(ctx context.Context, scope ReadScope) (*PersistedRead, error) {
	early := s.speculate(scope)
	snapp, sid, err := s.liveSnapshot(ctx)
	if err != nil || snapp == nil {
		return nil, err
	}
	snap, h := *snapp, snapp.h
	if h.Revision == 0 {
		return nil, nil
	}
	var graph Graph
	var cp *HydratedCheckpoint
	cached := false // the graph came from the cache: leave a spare copy
	readGraph := func(ctx context.Context) error {
		if graph, cached = early.result(snap); cached {
			return nil
		}
		if graph, cached = s.cachedGraph(sid, snap, scope); cached {
			return nil
		}
		if !scope.ActivePath {
			g, err := s.graphOf(ctx, sid, snap)
			if err == nil {
				graph = project(g, h.Leaf, scope)
			}
			return err
		}
		// An active path with no decoded graph: read only the segments
		// that hold its nodes.
		leaf := pathLeaf(h, scope)
		nodes, err := s.activePath(ctx, sid, snap, leaf)
		graph = Graph{LeafNodeID: leaf, Nodes: nodes}
		return err
	}
	hydrate := func(ctx context.Context) (err error) {
		cp, err = s.hydrate(ctx, h)
		return err
	}
	// A checkpoint whose bodies are all inline reads nothing: hydrate it
	// here, not in a goroutine of its own.
	var reads []func(context.Context) error
	if h.namesBlobObjects() {
		reads = append(reads, hydrate)
	} else if err := hydrate(ctx); err != nil {
		return nil, err
	}
	if err := alongside(ctx, readGraph, reads...); err != nil {
		return nil, err
	}
	if cached && (early == nil || !early.otherSpare) {
		s.spareLater(sid, snap, scope)
	}
	out := &PersistedRead{
		SessionID:           sid,
		HeadRevision:        h.Revision,
		Config:              h.Config,
		AgentFrames:         cloneRaw(h.AgentFrames),
		CurrentAgentFrameID: h.CurrentAgentFrameID,
		CheckpointRef:       h.CheckpointRef,
		Checkpoint:          cp,
		TokenLedger:         slices.Clone(h.Ledger),
	}
	out.Graph = graph
	return out, nil
}

// graphOf returns the decoded graph of snap, cached per head ETag (the head
// names a unique write, so an ETag names one graph).
func (s *Store) graphOf(ctx context.Context, sid string, snap snapshot) (*graphState, error) {
	if g := s.segs.graph(sid, snap.etag, snap.h.WriteID); g != nil {
		return g, nil
	}
	refs := liveSegs(snap.h)
	ids := make([]string, len(refs))
	for i, r := range refs {
		ids[i] = r.ID
	}
	segs, err := s.loadSegments(ctx, sid, ids)
	if err != nil {
		return nil, err
	}
	g := buildGraph(snap.etag, snap.h, segs)
	if snap.etag != "" {
		s.segs.putGraph(sid, g)
	}
	return g, nil
}

// project selects the scope's nodes from g.
func project(g *graphState, persistedLeaf string, scope ReadScope) Graph {
	if !scope.ActivePath {
		return Graph{Nodes: cloneNodes(g.nodes), LeafNodeID: persistedLeaf}
	}
	leaf := scope.LeafNodeID
	if leaf == "" {
		leaf = persistedLeaf
	}
	return Graph{LeafNodeID: leaf, Nodes: cloneNodes(g.activePath(leaf))}
}

// pathLeaf is the leaf of an active-path scope on h.
func pathLeaf(h *head, scope ReadScope) string {
	if scope.LeafNodeID != "" {
		return scope.LeafNodeID
	}
	return h.Leaf
}

// cachedGraph returns the scope's graph of snap from the decoded graph or
// active path the cache holds for it, without a request; ok is false when
// the cache holds neither.
func (s *Store) cachedGraph(sid string, snap snapshot, scope ReadScope) (Graph, bool) {
	if g := s.segs.graph(sid, snap.etag, snap.h.WriteID); g != nil {
		return project(g, snap.h.Leaf, scope), true
	}
	if !scope.ActivePath {
		return Graph{}, false
	}
	leaf := pathLeaf(snap.h, scope)
	if p := s.segs.path(sid, snap.etag, snap.h.WriteID, leaf); p != nil {
		return Graph{LeafNodeID: leaf, Nodes: cloneNodes(p.nodes)}, true
	}
	return Graph{}, false
}

// speculation is the graph of a load computed from the cached head while
// the load revalidates that head: copying a long graph out of the cache
// costs about as much CPU as the conditional GET takes to answer, and a
// load of an unchanged head would otherwise do the two one after the other.
// The result is used only for the head it was computed from; for any
// other, the copy was wasted CPU and is dropped.
type speculation struct {
	etag, writeID string
	done          chan struct{}
	graph         Graph
	ok            bool
	otherSpare    bool // the cache holds a spare of this head for another scope
}

// speculate starts copying the scope's graph of the cached head, when the
// cache holds both, or takes the spare copy of it (spare.go); nil when it
// holds neither.
func (s *Store) speculate(scope ReadScope) *speculation {
	sid := s.SessionID()
	if sid == "" {
		return nil
	}
	cur := s.segs.head(sid)
	if cur == nil || cur.etag == "" || !cur.h.live() || cur.h.Revision == 0 {
		return nil
	}
	snap := *cur
	g, ok, other := s.segs.takeSpare(sid, snap, scope)
	if ok {
		sp := &speculation{etag: snap.etag, writeID: snap.h.WriteID, done: make(chan struct{}), graph: g, ok: true}
		close(sp.done)
		return sp
	}
	if s.segs.graph(sid, snap.etag, snap.h.WriteID) == nil &&
		(!scope.ActivePath || s.segs.path(sid, snap.etag, snap.h.WriteID, pathLeaf(snap.h, scope)) == nil) {
		return nil
	}
	sp := &speculation{etag: snap.etag, writeID: snap.h.WriteID, done: make(chan struct{}), otherSpare: other}
	go func() {
		defer close(sp.done)
		sp.graph, sp.ok = s.cachedGraph(sid, snap, scope)
	}()
	return sp
}

// result returns the speculated graph if it was computed from snap's head.
func (sp *speculation) result(snap snapshot) (Graph, bool) {
	if sp == nil || snap.etag != sp.etag || snap.h.WriteID != sp.writeID {
		return Graph{}, false
	}
	<-sp.done
	return sp.graph, sp.ok
}

// LoadNode implements CommitStore. It reads the head (one conditional GET),
// then the node directory runs and at most the indexes of the segments
// after them (cached; they are immutable; an old node needs none, see
// locate), and the one block that holds the node (one ranged GET; the
// whole segment for a segment of schema 1).
func (s *Store) LoadNode(ctx context.Context, nodeID string) (out *NodeRecord, err error) {
	if err := ValidateNodeID(nodeID); err != nil {
		return nil, err
	}
	err = s.retryMissing(ctx, s.SessionID(), func() (err error) {
		out, err = s.loadNode(ctx, nodeID)
		return err
	})
	return out, err
}

func (s *Store) loadNode(ctx context.Context, nodeID string) (*NodeRecord, error) {
	snapp, sid, err := s.liveSnapshot(ctx)
	if err != nil || snapp == nil {
		return nil, err
	}
	snap, h := *snapp, snapp.h
	if _, dead := slices.BinarySearch(h.Tombstones, nodeID); dead {
		return nil, nil
	}
	if g := s.segs.graph(sid, snap.etag, snap.h.WriteID); g != nil {
		if i, ok := g.pos[nodeID]; ok {
			n := cloneNode(g.nodes[i])
			return &n, nil
		}
		return nil, nil
	}
	for i := len(h.Tail) - 1; i >= 0; i-- {
		d := h.Tail[i]
		for j := len(d.Nodes) - 1; j >= 0; j-- {
			if d.Nodes[j].NodeID == nodeID {
				n := cloneNode(d.Nodes[j])
				return &n, nil
			}
		}
		if d.Reset {
			return nil, nil
		}
	}
	loc, ok, err := s.locate(ctx, newLocator(h), nodeID)
	if err != nil || !ok {
		return nil, err
	}
	return s.readNode(ctx, sid, loc, nodeID)
}

// findReceipt returns the receipt of turnID in h: from the head's recent
// receipts, else from the footer of the segment whose index lists the turn.
func (s *Store) findReceipt(ctx context.Context, sid string, h *head, turnID string) (*receipt, error) {
	for i := len(h.Receipts) - 1; i >= 0; i-- {
		if h.Receipts[i].TurnID == turnID {
			r := h.Receipts[i]
			return &r, nil
		}
	}
	var refs []segRef
	for _, r := range h.Segs {
		if r.Turns > 0 {
			refs = append(refs, r)
		}
	}
	if len(refs) == 0 {
		return nil, nil
	}
	idxs, err := s.loadIndexes(ctx, sid, refs)
	if err != nil {
		return nil, err
	}
	for i := len(refs) - 1; i >= 0; i-- {
		if !idxs[i].hasTurn(turnID) {
			continue
		}
		foot, err := s.loadFooter(ctx, sid, refs[i].ID, idxs[i])
		if err != nil {
			return nil, err
		}
		rs := foot.Receipts
		for j := len(rs) - 1; j >= 0; j-- {
			if rs[j].TurnID == turnID {
				r := rs[j]
				return &r, nil
			}
		}
		return nil, &CorruptError{Key: segKey(sid, refs[i].ID), Err: ErrCorrupt}
	}
	return nil, nil
}
