#!/usr/bin/env bash
# go test with a readable report (internal/tools/testreport): top-level tests
# and their first level of subtests (e.g. TestConformance/minio) with their
# result, the full output of failures, a line per package, and a closing
# "N passed, N failed, N skipped" line. Fails if go test or any test failed.
set -o pipefail
go build -o "${TMPDIR:-/tmp}/stowage-testreport.$$" ./internal/tools/testreport || exit 1
trap 'rm -f "${TMPDIR:-/tmp}/stowage-testreport.$$"' EXIT
go test -json "$@" 2>&1 | "${TMPDIR:-/tmp}/stowage-testreport.$$"
