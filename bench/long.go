package bench

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/internal/soak"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

// longNodeText is the text of a long session's node: about 2 KiB encoded.
const longNodeText = 1900

// longSession measures one session committed to LongRevisions revisions
// (one node of about 2 KiB per commit): the commit p99 and max over the
// last 1,000 revisions against the p99 over revisions 1-1,000; the bucket's
// bytes over the live bytes (what the head names), as the session stands,
// without a sweep; and cold reads (a new Store with nothing cached) of an
// old node and of a 100-node active path.
func (r *run) longSession(ctx context.Context) error {
	st, objs, err := r.stowage(ctx, "longsession")
	if err != nil {
		return err
	}
	const sid = "bench-long-session"
	w, err := newWriter(st, sid)
	if err != nil {
		return err
	}
	if err := r.longCommits(ctx, w); err != nil {
		return err
	}
	n := r.cfg.LongRevisions
	bucket, live, err := amplification(ctx, objs, sid)
	if err != nil {
		return err
	}
	r.add(Figure{Name: LongAmplification, Unit: "x", Stowage: float64(bucket) / float64(max(live, 1)), Baseline: 1,
		BaselineOp: "the live bytes (head and the objects it names)", Check: ValueAtMost, Target: 2,
		Note: fmt.Sprintf("%d bytes in the bucket, %d live, at revision %d, no sweep", bucket, live, n)})
	if err := r.longLoadNode(ctx, objs, sid, w.a.Acked()); err != nil {
		return err
	}
	return r.longActivePath(ctx, objs, sid, w.a.Acked())
}

// longCommits commits the long session and adds the commit figure.
func (r *run) longCommits(ctx context.Context, w *writer) error {
	n := r.cfg.LongRevisions
	window := min(1000, n/2)
	var early, late samples
	r.progress("long_session: committing %d revisions", n)
	start := time.Now()
	for i := range n {
		s := &early
		switch {
		case i >= n-window:
			s = &late
		case i >= window:
			s = nil
		}
		turn := w.next(1, longNodeText)
		if err := timeIf(s != nil, s, func() error { return w.commitTurn(ctx, turn) }); err != nil {
			return err
		}
		if (i+1)%5000 == 0 {
			r.progress("long_session: %d revisions (%.0f commits/s)", i+1, perSecond(i+1, time.Since(start)))
		}
	}
	r.add(Figure{Name: LongCommitMax, Unit: "ms", Stowage: ms(late.quantile(1)), Baseline: ms(early.quantile(0.99)),
		BaselineOp: fmt.Sprintf("commit p99 at revisions 1-%d", window), Check: RatioAtMost, Target: 3,
		Note: fmt.Sprintf("max over revisions %d-%d (p99 %.2f ms) vs p99 over 1-%d; one node of about 2 KiB per commit",
			n-window+1, n, ms(late.quantile(0.99)), window)})
	return nil
}

// coldRead runs fn on a handle of sid in a new Store (nothing cached) over
// a request-counting view of objs.
func (r *run) coldRead(ctx context.Context, objs objstore.Store, sid string, fn func(*session.Store) error) (time.Duration, *counting, error) {
	c := &counting{Store: objs}
	fresh, err := stowage.OpenStore(ctx, c, stowage.Config{Logger: r.cfg.Logger})
	if err != nil {
		return 0, nil, err
	}
	h, err := fresh.Session(sid)
	if err != nil {
		return 0, nil, err
	}
	c.reset() // count the read alone, not the store's opening (its marker GET)
	t0 := time.Now()
	err = fn(h)
	return time.Since(t0), c, err
}

// longLoadNode adds the cold LoadNode figure: a node of revision n/10.
func (r *run) longLoadNode(ctx context.Context, objs objstore.Store, sid string, acked []soak.Ack) error {
	old := acked[len(acked)/10]
	d, c, err := r.coldRead(ctx, objs, sid, func(h *session.Store) error {
		nd, err := h.LoadNode(ctx, old.NodeIDs[0])
		if err == nil && nd == nil {
			err = fmt.Errorf("node %s not found", old.NodeIDs[0])
		}
		return err
	})
	if err != nil {
		return err
	}
	r.add(Figure{Name: LongLoadNode, Unit: "requests", Stowage: float64(c.requests.Load()), Baseline: 1,
		BaselineOp: "one GET", Check: ValueAtMost, Target: 3,
		Note: fmt.Sprintf("cold LoadNode of node %s (revision %d of %d): %.2f ms, %d bytes read (%d of segments, %d of indexes)",
			old.NodeIDs[0], old.Revision, r.cfg.LongRevisions, ms(d), c.bytes.Load(), c.kindBytes(session.KeySegment), c.kindBytes(session.KeyIndex))})
	return nil
}

// longActivePath adds the cold ActivePath figure: the path of the node of
// revision 100 (100 nodes) in the whole session.
func (r *run) longActivePath(ctx context.Context, objs objstore.Store, sid string, acked []soak.Ack) error {
	leaf := acked[min(100, len(acked))-1].NodeIDs[0]
	var pathLen, pathBytes int
	d, c, err := r.coldRead(ctx, objs, sid, func(h *session.Store) error {
		read, err := h.LoadSession(ctx, session.ActivePath(leaf))
		if err == nil && read != nil {
			pathLen = len(read.Graph.Nodes)
			for _, nd := range read.Graph.Nodes {
				pathBytes += len(nd.NodeID) + len(nd.ParentNodeID) + len(nd.Timestamp) + len(nd.Event) + len(nd.Body) + 64
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	r.add(Figure{Name: LongActivePath, Unit: "KiB", Stowage: float64(c.bytes.Load()) / 1024, Baseline: float64(pathBytes+64<<10) / 1024,
		BaselineOp: "the bytes of the nodes returned, plus 64 KiB (target: 4x, i.e. 4x the nodes plus 256 KiB)", Check: RatioAtMost, Target: 4,
		Note: fmt.Sprintf("cold ActivePath of %d nodes (leaf %s) at revision %d: %d requests, %.2f ms, %d bytes of segments, %d of indexes",
			pathLen, leaf, r.cfg.LongRevisions, c.requests.Load(), ms(d), c.kindBytes(session.KeySegment), c.kindBytes(session.KeyIndex))})
	return nil
}

// manySessions measures the resident set of ManySessions kept handles, each
// of a 20-turn session loaded once, in one stowage.Store with the default
// shared cache budget.
func (r *run) manySessions(ctx context.Context) error {
	st, _, err := r.stowage(ctx, "many")
	if err != nil {
		return err
	}
	n := r.cfg.ManySessions
	r.progress("many_sessions: committing %d sessions of 20 turns", n)
	if _, err := parallel(ctx, 32, func(ctx context.Context, k int) error {
		for i := k; i < n; i += 32 {
			w, err := newWriter(st, fmt.Sprintf("bench-many-%d", i))
			if err != nil {
				return err
			}
			for range 20 {
				if err := w.commit(ctx, 1, 900); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		return err
	}
	fresh, err := stowage.OpenStore(ctx, st.Objects(), stowage.Config{Logger: r.cfg.Logger})
	if err != nil {
		return err
	}
	before := residentMiB()
	handles := make([]*session.Store, n)
	for i := range handles {
		if handles[i], err = fresh.Session(fmt.Sprintf("bench-many-%d", i)); err != nil {
			return err
		}
		if _, err := handles[i].LoadSession(ctx, session.ActivePath("")); err != nil {
			return err
		}
	}
	for _, h := range handles {
		h.WaitCompaction() // what each load cached after it returned
	}
	after := residentMiB()
	runtime.KeepAlive(handles)
	r.add(Figure{Name: ManySessions, Unit: "MiB", Stowage: after, Baseline: before,
		BaselineOp: "resident set before the handles", Check: ValueAtMost, Target: 256,
		Note: fmt.Sprintf("%d kept handles of 20-turn sessions (about 1 KiB per node), each loaded once; shared cache budget %d MiB", n, stowage.DefaultSharedCacheBytes>>20)})
	return nil
}

// residentMiB returns the process's resident set after a collection.
func residentMiB() float64 {
	runtime.GC()
	debug.FreeOSMemory()
	kb, _ := procStatus("VmRSS")
	return float64(kb) / 1024
}

// amplification returns the bytes of every object under sid's prefix and
// of the head and the objects it names.
func amplification(ctx context.Context, objs objstore.Store, sid string) (bucket, live int64, err error) {
	info, err := session.ReadHead(ctx, objs, sid)
	if err != nil || info == nil {
		return 0, 0, err
	}
	named := map[string]bool{session.HeadKey(sid): true}
	for _, k := range info.Keys {
		named[k] = true
	}
	for obj, err := range objs.List(ctx, session.SessionPrefix(sid), nil) {
		if err != nil {
			return 0, 0, err
		}
		bucket += obj.Size
		if named[obj.Key] {
			live += obj.Size
		}
	}
	return bucket, live, nil
}

// counting counts the requests made through it and the bytes read.
type counting struct {
	objstore.Store
	requests atomic.Int64
	bytes    atomic.Int64
	segBytes atomic.Int64 // of segment objects
	idxBytes atomic.Int64 // of segment indexes
}

// reset zeroes the counters.
func (c *counting) reset() {
	for _, n := range []*atomic.Int64{&c.requests, &c.bytes, &c.segBytes, &c.idxBytes} {
		n.Store(0)
	}
}

// kindBytes returns the bytes read from keys of kind (segments, indexes).
func (c *counting) kindBytes(kind session.KeyKind) int64 {
	switch kind {
	case session.KeySegment:
		return c.segBytes.Load()
	case session.KeyIndex:
		return c.idxBytes.Load()
	}
	return 0
}

func (c *counting) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	c.requests.Add(1)
	rc, info, err := c.Store.Get(ctx, key, opts)
	if err != nil {
		return rc, info, err
	}
	body := &countingBody{ReadCloser: rc, n: &c.bytes}
	switch _, kind, _ := session.ParseKey(key); kind {
	case session.KeySegment:
		body.kind = &c.segBytes
	case session.KeyIndex:
		body.kind = &c.idxBytes
	}
	return body, info, nil
}

func (c *counting) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	c.requests.Add(1)
	return c.Store.Head(ctx, key)
}

type countingBody struct {
	io.ReadCloser
	n, kind *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	if b.kind != nil {
		b.kind.Add(int64(n))
	}
	return n, err
}
