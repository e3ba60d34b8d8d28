// Package objstore is the storage contract stowage stands on: a small,
// exact interface to an object store with conditional writes.
//
// Everything above it (session heads, the attachment manifest, the sweeper's
// deletion fence) is only as safe as this layer's conditional writes, so the
// contract is stated here in MUST-level prose and enforced by the conformance
// suite in package objstoretest, which every backend runs.
//
// # Backends
//
// memstore (in memory, injectable clock), fsstore (a local directory, safe
// across processes), s3store (aws-sdk-go-v2) and miniostore (minio-go). They
// are opened by URL in package objstore/openurl, which is also the one place
// where decorators (retry, metrics) are composed.
//
// # Errors
//
// Every error a Store returns for a known condition matches one of the
// sentinels in errors.go with errors.Is. Backends map SDK errors in exactly one
// function each; no SDK error type is part of the contract.
//
// # Consistency
//
// Stores are assumed strongly consistent for read-after-write and list-after-
// write (true of AWS S3 since 2020, MinIO, versitygw, and the local backends).
// A conditional Put is atomic: of N racing create-only puts of one key exactly
// one succeeds; of N racing compare-and-swaps on one ETag exactly one succeeds.
//
// # Keys
//
// Keys are UTF-8 strings of 1 to 1024 bytes without control characters,
// made of '/'-separated segments none of which is empty, "." or ".."; see
// ValidateKey. Otherwise keys are opaque: "a b", "a..b", ".hidden", "%2F"
// and "日本" are ordinary keys and never escape a backend's namespace.
//
// # Writing a backend
//
// The rules of the contract are written once, for every backend to apply:
// ValidatePut, ValidateKey and ValidatePrefix check arguments; StreamUpload
// implements Upload over a Multiparter. A backend that evaluates the
// contract itself rather than leaving it to a server (memstore, fsstore)
// also uses ValidateUpload, CheckCondition, ResolveRange, RollUp,
// SortUploads and DeleteEach; the S3 backends share package s3compat.
package objstore
