// Package session is lash's SessionCommitStore (docs/contract.md, "Session
// commit store") on an object store with conditional writes: one head object
// per session, replaced by compare-and-swap, naming immutable segments and
// blobs.
//
// A commit becomes visible only through the conditional PUT of the head; a
// small commit is that one PUT. Everything a commit needs to be atomic with
// (turn receipts, queue and turn-input settlement, the outbox, the session
// execution lease, usage, meta) lives in the head or in objects written
// before it under fresh keys. See docs/protocol.md for the protocol and its
// safety argument, and docs/format.md for the objects.
//
// # Handles
//
// New returns a Store bound to one session. Handles are safe for concurrent
// use and cache what they read (the head by ETag, immutable segments and
// indexes); any number of handles, in any number of processes, may serve
// one session at once.
//
// # Errors
//
// Every lash StoreError variant has a sentinel (ErrHeadRevisionConflict,
// ...) and, where it carries fields, a typed error matching it with
// errors.Is (*HeadRevisionConflictError, ...). Stored objects that fail to
// decode are *CorruptError, matching ErrCorrupt or exactly one of the
// schema-version sentinels. An undecidable head write is
// ErrCommitOutcomeUnknown.
//
// # Sweeper interface
//
// ListSessionIDs, ReadHead and ParseKey expose the key layout
// (keys.go) to the sweeper without it knowing the head format. SweepHead is
// the sweeper's head fence (it advances the head's sweep generation, or
// creates a placeholder head that reads as no session), and HeadRefs tells
// the attachment manifest which attachments published commits named
// (docs/protocol.md, "Sweeping", W1 and W2).
package session
