#!/usr/bin/env bash
# Prints the path of a Docker Compose v2 binary, fetching it once from Debian trixie's
# docker-compose package (2.26 or later) when it is not cached. The comparison test
# (test/apply/docker-compose-fidelity.test.ts) brings real Compose files up with it, as the
# reference for what rollgate must do. Bookworm's own docker-compose is v1, which is not the
# Compose the specification describes today.
#
# The system's apt configuration is not touched: the trixie source, its package lists and the
# downloaded .deb live in a temporary directory, and apt is pointed at them with -o options.
# The binary is cached under $ROLLGATE_CACHE_DIR (default ~/.cache/rollgate).
set -euo pipefail

cache="${ROLLGATE_CACHE_DIR:-${HOME:-/root}/.cache/rollgate}"
bin="$cache/docker-compose-v2"

if [ -x "$bin" ] && "$bin" version --short >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/parts" "$tmp/prefs"
cat >"$tmp/sources.list" <<'EOF'
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
EOF
apt_opts=(
  -o "Dir::Etc::SourceList=$tmp/sources.list"
  -o "Dir::Etc::SourceParts=$tmp/parts"
  -o "Dir::Etc::Preferences=$tmp/prefs/none"
  -o "Dir::Etc::PreferencesParts=$tmp/prefs"
  -o "Dir::State::Lists=$tmp/lists"
  -o "Dir::Cache=$tmp/cache"
  -o "Dir::State::status=/dev/null"
  -o "APT::Get::List-Cleanup=false"
  -o "Acquire::Languages=none"
  -o "APT::Sandbox::User=root"
)
echo "get-compose-v2: downloading Debian trixie's docker-compose package (once; cached in $cache)" >&2
apt-get "${apt_opts[@]}" -qq update >&2
(cd "$tmp" && apt-get "${apt_opts[@]}" -qq download docker-compose >&2)
deb="$(ls "$tmp"/docker-compose_*.deb)"
dpkg-deb -x "$deb" "$tmp/root"
found=""
for p in usr/libexec/docker/cli-plugins/docker-compose usr/bin/docker-compose; do
  if [ -x "$tmp/root/$p" ] && [ ! -L "$tmp/root/$p" ]; then
    found="$tmp/root/$p"
    break
  fi
done
if [ -z "$found" ]; then
  echo "get-compose-v2: no docker-compose binary in $(basename "$deb")" >&2
  exit 1
fi
mkdir -p "$cache"
install -m 0755 "$found" "$bin.tmp"
mv "$bin.tmp" "$bin"
echo "get-compose-v2: $("$bin" version --short) from $(basename "$deb")" >&2
echo "$bin"
