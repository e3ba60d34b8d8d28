package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
)

// countSteps counts the steps of loop kind (step) while f runs.
func countSteps(t *testing.T, kind string, f func()) int64 {
	t.Helper()
	var n atomic.Int64
	hook := func(k string, d int) {
		if k == kind {
			n.Add(int64(d))
		}
	}
	stepHook.Store(&hook)
	defer stepHook.Store(nil)
	f()
	return n.Load()
}

// opCounter is an object store that counts the requests made through it.
type opCounter struct {
	objstore.Store
	ops atomic.Int64
}

func (o *opCounter) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	o.ops.Add(1)
	return o.Store.Put(ctx, key, data, opts)
}

func (o *opCounter) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	o.ops.Add(1)
	return o.Store.Get(ctx, key, opts)
}

func (o *opCounter) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	o.ops.Add(1)
	return o.Store.Head(ctx, key)
}

func newCounted(t *testing.T, sid string) (*Store, *opCounter) {
	t.Helper()
	oc := &opCounter{Store: memstore.New(nil)}
	s, err := New(Config{Store: oc, SessionID: sid})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.WaitCompaction)
	return s, oc
}

// distinctUsage is the review's F4a input: n rows of distinct (source,
// model), sources of 43 bytes.
func distinctUsage(n int) []TokenLedgerEntry {
	u := make([]TokenLedgerEntry, 0, n)
	for i := 0; i < n; i++ {
		u = append(u, TokenLedgerEntry{Source: strings.Repeat("s", 40) + string(rune(0x4e00+i%20000)), Model: string(rune(0x4e00 + i/20000)), Input: 1})
	}
	return u
}

// mergeLedgerByScan is the ledger merge as it was (a scan of the rows per
// delta): the reference for order and sums.
func mergeLedgerByScan(rows []TokenLedgerEntry, deltas []TokenLedgerEntry) []TokenLedgerEntry {
	for _, d := range deltas {
		i := slices.IndexFunc(rows, func(r TokenLedgerEntry) bool { return r.Source == d.Source && r.Model == d.Model })
		if i < 0 {
			i = len(rows)
			rows = append(rows, TokenLedgerEntry{Source: d.Source, Model: d.Model})
		}
		r := &rows[i]
		r.Input, r.Output = satAdd(r.Input, d.Input), satAdd(r.Output, d.Output)
		r.CacheReadInput, r.CacheWriteInput = satAdd(r.CacheReadInput, d.CacheReadInput), satAdd(r.CacheWriteInput, d.CacheWriteInput)
		r.ReasoningOutput = satAdd(r.ReasoningOutput, d.ReasoningOutput)
	}
	return rows
}

// TestMergeLedgerIsLinear (F4a): merging 20,000 distinct rows into 20,000
// takes one step per row (the scan took 2e8 comparisons), and the ledger's
// order and sums are those of the scan, duplicates and saturation included.
func TestMergeLedgerIsLinear(t *testing.T) {
	const n = 20000
	base := distinctUsage(n)
	deltas := distinctUsage(2 * n)[n:]
	var got []TokenLedgerEntry
	steps := countSteps(t, "ledger", func() { got = mergeLedger(slices.Clone(base), deltas) })
	if steps > 2*n+n/10 {
		t.Fatalf("merging %d rows into %d took %d steps, want about %d", n, n, steps, 2*n)
	}
	if want := append(slices.Clone(base), deltas...); !slices.Equal(got, want) {
		t.Fatal("distinct rows are not kept in order")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		var rows, ds []TokenLedgerEntry
		for range r.IntN(8) {
			rows = append(rows, TokenLedgerEntry{Source: string(rune('a' + r.IntN(3))), Model: string(rune('a' + r.IntN(3))), Input: r.Int64()})
		}
		for range r.IntN(30) {
			ds = append(ds, TokenLedgerEntry{Source: string(rune('a' + r.IntN(3))), Model: string(rune('a' + r.IntN(3))),
				Input: r.Int64() - r.Int64(), Output: r.Int64N(10), ReasoningOutput: -r.Int64()})
		}
		if got, want := mergeLedger(slices.Clone(rows), ds), mergeLedgerByScan(slices.Clone(rows), ds); !slices.Equal(got, want) {
			t.Fatalf("rows %v deltas %v: got %v, want %v", rows, ds, got, want)
		}
	}
}

// TestCommitRefusesALedgerTooLargeUpFront (F4a): the review's 100,000
// distinct usage rows are refused with *TooLargeError before any request
// to the store, in linear work; a ledger that fits still commits.
func TestCommitRefusesALedgerTooLargeUpFront(t *testing.T) {
	ctx := context.Background()
	s, oc := newCounted(t, "ledger")
	var rv uint64
	const n = 100000
	var err error
	steps := countSteps(t, "ledger", func() {
		_, err = s.CommitRuntimeState(ctx, RuntimeCommit{ExpectedHeadRevision: &rv, UsageDeltas: distinctUsage(n)})
	})
	var tl *TooLargeError
	if !errors.As(err, &tl) || !errors.Is(err, ErrTooLarge) {
		t.Fatalf("commit of %d distinct usage rows: %v, want *TooLargeError", n, err)
	}
	if ops := oc.ops.Load(); ops != 0 {
		t.Fatalf("the refused commit made %d store requests, want none", ops)
	}
	if steps > 2*n {
		t.Fatalf("%d steps for %d rows", steps, n)
	}
	if _, err := s.CommitRuntimeState(ctx, RuntimeCommit{ExpectedHeadRevision: &rv, UsageDeltas: distinctUsage(20000)}); err != nil {
		t.Fatalf("a ledger of 20,000 rows: %v", err)
	}
}

// leasedQueue returns a store whose session has a lease held by the
// returned fence and batches queued batches of turn work.
func leasedQueue(t *testing.T, batches int) (*Store, LeaseFence, []string) {
	t.Helper()
	ctx := context.Background()
	s, _ := newCounted(t, "queue")
	var drafts []QueuedWorkBatchDraft
	for range batches {
		drafts = append(drafts, QueuedWorkBatchDraft{Payload: []byte(`{}`)})
	}
	var rv uint64
	res, err := s.CommitRuntimeState(ctx, RuntimeCommit{ExpectedHeadRevision: &rv, EnqueuedQueueBatches: drafts})
	if err != nil {
		t.Fatal(err)
	}
	var queued []string
	for _, b := range res.EnqueuedQueueBatches {
		queued = append(queued, b.BatchID)
	}
	lo, err := s.TryClaimSessionExecutionLease(ctx, LeaseOwner{OwnerID: "w", IncarnationID: "i"}, time.Hour)
	if err != nil || lo.Acquired == nil {
		t.Fatalf("lease: %+v, %v", lo, err)
	}
	return s, lo.Acquired.LeaseFence, queued
}

// TestClaimByIDsIsLinear (F4c): an exact claim naming 100,000 unknown ids
// (each twice) over a queue of 2,000 batches reports each unknown id once,
// in order, and claims the one named batch, in work linear in the ids and
// the queue (the review's 100,000 unknown ids took 72 s: a scan of the ids
// per id and per queued batch).
func TestClaimByIDsIsLinear(t *testing.T) {
	ctx := context.Background()
	s, fence, queued := leasedQueue(t, 2000)
	const n = 100000
	var ids []string
	for i := range n {
		ids = append(ids, fmt.Sprintf("unknown-%06d", i))
	}
	ids = append(ids, ids...)
	ids = append(ids, queued[0])
	var out SelectedQueuedWorkClaim
	var err error
	steps := countSteps(t, "claim ids", func() {
		out, err = s.ClaimQueuedWorkByIDs(ctx, fence, BoundaryIdle, ids)
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Claim == nil || len(out.Claim.Batches) != 1 || out.Claim.Batches[0].BatchID != queued[0] {
		t.Fatalf("claim %+v, want %s alone", out.Claim, queued[0])
	}
	if !slices.Equal(out.AlreadySatisfied, ids[:n]) {
		t.Fatalf("%d already satisfied, want the %d unknown ids once each, in order", len(out.AlreadySatisfied), n)
	}
	if limit := int64(4 * (len(ids) + len(queued))); steps > limit {
		t.Fatalf("%d steps for %d ids over %d batches, want at most %d", steps, len(ids), len(queued), limit)
	}
}

// TestClaimByIDsValidatesIDs (F5): a malformed batch id is ErrInvalidID
// before any request, as CancelQueuedWorkBatch's is, not reported
// AlreadySatisfied.
func TestClaimByIDsValidatesIDs(t *testing.T) {
	ctx := context.Background()
	s, oc := newCounted(t, "ids")
	for _, id := range []string{"", "a\x00b", string([]byte{0xff}), strings.Repeat("x", MaxIDLen+1)} {
		out, err := s.ClaimQueuedWorkByIDs(ctx, LeaseFence{}, BoundaryIdle, []string{"ok", id})
		if !errors.Is(err, ErrInvalidID) {
			t.Errorf("batch id %q: %+v, %v; want ErrInvalidID", id, out, err)
		}
	}
	if ops := oc.ops.Load(); ops != 0 {
		t.Fatalf("%d store requests, want none", ops)
	}
}

// chain commits n nodes in a chain (one Append per 100 nodes, so some are
// flushed to segments) and returns their ids and the head revision.
func chain(t *testing.T, s *Store, n int) ([]string, uint64) {
	t.Helper()
	var rv uint64
	var ids []string
	parent := ""
	for i := 0; i < n; i += 100 {
		var nodes []NodeRecord
		for j := i; j < min(i+100, n); j++ {
			id := fmt.Sprintf("node-%06d", j)
			nodes = append(nodes, NodeRecord{NodeID: id, ParentNodeID: parent, Kind: PayloadEvent, Event: []byte(`{"x":1}`)})
			ids, parent = append(ids, id), id
		}
		res, err := s.CommitRuntimeState(context.Background(), RuntimeCommit{ExpectedHeadRevision: &rv, Graph: GraphDelta{Kind: DeltaAppend, Nodes: nodes, Leaf: parent}})
		if err != nil {
			t.Fatal(err)
		}
		rv = res.HeadRevision
	}
	return ids, rv
}

// TestTombstoneNodesIsLinear (F4b): tombstoning 200,000 ids in descending
// order, 1,000 of them nodes of the session (in the tail and in segments),
// costs O(n) steps after one sort (slices.Insert per id moved 2e10 ids),
// keeps tombstones for the 1,000 nodes only (ids of no node are dropped: 8k
// long unknown ids used to fill the head), and Vacuum removes those 1,000.
func TestTombstoneNodesIsLinear(t *testing.T) {
	ctx := context.Background()
	s, _ := newCounted(t, "tomb")
	nodes, _ := chain(t, s, 1000)
	const n = 200000
	var ids []string
	for i := n - 1; i >= 0; i-- {
		ids = append(ids, fmt.Sprintf("node-%06d", i))
	}
	var err error
	steps := countSteps(t, "tombstones", func() { err = s.TombstoneNodes(ctx, ids) })
	if err != nil {
		t.Fatal(err)
	}
	if limit := int64(4 * n); steps > limit {
		t.Fatalf("%d steps for %d ids, want at most %d", steps, n, limit)
	}
	snap, err := s.revalidate(ctx, "tomb")
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.h.Segs) == 0 || len(snap.h.Tail) == 0 {
		t.Fatalf("%d segments, %d tail deltas: want nodes in both", len(snap.h.Segs), len(snap.h.Tail))
	}
	if !slices.Equal(snap.h.Tombstones, nodes) {
		t.Fatalf("head keeps %d tombstones, want the %d of the session's nodes", len(snap.h.Tombstones), len(nodes))
	}
	if n, err := s.LoadNode(ctx, nodes[500]); err != nil || n != nil {
		t.Fatalf("tombstoned node loads: %v, %v", n, err)
	}
	rep, err := s.Vacuum(ctx)
	if err != nil || rep.RemovedNodes != len(nodes) {
		t.Fatalf("vacuum: %+v, %v; want %d nodes removed", rep, err, len(nodes))
	}
}

// TestAppendRevivesTombstonesLinearly (F4b): an Append of 20,000 nodes over
// 20,000 tombstones revives those it writes with a set, not a scan of the
// nodes per tombstone (4e8 comparisons).
func TestAppendRevivesTombstonesLinearly(t *testing.T) {
	var h head
	var nodes []NodeRecord
	for i := range 20000 {
		h.Tombstones = append(h.Tombstones, fmt.Sprintf("t-%06d", i))
		nodes = append(nodes, NodeRecord{NodeID: fmt.Sprintf("t-%06d", 2*i)})
	}
	steps := countSteps(t, "tombstones", func() { applyTombstones(&h, GraphDelta{Kind: DeltaAppend, Nodes: nodes}) })
	if steps > 4*20000 {
		t.Fatalf("%d steps", steps)
	}
	if len(h.Tombstones) != 10000 || h.Tombstones[0] != "t-000001" {
		t.Fatalf("%d tombstones left, first %q; want the 10,000 odd ones", len(h.Tombstones), h.Tombstones[0])
	}
}

// noBytes is a manifest hook that knows no bytes: every id is unbacked.
type noBytes struct{}

func (noBytes) PrepareCommit(_ context.Context, _ string, _ uint64, _ string, ids []string) (manifest.Prepared, error) {
	out := slices.Clone(ids)
	slices.Sort(out)
	return manifest.Prepared{Unbacked: slices.Compact(out)}, nil
}

func (noBytes) FinishCommit(context.Context, string, []string, time.Time) error { return nil }

func attachmentIDs(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("%064x", i))
	}
	return out
}

// TestUnbackedAttachmentsAreCountedUpFront (F6): a turn commit naming
// 40,000 ids the session holds no bytes for is refused with *TooLargeError
// before any request (it used to write and fail at the head: the receipt
// copies the unbacked ids, 5.36 MB); 25,000 commit, and a retry of the turn
// returns the same unbacked ids from the receipt.
func TestUnbackedAttachmentsAreCountedUpFront(t *testing.T) {
	ctx := context.Background()
	oc := &opCounter{Store: memstore.New(nil)}
	s, err := New(Config{Store: oc, SessionID: "unbacked", Hook: noBytes{}})
	if err != nil {
		t.Fatal(err)
	}
	var rv uint64
	stamp := &TurnCommitStamp{TurnID: "t1", TurnCommitHash: "h1"}
	_, err = s.CommitRuntimeState(ctx, RuntimeCommit{ExpectedHeadRevision: &rv, TurnCommit: stamp, CommittedAttachmentIDs: attachmentIDs(40000)})
	var tl *TooLargeError
	if !errors.As(err, &tl) || oc.ops.Load() != 0 {
		t.Fatalf("40,000 unbacked ids with a stamp: %v after %d requests; want *TooLargeError before any", err, oc.ops.Load())
	}
	c := RuntimeCommit{ExpectedHeadRevision: &rv, TurnCommit: stamp, CommittedAttachmentIDs: attachmentIDs(25000)}
	res, err := s.CommitRuntimeState(ctx, c)
	if err != nil || len(res.UnbackedAttachmentIDs) != 25000 {
		t.Fatalf("25,000 unbacked ids with a stamp: %v", err)
	}
	again, err := s.CommitRuntimeState(ctx, c)
	if err != nil || again.HeadRevision != res.HeadRevision || !slices.Equal(again.UnbackedAttachmentIDs, res.UnbackedAttachmentIDs) {
		t.Fatalf("retry: %v; want the receipt's revision %d and unbacked ids", err, res.HeadRevision)
	}
	_, err = s.CommitRuntimeState(ctx, RuntimeCommit{ExpectedHeadRevision: &res.HeadRevision, CommittedAttachmentIDs: attachmentIDs(70000)})
	if !errors.As(err, &tl) {
		t.Fatalf("70,000 ids without a stamp: %v, want *TooLargeError", err)
	}
}
