// Package fence is the sweeper's deletion fence for attachment data: a small
// compare-and-swap state machine per shard that makes "a writer relies on
// data" and "a sweeper deletes data" mutually exclusive without trusting any
// clock (docs/contract.md, "Attachment reclamation").
//
// # Objects
//
// Data keys are partitioned into Shards fence shards by ShardOf (a hash of the
// key; fixed, part of the bucket format). Shard s has one object, Key(s) =
// "gc/fence/NN", holding a State: an epoch, a phase (Idle, Marking,
// Deleting), the sweep holding it, and a sorted key list (the condemned
// candidates while Marking, the armed keys while Deleting) plus, while
// Marking, the keys writers revoked. A missing object is Idle at epoch 0.
// The fence objects must never be deleted (the bucket lifecycle rule excludes
// the gc/ prefix).
//
// # Sweeper
//
// A sweep of one shard, holding the shard's lease (package gc):
//
//  1. Condemn: CAS Idle -> Marking(epoch, candidates). The candidates are
//     data keys that no ref named when the sweeper listed the refs.
//  2. The sweeper lists the refs again, starting after step 1 is visible, and
//     computes which candidates are now named.
//  3. Arm: CAS Marking -> Deleting(epoch, candidates - revoked - named).
//  4. Delete the armed keys (batches of 1000); all must be gone.
//  5. Release: CAS Deleting -> Idle(epoch+1).
//
// A sweep that finds the fence Marking or Deleting under a holder that is no
// longer live may take it over (TakeOver) and either release a Marking
// (nothing was deleted) or finish a Deleting (the armed keys were final when
// they were armed).
//
// # Writer
//
// Protect is the writer's half. It is called after the writer's ref naming
// dataKey is durable, before the writer relies on dataKey's bytes. It reads
// the fence (cached by ETag and revalidated with a conditional GET, so an
// unchanged fence costs one small round trip), revokes dataKey if it is a
// Marking candidate, fails with ErrReclaimed if it is armed, and finally
// checks that dataKey still exists.
//
// # Why it holds
//
// Let w be the moment the writer's ref became durable and f the moment of
// Protect's fence read (w < f). Take any sweep epoch that arms dataKey.
//
//   - Its condemn happened after f: its step-2 listing started after f > w,
//     so it saw the ref and dropped dataKey. Contradiction.
//   - Its condemn happened before f and the read shows that epoch Marking
//     with dataKey a candidate: the writer revokes it by CAS on the same
//     object. Exactly one of "revoke" and "arm" wins the CAS; if arm won,
//     the writer re-reads, sees Deleting, and gets ErrReclaimed.
//   - The read shows the epoch Deleting with dataKey armed: ErrReclaimed.
//   - The read shows a later epoch (or Idle after it): the epoch released, so
//     every armed key was already deleted; the existence check after f then
//     finds dataKey missing and Protect returns ErrReclaimed.
//
// So when Protect returns nil, no sweep will ever delete dataKey while the
// ref exists. Data keys are unique per upload and never written again (Rule
// 0), so a DELETE delivered late by a paused sweeper can only hit bytes that
// were armed, never new bytes. Clocks decide only which keys a sweeper
// proposes (the grace period) and when a stalled sweep is taken over.
package fence
