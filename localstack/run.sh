#!/usr/bin/env bash
# Runs a command with the local S3 servers up, then stops them, whatever the
# command's outcome:   localstack/run.sh go test ./...
# Inside the command, STOWAGE_TEST_REQUIRE lists the servers started (and
# "pushgateway"), so a test that skips one of them fails.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
run=$(mktemp -d "${TMPDIR:-/tmp}/stowage-localstack.XXXXXX")
trap '"$here/down.sh" "$run"' EXIT
env_file=$("$here/up.sh" "$run")
# shellcheck disable=SC1090
. "$env_file"
required="${STOWAGE_SERVERS:-versitygw minio rclone}"
[ -n "${STOWAGE_NO_PUSHGATEWAY:-}" ] || required="$required pushgateway"
export STOWAGE_TEST_REQUIRE=${STOWAGE_TEST_REQUIRE:-$(echo "$required" | tr ' ' ',')}
set +e
"$@"
rc=$?
exit $rc
