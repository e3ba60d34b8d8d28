// Command sweeper runs one sweep of a stowage bucket: it reclaims attachment
// data no ref names, dead intents, stale multipart uploads and session
// objects no head names, without ever deleting what a published head needs.
// Run it periodically (a Kubernetes CronJob; see docs/operations.md).
//
// Usage:
//
//	sweeper --store s3://bucket/prefix [--grace 24h] [--shard i/n] [--dry-run] [--json] ...
//	sweeper --version
//
// Exit codes: 0 ok, 1 transient error (including an incomplete sweep or a
// lost lease), 2 usage or configuration, 3 lease held by another sweeper,
// 4 refused (e.g. empty root set), 130/143 interrupted by SIGINT/SIGTERM.
package main

import (
	"context"
	"os"

	"github.com/stowage-dev/stowage/internal/exitcode"
	_ "github.com/stowage-dev/stowage/objstore/all" // s3:// and minio:// URLs
)

func main() {
	ctx, stop := exitcode.NotifyContext(context.Background())
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
