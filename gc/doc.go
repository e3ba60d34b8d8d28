// Package gc is stowage's sweeper: one Sweeper.Run reclaims, for one shard
// of the bucket, what nothing can name any more, and never what a published
// session head needs, whatever the clocks say.
//
// # What one sweep does, in order
//
//  1. Takes the shard's lease (gc/lease/<i>-of-<n>: create-only PUT, renewed
//     and released by If-Match, with a fencing token). A live holder makes
//     the sweep fail with ErrLeaseHeld.
//  2. Resumes the shard's deletion fences (package fence) that an earlier
//     sweep left Marking (released) or Deleting (armed keys deleted, then
//     released), taking them over from a holder whose lease is gone.
//  3. Refuses (ErrEmptyRoots) if blobs exist but no row, upload intent or
//     head does, unless AllowEmptyRoots.
//  4. With ForgetDeadIntents, forgets dead intents: upload intents by age
//     and owner death, and rows per session through the head fence when
//     HeadRefs is set (the default with package session's heads; W2 in
//     docs/protocol.md), else by the manifest's ForgetAgedUncommitted.
//  5. Sweeps session objects (segments, indexes, checkpoint blobs) that the
//     session's head does not name, through the head fence (below). The
//     sessions are those with keys under sessions/ and, when rows are
//     forgotten through the fence, those with rows in the manifest.
//  6. Sweeps attachment data that no row or upload intent names, through the
//     deletion fence, in rounds.
//  7. Aborts incomplete multipart uploads initiated before the cutoff.
//  8. Reports keys outside stowage's layout; it never deletes them.
//
// # Why nothing a head needs is deleted
//
// Clocks decide only what is proposed for deletion (the grace period) and
// when a stalled sweeper's shard is taken over. Safety rests on conditional
// writes:
//
//   - Attachment data: package fence. A writer calls Protect after its row
//     is durable; a sweep condemns, re-walks the roots, arms what is still
//     unnamed and unrevoked, deletes, releases. A writer stalled past grace
//     gets ErrReclaimed and uploads again under a new key. A round runs
//     these steps as stages over all its fence shards: the requests of a
//     stage (one per fence, or batches of 1000 armed keys that may mix
//     fences) go several at a time, and each stage starts only after every
//     request of the one before it returned. So the re-walk starts after
//     every condemnation is visible, and a fence is released only after
//     each key it armed is confirmed deleted, as in the one-fence protocol.
//   - Session objects: the head fence. For each batch the sweeper lists the
//     session's objects, reads the head, then publishes by compare-and-swap
//     on that head a successor with the sweep generation advanced
//     (Heads.Sweep: session.SweepHead by default; a placeholder head for a
//     session with objects but no head), and only then deletes the listed
//     objects the head does not name. The writer's obligation (W1 in
//     docs/protocol.md): an object written for a commit attempt is
//     published only by a head whose base has the sweep generation the
//     attempt started from. An object listed before the fence was written
//     for an attempt on an older generation, so no later head can name it;
//     a commit in flight on the old head fails its compare-and-swap.
//   - Dead rows (W2): the sweeper judges a session's rows, fences its head,
//     asks HeadRefs whether a published head committed each id, and forgets
//     the others only at the Rev it judged; a commit prepared on the old
//     head fails its PUT and prepares again, changing the Rev.
//   - Multipart uploads: aborting one only makes its writer's upload fail;
//     the writer writes again under a new key.
//   - Delayed DELETEs: every key the sweeper deletes is unique per write and
//     never written again (data, session objects), so a DELETE that lands
//     late can only hit bytes that were condemned.
//
// # Memory
//
// Listings are streamed. Attachment data is condemned in rounds of at most
// RoundKeys keys; the root set is held exactly up to ExactKeys keys and then
// as a Bloom filter of fixed size (a false positive keeps an orphan for a
// later sweep, never deletes anything). Session objects are fenced and
// deleted in batches of 1000. Nothing grows with the number of objects in
// the bucket beyond those bounds.
//
// # Sharding
//
// Shard i/n owns the data keys whose fence shard f (fence.ShardOf) has
// f%n == i, and the sessions whose id hashes the same way. Each shard has
// its own lease; two sweepers of one shard exclude each other, and sweepers
// of different splits (0/1 and 1/2) meet only at the fences, whose
// compare-and-swaps keep them safe.
package gc
