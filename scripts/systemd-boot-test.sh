#!/usr/bin/env bash
# Both systemd units under a real systemd: a minimal Debian bookworm (systemd 252), made with
# debootstrap (cached) and booted with systemd-nspawn on a loopback-only network, takes rollgate
# through the README's "Install", "Run it as a systemd service" and the hub's systemd steps, as a
# root user types them on the guest:
#
#   - npm pack in a clean checkout of this worktree (prepack builds and bundles), then in the guest
#     npm install -g --prefix /opt/rollgate ./rollgate-<version>.tgz and the /usr/local/bin link,
#     at most 25 MiB on disk and without the hub's database drivers;
#   - the agent's unit: start (Type=notify: readiness), systemctl status and its Status: line,
#     an apply of the fleet repo's commit with its health window, the sandbox as the README says
#     (no device policy, no CAP_SYS_TIME, the README's drop-in merged), no warning about
#     /etc/rollgate's mode, the watchdog restarting a frozen agent (SIGSTOP; WatchdogSec lowered
#     by a drop-in), a restart after kill -9, and a stop that waits for a health window;
#   - the hub's unit: `rollgate hub` on the gateway install saying what to install, the drivers
#     installed beside rollgate as the README says, an admin token added before the first start,
#     start as a dynamic user that reads /etc/rollgate/hub.yaml as a credential, a gateway added
#     through its API, the agent reporting to it, stop.
#
# The guest reaches no network, so Node.js and npm are the host's (bound read-only where
# NodeSource puts them, /usr/bin/node and /usr/lib/node_modules/npm), and rollgate's dependencies
# come from an npm cache filled on the host (the README's way for a gateway without the registry).
#
# Needs root, systemd-nspawn (Debian: systemd-container), debootstrap, Node.js >= 20 and npm, and,
# once, Debian's archive ($DEBIAN_MIRROR) and npm's registry; the rootfs and the npm cache are
# kept in ${ROLLGATE_CACHE_DIR:-~/.cache/rollgate}. Runs on a host without systemd as PID 1 (a
# container, a CI runner) too: --register=no --keep-unit leave machined and the host's manager out.
# Exit 0 when every check passed; the guest's journal is printed when one fails.
# wait_for's tests are single-quoted on purpose: they are evaluated at each try, not once.
# shellcheck disable=SC2016,SC2034,SC2015
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CACHE=${ROLLGATE_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/rollgate}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
ROOTFS_TAR=$CACHE/debian-bookworm-systemd.tar.gz
NPM_CACHE=$CACHE/npm
GUEST_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
T0=$(date +%s)

say() { printf '[%4ss] %s\n' "$(($(date +%s) - T0))" "$*"; }
die() {
  printf '\nFAILED: %s\n' "$*" >&2
  if [ -n "${LEADER:-}" ] && kill -0 "$LEADER" 2>/dev/null; then
    echo "--- the guest's journal (rollgate units) ---" >&2
    guest journalctl --no-pager -o short-precise -u rollgate -u rollgate-hub | tail -n 80 >&2 || true
  fi
  exit 1
}

[ "$(id -u)" = 0 ] || die "run as root (systemd-nspawn and debootstrap need it)"
for c in systemd-nspawn debootstrap nsenter git npm node tar; do
  command -v "$c" >/dev/null || die "$c is missing (apt-get install systemd-container debootstrap util-linux git)"
done
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || die "Node.js >= 20 is needed"
NODE_BIN=$(readlink -f "$(command -v node)")
NPM_DIR=$(readlink -f "$(dirname "$(readlink -f "$(command -v npm)")")/..")
[ -f "$NPM_DIR/bin/npm-cli.js" ] || die "cannot find npm's own directory (found $NPM_DIR)"

WORK=$(mktemp -d /var/tmp/rollgate-boot.XXXXXX)
NSPAWN_PID=
LEADER=
cleanup() {
  if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
    guest systemctl poweroff >/dev/null 2>&1 || kill "$NSPAWN_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$NSPAWN_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# A command on the guest, as root in a login-less shell: the guest's PATH and nothing of ours.
guest() {
  nsenter -t "$LEADER" -a env -i PATH="$GUEST_PATH" HOME=/root LANG=C.UTF-8 TERM=dumb SYSTEMD_PAGER= \
    SYSTEMD_COLORS=0 "$@"
}
gsh() { guest bash -euo pipefail -c "$1"; }
prop() { guest systemctl show -P "$2" "$1"; }
# (A grep that reads a pipe reads it to the end: grep -q would leave the writer a SIGPIPE, which
# pipefail turns into a failure.)
# Waits up to $2 seconds for the shell test $1 (run on the host, may call guest) to hold.
wait_for() {
  local what=$1 test=$2 secs=$3 end=$(($(date +%s) + $3))
  until eval "$test"; do
    [ "$(date +%s)" -lt "$end" ] || die "$what: not within ${secs}s"
    sleep 0.2
  done
}

# --- the guest's root file system --------------------------------------------------------------
mkdir -p "$CACHE"
if [ ! -s "$ROOTFS_TAR" ]; then
  say "debootstrap: Debian bookworm with systemd, from $MIRROR (cached in $ROOTFS_TAR)"
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,libnss-systemd bookworm \
    "$WORK/debootstrap" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || {
    tail -n 20 "$WORK/debootstrap.log" >&2
    die "debootstrap failed"
  }
  tar -C "$WORK/debootstrap" -czf "$ROOTFS_TAR.part" . && mv "$ROOTFS_TAR.part" "$ROOTFS_TAR"
  rm -rf "$WORK/debootstrap"
fi
say "unpacking the guest's root file system"
mkdir "$WORK/root"
tar -C "$WORK/root" -xzf "$ROOTFS_TAR"
# Node.js and npm where NodeSource's packages put them (bound read-only from the host at boot).
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$WORK/root/usr/bin/npm"

# --- the tarball, as the README builds it ------------------------------------------------------
say "npm pack in a clean checkout (no dist/; prepack builds it)"
mkdir "$WORK/checkout" "$WORK/pkg"
git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
  tar --null -T - -cf - | tar -C "$WORK/checkout" -xf -
ln -s "$ROOT/node_modules" "$WORK/checkout/node_modules"
(cd "$WORK/checkout" && npm pack --pack-destination "$WORK/pkg" >"$WORK/pack.log" 2>&1) ||
  { tail -n 30 "$WORK/pack.log" >&2; die "npm pack failed"; }
TGZ=$(cd "$WORK/pkg" && ls rollgate-*.tgz)
tar -tzf "$WORK/pkg/$TGZ" >"$WORK/pkg.list"
grep -qx 'package/dist/bundle/cli/rollgate.mjs' "$WORK/pkg.list" || die "$TGZ has no dist/bundle/cli/rollgate.mjs"
say "$TGZ: $(du -k "$WORK/pkg/$TGZ" | cut -f1) KiB"
say "filling the npm cache the guest installs from ($NPM_CACHE)"
# The hub's database drivers too: the README's hub install adds them beside rollgate (package.json's peerDependencies).
HUB_DRIVERS=$(node -e 'const p = require(process.argv[1]).peerDependencies;
  console.log(Object.entries(p).map(([n, v]) => n + "@" + v).join(" "))' "$ROOT/package.json")
# shellcheck disable=SC2086
npm install -g --prefix "$WORK/fill" --cache "$NPM_CACHE" --prefer-offline --ignore-scripts --no-audit --no-fund \
  "$WORK/pkg/$TGZ" $HUB_DRIVERS >"$WORK/fill.log" 2>&1 || { tail -n 30 "$WORK/fill.log" >&2; die "npm could not fill its cache"; }
rm -rf "$WORK/fill"

# --- the fleet repo the agent follows: the example's devices, without the Compose app ---------
say "a fleet repo with the example's simulated devices: commit 1 at v1, commit 2 at v2"
FLEET=$WORK/root/srv/fleet
mkdir -p "$FLEET"
cp -a fleet-repo-example/artifacts fleet-repo-example/interfaces "$FLEET/"
mkdir -p "$FLEET/systems/gateway"
cp fleet-repo-example/systems/gateway/constraints.yaml "$FLEET/systems/gateway/"
cat >"$FLEET/rollgate.yaml" <<'EOF'
apiVersion: rollgate/v1
kind: Fleet
systems:
  gateway-system:
    manifest: systems/gateway/manifest.yaml
    health: systems/gateway/health.yaml
    constraints: systems/gateway/constraints.yaml
targets:
  - name: gateways
    match: { labels: { role: gateway } }
    system: gateway-system
EOF
# Long enough to be seen in `systemctl status` and to stop the agent in.
cat >"$FLEET/systems/gateway/health.yaml" <<'EOF'
apiVersion: rollgate/v1
kind: Health
window: 8s
deadline: 2m
checks:
  - name: gateway-slot
    interval: 1s
    command: { argv: [test, -s, /var/lib/rollgate-example/G13/running] }
EOF
fleet_git() {
  git -C "$FLEET" -c user.name='Fleet Operator' -c user.email=ops@example.com "$@"
}
sed -e 's/-v2\.mender/-v1.mender/' -e 's/system-core-v2/system-core-v1/' \
  fleet-repo-example/systems/gateway/manifest.yaml >"$FLEET/systems/gateway/manifest.yaml"
fleet_git init -q -b main
fleet_git add -A && fleet_git commit -q -m 'system v1'
C1=$(fleet_git rev-parse HEAD)

# --- boot ------------------------------------------------------------------------------------
say "booting the guest: systemd-nspawn --boot, loopback-only network"
systemd-nspawn --boot --directory "$WORK/root" --machine rollgate-boot-test --register=no --keep-unit \
  --private-network --console=pipe \
  --bind-ro="$NODE_BIN:/usr/bin/node" --bind-ro="$NPM_DIR:/usr/lib/node_modules/npm" \
  --bind="$NPM_CACHE:/var/cache/rollgate-npm" --bind-ro="$WORK/pkg:/srv/pkg" \
  </dev/null >"$WORK/nspawn.log" 2>&1 &
NSPAWN_PID=$!
wait_for "the guest's systemd started" \
  '{ LEADER=$(pgrep -P "$NSPAWN_PID" -x systemd || true); [ -n "$LEADER" ]; }' 60
wait_for "the guest booted" \
  '[[ $(guest systemctl is-system-running 2>/dev/null) =~ ^(running|degraded)$ ]]' 120
say "the guest runs $(guest systemctl --version | head -n 1)"
[ "$(guest systemctl is-system-running)" = running ] ||
  die "the guest booted degraded: $(guest systemctl --failed --no-legend)"

# --- Install, as the README says --------------------------------------------------------------
say "README Install: npm install -g --prefix /opt/rollgate ./$TGZ (offline, from the cache)"
gsh "cd /srv/pkg
  npm install -g --prefix /opt/rollgate --offline --cache /var/cache/rollgate-npm --no-audit --no-fund ./$TGZ \
    >/root/npm-install.log 2>&1 || { tail -n 30 /root/npm-install.log; exit 1; }
  ln -sf /opt/rollgate/bin/rollgate /usr/local/bin/rollgate
  rollgate --version" || die "the README's install failed"
gsh 'test -d /opt/rollgate/lib/node_modules/rollgate && ! test -L /opt/rollgate/lib/node_modules/rollgate' ||
  die "the package is not a copy under /opt/rollgate"
INSTALL_KIB=$(gsh 'du -sk /opt/rollgate | cut -f1')
say "the gateway install: $INSTALL_KIB KiB on disk under /opt/rollgate"
[ "$INSTALL_KIB" -le $((25 * 1024)) ] || die "the gateway install takes $INSTALL_KIB KiB, more than 25 MiB"
gsh '! test -e /opt/rollgate/lib/node_modules/pg && ! test -e /opt/rollgate/lib/node_modules/rollgate/node_modules/pg' ||
  die "a gateway install has the hub's database driver pg"
if gsh 'test -f /opt/rollgate/lib/node_modules/rollgate/node_modules/unix-dgram/build/Release/unix_dgram.node'; then
  say "sd_notify goes through the unix-dgram addon"
else
  say "sd_notify goes through systemd-notify (the unix-dgram addon was not built: no compiler on the guest)"
fi

# --- the agent's unit -------------------------------------------------------------------------
say "README systemd: the agent's unit, /etc/rollgate 0700, config.yaml, enable --now"
gsh 'install -d -m 0755 /usr/share/mender-orchestrator/interfaces/v1
  cp -a /srv/fleet/interfaces/. /usr/share/mender-orchestrator/interfaces/v1/'
gsh 'install -m 0644 /opt/rollgate/lib/node_modules/rollgate/systemd/rollgate.service /etc/systemd/system/
  install -d -m 0700 /etc/rollgate && cat >/etc/rollgate/config.yaml <<EOF
repo: { url: /srv/fleet, ref: main }
gateway: { id: gw-0042, labels: { role: gateway } }
schedule: { interval: 1m, jitter: 0s }
EOF
  systemctl daemon-reload && systemctl enable --now rollgate' || die "systemctl enable --now rollgate failed"
# Type=notify: enable --now returned, so READY=1 came.
[ "$(prop rollgate ActiveState)/$(prop rollgate SubState)" = active/running ] ||
  die "the agent is $(prop rollgate ActiveState)/$(prop rollgate SubState)"
say "ready: $(prop rollgate ActiveState)/$(prop rollgate SubState), main pid $(prop rollgate MainPID)"

# STATUS= through the first apply, sampled from systemd's StatusText as `systemctl status` shows it.
STATUSES=$WORK/statuses
: >"$STATUSES"
sample_status() {
  local s
  s=$(prop rollgate StatusText)
  [ "$s" = "$(tail -n 1 "$STATUSES")" ] || printf '%s\n' "$s" >>"$STATUSES"
}
c12() { printf '%s' "${1:0:12}"; }
WINDOW='passes at [0-9:]* UTC at the earliest, fails at [0-9:]* UTC'
wait_for "the first commit's health window in Status:" \
  'sample_status; grep -q "^health window of commit $(c12 "$C1"): $WINDOW$" "$STATUSES"' 120
wait_for "the first commit applied (Status: idle)" \
  'sample_status; grep -qx "idle: applied $(c12 "$C1"), last good $(c12 "$C1")" "$STATUSES"' 120
say "Status: lines seen through the first apply:"
sed 's/^/         /' "$STATUSES"
guest systemctl status --no-pager --lines=0 rollgate | sed 's/^/         /'
guest systemctl status --no-pager rollgate | grep "Status: \"idle: applied $(c12 "$C1")" >/dev/null ||
  die "systemctl status shows no Status: line: $(guest systemctl status --no-pager rollgate)"
gsh "rollgate status | grep 'last good        $(c12 "$C1")' >/dev/null" ||
  die "rollgate status: $(guest rollgate status)"
if guest journalctl -b -u rollgate --no-pager | grep -i "mode is different\|already exists but"; then
  die "systemd warns about /etc/rollgate's mode"
fi
[ "$(gsh 'stat -c %a /etc/rollgate /var/lib/rollgate | sort -u')" = 700 ] ||
  die "/etc/rollgate or /var/lib/rollgate is not 0700"

say "the sandbox as the README says: no device policy, no CAP_SYS_TIME, the README's drop-in merges"
[ "$(prop rollgate DevicePolicy)" = auto ] && [ -z "$(prop rollgate DeviceAllow)" ] ||
  die "the agent's unit has a device policy: $(prop rollgate DevicePolicy) $(prop rollgate DeviceAllow)"
capbnd=$(gsh "awk '/^CapBnd/ {print \$2}' /proc/$(prop rollgate MainPID)/status")
(((0x$capbnd >> 25) & 1)) && die "the agent keeps CAP_SYS_TIME (CapBnd $capbnd)"
(((0x$capbnd >> 21) & 1)) || die "the agent lost CAP_SYS_ADMIN, which interfaces need (CapBnd $capbnd)"
# The README's example drop-in, as `systemctl edit rollgate` would save it.
gsh 'mkdir -p /etc/systemd/system/rollgate.service.d && cat >/etc/systemd/system/rollgate.service.d/override.conf <<EOF
[Service]
# The RTOS devices are flashed over CAN, and the U-Boot environment is on an eMMC boot partition.
RestrictAddressFamilies=AF_CAN
ProtectKernelTunables=no
EOF
systemctl daemon-reload'
families=$(prop rollgate RestrictAddressFamilies)
for f in AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_CAN; do
  [[ " $families " == *" $f "* ]] || die "with the README's drop-in, RestrictAddressFamilies is '$families' (no $f)"
done
[ "$(prop rollgate ProtectKernelTunables)" = no ] || die "the drop-in did not lift ProtectKernelTunables"
guest rm /etc/systemd/system/rollgate.service.d/override.conf

say "watchdog: WatchdogSec=5s (a drop-in), the agent frozen with SIGSTOP"
gsh 'cat >/etc/systemd/system/rollgate.service.d/watchdog.conf <<EOF
[Service]
WatchdogSec=5s
EOF
systemctl daemon-reload && systemctl restart rollgate'
pid=$(prop rollgate MainPID)
restarts=$(prop rollgate NRestarts)
guest systemctl kill --kill-whom=main --signal=SIGSTOP rollgate
wait_for "a restart after the watchdog timed out" \
  '[ "$(prop rollgate NRestarts)" -gt "$restarts" ] && [ "$(prop rollgate MainPID)" != "$pid" ] &&
   [ "$(prop rollgate ActiveState)/$(prop rollgate SubState)" = active/running ]' 90
guest journalctl -b -u rollgate --no-pager | grep "Watchdog timeout" >/dev/null ||
  die "no watchdog timeout in the journal"
say "restarted by the watchdog: main pid $pid → $(prop rollgate MainPID)"

say "kill -9: restarted"
pid=$(prop rollgate MainPID)
restarts=$(prop rollgate NRestarts)
gsh "kill -9 $pid"
wait_for "a restart after kill -9" \
  '[ "$(prop rollgate NRestarts)" -gt "$restarts" ] && [ "$(prop rollgate MainPID)" != "$pid" ] &&
   [ "$(prop rollgate ActiveState)/$(prop rollgate SubState)" = active/running ]' 60
say "restarted after kill -9: main pid $pid → $(prop rollgate MainPID)"
gsh 'rm /etc/systemd/system/rollgate.service.d/watchdog.conf && systemctl daemon-reload'

say "a stop waits for the health window of a commit in flight"
sed -e 's/-v1\.mender/-v2.mender/' -e 's/system-core-v1/system-core-v2/' -i "$FLEET/systems/gateway/manifest.yaml"
# A window long enough that a Status: sampled from a busy host (each sample is a call into the guest) sees it.
sed -e 's/^window: 8s$/window: 30s/' -i "$FLEET/systems/gateway/health.yaml"
grep -qx 'window: 30s' "$FLEET/systems/gateway/health.yaml" || die "the second commit's health window was not set"
fleet_git commit -qam 'system v2'
C2=$(fleet_git rev-parse HEAD)
: >"$STATUSES"
wait_for "the second commit's health window" \
  'sample_status; grep -q "^health window of commit $(c12 "$C2")" "$STATUSES"' 120
guest systemctl stop --no-block rollgate
wait_for "Status: saying what the stop waits for" \
  'sample_status; grep -q "^stopping: waiting for the health window of commit $(c12 "$C2")" "$STATUSES"' 30
wait_for "the agent stopped" '[ "$(prop rollgate ActiveState)" = inactive ]' 120
[ "$(prop rollgate Result)" = success ] || die "the stop ended with $(prop rollgate Result)"
say "Status: lines seen through the stop:"
sed 's/^/         /' "$STATUSES"
gsh "rollgate status --output json | grep '\"commit\": \"$C2\"' >/dev/null" || die "the stop did not let $C2 finish"
gsh "rollgate status | grep 'last good        $(c12 "$C2")' >/dev/null" || die "$C2 is not the last good commit"

# --- the hub's unit ---------------------------------------------------------------------------
say "README hub: on a gateway install, rollgate hub says what to install; the drivers installed beside rollgate"
HUB_INSTALL=$(grep -m1 '^npm install -g --prefix /opt/rollgate .*pglite' "$ROOT/README.md") ||
  die "the README has no install of the hub's drivers"
gsh "{ rollgate hub token list --data-dir /tmp/no-hub 2>&1 || true; } | grep -F '$HUB_INSTALL'" ||
  die "rollgate hub on a gateway install does not say what to install"
gsh "cd /srv/pkg && npm install -g --prefix /opt/rollgate --offline --cache /var/cache/rollgate-npm --no-audit --no-fund \
  $HUB_DRIVERS >/root/npm-hub.log 2>&1 || { tail -n 30 /root/npm-hub.log; exit 1; }" || die "the hub's drivers did not install"
say "README hub: unit, hub.yaml in the 0700 /etc/rollgate, admin token before the first start"
gsh "install -m 0644 /opt/rollgate/lib/node_modules/rollgate/systemd/rollgate-hub.service /etc/systemd/system/
  install -d -m 0700 /etc/rollgate && echo 'listen: 0.0.0.0:9480' > /etc/rollgate/hub.yaml
  rollgate hub token add --role admin ops --data-dir /var/lib/private/rollgate-hub > ~/.rollgate-hub-token
  systemctl daemon-reload && systemctl enable --now rollgate-hub" || die "the hub's install failed"
HEALTHZ='fetch("http://127.0.0.1:9480/healthz").then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))'
wait_for "the hub answers" 'guest node -e "$HEALTHZ"' 90
hub_uid=$(gsh "stat -c %u /proc/$(prop rollgate-hub MainPID)")
[ "$hub_uid" != 0 ] || die "the hub runs as root"
say "the hub runs as uid $hub_uid (dynamic), $(prop rollgate-hub ActiveState)/$(prop rollgate-hub SubState)"
gsh 'cd /root && rollgate hub gateway add gw-0042 --hub http://127.0.0.1:9480 --token-file ~/.rollgate-hub-token \
  > gw-0042.token' || die "the admin token added before the first start does not work"
say "the agent reports to the hub"
gsh 'install -m 0600 /root/gw-0042.token /etc/rollgate/hub-token
  cat >>/etc/rollgate/config.yaml <<EOF
report: { url: "http://127.0.0.1:9480", tokenFile: /etc/rollgate/hub-token, heartbeat: 5s }
EOF
  systemctl start rollgate'
wait_for "gw-0042 in the hub's fleet" \
  'gsh "rollgate fleet gateways --hub http://127.0.0.1:9480 --token-file ~/.rollgate-hub-token --output json" |
     grep "$C2" >/dev/null' 90

say "stopping both units"
guest systemctl stop rollgate rollgate-hub
[ "$(prop rollgate Result)" = success ] && [ "$(prop rollgate-hub Result)" = success ] ||
  die "stop: agent $(prop rollgate Result), hub $(prop rollgate-hub Result)"
say "PASS: both units installed as the README says, started, reported, watched, restarted and stopped" \
  "under $(guest systemctl --version | head -n 1) in $(($(date +%s) - T0)) s"
