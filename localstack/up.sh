#!/usr/bin/env bash
# Starts the pinned local S3 servers (versitygw, MinIO, rclone serve s3) on 127.0.0.1 with
# throwaway data directories, creates the test bucket on each, and writes an
# env file for tests and tools.
#
#   localstack/up.sh [RUN_DIR]      (default RUN_DIR: $STOWAGE_LOCALSTACK_DIR or a new temp dir)
#
# Prints the env file's path on stdout. Stop with: localstack/down.sh RUN_DIR
# Servers to start: $STOWAGE_SERVERS (default "versitygw minio rclone"); a
# Prometheus Pushgateway starts too unless STOWAGE_NO_PUSHGATEWAY is set.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
run=${1:-${STOWAGE_LOCALSTACK_DIR:-}}
if [ -z "$run" ]; then run=$(mktemp -d "${TMPDIR:-/tmp}/stowage-localstack.XXXXXX"); fi
mkdir -p "$run"
run=$(cd "$run" && pwd)
servers=${STOWAGE_SERVERS:-versitygw minio rclone}
access=${STOWAGE_TEST_ACCESS_KEY:-stowageaccess}
secret=${STOWAGE_TEST_SECRET_KEY:-stowagesecret-$RANDOM$RANDOM}
region=us-east-1
bucket=${STOWAGE_TEST_BUCKET:-stowage-test}

# Data on tmpfs when there is room: small-object latency is 1.5-5x lower there.
data_root=$run/data
if [ -z "${STOWAGE_NO_TMPFS:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ] &&
  [ "$(df -Pk /dev/shm | awk 'NR==2{print $4}')" -gt $((8 * 1024 * 1024)) ]; then
  data_root=$(mktemp -d /dev/shm/stowage-data.XXXXXX)
  echo "$data_root" > "$run/tmpfs-data"
fi
mkdir -p "$data_root"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() { # base
  local p=$1
  while ! port_free "$p"; do p=$((p + 1)); done
  echo "$p"
}
wait_http() { # url name log [any: any HTTP answer will do]
  local i f=-sf
  [ "${4:-}" = any ] && f=-s
  for i in $(seq 1 300); do
    if curl "$f" -o /dev/null --max-time 1 "$1"; then return 0; fi
    sleep 0.1
  done
  echo "up: $2 did not become ready; its log:" >&2
  tail -20 "$3" >&2
  return 1
}
make_bucket() { # endpoint
  curl -sf -X PUT --aws-sigv4 "aws:amz:$region:s3" --user "$access:$secret" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$1/$bucket" -o /dev/null ||
    { echo "up: cannot create bucket $bucket at $1" >&2; return 1; }
}

env_file=$run/env
{
  echo "export STOWAGE_TEST_ACCESS_KEY=$access"
  echo "export STOWAGE_TEST_SECRET_KEY=$secret"
  echo "export STOWAGE_TEST_REGION=$region"
  echo "export STOWAGE_TEST_BUCKET=$bucket"
} > "$env_file"

for s in $servers; do
  bin=$("$here/install.sh" "$s")
  case "$s" in
    versitygw)
      port=$(pick_port "${VERSITYGW_PORT:-17070}")
      mkdir -p "$data_root/versitygw"
      ROOT_ACCESS_KEY=$access ROOT_SECRET_KEY=$secret \
        "$bin" --port "127.0.0.1:$port" --health /health --keep-alive --quiet \
        posix "$data_root/versitygw" > "$run/versitygw.log" 2>&1 &
      echo $! > "$run/versitygw.pid"
      echo "$bin" > "$run/versitygw.bin"
      wait_http "http://127.0.0.1:$port/health" versitygw "$run/versitygw.log"
      ;;
    minio)
      port=$(pick_port "${MINIO_PORT:-19000}")
      cport=$(pick_port $((port + 1)))
      mkdir -p "$data_root/minio/store" "$run/minio-home"
      HOME=$run/minio-home MINIO_ROOT_USER=$access MINIO_ROOT_PASSWORD=$secret MINIO_BROWSER=off \
        "$bin" server --quiet --address "127.0.0.1:$port" --console-address "127.0.0.1:$cport" \
        --certs-dir "$run/minio-home/certs" "$data_root/minio/store" > "$run/minio.log" 2>&1 &
      echo $! > "$run/minio.pid"
      echo "$bin" > "$run/minio.bin"
      wait_http "http://127.0.0.1:$port/minio/health/ready" minio "$run/minio.log"
      ;;
    rclone)
      port=$(pick_port "${RCLONE_PORT:-18080}")
      mkdir -p "$data_root/rclone"
      : > "$run/rclone.conf"
      "$bin" serve s3 --config "$run/rclone.conf" --auth-key "$access,$secret" \
        --addr "127.0.0.1:$port" "$data_root/rclone" > "$run/rclone.log" 2>&1 &
      echo $! > "$run/rclone.pid"
      echo "$bin" > "$run/rclone.bin"
      wait_http "http://127.0.0.1:$port/" rclone "$run/rclone.log" any
      ;;
    *) echo "up: unknown server $s" >&2; exit 2 ;;
  esac
  make_bucket "http://127.0.0.1:$port"
  upper=$(echo "$s" | tr '[:lower:]' '[:upper:]')
  echo "export STOWAGE_TEST_${upper}_ENDPOINT=http://127.0.0.1:$port" >> "$env_file"
  echo "up: $s on http://127.0.0.1:$port (bucket $bucket)" >&2
done

# Prometheus Pushgateway (the sweeper's metrics target), in-memory only.
if [ -z "${STOWAGE_NO_PUSHGATEWAY:-}" ]; then
  bin=$("$here/install.sh" pushgateway)
  port=$(pick_port "${PUSHGATEWAY_PORT:-19091}")
  "$bin" --web.listen-address="127.0.0.1:$port" --log.level=warn > "$run/pushgateway.log" 2>&1 &
  echo $! > "$run/pushgateway.pid"
  echo "$bin" > "$run/pushgateway.bin"
  wait_http "http://127.0.0.1:$port/-/ready" pushgateway "$run/pushgateway.log"
  echo "export STOWAGE_TEST_PUSHGATEWAY_URL=http://127.0.0.1:$port" >> "$env_file"
  echo "up: pushgateway on http://127.0.0.1:$port" >&2
fi
echo "$env_file"
