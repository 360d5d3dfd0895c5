// One Compose service -> ServiceConfig: every key of the specification is read here, mapped to
// what the Engine needs, or refused with the reason (keys.ts). Problems go to the context, each
// at its place; the caller decides whether the app loads.

import type {
  DependsCondition,
  Healthcheck,
  NetworkEndpoint,
  PortMapping,
  PullPolicy,
  Resources,
  RestartPolicy,
  ServiceConfig,
  ServiceHook,
} from '../../model/index.js';
import type { At } from '../context.js';
import { DEPLOY_KEYS, nearestKey, SERVICE_KEYS, type KeyRule } from './keys.js';
import { fileMounts, serviceVolumes, type MountScope } from './mounts.js';
import { splitCommand } from './env-file.js';
import { isMap, parseComposeDuration, Reader } from './values.js';

/** Labels rollgate puts on what it manages; a compose file may not set them. */
export const RESERVED_LABEL_PREFIX = 'io.rollgate.';

/**
 * Compose's unicity rule for lists (compose-go's EnforceUnicity): a later entry with the key of an
 * earlier one replaces it, in the earlier one's place. `where`, when given, follows the entries.
 */
export function unique<T>(items: T[], key: (t: T) => string, where?: unknown[]): T[] {
  const out: T[] = [];
  const at: unknown[] = [];
  const seen = new Map<string, number>();
  items.forEach((t, i) => {
    const k = key(t);
    const j = seen.get(k);
    if (j !== undefined) {
      out[j] = t;
      at[j] = where?.[i];
    } else {
      seen.set(k, out.length);
      out.push(t);
      at.push(where?.[i]);
    }
  });
  if (where) where.splice(0, where.length, ...at);
  return out;
}

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

/** `where`, when given, gets the index in `ports:` each mapping returned was written at. */
function parsePorts(r: Reader, unsetNote: (at: At) => string, where: number[] = []): PortMapping[] {
  const raw = r.raw['ports'];
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) return r.bad('ports', 'a list of ports') ?? [];
  const out: PortMapping[] = [];
  raw.forEach((p: unknown, i) => {
    const at = r.here('ports', i);
    if (isMap(p)) {
      const o = new Reader(r.ctx, at, p);
      for (const k of Object.keys(p))
        if (!['target', 'published', 'host_ip', 'protocol', 'mode', 'name', 'app_protocol'].includes(k))
          r.ctx.at(o.here(k), `ports: unsupported key "${k}"`, 'key');
      const target = o.num('target', { int: true, min: 1, max: 65535 });
      const protocol = o.str('protocol') ?? 'tcp';
      const mode = o.str('mode');
      if (mode !== undefined && mode !== 'host' && mode !== 'ingress') o.bad('mode', '"host" or "ingress"');
      if (!['tcp', 'udp', 'sctp'].includes(protocol)) return void o.bad('protocol', 'tcp, udp or sctp');
      if (target === undefined) return void r.ctx.at(at, 'ports: a "target" port is needed');
      const published = o.str('published');
      const hostIp = o.str('host_ip');
      const hosts = published === undefined || published === '' ? [undefined] : portRange(published);
      if (!hosts) return void o.bad('published', 'a port or a range like 8000-8010');
      if (hosts.length > 1) return void o.bad('published', 'a single port for one target port');
      where.push(i);
      out.push({
        containerPort: target,
        protocol: protocol as PortMapping['protocol'],
        ...(hosts[0] !== undefined ? { hostPort: hosts[0] } : {}),
        ...(hostIp ? { hostIp } : {}),
      });
      return;
    }
    if (typeof p !== 'string' && typeof p !== 'number') return void r.bad(['ports', i], 'a port string or mapping', p);
    const s = String(p);
    const m = new RegExp(
      String.raw`^(?:(?:(\[[0-9a-fA-F:.]+\]|[0-9.]+|[0-9a-fA-F:]+::?[0-9a-fA-F:]*):)?([0-9]+(?:-[0-9]` +
        String.raw`+)?)?:)?([0-9]+(?:-[0-9]+)?)(?:\/(tcp|udp|sctp))?$`,
    ).exec(s);
    const inner = m ? portRange(m[3]!) : undefined;
    const outer = m?.[2] ? portRange(m[2]) : [undefined];
    if (
      !m ||
      !inner ||
      !outer ||
      (outer.length > 1 && outer.length !== inner.length) ||
      (outer.length === 1 && outer[0] !== undefined && inner.length > 1)
    ) {
      r.ctx.at(
        at,
        `ports: expected a port like "8080:80", "127.0.0.1:8080:80/udp", "8000-8010:8000-8010" or "80", ` +
          `got ${JSON.stringify(s)}${unsetNote(at)}`,
      );
      return;
    }
    const hostIp = m[1]?.replace(/^\[|\]$/g, '');
    inner.forEach((c, k) => {
      const hostPort = outer.length > 1 ? outer[k] : outer[0];
      where.push(i);
      out.push({
        containerPort: c!,
        protocol: (m[4] as PortMapping['protocol'] | undefined) ?? 'tcp',
        ...(hostPort !== undefined ? { hostPort } : {}),
        ...(hostIp ? { hostIp } : {}),
      });
    });
  });
  // Compose merges identical bindings ("1883:1883" twice is one binding), keeping the first one's place.
  return unique(out, (p) => `${p.hostIp ?? '0.0.0.0'}:${p.hostPort ?? ''}:${p.containerPort}/${p.protocol}`, where);
}

function portRange(s: string): number[] | undefined {
  const m = /^([0-9]+)(?:-([0-9]+))?$/.exec(s.trim());
  if (!m) return undefined;
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  if (a < 1 || b > 65535 || b < a || b - a > 1000) return undefined;
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

function parseExpose(r: Reader): string[] | undefined {
  const list = r.list('expose');
  if (!list) return undefined;
  const out: string[] = [];
  list.forEach((e, i) => {
    const m = /^([0-9]+(?:-[0-9]+)?)(?:\/(tcp|udp|sctp))?$/.exec(e);
    const range = m ? portRange(m[1]!) : undefined;
    if (!m || !range) return void r.bad(['expose', i], 'a port like "80", "80/udp" or "8000-8010"', e);
    for (const p of range) out.push(`${p}/${m[2] ?? 'tcp'}`);
  });
  return out.length ? out : undefined;
}

function parseHealthcheck(r: Reader): Healthcheck | undefined {
  const h = r.sub('healthcheck');
  if (!h) return undefined;
  for (const k of Object.keys(h.raw))
    if (!['test', 'interval', 'timeout', 'retries', 'start_period', 'start_interval', 'disable'].includes(k))
      h.ctx.at(h.here(k), `healthcheck: unsupported key "${k}"`, 'key');
  let test: string[] = [];
  const t = h.raw['test'];
  if (typeof t === 'string') test = ['CMD-SHELL', t];
  else if (Array.isArray(t)) {
    test = t.map(String);
    if (!['NONE', 'CMD', 'CMD-SHELL'].includes(test[0] ?? ''))
      h.ctx.at(h.here('test'), 'healthcheck test list must start with "CMD", "CMD-SHELL" or "NONE"');
  } else if (t !== undefined) h.bad('test', 'a command string or list');
  const out: Healthcheck = { test };
  const interval = h.duration('interval');
  const timeout = h.duration('timeout');
  const start = h.duration('start_period');
  const startInterval = h.duration('start_interval');
  const retries = h.num('retries', { int: true, min: 0 });
  if (interval !== undefined) out.intervalMs = interval;
  if (timeout !== undefined) out.timeoutMs = timeout;
  if (start !== undefined) out.startPeriodMs = start;
  if (startInterval !== undefined) out.startIntervalMs = startInterval;
  if (retries !== undefined) out.retries = retries;
  if (h.bool('disable')) out.disable = true;
  return out;
}

function parseRestart(r: Reader): { restart: RestartPolicy; restartMaxRetries?: number } {
  const s = r.str('restart');
  if (s === undefined) return { restart: 'no' };
  const m = /^(no|always|unless-stopped|on-failure)(?::([0-9]+))?$/.exec(s);
  if (!m || (m[2] !== undefined && m[1] !== 'on-failure')) {
    r.bad('restart', '"no", "always", "on-failure", "on-failure:<retries>" or "unless-stopped"');
    return { restart: 'no' };
  }
  return { restart: m[1] as RestartPolicy, ...(m[2] !== undefined ? { restartMaxRetries: Number(m[2]) } : {}) };
}

function parseNetworks(
  r: Reader,
  scope: ServiceScope,
): { networks: string[]; endpoints?: Record<string, NetworkEndpoint> } {
  const raw = r.raw['networks'];
  if (raw === undefined || raw === null) return { networks: [] };
  const endpoints: Record<string, NetworkEndpoint> = {};
  let names: string[];
  if (Array.isArray(raw)) names = raw.map(String);
  else if (isMap(raw)) {
    names = Object.keys(raw);
    for (const [n, v] of Object.entries(raw)) {
      if (v === null || v === undefined) continue;
      if (!isMap(v)) {
        r.bad(['networks', n], 'a mapping of endpoint settings, or nothing', v);
        continue;
      }
      const e = new Reader(r.ctx, r.here('networks', n), v);
      for (const k of Object.keys(v)) {
        if (
          ![
            'aliases',
            'ipv4_address',
            'ipv6_address',
            'link_local_ips',
            'mac_address',
            'priority',
            'gw_priority',
          ].includes(k)
        )
          r.ctx.at(
            e.here(k),
            `networks: unsupported endpoint key "${k}" (expected aliases, ipv4_address, ipv6_address, ` +
              `link_local_ips, mac_address, priority)`,
            'key',
          );
      }
      const ep: NetworkEndpoint = {};
      const aliases = e.list('aliases');
      const v4 = e.str('ipv4_address');
      const v6 = e.str('ipv6_address');
      const ll = e.list('link_local_ips');
      const mac = e.str('mac_address');
      const prio = e.num('priority', { int: true }) ?? e.num('gw_priority', { int: true });
      if (aliases?.length) ep.aliases = [...new Set(aliases)].sort();
      if (v4) ep.ipv4Address = v4;
      if (v6) ep.ipv6Address = v6;
      if (ll?.length) ep.linkLocalIps = ll;
      if (mac) ep.macAddress = mac;
      if (prio !== undefined) ep.priority = prio;
      if (Object.keys(ep).length) endpoints[n] = ep;
    }
  } else return r.bad('networks', 'a list of network names or a mapping') ?? { networks: [] };
  for (const n of names)
    if (!scope.networks.has(n) && n !== 'default')
      r.ctx.at(r.here('networks'), `network "${n}" is not declared under the top-level "networks" key`);
  return { networks: names, ...(Object.keys(endpoints).length ? { endpoints } : {}) };
}

function parseDevices(r: Reader): string[] {
  const raw = r.raw['devices'];
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) return r.bad('devices', 'a list of devices') ?? [];
  const out: string[] = [];
  raw.forEach((d: unknown, i) => {
    if (isMap(d)) {
      const o = new Reader(r.ctx, r.here('devices', i), d);
      const src = o.str('source');
      if (!src) return void r.ctx.at(o.at, 'devices: a "source" device path is needed');
      out.push([src, o.str('target') ?? src, o.str('permissions') ?? 'rwm'].join(':'));
    } else if (typeof d === 'string') {
      if (d.includes('\0'))
        return void r.ctx.at(r.here('devices', i), `devices: ${JSON.stringify(d)} contains a NUL character`);
      if (!d.startsWith('/'))
        return void r.ctx.at(
          r.here('devices', i),
          `devices: ${JSON.stringify(d)} is not a device path (CDI device names are not supported)`,
        );
      out.push(d);
    } else r.bad(['devices', i], 'a device path string', d);
  });
  return out;
}

/**
 * The modes the Engine takes for each namespace key; `container:<name>` where a container's may
 * be joined. Anything else would reach the Engine only to fail at create, half-way into an apply.
 */
const NAMESPACE_MODES = {
  pid: { modes: ['host'], joins: true },
  ipc: { modes: ['none', 'private', 'shareable', 'host'], joins: true },
  uts: { modes: ['host'], joins: false },
  userns_mode: { modes: ['host'], joins: false },
  cgroup: { modes: ['host', 'private'], joins: false },
} as const;
const CONTAINER_REF = /^container:[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

function namespaceMode(r: Reader, key: keyof typeof NAMESPACE_MODES): string | undefined {
  const v = r.str(key);
  if (v === undefined) return undefined;
  const { modes, joins } = NAMESPACE_MODES[key];
  if ((modes as readonly string[]).includes(v) || (joins && CONTAINER_REF.test(v))) return v;
  const expected = [...modes, ...(joins ? ['container:<name>'] : [])].join(', ');
  r.ctx.at(
    r.here(key),
    `${key} ${JSON.stringify(v)} is not supported (expected ${expected})` +
      (v.startsWith('service:')
        ? "; a service's container, and with it its namespace, changes with every update of that service"
        : ''),
  );
  // Still judged by the policy, which names what it would have reached.
  return v;
}

/**
 * `volumes_from`: `service[:ro|:rw]`, a service of this file (as Compose requires), or
 * `container:name[:ro|:rw]`. The applier looks the service up among its own containers.
 */
function parseVolumesFrom(r: Reader, name: string, scope: ServiceScope): string[] | undefined {
  const list = r.list('volumes_from');
  if (!list?.length) return undefined;
  list.forEach((v, i) => {
    const m = /^(container:)?([a-zA-Z0-9][a-zA-Z0-9_.-]*)(?::(ro|rw))?$/.exec(v);
    if (!m)
      r.ctx.at(
        r.here('volumes_from', i),
        `volumes_from: expected "service", "service:ro", "container:name" or "container:name:ro", ` +
          `got ${JSON.stringify(v)}`,
      );
    else if (!m[1] && m[2] === name) r.ctx.at(r.here('volumes_from', i), `service "${name}" takes volumes from itself`);
    else if (!m[1] && !scope.serviceNames.has(m[2]!))
      r.ctx.at(
        r.here('volumes_from', i),
        `volumes_from: service "${m[2]}" is not a service of this file (a container outside it is ` +
          `"container:<name>")`,
      );
  });
  return list;
}

function parseUlimits(r: Reader): ServiceConfig['ulimits'] {
  const u = r.sub('ulimits');
  if (!u) return undefined;
  const out: NonNullable<ServiceConfig['ulimits']> = {};
  for (const [name, v] of Object.entries(u.raw)) {
    if (isMap(v)) {
      const o = new Reader(r.ctx, u.here(name), v);
      const soft = o.num('soft', { int: true });
      const hard = o.num('hard', { int: true });
      if (soft === undefined || hard === undefined)
        r.ctx.at(o.at, `ulimits.${name}: expected a number, or both "soft" and "hard"`);
      else out[name] = { soft, hard };
    } else {
      const n = u.num(name, { int: true });
      if (n !== undefined) out[name] = { soft: n, hard: n };
    }
  }
  return Object.keys(out).length ? out : undefined;
}

function parseExtraHosts(r: Reader): string[] {
  const raw = r.raw['extra_hosts'];
  if (raw === undefined || raw === null) return [];
  const out: string[] = [];
  if (Array.isArray(raw)) {
    raw.forEach((e: unknown, i) => {
      const s = String(e);
      // Compose takes "host:ip" and "host=ip"; the Engine wants "host:ip".
      const eq = s.indexOf('=');
      const m = eq > 0 ? [s.slice(0, eq), s.slice(eq + 1)] : /^([^:]+):(.+)$/.exec(s)?.slice(1);
      if (!m) return void r.bad(['extra_hosts', i], 'a "host:ip" or "host=ip" entry', e);
      out.push(`${m[0]}:${m[1]}`);
    });
  } else if (isMap(raw)) {
    for (const [h, ip] of Object.entries(raw))
      for (const one of Array.isArray(ip) ? ip : [ip]) out.push(`${h}:${String(one)}`);
  } else r.bad('extra_hosts', 'a list of "host:ip" or a mapping');
  return out;
}

function parseDependsOn(r: Reader, name: string, scope: ServiceScope): ServiceConfig['dependsOn'] {
  const out: ServiceConfig['dependsOn'] = {};
  const raw = r.raw['depends_on'];
  if (raw === undefined || raw === null) return out;
  if (Array.isArray(raw)) for (const d of raw.map(String)) out[d] = { condition: 'service_started', required: true };
  else if (isMap(raw)) {
    for (const [d, c] of Object.entries(raw)) {
      const o = new Reader(r.ctx, r.here('depends_on', d), isMap(c) ? c : {});
      const condition = o.str('condition') ?? 'service_started';
      if (!['service_started', 'service_healthy', 'service_completed_successfully'].includes(condition))
        o.bad('condition', 'service_started, service_healthy or service_completed_successfully');
      const restart = o.bool('restart');
      out[d] = {
        condition: condition as DependsCondition,
        required: o.bool('required') ?? true,
        ...(restart ? { restart } : {}),
      };
    }
  } else r.bad('depends_on', 'a list of service names or a mapping');
  for (const d of Object.keys(out)) {
    if (d === name) r.ctx.at(r.here('depends_on'), `service "${name}" depends on itself`);
    else if (!scope.serviceNames.has(d) && out[d]!.required)
      r.ctx.at(r.here('depends_on'), `service "${name}" depends on "${d}", which this file does not define`);
    else if (!scope.serviceNames.has(d)) delete out[d]; // required: false on a service that is not there, as Compose
  }
  return out;
}

const RESOURCE_KEYS = ['cpus', 'memory', 'pids', 'devices', 'generic_resources'];

function parseDeploy(
  r: Reader,
  scope: ServiceScope,
  res: Resources,
  restart: { restart: RestartPolicy; restartMaxRetries?: number },
): 'start-first' | 'stop-first' | undefined {
  const d = r.sub('deploy');
  if (!d) return undefined;
  checkKeys(d, DEPLOY_KEYS, 'deploy', scope.warn);
  const mode = d.str('mode');
  if (mode !== undefined && mode !== 'replicated' && mode !== 'global')
    d.ctx.at(
      d.here('mode'),
      `deploy.mode "${mode}" is not supported: a gateway runs one long-running container per service ` +
        `(replicated or global)`,
    );
  const replicas = d.num('replicas', { int: true, min: 0 });
  if (replicas !== undefined && replicas !== 1)
    d.ctx.at(
      d.here('replicas'),
      `deploy.replicas: ${replicas} is not supported: a gateway runs exactly one container per service (several ` +
        `replicas would share its ports, container_name and devices)`,
    );
  const resources = d.sub('resources');
  if (resources) {
    for (const k of Object.keys(resources.raw))
      if (k !== 'limits' && k !== 'reservations')
        resources.ctx.at(
          resources.here(k),
          `deploy.resources: unsupported key "${k}" (expected limits, reservations)`,
          'key',
        );
    for (const which of ['limits', 'reservations'] as const) {
      const l = resources.sub(which);
      if (!l) continue;
      for (const k of Object.keys(l.raw)) {
        if (!RESOURCE_KEYS.includes(k))
          l.ctx.at(
            l.here(k),
            `deploy.resources.${which}: unsupported key "${k}" (expected cpus, ` +
              `memory${which === 'limits' ? ', ' + 'pids' : ''})`,
            'key',
          );
        else if (k === 'devices' || k === 'generic_resources')
          l.ctx.at(
            l.here(k),
            `deploy.resources.${which}.${k}: device requests (GPUs) are not supported; use "devices" for a device node`,
            'key',
          );
        else if (k === 'pids' && which === 'reservations')
          l.ctx.at(
            l.here(k),
            'deploy.resources.reservations.pids: a process count cannot be reserved; use limits.pids',
            'key',
          );
      }
      const cpus = l.num('cpus', { min: 0 });
      const mem = l.bytes('memory');
      if (which === 'limits') {
        if (cpus !== undefined) res.nanoCpus = Math.round(cpus * 1e9);
        if (mem !== undefined) res.memoryBytes = mem;
        const pids = l.num('pids', { int: true });
        if (pids !== undefined) res.pidsLimit = pids;
      } else {
        if (mem !== undefined) res.memoryReservationBytes = mem;
        // The Engine has no CPU reservation for one container; the nearest is its CPU share weight.
        if (cpus !== undefined) res.cpuShares = Math.max(2, Math.round(cpus * 1024));
      }
    }
  }
  const rp = d.sub('restart_policy');
  if (rp) {
    for (const k of Object.keys(rp.raw)) {
      if (k === 'delay' || k === 'window')
        scope.warn(
          rp.here(k),
          `deploy.restart_policy.${k} is accepted and has no effect: the Engine restarts a container with its ` +
            `own back-off`,
        );
      else if (k !== 'condition' && k !== 'max_attempts')
        rp.ctx.at(rp.here(k), `deploy.restart_policy: unsupported key "${k}"`, 'key');
    }
    const cond = rp.str('condition') ?? 'any';
    const map: Record<string, RestartPolicy> = { none: 'no', 'on-failure': 'on-failure', any: 'always' };
    if (!map[cond]) rp.bad('condition', 'none, on-failure or any');
    else restart.restart = map[cond]!;
    const max = rp.num('max_attempts', { int: true, min: 0 });
    if (max !== undefined && restart.restart === 'on-failure') restart.restartMaxRetries = max;
    else if (max !== undefined)
      rp.ctx.at(
        rp.here('max_attempts'),
        'deploy.restart_policy.max_attempts needs condition: on-failure (the Engine counts retries only then)',
      );
  }
  const uc = d.sub('update_config');
  let order: 'start-first' | 'stop-first' | undefined;
  if (uc) {
    for (const k of Object.keys(uc.raw)) {
      if (['parallelism', 'delay', 'failure_action', 'monitor', 'max_failure_ratio'].includes(k))
        scope.warn(
          uc.here(k),
          `deploy.update_config.${k} is accepted and has no effect: rollgate updates one gateway as one ` +
            `transaction, and its health window and rollback decide`,
        );
      else if (k !== 'order') uc.ctx.at(uc.here(k), `deploy.update_config: unsupported key "${k}"`, 'key');
    }
    const o = uc.str('order');
    if (o !== undefined && o !== 'start-first' && o !== 'stop-first') uc.bad('order', 'start-first or stop-first');
    else order = o;
  }
  return order;
}

function parsePullPolicy(r: Reader): PullPolicy | undefined {
  const p = r.str('pull_policy');
  if (p === undefined) return undefined;
  if (p === 'missing' || p === 'if_not_present') return 'missing';
  if (p === 'always' || p === 'never') return p;
  if (p === 'daily') return { everyMs: 86_400_000 };
  if (p === 'weekly') return { everyMs: 7 * 86_400_000 };
  const every = /^every_(.+)$/.exec(p);
  const ms = every ? parseComposeDuration(every[1]!) : undefined;
  if (ms !== undefined && ms > 0) return { everyMs: ms };
  if (p === 'build') {
    r.ctx.at(
      r.here('pull_policy'),
      'pull_policy "build" builds the image from source, and a gateway pulls released images from a registry',
    );
    return undefined;
  }
  return r.bad('pull_policy', 'always, missing, never, daily, weekly or every_<duration> (e.g. every_12h)');
}

const HOOK_KEYS = ['command', 'user', 'privileged', 'working_dir', 'environment'];

/** `post_start` / `pre_stop`: a list of { command, user, privileged, working_dir, environment }. */
function parseHooks(r: Reader, k: 'post_start' | 'pre_stop'): ServiceHook[] | undefined {
  const v = r.raw[k];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) return r.bad(k, 'a list of hooks ({ command, user, privileged, working_dir, environment })');
  const hooks: ServiceHook[] = [];
  v.forEach((item, i) => {
    if (!isMap(item)) return void r.bad([k, i], 'a hook ({ command, ... })', item);
    const h = new Reader(r.ctx, r.here(k, i), item);
    for (const key of Object.keys(item))
      if (!HOOK_KEYS.includes(key) && !key.startsWith('x-'))
        r.ctx.at(h.here(key), `${k}: unsupported key "${key}" (expected ${HOOK_KEYS.join(', ')})`, 'key');
    const command = parseCommand(h, 'command');
    if (!command || command.length === 0) return void h.bad('command', 'a command string or a list of arguments');
    const user = h.str('user');
    const privileged = h.bool('privileged');
    const workingDir = h.str('working_dir');
    const environment = h.mapOrList('environment');
    hooks.push({
      command,
      ...(user !== undefined ? { user } : {}),
      ...(privileged ? { privileged } : {}),
      ...(workingDir !== undefined ? { workingDir } : {}),
      ...(environment && Object.keys(environment).length ? { environment } : {}),
    });
  });
  return hooks.length ? hooks : undefined;
}

function parseCommand(r: Reader, k: string): string[] | undefined {
  const v = r.raw[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') {
    try {
      return splitCommand(v);
    } catch (err) {
      r.ctx.at(r.here(k), `${k}: ${(err as Error).message}`);
      return undefined;
    }
  }
  if (Array.isArray(v)) return v.map(String);
  return r.bad(k, 'a command string or a list of arguments');
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
