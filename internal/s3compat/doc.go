// Package s3compat holds what the two S3 backends (s3store on aws-sdk-go-v2,
// miniostore on minio-go) share: Store, the objstore.Store both of them are;
// the known differences between S3 servers as data (Quirks and its
// profiles); the one table that turns S3 error codes and HTTP statuses into
// objstore's sentinel errors; and the parts of the S3 protocol both SDKs
// leave to the caller (ETag quoting, Range and Content-Range, listing and
// upload paging, batched deletes).
//
// Nothing here talks to a server: each backend supplies the SDK calls as a
// Client, one small method per S3 call, and keeps exactly one function,
// Client.MapErr, that extracts the error code and status from its SDK's
// errors and hands them to Classify.
//
// # Profiles
//
// AWS, MinIO, VersityGW and Generic describe what each server enforces, with
// the evidence for every field in its comment. A profile is knowledge, not a
// guarantee: a live probe (objstoretest, and the store's own startup check
// where one exists) confirms it against the actual server.
package s3compat
