#!/usr/bin/env bash
# go test with readable output: top-level tests and their first level of
# subtests (e.g. TestConformance/minio) are shown with their result, deeper
# passing subtests and RUN/PAUSE/CONT chatter are dropped; failures and logs
# are kept. The exit status is go test's.
set -o pipefail
go test -v "$@" 2>&1 | awk '
  /^=== (RUN|PAUSE|CONT|NAME)/ { next }
  /^ {8,}--- (PASS|SKIP)/ { next }
  { print; fflush() }
'
