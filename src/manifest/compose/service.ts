// One Compose service -> ServiceConfig: every key of the specification is read here, or by the
// module of its kind (ports, networks, deploy, commands, what it takes from the host), mapped to
// what the Engine needs, or refused with the reason (keys.ts). Problems go to the context, each
// at its place, in the order of the keys read below; the caller decides whether the app loads.

import type { PullPolicy, Resources, ServiceConfig } from '../../model/index.js';
import type { At } from '../context.js';
import { checkKeys, SERVICE_KEYS } from './keys.js';
import { fileMounts, serviceVolumes, type MountScope } from './mounts.js';
import { parseCommand, parseHealthcheck, parseHooks } from './commands.js';
import { parseDeploy, parsePullPolicy, parseRestart } from './deploy.js';
import { parseDependsOn } from './depends-on.js';
import { namespaceMode, parseDevices, parseUlimits, parseVolumesFrom } from './host-access.js';
import { parseExpose, parsePorts } from './ports.js';
import { parseExtraHosts, parseNetworks } from './service-networks.js';
import { unique, type Reader } from './values.js';

/** Labels rollgate puts on what it manages; a compose file may not set them. */
export const RESERVED_LABEL_PREFIX = 'io.rollgate.';

export interface ServiceScope extends MountScope {
  serviceNames: Set<string>;
  networks: Set<string>;
  /** `environment: [NAME]` takes this variable; undefined when unset. */
  variable(name: string): string | undefined;
  /** env_file and label_file, read from the repo and parsed. */
  readEnvFiles(r: Reader, key: 'env_file' | 'label_file'): Promise<Record<string, string>>;
}

export interface LoadedService {
  config: ServiceConfig;
  updateOrder?: 'start-first' | 'stop-first';
  pullPolicy?: PullPolicy;
  /** `links:` as (service, alias): the alias is given to that service's endpoints. */
  links: { service: string; alias: string; at: At }[];
  /** Where each of `config.volumes` was written, under the service (the policy's breaches point there). */
  mountAt: (string | number)[][];
  /** The index in `ports:` of each of `config.ports`. */
  portAt: number[];
}

export async function loadService(r: Reader, name: string, scope: ServiceScope): Promise<LoadedService | undefined> {
  checkKeys(r, SERVICE_KEYS, `service "${name}"`, scope.warn);
  let image = r.str('image');
  if (r.has('build') && image === undefined) {
    r.ctx.at(
      r.here('build'),
      `service "${name}" is built from source ("build:"), and a gateway pulls released images from a registry: ` +
        `build and push the image in CI, then name it with "image:"`,
      'key',
    );
  } else if (r.has('build'))
    scope.warn(
      r.here('build'),
      `"build" is accepted and has no effect: a gateway does not build; it pulls the image ${image}`,
    );
  else if (image === undefined) r.ctx.at(r.at, `service "${name}" needs an "image"`);
  else if (image === '') image = r.bad('image', 'an image reference');

  const environment: Record<string, string> = { ...(await scope.readEnvFiles(r, 'env_file')) };
  const unsetEnv = new Set<string>();
  const env = r.mapOrList('environment', (key, at) => {
    const v = scope.variable(key);
    if (v === undefined && environment[key] === undefined) {
      scope.warn(
        at,
        `environment variable ${key} takes the variable of that name, which is not set; it is sent without a ` +
          `value, as Compose sends it (the container does not get the image's default for it)`,
      );
      unsetEnv.add(key);
    }
    return v;
  });
  Object.assign(environment, env ?? {});
  for (const k of Object.keys(environment)) unsetEnv.delete(k);

  const labels = { ...(await scope.readEnvFiles(r, 'label_file')), ...(r.mapOrList('labels') ?? {}) };
  for (const k of Object.keys(labels))
    if (k.startsWith(RESERVED_LABEL_PREFIX))
      r.ctx.at(r.here('labels', k), `label "${k}" is reserved for rollgate's own bookkeeping`, 'key');

  const mountAt: (string | number)[][] = [];
  const portAt: number[] = [];
  const volumes = [
    ...(await serviceVolumes(r, scope, mountAt)),
    ...fileMounts(r, 'configs', scope, mountAt),
    ...fileMounts(r, 'secrets', scope, mountAt),
  ];
  const tmpfs = [...new Set(r.strList('tmpfs') ?? [])];
  const { networks: nets, endpoints } = parseNetworks(r, scope);
  const networkMode = r.str('network_mode');
  let networks = nets;
  if (networkMode !== undefined) {
    if (r.has('networks')) r.ctx.at(r.here('network_mode'), 'network_mode and networks cannot be used together');
    if (!['host', 'none', 'bridge'].includes(networkMode))
      r.ctx.at(
        r.here('network_mode'),
        `network_mode "${networkMode}" is not supported (expected host, none or bridge; a service's or ` +
          `container's network namespace changes with every update of that service)`,
      );
  } else if (networks.length === 0) networks = ['default'];

  const restart = parseRestart(r);
  const res: Resources = {};
  const updateOrder = parseDeploy(r, scope, res, restart);
  const scale = r.num('scale', { int: true, min: 0 });
  if (scale !== undefined && scale !== 1)
    r.ctx.at(r.here('scale'), `scale: ${scale} is not supported: a gateway runs exactly one container per service`);

  const mem = r.bytes('mem_limit');
  const memRes = r.bytes('mem_reservation');
  const swap = r.raw['memswap_limit'] === -1 || r.raw['memswap_limit'] === '-1' ? -1 : r.bytes('memswap_limit');
  const cpus = r.num('cpus', { min: 0 });
  if (mem !== undefined) res.memoryBytes ??= mem;
  if (memRes !== undefined) res.memoryReservationBytes ??= memRes;
  if (swap !== undefined) res.memorySwapBytes = swap;
  if (cpus !== undefined) res.nanoCpus ??= Math.round(cpus * 1e9);
  const n = (k: string, opts: { int?: boolean; min?: number; max?: number } = { int: true }) => r.num(k, opts);
  const setNum = (key: keyof Resources, v: number | undefined) =>
    v !== undefined && ((res as Record<string, unknown>)[key] ??= v);
  setNum('cpuShares', n('cpu_shares'));
  setNum('cpuPeriod', n('cpu_period'));
  setNum('cpuQuota', n('cpu_quota'));
  setNum('cpuRtPeriod', n('cpu_rt_period'));
  setNum('cpuRtRuntime', n('cpu_rt_runtime'));
  setNum('pidsLimit', n('pids_limit'));
  setNum('memSwappiness', n('mem_swappiness', { int: true, min: 0, max: 100 }));
  setNum('oomScoreAdj', n('oom_score_adj', { int: true, min: -1000, max: 1000 }));
  const cpuset = r.str('cpuset');
  if (cpuset !== undefined) res.cpusetCpus = cpuset;
  const oomKill = r.bool('oom_kill_disable');
  if (oomKill !== undefined) res.oomKillDisable = oomKill;
  const blkio = r.sub('blkio_config');
  if (blkio) {
    for (const k of Object.keys(blkio.raw))
      if (k !== 'weight') blkio.ctx.at(blkio.here(k), `blkio_config.${k} is not supported (only "weight")`, 'key');
    setNum('blkioWeight', blkio.num('weight', { int: true, min: 10, max: 1000 }));
  }

  const links: LoadedService['links'] = [];
  const rawLinks = r.list('links') ?? [];
  unique(
    rawLinks.map((l, i) => ({ l, i })),
    (x) => x.l,
  ).forEach(({ l, i }) => {
    const parts = l.split(':');
    const [svc, alias] = parts;
    if (parts.length > 2 || !svc || alias === '')
      return void r.ctx.at(
        r.here('links', i),
        `links: expected "service" or "service:alias", got ${JSON.stringify(l)}`,
      );
    if (!scope.serviceNames.has(svc))
      return void r.ctx.at(r.here('links', i), `links: service "${svc}" is not defined in this file`);
    if (svc === name) return void r.ctx.at(r.here('links', i), `links: service "${name}" links to itself`);
    links.push({ service: svc, alias: alias ?? svc, at: r.here('links', i) });
  });
  const dependsOn = parseDependsOn(r, name, scope);
  // As compose-go: a link is a dependency too (started first, restarted after it gets a new container),
  // and so is a service whose volumes this one takes (it must exist first).
  for (const l of links) dependsOn[l.service] ??= { condition: 'service_started', required: true, restart: true };
  const volumesFrom = parseVolumesFrom(r, name, scope);
  for (const v of volumesFrom ?? []) {
    const from = v.split(':')[0]!;
    if (!v.startsWith('container:') && from !== name && scope.serviceNames.has(from))
      dependsOn[from] ??= { condition: 'service_started', required: true };
  }

  const init = r.bool('init');
  const hc = parseHealthcheck(r);
  const grace = r.duration('stop_grace_period');
  const stopSignal = r.str('stop_signal');
  const logging = r.sub('logging');
  if (logging)
    for (const k of Object.keys(logging.raw))
      if (k !== 'driver' && k !== 'options')
        logging.ctx.at(logging.here(k), `logging: unsupported key "${k}" (expected driver, options)`, 'key');
  r.list('profiles'); // which services run is chosen by the app loader; here only the shape is checked

  const opt = <T>(v: T | undefined | null, f: (v: T) => Partial<ServiceConfig>): Partial<ServiceConfig> =>
    v === undefined || v === null ? {} : f(v);
  const nonEmpty = <T extends object>(v: T | undefined): T | undefined =>
    v && Object.keys(v).length > 0 ? v : undefined;
  const listOpt = (k: string) => {
    const v = r.strList(k);
    return v && v.length ? v : undefined;
  };
  // Exact repeats are one entry, as Compose's unicity rule makes them for these keys.
  const uniqueOpt = (k: string) => {
    const v = listOpt(k);
    return v && [...new Set(v)];
  };
  const config: ServiceConfig = {
    image: image ?? '',
    environment,
    ports: parsePorts(r, scope.unsetNote, portAt),
    volumes,
    networks: [...networks].sort(),
    restart: restart.restart,
    labels,
    dependsOn,
    devices: parseDevices(r),
    privileged: r.bool('privileged') ?? false,
    capAdd: [...new Set(r.list('cap_add') ?? [])].sort(),
    capDrop: [...new Set(r.list('cap_drop') ?? [])].sort(),
    init: init === true,
    readOnly: r.bool('read_only') ?? false,
    tmpfs,
    extraHosts: [...new Set(parseExtraHosts(r))],
    ...opt(init === false || undefined, () => ({ initDisabled: true as const })),
    ...opt(unsetEnv.size ? [...unsetEnv].sort() : undefined, (v) => ({ environmentUnset: v })),
    ...opt(links.length ? links.map((l) => `${l.service}:${l.alias}`) : undefined, (v) => ({ links: v })),
    ...opt(restart.restartMaxRetries, (v) => ({ restartMaxRetries: v })),
    ...opt(parseCommand(r, 'command'), (v) => ({ command: v })),
    ...opt(parseCommand(r, 'entrypoint'), (v) => ({ entrypoint: v })),
    ...opt(networkMode, (v) => ({ networkMode: v })),
    ...opt(hc, (v) => ({ healthcheck: v })),
    ...opt(grace, (v) => ({ stopGracePeriodMs: v })),
    ...opt(stopSignal, (v) => ({ stopSignal: v })),
    ...opt(r.str('user'), (v) => ({ user: v })),
    ...opt(r.str('working_dir'), (v) => ({ workingDir: v })),
    ...opt(r.str('hostname'), (v) => ({ hostname: v })),
    ...opt(logging, (l) => ({
      logging: { driver: l.str('driver') ?? 'json-file', options: l.mapOrList('options') ?? {} },
    })),
    ...opt(r.str('container_name'), (v) => ({ containerName: v })),
    ...opt(endpoints, (v) => ({ networkEndpoints: v })),
    ...opt(parseExpose(r), (v) => ({ expose: v })),
    ...opt(r.bool('tty') || undefined, () => ({ tty: true })),
    ...opt(r.bool('stdin_open') || undefined, () => ({ stdinOpen: true })),
    ...opt(r.bytes('shm_size'), (v) => ({ shmSizeBytes: v })),
    ...opt(nonEmpty(r.mapOrList('sysctls')), (v) => ({ sysctls: v })),
    ...opt(listOpt('security_opt'), (v) => ({ securityOpt: v })),
    ...opt(r.str('runtime'), (v) => ({ runtime: v })),
    ...opt(r.str('platform'), (v) => ({ platform: v })),
    ...opt(nonEmpty(res), (v) => ({ resources: v })),
    ...opt(parseUlimits(r), (v) => ({ ulimits: v })),
    ...opt(uniqueOpt('dns'), (v) => ({ dns: v })),
    ...opt(uniqueOpt('dns_search'), (v) => ({ dnsSearch: v })),
    ...opt(uniqueOpt('dns_opt'), (v) => ({ dnsOpt: v })),
    ...opt(r.str('domainname'), (v) => ({ domainname: v })),
    ...opt(namespaceMode(r, 'pid'), (v) => ({ pid: v })),
    ...opt(namespaceMode(r, 'ipc'), (v) => ({ ipc: v })),
    ...opt(namespaceMode(r, 'uts'), (v) => ({ uts: v })),
    ...opt(namespaceMode(r, 'userns_mode'), (v) => ({ usernsMode: v })),
    ...opt(namespaceMode(r, 'cgroup'), (v) => ({ cgroup: v })),
    ...opt(r.str('cgroup_parent'), (v) => ({ cgroupParent: v })),
    ...opt(listOpt('group_add'), (v) => ({ groupAdd: v })),
    ...opt(listOpt('device_cgroup_rules'), (v) => ({ deviceCgroupRules: v })),
    ...opt(r.str('mac_address'), (v) => ({ macAddress: v })),
    ...opt(nonEmpty(r.mapOrList('storage_opt')), (v) => ({ storageOpt: v })),
    ...opt(nonEmpty(r.mapOrList('annotations')), (v) => ({ annotations: v })),
    ...opt(volumesFrom, (v) => ({ volumesFrom: v })),
    ...opt(parseHooks(r, 'post_start'), (v) => ({ postStart: v })),
    ...opt(parseHooks(r, 'pre_stop'), (v) => ({ preStop: v })),
  };
  const pullPolicy = parsePullPolicy(r);
  return {
    config,
    links,
    mountAt,
    portAt,
    ...(updateOrder ? { updateOrder } : {}),
    ...(pullPolicy ? { pullPolicy } : {}),
  };
}
