#!/usr/bin/env bash
# Brings the local stack up for a person (`make dev`) and prints the path of
# an env file to source: besides the STOWAGE_TEST_* variables it exports
# AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION and STOWAGE_STORE, so
# that the commands run as written:
#
#   . "$(localstack/dev.sh RUN_DIR)"
#   go run ./cmd/stowage demo --store "$STOWAGE_STORE"
#
# Idempotent: while the servers of RUN_DIR are up, it starts nothing and
# prints the same env file; if some died, it stops the rest and starts anew.
# Stop with: localstack/down.sh RUN_DIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
run=${1:?usage: localstack/dev.sh RUN_DIR}

# up reports whether every process up.sh started in $run is still the
# binary it started.
up() {
  local pidf name n=0
  [ -f "$run/env" ] && [ -f "$run/dev" ] || return 1
  for pidf in "$run"/*.pid; do
    [ -e "$pidf" ] || return 1
    name=$(basename "$pidf" .pid)
    [ "$(readlink "/proc/$(cat "$pidf")/exe" 2>/dev/null)" = "$(cat "$run/$name.bin" 2>/dev/null)" ] || return 1
    n=$((n + 1))
  done
  [ "$n" -gt 0 ]
}

if up; then
  echo "dev: already up in $run" >&2
  echo "$run/env"
  exit 0
fi
if [ -d "$run" ]; then "$here/down.sh" "$run"; fi
env_file=$("$here/up.sh" "$run")
# shellcheck disable=SC1090
. "$env_file"
if [ -n "${STOWAGE_TEST_MINIO_ENDPOINT:-}" ]; then
  endpoint=$STOWAGE_TEST_MINIO_ENDPOINT quirks=minio
else
  endpoint=$STOWAGE_TEST_VERSITYGW_ENDPOINT quirks=versitygw
fi
{
  echo "export AWS_ACCESS_KEY_ID=$STOWAGE_TEST_ACCESS_KEY"
  echo "export AWS_SECRET_ACCESS_KEY=$STOWAGE_TEST_SECRET_KEY"
  echo "export AWS_REGION=$STOWAGE_TEST_REGION"
  echo "export STOWAGE_STORE='s3://$STOWAGE_TEST_BUCKET/dev?endpoint=$endpoint&quirks=$quirks'"
} >> "$env_file"
touch "$run/dev"
echo "dev: source it:  . $env_file    stop with: make dev-down" >&2
echo "$env_file"
