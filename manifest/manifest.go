// Package manifest is the write-ahead attachment manifest of stowage: the Go
// form of lash's AttachmentManifest (docs/contract.md, "Attachment
// manifest") on object storage.
//
// An intent is recorded, durably, before any byte of an attachment is
// written; a session's ref to an attachment (keyed by session id and the
// attachment's content id, the lowercase hex SHA-256 of its bytes) is stamped
// committed when a session head naming it is published. The sweeper (package
// gc) reclaims bytes no ref roots.
package manifest

import (
	"context"
	"errors"
	"time"
)

// OwnerKind is who an intent belongs to while it is uncommitted.
type OwnerKind string

// Owner kinds. An empty kind means ownerless (then ID is empty too).
const (
	OwnerNone    OwnerKind = ""
	OwnerTurn    OwnerKind = "turn"
	OwnerProcess OwnerKind = "process"
)

// Owner scopes an intent: a turn, a process, or nobody. Kind and ID are both
// set or both empty.
type Owner struct {
	Kind OwnerKind `json:"kind,omitempty"`
	ID   string    `json:"id,omitempty"`
}

// Intent is a session's declared interest in an attachment, recorded before
// its bytes are written.
type Intent struct {
	AttachmentID string    `json:"attachment_id"`
	SessionID    string    `json:"session_id"`
	CanonicalURI string    `json:"canonical_uri"` // lash-attachment://sha256/<hex>
	IntentAt     time.Time `json:"intent_at"`
	Owner        Owner     `json:"owner"`
}

// Entry is a manifest row: an intent plus its commit stamp (zero if
// uncommitted). Rows are keyed by (SessionID, AttachmentID).
type Entry struct {
	Intent
	CommittedAt time.Time `json:"committed_at,omitzero"`
}

// Committed reports whether the row carries a commit stamp.
func (e Entry) Committed() bool { return !e.CommittedAt.IsZero() }

// AttachmentManifest is lash's AttachmentManifest (docs/contract.md,
// "Attachment manifest"), with ctx first. Implementations are safe for
// concurrent use, across processes.
type AttachmentManifest interface {
	// RecordIntent upserts the row (session, id): on an existing row it
	// refreshes uri, intent time and owner and keeps the commit stamp. It is
	// called before any byte is written; if it fails no bytes are written.
	RecordIntent(ctx context.Context, in Intent) error
	// CommitRefs stamps committed only rows that already exist (never
	// inserts) and are not yet stamped.
	CommitRefs(ctx context.Context, sessionID string, ids []string) error
	// ListUncommitted returns rows with no commit stamp and intent time at or
	// before olderThan, across every session. Order is unspecified.
	ListUncommitted(ctx context.Context, olderThan time.Time) ([]Entry, error)
	// ForgetAgedUncommitted deletes rows that are uncommitted, aged (intent
	// time at or before cutoff) and whose owner is dead, atomically with
	// respect to a concurrent RecordIntent of the same row, and returns how
	// many it deleted.
	ForgetAgedUncommitted(ctx context.Context, cutoff time.Time) (int, error)
	// HasLiveRef reports whether some row for id is not eligible for deletion
	// under the ForgetAgedUncommitted rule at cutoff. Read-only.
	HasLiveRef(ctx context.Context, id string, cutoff time.Time) (bool, error)
	// Forget deletes the row (session, id), committed or not. Idempotent. The
	// bytes are left for the sweeper.
	Forget(ctx context.Context, sessionID, id string) error
	// HoldsRef reports whether a row (session, id) exists.
	HoldsRef(ctx context.Context, sessionID, id string) (bool, error)
	// ListAllRefs returns the distinct attachment ids of all rows.
	ListAllRefs(ctx context.Context) ([]string, error)
}

// CommitHook is what the session commit protocol needs from the manifest, in
// addition to AttachmentManifest. The session store calls PrepareCommit
// before it publishes a head and FinishCommit after the head PUT succeeded.
type CommitHook interface {
	// PrepareCommit returns what a commit of sessionID will stamp
	// committed: the given ids that have a row of this session naming
	// readable bytes, plus, if turnID is non-empty, every uncommitted row of
	// this session owned by that turn that names readable bytes. An id the
	// session holds no bytes for (no row, an intent whose upload never
	// finished, bytes reclaimed) is not stamped and is returned in
	// Prepared.Unbacked instead: it never fails the commit, and no commit
	// records a ref that protects nothing. It must also make sure no
	// concurrent sweep can delete what it returns to stamp (the deletion
	// fence). inc is the incarnation of the head the commit is based on;
	// every row returned to stamp is bound to it before PrepareCommit
	// returns (Row.Inc), so a deletion of an older incarnation cannot remove
	// it (docs/protocol.md, "Deletion").
	PrepareCommit(ctx context.Context, sessionID string, inc uint64, turnID string, ids []string) (Prepared, error)
	// FinishCommit stamps the rows committed at the given time. The head is
	// the source of truth; this index is repaired from heads if a crash
	// skips it.
	FinishCommit(ctx context.Context, sessionID string, ids []string, at time.Time) error
}

// Prepared is the outcome of PrepareCommit. Both lists are sorted and
// distinct, and disjoint.
type Prepared struct {
	// Stamp are the ids the commit records and stamps committed.
	Stamp []string
	// Unbacked are the ids the commit named (or its turn owns) that this
	// session holds no bytes for; the commit records nothing for them.
	Unbacked []string
}

// ErrDanglingRef is the cause recorded for an id PrepareCommit leaves out
// because its intent or bytes are gone (see Prepared.Unbacked).
var ErrDanglingRef = errors.New("manifest: attachment ref would dangle")
