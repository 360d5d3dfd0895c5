// Compose files, accepted unchanged for the subset a gateway needs. The schema has rejected
// unsupported keys already; this turns the remaining shapes (short and long syntax, strings
// and lists) into one normalised ServiceConfig and checks what a schema cannot.

import type { DependsCondition, DesiredApp, DesiredService, Healthcheck, PortMapping, ServiceConfig, UpdateStrategy, VolumeMount } from '../model/index.js';
import type { At, LoadContext } from './context.js';
import { canonicalJson, sha256Hex } from './canonical.js';
import { parseDuration } from './duration.js';
import { findCycle } from './graph.js';
import type { PathSeg, YamlFile } from './yaml-file.js';

export const DEFAULT_APP_ORDER = 100;
const MAX_ENV_FILE_BYTES = 256 * 1024;
/** Labels rollgate puts on what it manages; a compose file may not set them. */
export const RESERVED_LABEL_PREFIX = 'io.rollgate.';

type Raw = Record<string, unknown>;

export interface ServiceOverride {
  image?: string;
  environment?: Record<string, string | number | boolean>;
}
export type ServiceOverrides = Map<string, { fields: ServiceOverride; at: At }>;

/** Splits a command string as Compose does: whitespace-separated, with quotes and backslashes. */
export function splitCommand(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} quote in ${JSON.stringify(s)}`);
  if (inWord) out.push(cur);
  return out;
}

/** Env files as Compose reads them: KEY=VALUE lines, # comments, optional quotes. */
export function parseEnvFile(text: string): { env: Record<string, string>; errors: { line: number; message: string }[] } {
  const env: Record<string, string> = {};
  const errors: { line: number; message: string }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (!m) {
      errors.push({ line: i + 1, message: `expected KEY=VALUE, got ${JSON.stringify(line.slice(0, 60))}` });
      return;
    }
    let v = m[2]!;
    if (/^".*"$/.test(v)) v = v.slice(1, -1).replace(/\\n/g, '\n').replace(/\\"/g, '"');
    else if (/^'.*'$/.test(v)) v = v.slice(1, -1);
    else v = v.replace(/\s+#.*$/, '');
    env[m[1]!] = v;
  });
  return { env, errors };
}

const INTERPOLATION = /\$(\{|[A-Za-z_])/;

/** Compose interpolates $VAR from the host; a gateway's desired state must not depend on it. */
function checkInterpolation(ctx: LoadContext, y: YamlFile, value: unknown, path: PathSeg[]): void {
  if (typeof value === 'string') {
    if (INTERPOLATION.test(value.replace(/\$\$/g, ''))) {
      ctx.at({ y, path }, `variable interpolation is not supported: ${JSON.stringify(value)} (write the value itself, or $$ for a literal $)`);
    }
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => checkInterpolation(ctx, y, v, [...path, i]));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) checkInterpolation(ctx, y, v, [...path, k]);
  }
}

function unescapeDollars<T>(value: T): T {
  if (typeof value === 'string') return value.replace(/\$\$/g, '$') as T;
  if (Array.isArray(value)) return value.map(unescapeDollars) as T;
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unescapeDollars(v)])) as T;
  return value;
}

function mapOrList(ctx: LoadContext, at: At, v: unknown, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(v)) {
    v.forEach((item: string, i) => {
      const eq = item.indexOf('=');
      if (eq <= 0) {
        ctx.at({ y: at.y, path: [...at.path, i] }, `${what} "${item}" has no value; rollgate does not read the host's environment (write ${item}=value)`);
        return;
      }
      out[item.slice(0, eq)] = item.slice(eq + 1);
    });
  } else if (v && typeof v === 'object') {
    for (const [k, val] of Object.entries(v as Raw)) {
      if (val === null) {
        ctx.at({ y: at.y, path: [...at.path, k] }, `${what} "${k}" has no value; rollgate does not read the host's environment`);
        continue;
      }
      out[k] = String(val);
    }
  }
  return out;
}

function parsePort(ctx: LoadContext, at: At, p: unknown): PortMapping | undefined {
  if (typeof p === 'object' && p !== null) {
    const o = p as { target: number; published?: string | number; host_ip?: string; protocol?: 'tcp' | 'udp' };
    const hostPort = o.published === undefined ? undefined : Number(o.published);
    if (hostPort !== undefined && !(Number.isInteger(hostPort) && hostPort > 0 && hostPort < 65536)) {
      ctx.at({ y: at.y, path: [...at.path, 'published'] }, `expected a single port number 1-65535, got ${JSON.stringify(o.published)}`);
      return undefined;
    }
    return { containerPort: o.target, protocol: o.protocol ?? 'tcp', ...(hostPort !== undefined ? { hostPort } : {}), ...(o.host_ip ? { hostIp: o.host_ip } : {}) };
  }
  const s = String(p);
  const m = /^(?:(?:(\[[0-9a-fA-F:]+\]|[0-9.]+):)?([0-9]+)?:)?([0-9]+)(?:\/(tcp|udp))?$/.exec(s);
  const num = (x: string | undefined) => (x === undefined ? undefined : Number(x));
  const ok = (n: number | undefined) => n === undefined || (n > 0 && n < 65536);
  if (!m || !ok(num(m[2])) || !ok(num(m[3]))) {
    ctx.at(at, `expected a port like "8080:80", "127.0.0.1:8080:80/udp" or "80", got ${JSON.stringify(s)} (port ranges are not supported)`);
    return undefined;
  }
  const hostIp = m[1]?.replace(/^\[|\]$/g, '');
  const hostPort = num(m[2]);
  return { containerPort: num(m[3])!, protocol: (m[4] as 'tcp' | 'udp' | undefined) ?? 'tcp', ...(hostPort !== undefined ? { hostPort } : {}), ...(hostIp ? { hostIp } : {}) };
}

function parseVolume(ctx: LoadContext, at: At, v: unknown, declared: Set<string>): VolumeMount | undefined {
  let m: VolumeMount;
  if (typeof v === 'object' && v !== null) {
    const o = v as { type: VolumeMount['type']; source?: string; target: string; read_only?: boolean };
    m = { type: o.type, target: o.target, readOnly: o.read_only ?? false, ...(o.source !== undefined ? { source: o.source } : {}) };
  } else {
    const parts = String(v).split(':');
    if (parts.length > 3 || parts.some((x) => x === '')) {
      ctx.at(at, `expected "volume:/path", "/host/path:/path" or "/path", with an optional ":ro" or ":rw", got ${JSON.stringify(v)}`);
      return undefined;
    }
    const mode = parts.length === 3 ? parts[2] : undefined;
    if (mode !== undefined && mode !== 'ro' && mode !== 'rw') {
      ctx.at(at, `volume mode "${mode}" is not supported (expected ro or rw)`);
      return undefined;
    }
    if (parts.length === 1) m = { type: 'volume', target: parts[0]!, readOnly: false };
    else {
      const src = parts[0]!;
      const isPath = src.startsWith('/') || src.startsWith('.') || src.startsWith('~');
      m = { type: isPath ? 'bind' : 'volume', source: src, target: parts[1]!, readOnly: mode === 'ro' };
    }
  }
  if (!m.target.startsWith('/')) {
    ctx.at(at, `mount target "${m.target}" must be an absolute path in the container`);
    return undefined;
  }
  if (m.type === 'bind' && !m.source?.startsWith('/')) {
    ctx.at(at, `bind mount source "${m.source ?? ''}" must be an absolute path on the gateway (the fleet repo is not checked out there)`);
    return undefined;
  }
  if (m.type === 'volume' && m.source !== undefined && !declared.has(m.source)) {
    ctx.at(at, `volume "${m.source}" is not declared under the top-level "volumes" key`);
    return undefined;
  }
  return m;
}

function parseHealthcheck(ctx: LoadContext, at: At, h: Raw): Healthcheck {
  let test: string[] = [];
  if (typeof h['test'] === 'string') test = ['CMD-SHELL', h['test']];
  else if (Array.isArray(h['test'])) {
    test = h['test'] as string[];
    if (!['NONE', 'CMD', 'CMD-SHELL'].includes(test[0] ?? '')) ctx.at({ y: at.y, path: [...at.path, 'test'] }, `healthcheck test list must start with "CMD", "CMD-SHELL" or "NONE"`);
  }
  const d = (k: string) => (typeof h[k] === 'string' ? parseDuration(h[k] as string) : undefined);
  const out: Healthcheck = { test };
  const interval = d('interval');
  const timeout = d('timeout');
  const start = d('start_period');
  if (interval !== undefined) out.intervalMs = interval;
  if (timeout !== undefined) out.timeoutMs = timeout;
  if (start !== undefined) out.startPeriodMs = start;
  if (typeof h['retries'] === 'number') out.retries = h['retries'];
  if (h['disable'] === true) out.disable = true;
  return out;
}

function stringList(v: unknown): string[] {
  if (v === undefined) return [];
  return typeof v === 'string' ? [v] : (v as string[]);
}

async function readEnvFiles(ctx: LoadContext, y: YamlFile, svcPath: PathSeg[], spec: unknown): Promise<Record<string, string>> {
  const entries: { path: string; required: boolean; at: At }[] = [];
  if (typeof spec === 'string') entries.push({ path: spec, required: true, at: { y, path: [...svcPath, 'env_file'] } });
  else if (Array.isArray(spec)) {
    spec.forEach((e: string | { path: string; required?: boolean }, i) => {
      const at = { y, path: [...svcPath, 'env_file', i] };
      if (typeof e === 'string') entries.push({ path: e, required: true, at });
      else entries.push({ path: e.path, required: e.required ?? true, at });
    });
  }
  const env: Record<string, string> = {};
  for (const e of entries) {
    const repoPath = ctx.resolve(e.at, e.path);
    if (!repoPath) continue;
    if (!e.required && !(await ctx.source.read(repoPath, { maxBytes: MAX_ENV_FILE_BYTES }).catch(() => null))) continue;
    const f = await ctx.readNamed(e.at, repoPath, { maxBytes: MAX_ENV_FILE_BYTES }, 'env_file');
    if (!f) continue;
    const parsed = parseEnvFile(new TextDecoder().decode(f.bytes));
    for (const err of parsed.errors) ctx.problems.add({ file: repoPath, line: err.line, column: 1, message: err.message });
    Object.assign(env, parsed.env);
  }
  return env;
}

export function configHash(config: ServiceConfig): string {
  return sha256Hex(canonicalJson(config));
}

export async function loadComposeApp(ctx: LoadContext, appName: string, y: YamlFile, overrides: ServiceOverrides): Promise<DesiredApp | undefined> {
  const before = ctx.problems.count;
  checkInterpolation(ctx, y, y.value, []);
  const doc = unescapeDollars(y.value) as Raw & { services: Record<string, Raw>; networks?: Record<string, Raw | null>; volumes?: Record<string, Raw | null> };
  const xr = (doc['x-rollgate'] ?? {}) as { order?: number; strategy?: UpdateStrategy; prune_volumes?: boolean };
  const declaredVolumes = new Set(Object.keys(doc.volumes ?? {}));
  const declaredNetworks = new Set(Object.keys(doc.networks ?? {}));
  const serviceNames = Object.keys(doc.services).sort();
  for (const [name, o] of overrides) {
    if (!(name in doc.services)) ctx.at(o.at, `override for service "${name}", which app "${appName}" (${y.file}) does not define`, 'key');
  }

  const services: DesiredService[] = [];
  const deps = new Map<string, string[]>();
  let usesDefaultNetwork = false;
  for (const name of serviceNames) {
    const s = doc.services[name]!;
    const sp: PathSeg[] = ['services', name];
    const at = (k: string | number, ...rest: PathSeg[]): At => ({ y, path: [...sp, k, ...rest] });
    const ov = overrides.get(name)?.fields;

    let command: string[] | undefined;
    let entrypoint: string[] | undefined;
    for (const k of ['command', 'entrypoint'] as const) {
      const v = s[k];
      if (v === undefined) continue;
      try {
        const argv = typeof v === 'string' ? splitCommand(v) : (v as string[]);
        if (k === 'command') command = argv;
        else entrypoint = argv;
      } catch (err) {
        ctx.at(at(k), (err as Error).message);
      }
    }

    const environment = { ...(await readEnvFiles(ctx, y, sp, s['env_file'])), ...mapOrList(ctx, at('environment'), s['environment'], 'environment variable') };
    if (ov?.environment) for (const [k, v] of Object.entries(ov.environment)) environment[k] = String(v);

    const labels = mapOrList(ctx, at('labels'), s['labels'], 'label');
    for (const k of Object.keys(labels)) {
      if (k.startsWith(RESERVED_LABEL_PREFIX)) ctx.at(at('labels', k), `label "${k}" is reserved for rollgate's own bookkeeping`, 'key');
    }

    const ports = ((s['ports'] as unknown[] | undefined) ?? []).map((p, i) => parsePort(ctx, at('ports', i), p)).filter((p): p is PortMapping => p !== undefined);
    const volumes = ((s['volumes'] as unknown[] | undefined) ?? []).map((v, i) => parseVolume(ctx, at('volumes', i), v, declaredVolumes)).filter((v): v is VolumeMount => v !== undefined);

    let networks: string[] = [];
    const rawNets = s['networks'];
    if (rawNets !== undefined) {
      networks = Array.isArray(rawNets) ? (rawNets as string[]) : Object.keys(rawNets as Raw);
      for (const n of networks) {
        if (!declaredNetworks.has(n) && n !== 'default') ctx.at(at('networks'), `network "${n}" is not declared under the top-level "networks" key`);
      }
    }
    const networkMode = s['network_mode'] as string | undefined;
    if (networkMode !== undefined && rawNets !== undefined) ctx.at(at('network_mode'), `network_mode and networks cannot be used together`);
    if (networkMode === undefined && networks.length === 0) {
      networks = ['default'];
    }
    if (networks.includes('default')) usesDefaultNetwork = true;
    const aliases = rawNets && !Array.isArray(rawNets) ? Object.entries(rawNets as Record<string, { aliases?: string[] } | null>).filter(([, v]) => v?.aliases?.length) : [];
    if (aliases.length > 0) ctx.at(at('networks', aliases[0]![0]), `network aliases are not supported yet; services are reachable by their service name`);

    const dependsOn: ServiceConfig['dependsOn'] = {};
    const rawDeps = s['depends_on'];
    if (Array.isArray(rawDeps)) for (const d of rawDeps as string[]) dependsOn[d] = { condition: 'service_started', required: true };
    else if (rawDeps) for (const [d, c] of Object.entries(rawDeps as Record<string, { condition?: DependsCondition; required?: boolean }>)) dependsOn[d] = { condition: c.condition ?? 'service_started', required: c.required ?? true };
    for (const d of Object.keys(dependsOn)) {
      if (!(d in doc.services)) ctx.at(at('depends_on'), `service "${name}" depends on "${d}", which app "${appName}" does not define`);
      if (d === name) ctx.at(at('depends_on'), `service "${name}" depends on itself`);
    }
    deps.set(name, Object.keys(dependsOn).filter((d) => d in doc.services));

    const extraHostsRaw = s['extra_hosts'];
    const extraHosts = Array.isArray(extraHostsRaw) ? (extraHostsRaw as string[]) : Object.entries((extraHostsRaw ?? {}) as Raw).map(([h, ip]) => `${h}:${String(ip)}`);
    const logging = s['logging'] as { driver?: string; options?: Record<string, string | number> } | undefined;
    const grace = typeof s['stop_grace_period'] === 'string' ? parseDuration(s['stop_grace_period']) : undefined;
    const health = s['healthcheck'] ? parseHealthcheck(ctx, at('healthcheck'), s['healthcheck'] as Raw) : undefined;

    const config: ServiceConfig = {
      image: ov?.image ?? (s['image'] as string),
      environment,
      ports,
      volumes,
      networks: [...networks].sort(),
      restart: (s['restart'] as ServiceConfig['restart'] | undefined) ?? 'no',
      labels,
      dependsOn,
      devices: (s['devices'] as string[] | undefined) ?? [],
      privileged: s['privileged'] === true,
      capAdd: ((s['cap_add'] as string[] | undefined) ?? []).slice().sort(),
      capDrop: ((s['cap_drop'] as string[] | undefined) ?? []).slice().sort(),
      init: s['init'] === true,
      readOnly: s['read_only'] === true,
      tmpfs: stringList(s['tmpfs']),
      extraHosts,
      ...(command ? { command } : {}),
      ...(entrypoint ? { entrypoint } : {}),
      ...(networkMode ? { networkMode } : {}),
      ...(health ? { healthcheck: health } : {}),
      ...(grace !== undefined ? { stopGracePeriodMs: grace } : {}),
      ...(typeof s['stop_signal'] === 'string' ? { stopSignal: s['stop_signal'] } : {}),
      ...(typeof s['user'] === 'string' ? { user: s['user'] } : {}),
      ...(typeof s['working_dir'] === 'string' ? { workingDir: s['working_dir'] } : {}),
      ...(typeof s['hostname'] === 'string' ? { hostname: s['hostname'] } : {}),
      ...(logging ? { logging: { driver: logging.driver ?? 'json-file', options: Object.fromEntries(Object.entries(logging.options ?? {}).map(([k, v]) => [k, String(v)])) } } : {}),
    };
    services.push({ name, config, configHash: configHash(config) });
  }

  const cycle = findCycle(deps);
  if (cycle) ctx.at({ y, path: ['services', cycle[0]!, 'depends_on'] }, `depends_on cycle: ${cycle.join(' -> ')}`);
  for (const svc of services) {
    for (const [d, c] of Object.entries(svc.config.dependsOn)) {
      const dep = services.find((x) => x.name === d);
      if (c.condition === 'service_healthy' && dep && !dep.config.healthcheck) {
        ctx.at({ y, path: ['services', svc.name, 'depends_on'] }, `"${svc.name}" waits for "${d}" to be healthy, but "${d}" has no healthcheck`);
      }
    }
  }
  if (ctx.problems.count > before) return undefined;

  const networks = [...declaredNetworks].sort().map((n) => {
    const o = (doc.networks?.[n] ?? {}) as { driver?: string; internal?: boolean };
    return { name: n, driver: o.driver ?? 'bridge', internal: o.internal ?? false };
  });
  if (usesDefaultNetwork && !declaredNetworks.has('default')) networks.unshift({ name: 'default', driver: 'bridge', internal: false });
  const volumes = [...declaredVolumes].sort().map((n) => ({ name: n, driver: ((doc.volumes?.[n] ?? {}) as { driver?: string }).driver ?? 'local' }));
  return {
    name: appName,
    order: xr.order ?? DEFAULT_APP_ORDER,
    strategy: xr.strategy ?? 'new-before-old',
    pruneVolumes: xr.prune_volumes ?? false,
    services,
    networks,
    volumes,
  };
}
