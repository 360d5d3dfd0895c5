// Every key of the Compose specification, each either honoured or refused with one sentence that
// says why a gateway cannot do it. A key in neither table is not Compose at all (a typo): it is
// reported with the nearest known key. Nothing is ever silently ignored.

import type { At } from '../context.js';
import type { Reader } from './values.js';

/** honoured: changes the container or the plan; noEffect: accepted with a warning saying why it means nothing here. */
export type KeyRule = { honoured: true } | { refused: string } | { noEffect: string };

const ok: KeyRule = { honoured: true };
const no = (why: string): KeyRule => ({ refused: why });
const moot = (why: string): KeyRule => ({ noEffect: why });

export const TOP_LEVEL_KEYS: Record<string, KeyRule> = {
  version: moot('the Compose specification made "version" obsolete; the file is read as the current specification'),
  name: ok,
  services: ok,
  networks: ok,
  volumes: ok,
  configs: ok,
  secrets: ok,
  include: no(
    '"include" pulls in other Compose projects; write their services into this file, or give them an app of ' +
      'their own in rollgate.yaml',
  ),
  models: no('"models" runs AI models through Docker Model Runner, which a gateway does not have'),
};

export const SERVICE_KEYS: Record<string, KeyRule> = {
  annotations: ok,
  attach: moot("rollgate never attaches to a container's output; it stays with the Engine's logging driver"),
  blkio_config: ok,
  build: ok, // refused per service in the loader unless an image is given too
  cap_add: ok,
  cap_drop: ok,
  cgroup: ok,
  cgroup_parent: ok,
  command: ok,
  configs: ok,
  container_name: ok,
  cpu_count: no('"cpu_count" is for Windows containers; use "cpus" to limit CPU'),
  cpu_percent: no('"cpu_percent" is for Windows containers; use "cpus" to limit CPU'),
  cpu_period: ok,
  cpu_quota: ok,
  cpu_rt_period: ok,
  cpu_rt_runtime: ok,
  cpu_shares: ok,
  cpus: ok,
  cpuset: ok,
  credential_spec: no('"credential_spec" is for Windows containers'),
  depends_on: ok,
  deploy: ok,
  develop: no(
    '"develop" configures "docker compose watch" for rebuilding on a developer\'s machine; a gateway runs ' +
      'released images',
  ),
  device_cgroup_rules: ok,
  devices: ok,
  dns: ok,
  dns_opt: ok,
  dns_search: ok,
  domainname: ok,
  entrypoint: ok,
  env_file: ok,
  environment: ok,
  expose: ok,
  extends: no(
    '"extends" is not supported yet; write the service out in full (YAML anchors and merge keys, <<: *common, work)',
  ),
  external_links: no(
    '"external_links" links to containers outside this app; put them on a shared external network and use their names',
  ),
  extra_hosts: ok,
  gpus: no('"gpus" needs a GPU device request that rollgate does not make yet; use "devices" for a device node'),
  group_add: ok,
  healthcheck: ok,
  hostname: ok,
  image: ok,
  init: ok,
  ipc: ok,
  isolation: no('"isolation" is for Windows containers'),
  label_file: ok,
  labels: ok,
  links: ok,
  logging: ok,
  mac_address: ok,
  mem_limit: ok,
  mem_reservation: ok,
  mem_swappiness: ok,
  memswap_limit: ok,
  models: no('"models" runs AI models through Docker Model Runner, which a gateway does not have'),
  network_mode: ok,
  networks: ok,
  oom_kill_disable: ok,
  oom_score_adj: ok,
  pid: ok,
  pids_limit: ok,
  platform: ok,
  ports: ok,
  post_start: ok,
  pre_stop: ok,
  privileged: ok,
  profiles: ok,
  provider: no('"provider" services are made by a Compose plugin, which a gateway does not have'),
  pull_policy: ok,
  pull_refresh_after: no('"pull_refresh_after" is not supported; use pull_policy: every_<duration>'),
  read_only: ok,
  restart: ok,
  runtime: ok,
  scale: ok,
  secrets: ok,
  security_opt: ok,
  shm_size: ok,
  stdin_open: ok,
  stop_grace_period: ok,
  stop_signal: ok,
  storage_opt: ok,
  sysctls: ok,
  tmpfs: ok,
  tty: ok,
  ulimits: ok,
  use_api_socket: no(
    '"use_api_socket" hands the Docker socket and the host\'s registry credentials to the container; mount ' +
      '/var/run/docker.sock explicitly if the service needs it',
  ),
  user: ok,
  userns_mode: ok,
  uts: ok,
  volumes: ok,
  volumes_from: ok,
  working_dir: ok,
};

export const DEPLOY_KEYS: Record<string, KeyRule> = {
  mode: ok, // replicated with one replica
  replicas: ok, // 1 only
  resources: ok,
  restart_policy: ok,
  update_config: ok,
  labels: no('"deploy.labels" label a Swarm service, which a gateway does not run; use "labels" for the container'),
  endpoint_mode: no('"deploy.endpoint_mode" is a Swarm setting; a gateway runs one container per service'),
  placement: no(
    '"deploy.placement" places Swarm tasks on nodes; a gateway is one node, and which gateways run an app is ' +
      'chosen in rollgate.yaml',
  ),
  rollback_config: no(
    '"deploy.rollback_config" is a Swarm setting; rollgate rolls back a failed release to the last good commit ' +
      'by itself',
  ),
};

export const NETWORK_KEYS: Record<string, KeyRule> = {
  name: ok,
  driver: ok,
  driver_opts: ok,
  external: ok,
  internal: ok,
  attachable: ok,
  enable_ipv6: ok,
  enable_ipv4: ok,
  ipam: ok,
  labels: ok,
};

export const VOLUME_KEYS: Record<string, KeyRule> = {
  name: ok,
  driver: ok,
  driver_opts: ok,
  external: ok,
  labels: ok,
};

export const CONFIG_KEYS: Record<string, KeyRule> = {
  file: ok,
  content: ok,
  environment: ok,
  name: ok,
  labels: ok,
  external: no('external configs live in a Swarm cluster; keep the file in the fleet repo and name it with "file"'),
  template_driver: no(
    '"template_driver" renders Swarm configs; write the content itself, ${VAR} interpolation works in "content"',
  ),
};

export const SECRET_KEYS: Record<string, KeyRule> = {
  file: ok,
  environment: ok,
  name: ok,
  labels: ok,
  external: no(
    'external secrets live in a Swarm cluster; name a file on the gateway with "file: /etc/…", or a variable ' +
      'with "environment"',
  ),
  driver: no(
    '"driver" names a secret driver, a Swarm feature; name a file on the gateway with "file", or a variable ' +
      'with "environment"',
  ),
  driver_opts: no(
    '"driver_opts" configures a secret driver, a Swarm feature; name a file on the gateway with "file", or a ' +
      'variable with "environment"',
  ),
  template_driver: no('"template_driver" renders Swarm secrets, which a gateway does not use'),
};

/** The known key closest to a typo, when one is close enough to be a likely meaning. */
export function nearestKey(key: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(key.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** Reports keys that are refused, moot or unknown; returns false when the mapping has refused keys. */
export function checkKeys(
  r: Reader,
  table: Record<string, KeyRule>,
  where: string,
  warn: (at: At, m: string) => void,
): boolean {
  let ok = true;
  for (const k of Object.keys(r.raw)) {
    if (k.startsWith('x-')) continue;
    const rule = table[k];
    if (!rule) {
      const near = nearestKey(k, Object.keys(table));
      r.ctx.at(r.here(k), `unsupported key "${k}" in ${where}${near ? ` (did you mean "${near}"?)` : ''}`, 'key');
      ok = false;
    } else if ('refused' in rule) {
      r.ctx.at(r.here(k), rule.refused, 'key');
      ok = false;
    } else if ('noEffect' in rule) warn(r.here(k), `"${k}" is accepted and has no effect: ${rule.noEffect}`);
  }
  return ok;
}
