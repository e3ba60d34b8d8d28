package session

import (
	"context"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/stowage-dev/stowage/ids"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/observe"
)

// CommitRuntimeState applies c atomically. The steps, in order:
//
//  1. binding: c.SessionID, if set, must be the handle's session (the
//     first commit binds an unbound handle); left empty it is the handle's,
//     as are the empty session ids of the turn stamp and the outbox
//     batches, which must be for it too;
//  2. lease fence: if c.SessionExecutionLease is set it must be the live
//     lease, else *LeaseExpiredError and nothing is written (a holder may
//     still learn the receipt of a turn it committed under that fence);
//  3. turn receipt: the same turn and hash returns the stored result
//     verbatim and applies nothing (it only releases a supplied lease
//     completion); another hash is *TurnCommitConflictError;
//  4. expected head revision (nil = 0) must be the actual one (no head =
//     0), else *HeadRevisionConflictError; the leaf of an Append or
//     Unchanged delta must name a node it adds or a live node, else
//     ErrInvalidCommit;
//  5. queue and turn-input completions must own all their batches/inputs,
//     else *ClaimSupersededError;
//  6. checkpoint blobs, usage, graph delta, outbox, input settlement,
//     interrupted-input deferral, receipt and lease release are folded into
//     the next head, whose conditional PUT is the commit point.
//
// Attachment refs are prepared with the manifest hook before the head PUT
// and stamped after it. A lost response is resolved by reading the head
// back; an undecidable outcome is ErrCommitOutcomeUnknown (retry with the
// same turn stamp to learn it).
func (s *Store) CommitRuntimeState(ctx context.Context, c RuntimeCommit) (res *CommitResult, err error) {
	s.inheritSession(&c)
	ctx, op := observe.Start(ctx, s.obs, observe.Commit, c.SessionID)
	defer func() { endOp(op, res.revision(), err) }()
	if err := s.bind(c.SessionID); err != nil {
		return nil, err
	}
	if err := checkCommitSize(&c); err != nil {
		return nil, err
	}
	if len(c.UsageDeltas) > 0 {
		// The commit's own distinct rows must fit the head (no I/O yet).
		if err := checkLedgerSize(mergeLedger(nil, c.UsageDeltas)); err != nil {
			return nil, err
		}
	}
	if err := validateCommit(&c); err != nil {
		return nil, err
	}
	if err := checkCommitJSON(&c); err != nil {
		return nil, err
	}
	ownCommit(&c)
	sid := c.SessionID
	ct := &commitTxn{s: s, sid: sid, c: &c, written: map[string]string{}}
	if _, err := s.update(ctx, sid, false, ct.eval); err != nil {
		return nil, err
	}
	return cloneResult(ct.result), nil
}

// commitTxn carries one CommitRuntimeState call across its attempts.
type commitTxn struct {
	s   *Store
	sid string
	c   *RuntimeCommit
	// written maps blob hash -> key written by earlier attempts whose base
	// head had sweep generation writtenGen. They may be reused only on a
	// base of that generation (W1): a sweep that advanced it may have
	// deleted them.
	written    map[string]string
	writtenGen uint64
	result     *CommitResult
}

func (t *commitTxn) eval(ctx context.Context, cur snapshot) (plan, error) {
	base := cur.h
	if !base.live() {
		base = freshHead(t.sid, cur.h)
	}
	if g := base.SweepGen; g != t.writtenGen {
		// W1: a sweep fenced the head since our objects were written.
		clear(t.written)
		t.writtenGen = g
	}
	now := t.s.now()
	t.result = nil
	if p, done, err := t.check(ctx, base, now); done || err != nil {
		return p, err
	}
	dr, err := t.build(base, now)
	if err != nil {
		return plan{}, err
	}
	t.planTail(dr, base)
	t.result = dr.res
	return t.plan(cur, dr), nil
}

// check runs the checks of a commit against base, in the contract's order:
// the lease fence first, the turn receipt, the expected revision, the leaf.
// done reports an outcome decided without a new head (a replay).
func (t *commitTxn) check(ctx context.Context, base *head, now time.Time) (p plan, done bool, err error) {
	c, sid := t.c, t.sid
	if f := c.SessionExecutionLease; f != nil && !leaseLive(base, *f, now) {
		if r, _ := t.receipt(ctx, base); r != nil && r.Hash == c.TurnCommit.TurnCommitHash &&
			r.LeaseToken == f.LeaseToken && r.FencingToken == f.FencingToken {
			p, err = t.replay(base, r, now)
			return p, true, err
		}
		return plan{}, true, &LeaseExpiredError{SessionID: sid, FencingToken: f.FencingToken}
	}
	if st := c.TurnCommit; st != nil {
		if st.SessionID != sid {
			return plan{}, true, &TurnCommitConflictError{SessionID: sid, TurnID: st.TurnID}
		}
		r, err := t.receipt(ctx, base)
		if err != nil {
			return plan{}, true, err
		}
		if r != nil {
			if r.Hash != st.TurnCommitHash {
				return plan{}, true, &TurnCommitConflictError{SessionID: sid, TurnID: st.TurnID}
			}
			p, err = t.replay(base, r, now)
			return p, true, err
		}
	}
	if expected := deref(c.ExpectedHeadRevision); expected != base.Revision {
		return plan{}, true, &HeadRevisionConflictError{Expected: c.ExpectedHeadRevision, Actual: base.Revision}
	}
	if err := t.checkLeaf(ctx); err != nil {
		return plan{}, true, err
	}
	return plan{}, false, nil
}

// draft is one attempt's next head and what must be written for it.
type draft struct {
	next       *head
	res        *CommitResult
	d          delta // this commit's graph delta
	blobWrites []blobWrite

	// The tail flushed to a segment by this commit, if any (planTail).
	flush         *flushPlan
	flushTail     []delta
	flushReceipts []receipt
	large         bool // the delta goes into the flushed segment, not the tail
}

// build folds c into a clone of base: claims, deferred inputs, outbox,
// checkpoint, usage, config, frames, tombstones, the graph delta (not yet
// placed in the tail) and the receipt.
func (t *commitTxn) build(base *head, now time.Time) (*draft, error) {
	s, c, sid := t.s, t.c, t.sid
	next := base.clone()
	apps, err := settleClaims(next, c)
	if err != nil {
		return nil, err
	}
	if c.InterruptedTurnInputTurnID != "" {
		deferInputs(next, c.InterruptedTurnInputTurnID)
	}
	dr := &draft{next: next, res: &CommitResult{TurnInputApplications: apps}}
	res := dr.res
	for _, d := range c.EnqueuedQueueBatches {
		res.EnqueuedQueueBatches = append(res.EnqueuedQueueBatches, s.enqueueBatch(next, d, now))
	}
	if c.Checkpoint != nil {
		cp, err := s.planCheckpoint(sid, base, c.Checkpoint, t.written)
		if err != nil {
			return nil, err
		}
		next.CheckpointRef, next.Blobs, dr.blobWrites = cp.ref, cp.blobs, cp.writes
		res.Manifest = cp.manifest
	} else if res.Manifest, err = manifestOf(base); err != nil {
		return nil, err
	}
	res.CheckpointRef = next.CheckpointRef
	next.Ledger = mergeLedger(next.Ledger, c.UsageDeltas)
	if err := checkLedgerSize(next.Ledger); err != nil {
		return nil, err
	}
	if c.Config != (SessionConfig{}) {
		next.Config = c.Config // the zero config keeps the stored one
	}
	next.AgentFrames, next.CurrentAgentFrameID = c.AgentFrames, c.CurrentAgentFrameID
	dr.d = t.graphDelta(next, base.Revision+1, now)
	next.Revision, next.CommitID = dr.d.Rev, dr.d.CommitID
	res.HeadRevision = next.Revision
	if st := c.TurnCommit; st != nil {
		r := receipt{TurnID: st.TurnID, Hash: st.TurnCommitHash, Result: *cloneResult(res), Revision: next.Revision, CommitID: dr.d.CommitID, CommittedAt: now}
		if f := c.SessionExecutionLease; f != nil {
			r.LeaseToken, r.FencingToken = f.LeaseToken, f.FencingToken
		}
		next.Receipts = append(next.Receipts, r)
	}
	return dr, nil
}

// graphDelta applies the commit's tombstones and leaf to next and returns
// its graph delta of revision rev.
func (t *commitTxn) graphDelta(next *head, rev uint64, now time.Time) delta {
	c := t.c
	applyTombstones(next, c.Graph)
	d := delta{Rev: rev, CommitID: t.s.newID(), At: now}
	switch c.Graph.Kind {
	case DeltaKeep:
	case DeltaUnchanged:
		next.Branched = next.Branched || c.Graph.Leaf != next.Leaf
		next.Leaf = c.Graph.Leaf
	case DeltaAppend:
		next.Branched = next.Branched || !chains(next.Leaf, c.Graph.Nodes, c.Graph.Leaf)
		d.Nodes, next.Leaf = c.Graph.Nodes, c.Graph.Leaf
	case DeltaReplaceFull:
		next.Branched = !chains("", c.Graph.Nodes, c.Graph.Leaf)
		d.Nodes, d.Reset, next.Leaf = c.Graph.Nodes, true, c.Graph.Leaf
	}
	if c.TurnCommit != nil {
		d.TurnID = c.TurnCommit.TurnID
	}
	return d
}

// chains reports whether nodes, in order, form one chain from parent (each
// node's parent the one before it) that ends at leaf.
func chains(parent string, nodes []NodeRecord, leaf string) bool {
	for _, n := range nodes {
		if n.ParentNodeID != parent {
			return false
		}
		parent = n.NodeID
	}
	return parent == leaf
}

// planTail places the delta. A full tail is flushed to a segment in the
// background after the head PUT (flush.go), and the first commit that finds
// that segment durable names it instead of the deltas; a tail that would
// pass twice the flush thresholds, or a delta too large for the head on its
// own, is flushed by this commit before its PUT: the tail (with the delta,
// if large) becomes a segment written in parallel with the other
// pre-publication writes, so the head stays small whatever one commit
// appends. Every attempt plans its segment under a fresh ULID, so no
// segment outlives the attempt it was written for (W1). It also adopts a
// finished background merge, trims receipts and releases the lease.
func (t *commitTxn) planTail(dr *draft, base *head) {
	s, next, d := t.s, dr.next, dr.d
	dBytes := tailBytes([]delta{d})
	dr.large = dBytes > s.tune.FlushBytes
	if n := len(base.Tail); n > 0 && n+1 >= s.tune.FlushDeltas && longestLevelRun(base.Segs) >= 2*s.tune.SegmentFanout {
		// Merges fall behind flushes (one level holds two runs to
		// merge): this flush waits for the merge in flight, so the
		// number of segments stays bounded.
		s.WaitCompaction()
	}
	if segs, ok := s.adoptCompaction(t.sid, next.Segs, base.SweepGen); ok {
		next.Segs = segs
	}
	s.adoptFlush(t.sid, base, next)
	if !dr.large && len(next.Tail) > 0 && tailOverBound(next.Tail, dBytes, s.tune) {
		// A flush in flight is adopted rather than written again.
		s.waitFlush()
		s.adoptFlush(t.sid, base, next)
	}
	s.adoptDir(base, next)
	if n := len(next.Tail); dr.large || n > 0 && tailOverBound(next.Tail, dBytes, s.tune) {
		dr.flushTail = slices.Clone(next.Tail)
		if dr.large {
			dr.flushTail = append(dr.flushTail, d)
		}
		fp := s.planFlush(next.Segs, dr.flushTail)
		dr.flush = &fp
		next.Segs = fp.apply(next.Segs)
		sealFull(next.Segs, s.tune)
		planFresh(dr.flush, next.Segs[:len(next.Segs)-1], next.Dirs)
		next.FlushedRev = dr.flushTail[len(dr.flushTail)-1].Rev
		next.Tail = nil
	}
	if !dr.large {
		next.Tail = append(next.Tail, d)
	}
	dr.flushReceipts = next.Receipts
	next.Receipts = trimReceipts(next.Receipts, next.FlushedRev, s.tune.RecentReceipts)
	if rel := t.c.ReleaseSessionExecutionLease; rel != nil && leaseMatches(next.Lease, *rel) {
		next.Lease = nil
	}
}

// plan returns the publication of dr over cur: the writes before the head
// PUT (blobs, the flushed segment, the attachment refs) and the work after
// it (superseded objects, background merges, stamping the refs).
func (t *commitTxn) plan(cur snapshot, dr *draft) plan {
	s, c, sid, next, res := t.s, t.c, t.sid, dr.next, dr.res
	turnID, writers := t.adoptTurn(next)
	var attachIDs []string
	var tailDelta *delta // where the commit's attachment ids go
	if dr.large {
		tailDelta = &dr.flushTail[len(dr.flushTail)-1]
	} else {
		tailDelta = &next.Tail[len(next.Tail)-1]
	}
	var rcpt *receipt
	if c.TurnCommit != nil {
		rcpt = &next.Receipts[len(next.Receipts)-1]
	}
	segRefSlot := len(next.Segs) - 1
	writeFlush := func(ctx context.Context) error {
		return s.writeFlush(ctx, sid, *dr.flush, dr.flushTail, dr.flushReceipts, &next.Segs[segRefSlot])
	}
	return plan{
		next: next,
		before: func(ctx context.Context) error {
			var writes []func(context.Context) error
			if len(dr.blobWrites) > 0 {
				writes = append(writes, func(ctx context.Context) error { return s.writeBlobs(ctx, dr.blobWrites) })
			}
			if dr.flush != nil && !dr.large {
				writes = append(writes, writeFlush)
			}
			var prep manifest.Prepared
			err := alongside(ctx, func(ctx context.Context) error {
				var err error
				prep, err = s.prepareAttachments(ctx, sid, baseState(cur, next), turnID, writers, c.CommittedAttachmentIDs)
				return err
			}, writes...)
			if err != nil {
				return err
			}
			attachIDs = prep.Stamp
			tailDelta.AttachmentIDs, tailDelta.Unbacked = prep.Stamp, prep.Unbacked
			res.UnbackedAttachmentIDs = slices.Clone(prep.Unbacked)
			if rcpt != nil {
				rcpt.Result.UnbackedAttachmentIDs = slices.Clone(prep.Unbacked)
			}
			if len(prep.Unbacked) > 0 {
				s.log.Warn("session: commit names attachments this session holds no bytes for; not stamped",
					"session_id", sid, "revision", next.Revision, "attachment_ids", prep.Unbacked)
			}
			if dr.flush != nil && dr.large {
				// The segment holds this commit's record: it needs the
				// attachment ids first.
				return writeFlush(ctx)
			}
			// The delta is complete: encode it once for every head
			// write that carries it (and any delta of the tail this
			// process has not encoded yet).
			return next.cacheTail()
		},
		after: func(ctx context.Context, _ snapshot) {
			s.retire(supersededKeys(cur.h, next))
			s.compactedPublished(next)
			s.flushPublished(next)
			s.startCompaction(sid, next)
			s.startFlush(sid, next)
			s.startDir(sid, next)
			if s.hook != nil && len(attachIDs) > 0 {
				s.finishCommit(ctx, sid, next.Revision, attachIDs, dr.d.At)
			}
		},
	}
}

// stampingLater is a manifest hook whose reads wait for the stamps its
// caller runs after returning a commit (manifest.Store.BeginStamps).
type stampingLater interface {
	BeginStamps(sessionID string) (done func())
}

// finishCommit stamps the attachment rows a published commit names. The
// head is the source of truth (a skipped stamp is repaired from it), so
// with a hook whose reads wait for stamps in flight the commit returns at
// once and the stamp runs in the background (WaitCompaction waits for it);
// with any other hook it runs before the commit returns.
func (s *Store) finishCommit(ctx context.Context, sid string, rev uint64, ids []string, at time.Time) {
	finish := func(ctx context.Context) {
		if err := s.hook.FinishCommit(ctx, sid, ids, at); err != nil {
			s.log.Warn("session: stamping attachment refs failed; the head is authoritative",
				"session_id", sid, "revision", rev, "err", err)
		}
	}
	later, ok := s.hook.(stampingLater)
	if !ok {
		finish(ctx)
		return
	}
	done := later.BeginStamps(sid)
	s.stampWG.Add(1)
	go func() {
		defer s.stampWG.Done()
		defer done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), compactionTimeout)
		defer cancel()
		finish(ctx)
	}()
}

// turnAnnouncing is a manifest hook that announces every turn owning a row
// it writes in the session head (manifest.Store with an Announcer).
type turnAnnouncing interface{ AnnouncesTurns() bool }

// turnAdopting is a manifest hook that adopts the rows of a turn whose
// writers the base head knows, and names rows it put since it saw the base
// head without a request (manifest.Store.PrepareTurnCommit).
type turnAdopting interface {
	PrepareTurnCommit(ctx context.Context, sessionID string, base manifest.HeadState, turnID string, writers, ids []string) (manifest.Prepared, error)
}

// baseState is what the manifest compares with the head its puts saw: the
// incarnation next publishes, the base head's sweep generation, and
// whether the base is a live head (of that incarnation).
func baseState(cur snapshot, next *head) manifest.HeadState {
	st := manifest.HeadState{Inc: next.incarnation()}
	if cur.h != nil {
		st.SweepGen, st.Live = cur.h.SweepGen, cur.h.live()
	}
	return st
}

// adoptTurn returns the turn whose rows the commit adopts before its head
// PUT, or "" for none, and the turn's writers as the base head names them
// (nil if it does not know them; docs/protocol.md, "One-request commits"): with a hook that announces
// turns, only a turn that next (a clone of the base head) announces has
// rows to adopt, and next then drops the announcement; a hook that does not
// announce has every turn adopt.
func (t *commitTxn) adoptTurn(next *head) (string, []string) {
	st := t.c.TurnCommit
	if st == nil {
		return "", nil
	}
	a, ok := t.s.hook.(turnAnnouncing)
	if !ok || !a.AnnouncesTurns() {
		return st.TurnID, nil
	}
	if !next.announces(st.TurnID) {
		return "", nil
	}
	ws, _ := next.turnWritersOf(st.TurnID)
	next.adopted(st.TurnID)
	return st.TurnID, ws
}

// receipt looks up the receipt of the commit's turn in base.
func (t *commitTxn) receipt(ctx context.Context, base *head) (*receipt, error) {
	if t.c.TurnCommit == nil {
		return nil, nil
	}
	return t.s.findReceipt(ctx, t.sid, base, t.c.TurnCommit.TurnID)
}

// replay returns a stored receipt; the only thing it may write is the
// release of a supplied lease completion.
func (t *commitTxn) replay(base *head, r *receipt, now time.Time) (plan, error) {
	t.result = cloneResult(&r.Result)
	rel := t.c.ReleaseSessionExecutionLease
	if rel == nil || !leaseMatches(base.Lease, *rel) || !base.live() {
		return plan{}, nil
	}
	next := base.clone()
	next.Lease = nil
	return plan{next: next}, nil
}

// prepareAttachments asks the manifest hook which refs the commit stamps
// (and fences them against the sweeper, and binds them to the incarnation
// base.Inc of the session) and which it names without bytes. Without a
// hook the given ids are taken as they are.
func (s *Store) prepareAttachments(ctx context.Context, sid string, base manifest.HeadState, turnID string, writers, ids []string) (manifest.Prepared, error) {
	if s.hook == nil {
		out := slices.Clone(ids)
		slices.Sort(out)
		return manifest.Prepared{Stamp: slices.Compact(out)}, nil
	}
	if len(ids) == 0 && turnID == "" {
		return manifest.Prepared{}, nil
	}
	var out manifest.Prepared
	var err error
	if a, ok := s.hook.(turnAdopting); ok {
		out, err = a.PrepareTurnCommit(ctx, sid, base, turnID, writers, ids)
	} else {
		out, err = s.hook.PrepareCommit(ctx, sid, base.Inc, turnID, ids)
	}
	if err != nil {
		return manifest.Prepared{}, fmt.Errorf("session: prepare attachment refs: %w", err)
	}
	return out, nil
}

// validateCommit checks the ids and shapes of c before any I/O.
func validateCommit(c *RuntimeCommit) error {
	for _, b := range c.EnqueuedQueueBatches {
		if b.SessionID != c.SessionID {
			return &SessionBindingMismatchError{Bound: c.SessionID, Attempted: b.SessionID}
		}
		if err := checkDraft(b); err != nil {
			return err
		}
	}
	if st := c.TurnCommit; st != nil {
		if err := validateID("turn id", st.TurnID); err != nil {
			return err
		}
	}
	switch c.Graph.Kind {
	case DeltaKeep, DeltaUnchanged, DeltaAppend, DeltaReplaceFull:
	default:
		return fmt.Errorf("%w: unknown graph delta kind %q", ErrInvalidCommit, c.Graph.Kind)
	}
	switch g := c.Graph; {
	case g.Kind == DeltaKeep && len(g.Nodes) > 0:
		return fmt.Errorf("%w: the graph delta carries %d nodes but no Kind: set Graph.Kind to session.DeltaAppend to add them (or session.DeltaReplaceFull to replace the graph)", ErrInvalidCommit, len(g.Nodes))
	case g.Kind == DeltaKeep && g.Leaf != "":
		return fmt.Errorf("%w: the graph delta names leaf %q but no Kind: set Graph.Kind to session.DeltaUnchanged to move the leaf", ErrInvalidCommit, g.Leaf)
	case g.Kind == DeltaUnchanged && len(g.Nodes) > 0:
		return fmt.Errorf("%w: an %q graph delta carries no nodes: use session.DeltaAppend to add them", ErrInvalidCommit, g.Kind)
	case g.Kind == DeltaReplaceFull && g.Leaf != "" && !slices.ContainsFunc(g.Nodes, func(n NodeRecord) bool { return n.NodeID == g.Leaf }):
		return fmt.Errorf("%w: leaf %q is not one of the nodes that replace the graph: set Graph.Leaf to one of Graph.Nodes, or leave it empty", ErrInvalidCommit, g.Leaf)
	}
	if err := validateOptionalID("leaf node id", c.Graph.Leaf); err != nil {
		return err
	}
	if err := validateNodes(c.Graph.Nodes); err != nil {
		return err
	}
	if c.Graph.Kind == DeltaAppend && c.Graph.Leaf == "" {
		// An append without a leaf would clear the head's leaf.
		return fmt.Errorf("%w: an %q graph delta names no leaf: set Graph.Leaf to the node the head ends at (one of Graph.Nodes, or a node already committed)", ErrInvalidCommit, c.Graph.Kind)
	}
	if err := validateOptionalID("interrupted turn id", c.InterruptedTurnInputTurnID); err != nil {
		return err
	}
	if err := validateCompletions(c); err != nil {
		return err
	}
	for _, id := range c.CommittedAttachmentIDs {
		if err := ids.Attachment(id); err != nil {
			return err
		}
	}
	return nil
}

// validateCompletions refuses a malformed claim, batch or input id in c's
// claim completions with ErrInvalidID (an empty one matches no claim, as
// before: ClaimSupersededError).
func validateCompletions(c *RuntimeCommit) error {
	for _, q := range c.CompletedQueueClaims {
		if err := validateClaimIDs(q.ClaimID, "batch id", q.BatchIDs); err != nil {
			return err
		}
	}
	for _, in := range c.CompletedTurnInputClaims {
		if err := validateClaimIDs(in.ClaimID, "input id", in.InputIDs); err != nil {
			return err
		}
	}
	return nil
}

// validateClaimIDs checks a claim id and the ids of what the claim holds.
func validateClaimIDs(claimID, what string, held []string) error {
	if err := validateOptionalID("claim id", claimID); err != nil {
		return err
	}
	for _, id := range held {
		if err := validateOptionalID(what, id); err != nil {
			return err
		}
	}
	return nil
}

func validateNode(n NodeRecord) error {
	if err := ValidateNodeID(n.NodeID); err != nil {
		return err
	}
	for what, id := range map[string]string{"parent node id": n.ParentNodeID, "caused by": n.CausedBy, "agent frame id": n.AgentFrameID} {
		if err := validateOptionalID(what, id); err != nil {
			return err
		}
	}
	if n.Timestamp != "" {
		if _, err := time.Parse(time.RFC3339Nano, n.Timestamp); err != nil {
			return fmt.Errorf("%w: node %q has timestamp %q: want RFC 3339, e.g. time.Now().UTC().Format(time.RFC3339Nano)", ErrInvalidCommit, n.NodeID, n.Timestamp)
		}
	}
	switch n.Kind {
	case PayloadEvent, PayloadPlugin:
		return nil
	}
	return fmt.Errorf("%w: node %q has payload kind %q: want session.PayloadEvent (with Event) or session.PayloadPlugin (with PluginType and Body)", ErrInvalidCommit, n.NodeID, n.Kind)
}

// trimReceipts keeps every receipt not yet flushed to a segment, plus the
// keep most recent ones.
func trimReceipts(rs []receipt, flushedRev uint64, keep int) []receipt {
	cut := 0
	for cut < len(rs) && len(rs)-cut > keep && rs[cut].Revision <= flushedRev {
		cut++
	}
	return rs[cut:]
}

func deref(p *uint64) uint64 {
	if p == nil {
		return 0
	}
	return *p
}

// validateNodes validates each node of a delta and refuses a node id
// named twice (which of the two would be the node is a caller's bug).
func validateNodes(nodes []NodeRecord) error {
	seen := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		if err := validateNode(n); err != nil {
			return err
		}
		if seen[n.NodeID] {
			return fmt.Errorf("%w: node %q appears twice in one graph delta: give each node its own id", ErrInvalidCommit, n.NodeID)
		}
		seen[n.NodeID] = true
	}
	return nil
}

// checkLeaf refuses an Append or Unchanged delta whose leaf names no node:
// neither one the delta adds nor a live node of the session.
func (t *commitTxn) checkLeaf(ctx context.Context) error {
	g := t.c.Graph
	if g.Leaf == "" || (g.Kind != DeltaAppend && g.Kind != DeltaUnchanged) ||
		slices.ContainsFunc(g.Nodes, func(n NodeRecord) bool { return n.NodeID == g.Leaf }) {
		return nil
	}
	n, err := t.s.LoadNode(ctx, g.Leaf)
	if err != nil {
		return err
	}
	if n == nil {
		return fmt.Errorf("%w: leaf %q names no node of session %q: set Graph.Leaf to one of Graph.Nodes or to a node already committed", ErrInvalidCommit, g.Leaf, t.sid)
	}
	return nil
}

// alongside runs fn with writes, each in its own goroutine, and returns
// the first error. With no writes, fn runs in the caller's goroutine: a
// commit that writes nothing before its head PUT hands nothing over to
// the scheduler.
func alongside(ctx context.Context, fn func(context.Context) error, writes ...func(context.Context) error) error {
	if len(writes) == 0 {
		return fn(ctx)
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, w := range writes {
		g.Go(func() error { return w(gctx) })
	}
	g.Go(func() error { return fn(gctx) })
	return g.Wait()
}
