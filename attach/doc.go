// Package attach is stowage's session-bound attachment store: lash's
// SessionAttachmentStore facade over the write-ahead manifest (package
// manifest) and an objstore.Store.
//
// # Put
//
// Put streams a body of unknown size. In order:
//
//  1. An upload intent (session, owner, time, data key) is made durable
//     before any byte is written. The digest of a stream is unknown until
//     its end, so the intent names a fresh data key (attach/data/<ulid>),
//     never reused.
//  2. The bytes stream to the data key through objstore's Upload (parallel
//     multipart, memory bounded by part size x (concurrency+1) whatever the
//     size), hashed (SHA-256) and counted on the way.
//  3. The session's row for the digest is written, naming data: the data an
//     existing row of this session names if still live, else the digest's
//     blob pointer (identical content uploaded earlier, possibly by another
//     session) if live, else the new upload. The pointer is read only by a
//     put that streamed the bytes through the hash (see PutKnown). Then the fence (Protect)
//     confirms that no sweep deletes what the row names.
//  4. If the row names other data, the new upload is deleted at once: no
//     row named it and the pointer never did, so nobody can rely on it. If
//     the row names the new upload and no live pointer exists, the upload
//     becomes the pointer (create-only, or a compare-and-swap from a pointer
//     whose data a sweep reclaimed). Losers of that race adopt the winner's
//     data, so N concurrent puts of identical bytes leave one data object.
//  5. The upload intent is deleted.
//
// A failure before step 3 (reader error, size limit, cancelled context)
// aborts the multipart upload and marks the upload intent aborted; no row is
// written. PutKnown takes a digest up front and skips the upload on a
// deduplication hit; a digest is not a capability, so adopting bytes another
// session stored needs proof of possession (the bytes streamed through the
// hash, nothing uploaded), and only the session's own live ref is reused on
// the digest alone.
//
// # Compression
//
// Compressible media types (text/*, JSON, XML, YAML, JavaScript, CSV, ...)
// are zstd-compressed when the first frame (1 MiB) of the stream shrinks by
// at least 10%: the size is unknown up front, so the first frame is the
// sample. A compressed data object is a sequence of independent zstd frames
// of 1 MiB of original bytes each plus a seek table (the zstd seekable
// format), so a ranged read fetches the seek table and then only the frames
// covering its range. Readers always get the original bytes.
//
// # Get
//
// Get reads the session's row first: a session that holds no ref gets
// ErrNotFound even when the bytes exist (no reading another session's blob
// by guessing its hash). A full read hashes the bytes as they stream and
// returns an error matching ErrChecksum instead of io.EOF if they do not
// hash to the id. Ranged reads are not hashed end to end (they cannot be);
// compressed frames carry zstd's own checksum.
//
// # Errors
//
// ErrNotFound, ErrInvalidID (ids are 64 lowercase hex digits), ErrTooLarge
// (a *TooLargeError), ErrChecksum and ErrInvalidRange; storage errors are
// wrapped with %w.
package attach
