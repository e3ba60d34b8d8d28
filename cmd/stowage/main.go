// Command stowage is the operator's tool for a stowage bucket: a demo of
// the whole story, inspection of sessions and attachments, an invariant
// checker, and a benchmark against the raw SDK.
//
// Usage:
//
//	stowage demo    [--store URL]                 the whole story, in under a minute
//	stowage inspect [--store URL] sessions|head|log|graph|refs|cat ...
//	stowage fsck    [--store URL] [--json]        check every invariant; exit 0 only when clean
//	stowage bench   [--store URL]... [--json]     stowage vs the raw SDK, side by side
//	stowage version                               module version, commit, Go version
//
// The store is named by --store or STOWAGE_STORE (see package
// objstore/openurl for URL forms). Run `stowage <command> -h` for flags.
//
// Flags may come before or after the command.
//
// Exit codes: 0 ok, 1 transient error, 2 usage or configuration (bad URL,
// unknown parameter, no such bucket, access denied, no stowage store) and
// whatever retrying cannot fix (no such session or attachment, an invalid id
// or range, an unsupported operation), 3 fsck found problems, 130/143
// interrupted by SIGINT/SIGTERM.
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
