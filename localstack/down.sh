#!/usr/bin/env bash
# Stops exactly the servers localstack/up.sh started in RUN_DIR and removes
# their data.   localstack/down.sh RUN_DIR
set -uo pipefail
run=${1:-${STOWAGE_LOCALSTACK_DIR:-}}
[ -n "$run" ] && [ -d "$run" ] || { echo "down: no run dir given" >&2; exit 2; }
for pidf in "$run"/*.pid; do
  [ -e "$pidf" ] || continue
  name=$(basename "$pidf" .pid)
  pid=$(cat "$pidf")
  bin=$(cat "$run/$name.bin" 2>/dev/null || true)
  # Only signal the process if it is still the binary we started.
  if [ -n "$bin" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$bin" ]; then
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$pidf"
done
if [ -f "$run/tmpfs-data" ]; then rm -rf "$(cat "$run/tmpfs-data")"; fi
rm -rf "$run"
