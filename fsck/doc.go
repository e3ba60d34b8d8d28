// Package fsck checks a stowage bucket's invariants, read-only, and reports
// its orphans. It is the library behind `stowage fsck`, and the final check
// of the soak and crash tests.
//
// # Invariants
//
// A violated invariant is a Problem; a bucket is clean when there is none:
//
//   - head: every session head decodes and its checksum holds, and the
//     coordination state of a live one is consistent (session.HeadInfo's
//     StateProblems: queued batches and turn inputs in sequence, unique,
//     with known delivery policies, classes and states, claims that name a
//     granted lease generation; node tombstones sorted).
//   - named: everything a live head names (segments, their indexes,
//     checkpoint blobs) exists, and the session loads in full (every
//     segment decodes, every checkpoint blob hashes to its ref).
//   - ref: no committed ref dangles: every attachment id in a head's recent
//     commits has a manifest row in that session, and every committed row
//     names data that exists.
//   - manifest: rows and data agree: a row sits under the key of its own
//     session and attachment id, the data it names exists with the stored
//     size the row records, and (with Options.Deep) its bytes hash to the
//     attachment id.
//   - unreadable: an object of the layout is damaged. Whatever the backend
//     (a decoder refusing the bytes on S3, a file store's own checksum on
//     a read, HEAD or LIST), a damaged object is a Problem named by its
//     own key (damage.go is the one place that decides), never an error
//     of Check; Check repairs nothing.
//   - sweeper: every deletion fence and sweeper lease decodes (the sweeper
//     stops on a damaged one; sweeper.go).
//
// # Orphans
//
// An orphan is an object nothing needs any more, by the same rules the
// sweeper applies (package gc): attachment data no live row or live upload
// intent names, dead rows and upload intents (uncommitted, aged and owner
// dead, by the manifest's owner-death rules), incomplete multipart uploads
// and session objects no head names. Orphans are normal while writers run
// (a commit writes its objects before the head that names them); an orphan
// older than the grace period is stale and means the sweeper has not run
// since (or could not reclaim it). Orphans are not problems unless
// Options.StaleOrphansAreProblems is set.
package fsck
