// Package logkeys holds the test that keeps stowage's log keys one
// vocabulary: every key a package passes to its slog.Logger is in the table
// of docs/operations.md, "Log keys" (session_id, attachment_id, turn_id,
// upload_id, ...), and durations are logged as strings, never with
// slog.Duration (a JSON handler writes those as bare nanoseconds).
package logkeys
