// Package fsstore is an objstore.Store in a local directory: the embedded
// default for local use and the demo. It enforces the whole contract,
// including conditional puts, compare-and-swap, conditional multipart
// completion and conditional deletes, across goroutines and across processes
// sharing the directory (an agent and a sweeper, say), and acknowledged
// writes are durable (Capabilities.Durable). It needs a Unix file system
// with flock(2); NFS is not supported.
//
// # Layout
//
//	format        marker of the on-disk format
//	objects/      one file per object, in directories cut from the key
//	uploads/      <id>.info (upload record) and <id>.data (content so far)
//	tmp/          files being written, renamed into objects/ when complete
//	locks/00..3f  flock(2) lock files, one per stripe of keys
//
// Files are created owner-only (0600, directories 0700): sessions may hold
// private data, and every process sharing the store runs as one user.
//
// Keys are opaque and never interpreted as paths: each key is cut into
// pieces, each piece escaped to a safe file name (see layout.go), so every
// byte string, even one objstore.ValidateKey rejects such as "../x" or
// "dir/", maps to its own path inside objects/, and "dir" and "dir/x"
// coexist. A key's slash-separated leading pieces become directories, so
// List by prefix reads only the directories that can hold matching keys.
//
// # Atomicity and durability
//
// An object is one file: content, then a trailer with ETag, size,
// CRC-32C, ModTime, content type and metadata. A write builds the whole file
// in tmp/ (or uploads/), fsyncs it, renames it over the object's path and
// fsyncs the directory. Readers see the old file or the new one, never a
// mix; a crash never leaves a partial object visible. Get streams from the
// open file, so a body is a snapshot, and verifies the CRC-32C when it
// reads the whole object.
//
// # Conditions
//
// Every mutation of a key (Put, Delete, upload completion, AbortUpload)
// checks its condition and renames or removes under the key's stripe lock:
// a mutex per stripe in the process plus flock(2) on the stripe's lock file
// across processes. ETags are 128-bit random values, unique per write, so a
// compare-and-swap cannot suffer ABA even when identical bytes are written
// again.
//
// # Time
//
// ModTime and upload Initiated come from Options.Clock and are recorded in
// the object file and the upload record; file system mtimes are not used.
// SetModTime and SetUploadInitiated rewrite them to age objects in tests.
//
// # Crash leftovers
//
// A crashed Upload leaves its record and content in uploads/: ListUploads
// reports it, and AbortUpload (the sweeper) removes it. A crashed Put leaves
// a file in tmp/, which List never sees; Open removes files in tmp/, and
// upload content without a record, once they are older than StaleTempAge by
// file mtime. Directories emptied by deletes are removed.
package fsstore
