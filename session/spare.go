package session

// Spare copies (docs/protocol.md, "Loads"). A load hands the caller nodes
// it may modify, so a load served from the cache copies them; for a long
// session the copy is most of a cached load's CPU. A load served from the
// cache (the session was read before: an agent reloading between turns, a
// fresh handle of a Store that has read it) leaves one spare copy of what
// it returned, made in the background after it returned and kept in the
// shared cache within its budget. The next load of the same head write and
// scope takes it instead of copying on its critical path. A spare is taken
// by one load only (takeKey removes it under the cache's lock) and is never
// read by anything else, so what a caller does with it reaches nothing.
// A load that builds its graph (a cold load, the first load after the
// head moved) leaves no spare: memory goes to copies only for sessions
// read again; nor does a load of a head whose spare is of another scope.

// spareCopy is a graph copied for the next load of the head write
// etag/writeID in scope.
type spareCopy struct {
	etag, writeID string
	scope         ReadScope
	graph         Graph
}

func spareCacheKey(sid string) string { return sid + "/spare" }

// takeSpare returns, and removes from the cache, the spare copy of snap's
// graph in scope; ok is false when the cache holds none. other reports a
// spare of snap's head for another scope, which stays in the cache (a
// caller alternating scopes keeps the spare of one of them instead of
// copying for each load a spare the next one drops). A spare of another
// head is removed.
func (c *SegmentCache) takeSpare(sid string, snap snapshot, scope ReadScope) (g Graph, ok, other bool) {
	ofHead := func(sp *spareCopy) bool {
		return snap.etag != "" && sp.etag == snap.etag && sp.writeID == snap.h.WriteID
	}
	v, taken := c.takeKey(spareCacheKey(sid), func(v any) bool {
		sp, _ := v.(*spareCopy)
		return sp != nil && ofHead(sp) && sp.scope != scope
	})
	sp, _ := v.(*spareCopy)
	switch {
	case sp == nil:
		return Graph{}, false, false
	case !taken:
		return Graph{}, false, true
	case !ofHead(sp):
		return Graph{}, false, false
	}
	return sp.graph, true, false
}

func (c *SegmentCache) putSpare(sid string, sp *spareCopy) {
	w := int64(256)
	for _, n := range sp.graph.Nodes {
		w += int64(nodeBytes(n)) + 48
	}
	c.putKey(spareCacheKey(sid), sp, w)
}

// spareLater copies, in the background, snap's graph in scope from the
// cache for the next load of that head (at most one copy at a time per
// handle; WaitCompaction waits for it).
func (s *Store) spareLater(sid string, snap snapshot, scope ReadScope) {
	s.mu.Lock()
	if s.sparing {
		s.mu.Unlock()
		return
	}
	s.sparing = true
	s.mu.Unlock()
	s.spareWG.Add(1)
	go func() {
		defer s.spareWG.Done()
		defer func() {
			s.mu.Lock()
			s.sparing = false
			s.mu.Unlock()
		}()
		if g, ok := s.cachedGraph(sid, snap, scope); ok {
			s.segs.putSpare(sid, &spareCopy{etag: snap.etag, writeID: snap.h.WriteID, scope: scope, graph: g})
		}
	}()
}
