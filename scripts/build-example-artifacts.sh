#!/usr/bin/env bash
# Builds the .mender artifacts of fleet-repo-example with Debian's mender-artifact. The outputs
# are committed; run this only to change them.
set -euo pipefail
cd "$(dirname "$0")/../fleet-repo-example/artifacts"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
build() { # name type device-type
  printf '%s\n' "$1" > "$tmp/$1.img"
  mender-artifact write module-image -T "$2" -n "$1" -t "$3" -o "$1.mender" -f "$tmp/$1.img" --compression gzip
}
for v in v1 v2; do
  build "gateway-$v" gateway-rootfs gateway-system
  build "rtos-$v" rtos gateway-system
done
