package session

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stowage-dev/stowage/internal/codec"
)

// Object schemas (codec envelopes).
//
// Head schema 2 added sweep_gen and placeholder (the sweeper's head fence);
// a head of schema 1 reads as sweep generation 0. The version was bumped,
// not merely extended, because a schema-1 writer would drop both fields
// when it rewrites a head (resetting the sweep generation) and would take a
// placeholder for a session: it must refuse schema-2 heads instead.
//
// Head schema 3 added the segment fields bytes and sealed (bounded
// compaction, docs/format.md). A schema-2 writer would run its binary
// counter over sealed segments and merge without bound, so it must refuse
// schema-3 heads; segments named by a head of schema 2 or older read as
// sealed.
//
// Head schema 4 added inc (the incarnation, which binds manifest rows to it)
// and window (how many write ids the recent-write list keeps). A head of
// schema 3 or older reads as incarnation 1 and window 0 (resolution relies
// only on the list it holds, which every schema has). Bumped for the same
// reason: a schema-3 writer would drop inc, and a re-created session's rows
// would look like its deleted predecessor's.
//
// Head schema 5 added attach_turns and attach_turns_full (the turns whose
// attachment puts announced themselves: docs/protocol.md, "One-request
// commits"). Bumped because a schema-4 writer would drop them, and a
// commit would then skip adopting the rows of a turn that put attachments.
// A head of schema 4 or older reads as announcing every turn.
//
// Head schema 6 added the segment reference's index (packed segments:
// the index inside the segment's object) and branched. Bumped because a
// schema-5 reader would look for an idx/ object that does not exist and
// report the session corrupt. A head before schema 6 reads as branched.
//
// Head schema 7 added attach_writers (the manifests that announced each
// turn). Bumped because a schema-6 writer that puts an attachment of a
// turn already announced would not add itself, and the turn's commit by
// the manifest named alone would skip that writer's row. A head before
// schema 7 knows no turn's writers.
var (
	headSchema  = codec.Schema{Kind: "HEAD", Current: 7, Min: 1}
	segSchema   = codec.Schema{Kind: "SEGM", Current: 2, Min: 1} // 2: blocked (blocks.go)
	indexSchema = codec.Schema{Kind: "SIDX", Current: 2, Min: 1} // 2: blocks and parents
	blobSchema  = codec.Schema{Kind: "BLOB", Current: 1, Min: 1}
)

// head is the session head: the only mutable object of a session, replaced
// by compare-and-swap. A published head is never mutated in memory: writers
// clone it first.
type head struct {
	SessionID string `json:"session_id"`
	// Revision is the contract's head_revision: the number of commits. 0
	// means no commit yet (queue, lease or meta state only).
	Revision uint64 `json:"revision"`
	// CommitID is the ULID of the commit that produced Revision.
	CommitID string `json:"commit_id,omitempty"`
	// Gen counts every head write (commits and queue/lease/meta updates).
	Gen uint64 `json:"gen"`
	// WriteID is unique per head write; RecentWrites holds the previous ones
	// (newest last) so a writer whose response was lost can find its write.
	WriteID      string   `json:"write_id"`
	RecentWrites []string `json:"recent_writes,omitempty"`
	// Window is how many write ids RecentWrites keeps: the largest
	// Tuning.RecentWrites of any handle that wrote the head, so a handle
	// tuned smaller never shortens the list others rely on. Resolution
	// needs only the list itself (see resolve); 0 in heads before schema 3.
	Window int `json:"window,omitempty"`
	// Inc is the session's incarnation: 1 for a session created once, and
	// for a session re-created over a deletion tombstone the tombstone's Gen
	// plus one (so it exceeds every earlier incarnation). Every head write
	// carries it; a tombstone keeps the incarnation it ended. 0 (heads
	// before schema 3) reads as 1. Commits bind the manifest rows they name
	// to it (manifest.Row.Inc), and a deletion forgets only rows of ended
	// incarnations (docs/protocol.md, "Deletion").
	Inc uint64 `json:"inc,omitempty"`
	// Deleted marks a deleted session (a tombstone head).
	Deleted bool `json:"deleted,omitempty"`
	// SweepGen is the sweep generation: advanced only by SweepHead (the
	// sweeper's head fence), carried unchanged by every other head write,
	// never decreasing. W1 (docs/protocol.md): an object written for a
	// commit attempt is published only by a head whose base has the sweep
	// generation the attempt started from.
	SweepGen uint64 `json:"sweep_gen,omitempty"`
	// Placeholder marks a head the sweeper created for a session that had
	// objects but no head (a fence for first commits): it reads exactly as
	// "no session", and the first write replaces it by compare-and-swap.
	Placeholder bool `json:"placeholder,omitempty"`

	Meta                *SessionMeta    `json:"meta,omitempty"`
	Config              SessionConfig   `json:"config"`
	AgentFrames         json.RawMessage `json:"agent_frames,omitempty"`
	CurrentAgentFrameID string          `json:"current_agent_frame_id,omitempty"`
	Leaf                string          `json:"leaf,omitempty"`
	// Branched: some node may lie off the active path of Leaf (a commit
	// appended nodes that do not chain from the leaf before it, or moved
	// the leaf, or nodes were tombstoned). Unset, every node is on that
	// path, and a cold load of it reads the segments whole, without their
	// indexes (loadSession). It decides only what a load reads: the path
	// is always walked by parent. Heads before schema 6 read as branched.
	Branched bool `json:"branched,omitempty"`

	CheckpointRef string `json:"checkpoint_ref,omitempty"`
	// Blobs locates the blobs of the current checkpoint by hash.
	Blobs  map[string]blobLoc `json:"blobs,omitempty"`
	Ledger []TokenLedgerEntry `json:"ledger,omitempty"`

	// Segs are the immutable segments, oldest first; FlushedRev is the last
	// revision they cover. Tail holds the deltas of later revisions.
	Segs       []segRef `json:"segs,omitempty"`
	FlushedRev uint64   `json:"flushed_rev,omitempty"`
	// Dirs are the node directory runs over the sealed segments (dir.go).
	Dirs []dirRef `json:"dirs,omitempty"`
	Tail []delta  `json:"tail,omitempty"`
	// Receipts are the most recent turn receipts (all of the tail's, and a
	// few older ones that are also in segments), oldest first.
	Receipts []receipt `json:"receipts,omitempty"`

	Queue    []queuedBatch `json:"queue,omitempty"`
	QueueSeq uint64        `json:"queue_seq,omitempty"`
	Inputs   []inputRow    `json:"inputs,omitempty"`
	InputSeq uint64        `json:"input_seq,omitempty"`

	// Tombstones are node ids tombstoned by TombstoneNodes since the last
	// ReplaceFull, sorted; an Append of one of them revives it.
	Tombstones []string `json:"tombstones,omitempty"`

	Lease *SessionExecutionLease `json:"lease,omitempty"`
	// LeaseGen is the last fencing token handed out.
	LeaseGen uint64 `json:"lease_gen,omitempty"`

	// AttachTurns are the turns that announced an attachment put
	// (AnnounceTurn) and have not committed since, sorted; AttachTurnsFull
	// means more than maxAttachTurns did, and stands for every turn. A
	// commit of a turn the head does not announce adopts no rows by turn
	// marker and needs no request before its PUT. Every head write carries
	// both, tombstones and new incarnations included; only the commit of
	// the turn, which adopts its rows, drops it.
	AttachTurns     []string `json:"attach_turns,omitempty"`
	AttachTurnsFull bool     `json:"attach_turns_full,omitempty"`
	// AttachWriters name, for announced turns, every manifest that
	// announced the turn (its writer id), sorted by turn. A turn announced
	// without an entry has unknown writers. A commit whose base names its
	// own manifest as the turn's only writer adopts the rows that manifest
	// remembers making the turn's, without listing the turn's markers
	// (docs/protocol.md, "One-request commits").
	AttachWriters []turnWriters `json:"attach_writers,omitempty"`
}

// turnWriters are the writers that announced a turn.
type turnWriters struct {
	Turn    string   `json:"turn"`
	Writers []string `json:"writers"`
}

// maxAttachTurns bounds head.AttachTurns; past it the head announces
// every turn (AttachTurnsFull), so every turn commit lists its markers.
const maxAttachTurns = 256

// maxTurnWriters bounds the writers of one turn; past it the turn's
// writers are unknown.
const maxTurnWriters = 8

// turnWritersOf returns the writers of turn and whether h knows them.
func (h *head) turnWritersOf(turn string) ([]string, bool) {
	if h == nil || h.AttachTurnsFull {
		return nil, false
	}
	i, found := slices.BinarySearchFunc(h.AttachWriters, turn, cmpTurnWriters)
	if !found {
		return nil, false
	}
	return h.AttachWriters[i].Writers, true
}

func cmpTurnWriters(w turnWriters, turn string) int { return strings.Compare(w.Turn, turn) }

// announces reports whether turn's attachment puts may have written rows
// that a commit of turn must adopt.
func (h *head) announces(turn string) bool {
	if h == nil {
		return false
	}
	if h.AttachTurnsFull {
		return true
	}
	_, found := slices.BinarySearch(h.AttachTurns, turn)
	return found
}

// announced reports whether h already announces turn as announce(turn,
// writer) would leave it.
func (h *head) announced(turn, writer string) bool {
	if !h.announces(turn) {
		return false
	}
	ws, known := h.turnWritersOf(turn)
	return !known || writer != "" && slices.Contains(ws, writer)
}

// announce adds turn to h's announced turns, by writer (a manifest's
// writer id; "" for one that has none); it reports whether h changed. A
// turn first announced by a writer records it as the turn's writer; a
// later writer is added to the turn's writers; a turn announced by a
// writer without an id, or by more than maxTurnWriters, loses its writers
// (unknown from then on until the turn commits).
func (h *head) announce(turn, writer string) bool {
	if !h.announces(turn) {
		if len(h.AttachTurns) >= maxAttachTurns {
			h.AttachTurns, h.AttachTurnsFull, h.AttachWriters = nil, true, nil
			return true
		}
		i, _ := slices.BinarySearch(h.AttachTurns, turn)
		h.AttachTurns = slices.Insert(slices.Clone(h.AttachTurns), i, turn)
		if writer != "" {
			j, _ := slices.BinarySearchFunc(h.AttachWriters, turn, cmpTurnWriters)
			h.AttachWriters = slices.Insert(slices.Clone(h.AttachWriters), j, turnWriters{Turn: turn, Writers: []string{writer}})
		}
		return true
	}
	if h.announced(turn, writer) {
		return false
	}
	j, _ := slices.BinarySearchFunc(h.AttachWriters, turn, cmpTurnWriters)
	switch {
	case writer == "" || len(h.AttachWriters[j].Writers) >= maxTurnWriters:
		h.AttachWriters = slices.Delete(slices.Clone(h.AttachWriters), j, j+1)
		return true
	}
	h.AttachWriters = slices.Clone(h.AttachWriters)
	ws := slices.Clone(h.AttachWriters[j].Writers)
	k, _ := slices.BinarySearch(ws, writer)
	h.AttachWriters[j].Writers = slices.Insert(ws, k, writer)
	return true
}

// adopted drops turn from h's announced turns: its commit adopted its rows.
func (h *head) adopted(turn string) {
	if i, found := slices.BinarySearch(h.AttachTurns, turn); found {
		h.AttachTurns = slices.Delete(slices.Clone(h.AttachTurns), i, i+1)
	}
	if j, found := slices.BinarySearchFunc(h.AttachWriters, turn, cmpTurnWriters); found {
		h.AttachWriters = slices.Delete(slices.Clone(h.AttachWriters), j, j+1)
	}
}

// blobLoc is where a blob lives: inline in the head (small blobs) or in its
// own object.
type blobLoc struct {
	Key    string `json:"key,omitempty"`
	Inline []byte `json:"inline,omitempty"`
	Size   int    `json:"size"`
}

// delta is one commit's change to the graph and history.
type delta struct {
	Rev           uint64       `json:"rev"`
	CommitID      string       `json:"commit_id"`
	At            time.Time    `json:"at"`
	Reset         bool         `json:"reset,omitempty"`
	Nodes         []NodeRecord `json:"nodes,omitempty"`
	TurnID        string       `json:"turn_id,omitempty"`
	AttachmentIDs []string     `json:"attachment_ids,omitempty"`
	// Unbacked are the ids the commit named without bytes (not stamped,
	// not roots): fsck reports them.
	Unbacked []string `json:"unbacked_attachment_ids,omitempty"`

	// enc caches the delta's JSON, made once by the commit that adds the
	// delta (cacheJSON), so that a head write does not encode the whole
	// tail again. It is valid only for the Nodes slice it was made from
	// (encNodes, encLen): code that changes a delta's nodes replaces the
	// slice (published deltas are never modified in place), which
	// invalidates it.
	enc      []byte
	encNodes *NodeRecord
	encLen   int
	// frame is enc compressed, one zstd frame (codec.Frame), valid with
	// enc: a head write copies it instead of compressing the delta again.
	frame []byte
}

// cacheJSON encodes d into its cache (d must be complete: no field changes
// after this but the replacement of its Nodes slice).
func (d *delta) cacheJSON() error {
	d.enc, d.frame = nil, nil
	b, err := codec.MarshalJSON(d)
	if err != nil {
		return err
	}
	frame, err := codec.Frame(b)
	if err != nil {
		return err
	}
	d.enc, d.frame, d.encNodes, d.encLen = b, frame, firstNode(d.Nodes), len(d.Nodes)
	return nil
}

// cacheTail caches the encoding of every delta of h's tail whose cache is
// not its own: the delta of the commit writing h, and deltas read from a
// stored head, so that each is encoded and compressed once, not at every
// head write that carries it.
func (h *head) cacheTail() error {
	for i := range h.Tail {
		if d := &h.Tail[i]; !d.cached() {
			if err := d.cacheJSON(); err != nil {
				return err
			}
		}
	}
	return nil
}

// cached reports whether d's cached encoding is still d's.
func (d *delta) cached() bool {
	return d.enc != nil && d.encNodes == firstNode(d.Nodes) && d.encLen == len(d.Nodes)
}

// appendJSON appends d's JSON to buf: the cached encoding if it is still
// d's, else a fresh one.
func (d *delta) appendJSON(buf []byte) ([]byte, error) {
	if d.cached() {
		return append(buf, d.enc...), nil
	}
	b, err := codec.MarshalJSON(d)
	return append(buf, b...), err
}

func firstNode(nodes []NodeRecord) *NodeRecord {
	if len(nodes) == 0 {
		return nil
	}
	return &nodes[0]
}

// receipt is a stored turn receipt.
type receipt struct {
	TurnID      string       `json:"turn_id"`
	Hash        string       `json:"hash"`
	Result      CommitResult `json:"result"`
	Revision    uint64       `json:"revision"`
	CommitID    string       `json:"commit_id"`
	CommittedAt time.Time    `json:"committed_at"`
	// LeaseToken and FencingToken name the lease fence the commit was made
	// under, if any.
	LeaseToken   string `json:"lease_token,omitempty"`
	FencingToken uint64 `json:"fencing_token,omitempty"`
}

// segRef names a segment from the head.
type segRef struct {
	ID      string `json:"id"`
	Level   int    `json:"level"`
	FromRev uint64 `json:"from_rev"`
	ToRev   uint64 `json:"to_rev"`
	Reset   bool   `json:"reset,omitempty"`
	Nodes   int    `json:"nodes"`
	Turns   int    `json:"turns"`
	// Bytes estimates the segment's decoded size (0 in heads of schema 2
	// and older, whose segments are then treated as sealed).
	Bytes int64 `json:"bytes,omitempty"`
	// Sealed segments are never merged again (see planFlush).
	Sealed bool `json:"sealed,omitempty"`
	// Fresh: none of the segment's node ids is in an older segment (the
	// node directory relies on it, dir.go); absent = not known.
	Fresh bool `json:"fresh,omitempty"`
	// Index locates the segment's index inside the segment's object,
	// appended after its footer (a packed segment: one object, one PUT);
	// absent, the index is the object idx/<id> (heads of schema 5 and
	// older, and segments they named).
	Index *blockRef `json:"index,omitempty"`
}

type queuedBatch struct {
	QueuedWorkBatch
	ClaimID    string `json:"claim_id,omitempty"`
	LeaseToken string `json:"lease_token,omitempty"`
	ClaimGen   uint64 `json:"claim_gen,omitempty"`
	// ClaimFence counts the claims of the batch (QueuedWorkClaim.FencingToken).
	ClaimFence uint64 `json:"claim_fence,omitempty"`
}

type inputRow struct {
	PendingTurnInput
	LeaseToken string `json:"lease_token,omitempty"`
	ClaimGen   uint64 `json:"claim_gen,omitempty"`
	// DeferredFrom is the active turn an interrupt moved the input away
	// from (its ActiveTurnID was reset to the next turn).
	DeferredFrom string `json:"deferred_from,omitempty"`
}

// enqueuedFor is the active turn the row was enqueued for ("" = the next
// turn), before any interrupt moved it: a replay of its draft names it.
func (r inputRow) enqueuedFor() string {
	if r.DeferredFrom != "" {
		return r.DeferredFrom
	}
	return r.ActiveTurnID
}

// clone returns a copy of h whose slices and maps may be modified without
// touching h. Elements are copied by value; nested byte slices are shared
// and must be replaced, never modified in place.
func (h *head) clone() *head {
	c := *h
	c.RecentWrites = append([]string(nil), h.RecentWrites...)
	if h.Meta != nil {
		m := *h.Meta
		c.Meta = &m
	}
	if h.Blobs != nil {
		c.Blobs = make(map[string]blobLoc, len(h.Blobs))
		for k, v := range h.Blobs {
			c.Blobs[k] = v
		}
	}
	c.Ledger = append([]TokenLedgerEntry(nil), h.Ledger...)
	c.Segs = append([]segRef(nil), h.Segs...)
	c.Dirs = append([]dirRef(nil), h.Dirs...)
	c.Tail = append([]delta(nil), h.Tail...)
	c.Receipts = append([]receipt(nil), h.Receipts...)
	c.Queue = append([]queuedBatch(nil), h.Queue...)
	c.Inputs = append([]inputRow(nil), h.Inputs...)
	c.Tombstones = append([]string(nil), h.Tombstones...)
	c.AttachTurns = slices.Clone(h.AttachTurns)
	c.AttachWriters = slices.Clone(h.AttachWriters) // entries are copied on write
	if h.Lease != nil {
		l := *h.Lease
		c.Lease = &l
	}
	return &c
}

// freshHead returns the state of a session with no head (or a deleted or
// placeholder one) about to be written for sid: everything empty. Over a
// tombstone it starts a new incarnation; over a live head (a tombstone
// about to be written) or a placeholder it keeps the incarnation.
func freshHead(sid string, prev *head) *head {
	h := &head{SessionID: sid, Inc: 1}
	if prev != nil {
		// Keep the write history so ambiguity resolution spans a delete,
		// and the sweep generation, which never decreases (W1).
		h.Gen = prev.Gen
		h.WriteID = prev.WriteID
		h.RecentWrites = append([]string(nil), prev.RecentWrites...)
		h.Window = prev.Window
		h.SweepGen = prev.SweepGen
		// Announced turns outlive a delete: a turn's puts may straddle it.
		h.AttachTurns, h.AttachTurnsFull = slices.Clone(prev.AttachTurns), prev.AttachTurnsFull
		h.AttachWriters = slices.Clone(prev.AttachWriters)
		h.Inc = prev.incarnation()
		if prev.Deleted {
			h.Inc = max(prev.Gen, prev.incarnation()) + 1
		}
	}
	return h
}

// incarnation returns h's incarnation (see head.Inc); 1 for heads written
// before incarnations were recorded.
func (h *head) incarnation() uint64 { return max(h.Inc, 1) }

// live reports whether h describes a session that exists: neither absent,
// deleted nor a sweeper's placeholder.
func (h *head) live() bool { return h != nil && !h.Deleted && !h.Placeholder }

// encodeHead encodes h, refusing a head over MaxHeadBytes with a
// *TooLargeError (a backstop: commits check what they add beforehand).
//
// The tail is appended to the JSON of the rest of the head from the
// deltas' cached encodings (field order does not matter to readers).
func encodeHead(h *head) ([]byte, error) {
	buf := headBuffers.Get().(*[]byte)
	defer func() {
		if cap(*buf) <= maxPooledHead {
			headBuffers.Put(buf)
		}
	}()
	rest := *h
	rest.Tail = nil
	payload, err := codec.AppendJSON((*buf)[:0], &rest)
	*buf = payload[:0]
	if err != nil {
		return nil, fmt.Errorf("codec: marshal %s: %w", headSchema.Kind, err)
	}
	if len(h.Tail) == 0 {
		if err := checkHeadSize(len(payload)); err != nil {
			return nil, err
		}
		return codec.EncodeRaw(headSchema, payload)
	}
	return encodeTail(h.Tail, append(payload[:len(payload)-1], `,"tail":[`...))
}

// encodeTail encodes the head whose JSON is prefix (the head without its
// tail, up to the tail's opening bracket), then the deltas of tail, as zstd
// frames (codec.Framed): each delta's frame as its commit cached it, the
// JSON between them (the prefix, separators, deltas with no cached frame)
// compressed now, so that a commit compresses its own delta and the head's
// fields, not the deltas of earlier commits again. prefix's array is
// reused.
func encodeTail(tail []delta, prefix []byte) ([]byte, error) {
	size := len(prefix) + 64 // the prefix stored raw at worst
	for i := range tail {
		size += len(tail[i].frame) + 16
	}
	var f codec.Framed
	f.Grow(size)
	pending := prefix
	for i := range tail {
		if i > 0 {
			pending = append(pending, ',')
		}
		d := &tail[i]
		if !d.cached() {
			var err error
			if pending, err = d.appendJSON(pending); err != nil {
				return nil, fmt.Errorf("codec: marshal %s: %w", headSchema.Kind, err)
			}
			continue
		}
		if err := f.Compress(pending); err != nil {
			return nil, err
		}
		pending = pending[:0]
		f.Append(d.frame, len(d.enc))
	}
	if err := f.Compress(append(pending, "]}"...)); err != nil {
		return nil, err
	}
	if err := checkHeadSize(f.Len()); err != nil {
		return nil, err
	}
	return f.Envelope(headSchema)
}

// headBuffers hold the JSON of heads being encoded: a commit's head is
// encoded into a buffer an earlier commit grew, instead of into new memory
// each time (a quarter of the bytes a commit allocated: 179 KB a commit
// before, 132 KB after, BenchmarkCommit8KiB).
// A buffer grown past maxPooledHead (a head that large is rare) is left to
// the garbage collector.
var headBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

const maxPooledHead = 1 << 20

func decodeHead(data []byte) (*head, error) {
	h := new(head)
	version, err := codec.Decode(headSchema, data, h)
	if err != nil {
		return nil, err
	}
	if version < 3 {
		for i := range h.Segs {
			h.Segs[i].Sealed = true // sizes unknown: never merge them
		}
	}
	if version < 5 {
		// Its writers did not announce turns: every turn may have rows.
		h.AttachTurnsFull = true
	}
	if version < 6 {
		h.Branched = true // its writers did not track it
	}
	return h, nil
}
