#!/usr/bin/env bash
# Installs the pinned S3 servers (versitygw, MinIO, rclone) and tools
# (Pushgateway) with `go install` into a cache outside the repository, keyed by
# version, and prints the binary paths.
#
#   localstack/install.sh [versitygw|minio|rclone|pushgateway ...]   (default: all)
#
# The cache lives in $STOWAGE_TOOLS_CACHE (default: ${XDG_CACHE_HOME:-~/.cache}/stowage-tools).
# A cached binary is reused only if `go version -m` reports the pinned module version.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
cache=${STOWAGE_TOOLS_CACHE:-${XDG_CACHE_HOME:-${HOME:?HOME or STOWAGE_TOOLS_CACHE must be set}/.cache}/stowage-tools}

install_one() { # name module version binname
  local name=$1 module=$2 version=$3 bin=$4
  local dir="$cache/$name/$version"
  local path="$dir/$bin"
  if [ -x "$path" ]; then
    local got
    got=$(go version -m "$path" 2>/dev/null | awk '$1=="mod"{print $3; exit}')
    if [ "$got" = "$version" ]; then
      echo "$path"
      return 0
    fi
    echo "install: cached $path reports version '$got', want $version; rebuilding" >&2
  fi
  mkdir -p "$dir"
  echo "install: building $module@$version (cold builds take minutes) ..." >&2
  local start=$SECONDS
  GOBIN="$dir" GOFLAGS=-mod=mod go install "$module@$version" >&2
  echo "install: built $name in $((SECONDS - start))s" >&2
  echo "$path"
}

targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(versitygw minio rclone pushgateway)
for t in "${targets[@]}"; do
  case "$t" in
    versitygw) install_one versitygw "$VERSITYGW_MODULE" "$VERSITYGW_VERSION" versitygw ;;
    minio) install_one minio "$MINIO_MODULE" "$MINIO_VERSION" minio ;;
    pushgateway) install_one pushgateway "$PUSHGATEWAY_MODULE" "$PUSHGATEWAY_VERSION" pushgateway ;;
    rclone) install_one rclone "$RCLONE_MODULE" "$RCLONE_VERSION" rclone ;;
    *) echo "install: unknown server $t" >&2; exit 2 ;;
  esac
done
