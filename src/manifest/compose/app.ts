// A Compose file -> DesiredApp. The file is read as `docker compose` reads it: YAML anchors and
// merge keys, then ${VAR} interpolation from the app's variables, then every key checked against
// the specification; every problem of every service is reported in the one run.

import type {
  DesiredApp,
  DesiredNetwork,
  DesiredService,
  DesiredVolume,
  ServiceConfig,
  UpdateStrategy,
} from '../../model/index.js';
import { posix } from 'node:path';
import { DEFAULT_STATE_DIR, statePath } from '../../base/state-dir.js';
import { canonicalJson, sha256Hex } from '../canonical.js';
import type { At, LoadContext } from '../context.js';
import { findCycle } from '../graph.js';
import { RepoPathError, resolveRepoPath } from '../source.js';
import { positionOf, type PathSeg, type YamlFile } from '../yaml-file.js';
import { parseEnvFile } from './env-file.js';
import { AppFiles } from './files.js';
import { interpolate, InterpolationError, type Variables } from './interpolate.js';
import { checkKeys, CONFIG_KEYS, NETWORK_KEYS, SECRET_KEYS, TOP_LEVEL_KEYS, VOLUME_KEYS } from './keys.js';
import { inProject, type FileSource } from './mounts.js';
import { loadService, RESERVED_LABEL_PREFIX, type LoadedService, type ServiceScope } from './service.js';
import { composeBreaches, imageBreaches, type GatewayPolicy } from '../policy.js';
import type { ServiceSubject } from '../host-keys/index.js';
import { isMap, Reader, type Raw } from './values.js';

export const DEFAULT_APP_ORDER = 100;
const MAX_ENV_FILE_BYTES = 256 * 1024;
const SERVICE_NAME = /^[a-zA-Z0-9._-]+$/;
/** Names of configs and secrets, as the Compose specification allows them. */
const FILE_NAME = /^[a-zA-Z0-9._-]+$/;

export interface ServiceOverride {
  image?: string;
  environment?: Record<string, string | number | boolean>;
}
export type ServiceOverrides = Map<string, { fields: ServiceOverride; at: At }>;

export interface AppInputs {
  /** The fleet target's variables and the gateway's, over the `.env` beside the Compose file. */
  variables: Variables;
  overrides: ServiceOverrides;
  warn(message: string): void;
}

export function configHash(config: ServiceConfig): string {
  return sha256Hex(canonicalJson(config));
}

/** Variables that were not set: where each was first met, and the ones each string met. */
interface Unset {
  first: Map<string, PathSeg[]>;
  /** By JSON of the string's path. */
  at: Map<string, string[]>;
}

/** " (variable X is not set ...)" for a value made from unset variables, which Compose makes empty too. */
function unsetNote(unset: Unset, path: readonly PathSeg[]): string {
  const names = unset.at.get(JSON.stringify(path));
  if (!names?.length) return '';
  return names.length === 1
    ? ` (variable ${names[0]} is not set, so it became an empty string, as in Compose)`
    : ` (variables ${names.join(', ')} are not set, so they became empty strings, as in Compose)`;
}

/**
 * The project folder on the gateway, which `${PWD}` names unless the variables set PWD: the folder
 * of the Compose file under the app's data directory, where a relative path the repo does not hold
 * is kept (`./mqtt` and `${PWD}/mqtt` are one place, as with Compose run from the project folder).
 */
export function projectFolder(stateDir: string, appName: string, composeFile: string): string {
  return posix.join(statePath(stateDir, 'data'), appName, posix.dirname(composeFile));
}

/**
 * Interpolates every string value in place; problems and unset names are reported at their path,
 * and strings made from the gateway's own variables are marked, so problems about them name the
 * variables instead of quoting what they hold.
 */
function interpolateTree(
  ctx: LoadContext,
  y: YamlFile,
  value: unknown,
  path: PathSeg[],
  vars: Variables,
  unset: Unset,
): unknown {
  if (typeof value === 'string') {
    const concealer = ctx.problems.concealer;
    try {
      const r = interpolate(value, vars, concealer.names);
      for (const u of r.unset) if (!unset.first.has(u)) unset.first.set(u, path);
      if (r.unset.length) unset.at.set(JSON.stringify(path), r.unset);
      concealer.taint({ file: y.file, path }, value, r.value, r.used);
      return r.value;
    } catch (err) {
      if (!(err instanceof InterpolationError)) throw err;
      ctx.at({ y, path }, err.message);
      return value;
    }
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateTree(ctx, y, v, [...path, i], vars, unset));
  if (isMap(value)) {
    const out: Raw = {};
    for (const [k, v] of Object.entries(value))
      out[k] =
        k.startsWith('x-') && path.length <= 2 && k !== 'x-rollgate'
          ? v
          : interpolateTree(ctx, y, v, [...path, k], vars, unset);
    return out;
  }
  return value;
}

/**
 * The `.env` beside the Compose file: the lowest layer of the app's variables. A value it makes
 * from the gateway's own variables is as secret as they are.
 */
export async function dotEnv(ctx: LoadContext, composeFile: string, over: Variables): Promise<Map<string, string>> {
  const envPath = resolveRepoPath(composeFile, '.env');
  // A `.env` directory (a project's data folder) is not an env file; Compose passes it by too.
  if ((await ctx.source.list(envPath, 1).catch(() => null)) !== null) return new Map(over);
  const f = await ctx.source.read(envPath, { maxBytes: MAX_ENV_FILE_BYTES }).catch((err: unknown) => {
    if (err instanceof RepoPathError) {
      ctx.problems.add({ file: envPath, message: err.message });
      return null;
    }
    throw err;
  });
  if (!f) return new Map(over);
  const concealer = ctx.problems.concealer;
  const parsed = parseEnvFile(new TextDecoder().decode(f.bytes), over, concealer.names);
  for (const e of parsed.errors) ctx.problems.add({ file: envPath, line: e.line, column: 1, message: e.message });
  for (const k of parsed.derived) if (!over.has(k)) concealer.hide(k, parsed.env[k]!);
  return new Map([...Object.entries(parsed.env), ...over]);
}

/** Compose's project names: lower case letters, digits, dashes and underscores. */
function projectName(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9_-]/g, '');
}

function definitions(r: Reader, key: string): [string, Reader | undefined][] {
  const raw = r.raw[key];
  if (raw === undefined || raw === null) return [];
  if (!isMap(raw)) return r.bad(key, 'a mapping of names to definitions') ?? [];
  return Object.entries(raw).map(([name, v]) => {
    if (v === null || v === undefined) return [name, undefined];
    if (!isMap(v)) return [name, r.bad([key, name], 'a mapping, or nothing', v)];
    return [name, new Reader(r.ctx, r.here(key, name), v)];
  });
}

function external(r: Reader | undefined): { external: boolean; name?: string } {
  if (!r || r.raw['external'] === undefined) return { external: false };
  const e = r.raw['external'];
  // `external: { name: x }` is the old spelling of `external: true` + `name: x`.
  if (isMap(e)) return { external: true, ...(typeof e['name'] === 'string' ? { name: e['name'] } : {}) };
  return { external: r.bool('external') ?? false };
}

/** An external network or volume is made outside rollgate: settings for making it cannot apply. */
function refuseOnExternal(d: Reader, what: string): void {
  for (const k of Object.keys(d.raw)) {
    if (k === 'external' || k === 'name' || k.startsWith('x-')) continue;
    d.ctx.at(d.here(k), `${what} is external: rollgate does not create it, so "${k}" cannot apply`, 'key');
  }
}

/**
 * Labels of a network or volume: rollgate's own (owner, app, config hash) are its bookkeeping
 * on every object, never the Compose file's to set.
 */
function objectLabels(d: Reader | undefined): Record<string, string> | undefined {
  const labels = d?.mapOrList('labels');
  for (const k of Object.keys(labels ?? {}))
    if (k.startsWith(RESERVED_LABEL_PREFIX))
      d!.ctx.at(d!.here('labels', k), `label "${k}" is reserved for rollgate's own bookkeeping`, 'key');
  return labels;
}

function loadNetworks(r: Reader, project: string, appName: string, warn: ServiceScope['warn']): DesiredNetwork[] {
  const out: DesiredNetwork[] = [];
  for (const [name, d] of definitions(r, 'networks')) {
    if (d) checkKeys(d, NETWORK_KEYS, `network "${name}"`, warn);
    const ext = external(d);
    const given = d?.str('name') ?? ext.name;
    const engineName = given ?? (ext.external ? name : `${project}_${name}`);
    const n: DesiredNetwork = { name, driver: d?.str('driver') ?? 'bridge', internal: d?.bool('internal') ?? false };
    // Every name but the applier's own `<app>_<key>` is written down, for the network and its services alike.
    if (engineName !== `${appName}_${name}` || ext.external) n.engineName = engineName;
    if (ext.external) {
      n.external = true;
      refuseOnExternal(d!, `network "${name}"`);
    }
    const attachable = d?.bool('attachable');
    const v6 = d?.bool('enable_ipv6');
    const v4 = d?.bool('enable_ipv4');
    const opts = d?.mapOrList('driver_opts');
    const labels = objectLabels(d);
    if (attachable) n.attachable = true;
    if (v6 !== undefined) n.enableIpv6 = v6;
    if (v4 === false) n.enableIpv4 = false;
    if (opts && Object.keys(opts).length) n.driverOpts = opts;
    if (labels && Object.keys(labels).length) n.labels = labels;
    const ipam = d?.sub('ipam');
    if (ipam) {
      for (const k of Object.keys(ipam.raw))
        if (!['driver', 'config', 'options'].includes(k))
          r.ctx.at(ipam.here(k), `ipam: unsupported key "${k}" (expected driver, config, options)`, 'key');
      const cfg = Array.isArray(ipam.raw['config']) ? (ipam.raw['config'] as unknown[]) : [];
      if (ipam.raw['config'] !== undefined && !Array.isArray(ipam.raw['config']))
        ipam.bad('config', 'a list of subnets');
      const config = cfg.map((c, i) => {
        const cr = new Reader(r.ctx, ipam.here('config', i), isMap(c) ? c : {});
        for (const k of Object.keys(cr.raw))
          if (!['subnet', 'ip_range', 'gateway', 'aux_addresses'].includes(k))
            r.ctx.at(
              cr.here(k),
              `ipam.config: unsupported key "${k}" (expected subnet, ip_range, gateway, aux_addresses)`,
              'key',
            );
        const subnet = cr.str('subnet');
        const ipRange = cr.str('ip_range');
        const gateway = cr.str('gateway');
        const aux = cr.mapOrList('aux_addresses');
        return {
          ...(subnet ? { subnet } : {}),
          ...(ipRange ? { ipRange } : {}),
          ...(gateway ? { gateway } : {}),
          ...(aux && Object.keys(aux).length ? { auxAddresses: aux } : {}),
        };
      });
      const driver = ipam.str('driver');
      const options = ipam.mapOrList('options');
      n.ipam = {
        config,
        ...(driver ? { driver } : {}),
        ...(options && Object.keys(options).length ? { options } : {}),
      };
    }
    out.push(n);
  }
  return out;
}

function loadVolumes(r: Reader, project: string, warn: ServiceScope['warn'], recreate: boolean): DesiredVolume[] {
  const out: DesiredVolume[] = [];
  for (const [name, d] of definitions(r, 'volumes')) {
    if (d) checkKeys(d, VOLUME_KEYS, `volume "${name}"`, warn);
    const ext = external(d);
    const given = d?.str('name') ?? ext.name;
    // x-rollgate.recreate_volumes: the definition is in the name, so a changed one is a new, empty
    // volume beside the old (which a rollback finds untouched), never the old one altered.
    const definition = () =>
      canonicalJson({
        driver: d?.str('driver') ?? 'local',
        opts: d?.mapOrList('driver_opts') ?? {},
        labels: d?.mapOrList('labels') ?? {},
      });
    const defined = recreate && !given && !ext.external ? `-${sha256Hex(definition()).slice(0, 8)}` : '';
    const engineName = given ?? (ext.external ? name : `${project}_${name}${defined}`);
    const v: DesiredVolume = { name, driver: d?.str('driver') ?? 'local' };
    if (engineName !== `${project}_${name}` || ext.external) v.engineName = engineName;
    if (ext.external) {
      v.external = true;
      refuseOnExternal(d!, `volume "${name}"`);
    }
    const opts = d?.mapOrList('driver_opts');
    const labels = objectLabels(d);
    if (opts && Object.keys(opts).length) v.driverOpts = opts;
    if (labels && Object.keys(labels).length) v.labels = labels;
    out.push(v);
  }
  return out;
}

/** Top-level configs and secrets: a repo file, a gateway file, inline content, or a variable. */
async function loadFileDefinitions(
  r: Reader,
  key: 'configs' | 'secrets',
  files: AppFiles,
  composeFile: string,
  vars: Variables,
  warn: ServiceScope['warn'],
  hostSecrets: Set<string>,
  projectDir: string | undefined,
): Promise<Map<string, FileSource>> {
  const out = new Map<string, FileSource>();
  const secret = key === 'secrets';
  for (const [name, d] of definitions(r, key)) {
    // The name is the file's name where it is written and mounted: never a path.
    if (!FILE_NAME.test(name) || name === '.' || name === '..') {
      r.ctx.at(
        r.here(key, name),
        `${key.slice(0, -1)} name ${JSON.stringify(name)} is not allowed: use letters, digits, ".", "_" and "-" ` +
          '(as the Compose specification does), not "." or ".."',
        'key',
      );
      out.set(name, { refused: true });
      continue;
    }
    // A definition that does not load is reported here, once: its uses are not "not declared".
    out.set(name, { refused: true });
    if (!d) {
      r.ctx.at(
        r.here(key, name),
        `${key.slice(0, -1)} "${name}" needs "file"${secret ? '' : ', "content"'} or "environment"`,
      );
      continue;
    }
    if (!checkKeys(d, secret ? SECRET_KEYS : CONFIG_KEYS, `${key.slice(0, -1)} "${name}"`, warn)) continue;
    const written = d.str('file');
    const file = written === undefined ? undefined : (inProject(projectDir, written) ?? written);
    const content = secret ? undefined : d.str('content');
    const env = d.str('environment');
    const given = [file, content, env].filter((x) => x !== undefined).length;
    if (given !== 1) {
      r.ctx.at(
        d.at,
        `${key.slice(0, -1)} "${name}" needs exactly one of "file"${secret ? '' : ', "content"'} and "environment"`,
      );
      continue;
    }
    if (file !== undefined) {
      if (file.startsWith('/')) {
        out.set(name, { host: file }); // a file of the gateway: per-device values that stay out of Git
        if (secret) hostSecrets.add(file);
        continue;
      }
      let repoPath: string;
      try {
        repoPath = resolveRepoPath(composeFile, file);
      } catch (err) {
        if (!(err instanceof RepoPathError)) throw err;
        r.ctx.at(d.here('file'), `${key.slice(0, -1)} "${name}": ${err.message}`);
        continue;
      }
      const f = await files.file(repoPath, d.here('file'), `${key.slice(0, -1)} "${name}" file`, secret);
      if (f) out.set(name, { repo: f });
    } else if (content !== undefined) out.set(name, { repo: files.content(name, content, d.here('content'), false) });
    else {
      const v = vars.get(env!);
      if (v === undefined) {
        r.ctx.at(
          d.here('environment'),
          `${key.slice(0, -1)} "${name}" takes variable ${env}, which is not set (set it in the fleet target's ` +
            `variables or the gateway's variables file)`,
        );
        continue;
      }
      out.set(name, { repo: files.content(name, v, d.here('environment'), secret) });
    }
  }
  return out;
}

export async function loadComposeApp(
  ctx: LoadContext,
  appName: string,
  y: YamlFile,
  inputs: AppInputs,
): Promise<DesiredApp | undefined> {
  const before = ctx.problems.count;
  const warn = (at: At, message: string) => {
    const pos = positionOf(at.y, at.path, 'key');
    const said = ctx.problems.concealer.conceal(message, { file: at.y.file, path: at.path });
    inputs.warn(`${at.y.file}:${pos.line}:${pos.column}: ${said}`);
  };
  if (!isMap(y.value)) {
    ctx.at({ y, path: [] }, 'a Compose file is a mapping with a "services" key');
    return undefined;
  }
  const unset: Unset = { first: new Map(), at: new Map() };
  const folder = projectFolder(ctx.stateDir ?? DEFAULT_STATE_DIR, appName, y.file);
  const pwdGiven = inputs.variables.has('PWD');
  const variables: Variables = pwdGiven ? inputs.variables : new Map([...inputs.variables, ['PWD', folder]]);
  const doc = interpolateTree(ctx, y, y.value, [], variables, unset) as Raw;
  for (const [name, path] of unset.first)
    warn({ y, path }, `variable ${name} is not set; it is replaced by an empty string, as in Compose`);
  const top = new Reader(ctx, { y, path: [] }, doc);
  checkKeys(top, TOP_LEVEL_KEYS, 'the Compose file', warn);
  const xr = (isMap(doc['x-rollgate']) ? doc['x-rollgate'] : {}) as {
    order?: unknown;
    strategy?: unknown;
    prune_volumes?: unknown;
    recreate_volumes?: unknown;
  };
  const x = new Reader(ctx, { y, path: ['x-rollgate'] }, xr as Raw);
  for (const k of Object.keys(xr))
    if (!['order', 'strategy', 'prune_volumes', 'recreate_volumes'].includes(k))
      ctx.at(
        x.here(k),
        `unsupported key "${k}" in x-rollgate (expected one of: order, strategy, prune_volumes, recreate_volumes)`,
        'key',
      );
  const order = x.num('order', { int: true, min: 1, max: 100 });
  const strategy = x.str('strategy');
  if (strategy !== undefined && strategy !== 'new-before-old' && strategy !== 'stop-first')
    x.bad('strategy', '"new-before-old" or "stop-first"');

  const project = projectName(top.str('name') ?? appName) || appName;
  const networks = loadNetworks(top, project, appName, warn);
  const volumes = loadVolumes(top, project, warn, x.bool('recreate_volumes') ?? false);
  const files = new AppFiles(ctx);
  const hostSecrets = new Set<string>();
  const projectDir = pwdGiven ? undefined : folder;
  const configs = await loadFileDefinitions(top, 'configs', files, y.file, variables, warn, hostSecrets, projectDir);
  const secrets = await loadFileDefinitions(top, 'secrets', files, y.file, variables, warn, hostSecrets, projectDir);

  const rawServices = doc['services'];
  if (!isMap(rawServices) || Object.keys(rawServices).length === 0) {
    ctx.at(
      { y, path: rawServices === undefined ? [] : ['services'] },
      'a Compose file needs "services", a mapping of service names to services',
    );
    return undefined;
  }
  const active = new Set(
    (inputs.variables.get('COMPOSE_PROFILES') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  const allNames = Object.keys(rawServices).sort();
  const serviceNames = new Set<string>();
  for (const name of allNames) {
    if (!SERVICE_NAME.test(name))
      ctx.at(
        { y, path: ['services', name] },
        `service name "${name}" is not allowed: use letters, digits, ".", "_" and "-"`,
        'key',
      );
    const s = rawServices[name];
    const profiles = isMap(s) && Array.isArray(s['profiles']) ? (s['profiles'] as unknown[]).map(String) : [];
    // Compose starts a service with profiles only when one of them is active (COMPOSE_PROFILES).
    if (profiles.length === 0 || profiles.some((p) => active.has(p) || p === '*') || active.has('*'))
      serviceNames.add(name);
  }
  for (const [name, o] of inputs.overrides)
    if (!(name in rawServices))
      ctx.at(o.at, `override for service "${name}", which app "${appName}" (${y.file}) does not define`, 'key');

  const scope: ServiceScope = {
    serviceNames,
    networks: new Set(networks.map((n) => n.name)),
    volumes: new Set(volumes.map((v) => v.name)),
    files,
    composeFile: y.file,
    configs,
    secrets,
    variable: (n) => variables.get(n),
    ...(projectDir ? { projectDir } : {}),
    unsetNote: (at) => unsetNote(unset, at.path),
    warn,
    readEnvFiles: (r, key) => readEnvFiles(ctx, y.file, r, key, variables),
  };
  const loaded = new Map<string, Awaited<ReturnType<typeof loadService>>>();
  for (const name of [...serviceNames]) {
    const s = rawServices[name];
    if (!isMap(s)) {
      ctx.at({ y, path: ['services', name] }, `service "${name}" must be a mapping`);
      continue;
    }
    loaded.set(name, await loadService(new Reader(ctx, { y, path: ['services', name] }, s), name, scope));
  }

  // links: the Engine resolves the alias to the linked service's name on the networks the two share.
  for (const [name, l] of loaded) {
    for (const link of l?.links ?? []) {
      const target = loaded.get(link.service)?.config;
      if (!target || link.alias === link.service) continue;
      if (!target.networks.some((n) => l!.config.networks.includes(n)))
        ctx.at(
          link.at,
          `links: "${name}" and "${link.service}" share no network, so the alias "${link.alias}" cannot reach it`,
        );
    }
  }

  const deps = new Map(
    [...loaded].map(([n, l]) => [n, Object.keys(l?.config.dependsOn ?? {}).filter((d) => loaded.has(d))]),
  );
  const cycle = findCycle(deps);
  if (cycle) ctx.at({ y, path: ['services', cycle[0]!, 'depends_on'] }, `depends_on cycle: ${cycle.join(' -> ')}`);
  const names = new Map<string, string>();
  for (const [name, l] of loaded) {
    const cn = l?.config.containerName;
    if (cn === undefined) continue;
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(cn))
      ctx.at(
        { y, path: ['services', name, 'container_name'] },
        `container_name "${cn}" is not a valid container name (letters, digits, "_", "." and "-", starting with ` +
          `a letter or digit)`,
      );
    if (names.has(cn))
      ctx.at(
        { y, path: ['services', name, 'container_name'] },
        `container_name "${cn}" is used by service "${names.get(cn)}" too`,
      );
    names.set(cn, name);
  }
  // The fleet target's overrides first: the policy judges what would run.
  for (const [name, l] of loaded) {
    const ov = inputs.overrides.get(name)?.fields;
    if (ov?.image && l) l.config.image = ov.image;
    if (ov?.environment && l) {
      for (const [k, v] of Object.entries(ov.environment)) l.config.environment[k] = String(v);
      // A name the target sets is no longer sent bare.
      const unset = l.config.environmentUnset?.filter((k) => !(k in ov.environment!));
      if (unset?.length) l.config.environmentUnset = unset;
      else delete l.config.environmentUnset;
    }
  }
  if (ctx.policy) checkPolicy(ctx, y, ctx.policy, { project, loaded, networks, volumes, overrides: inputs.overrides });
  if (ctx.problems.count > before) return undefined;

  const services: DesiredService[] = [];
  const netByName = new Map(networks.map((n) => [n.name, n]));
  const volByName = new Map(volumes.map((v) => [v.name, v]));
  let usesDefault = false;
  for (const name of [...loaded.keys()].sort()) {
    const l = loaded.get(name)!;
    const config = l.config;
    if (config.networks.includes('default')) usesDefault = true;
    const engineNets: Record<string, string> = {};
    for (const n of config.networks) {
      const e =
        netByName.get(n)?.engineName ?? (n === 'default' && project !== appName ? `${project}_default` : undefined);
      if (e) engineNets[n] = e;
    }
    const engineVols: Record<string, string> = {};
    for (const m of config.volumes) {
      if (m.type !== 'volume' || !m.source) continue;
      const v = volByName.get(m.source);
      const e = v?.engineName ?? (project !== appName ? `${project}_${m.source}` : undefined);
      if (e) engineVols[m.source] = e;
    }
    if (Object.keys(engineNets).length || Object.keys(engineVols).length) {
      config.engineNames = {
        ...(Object.keys(engineNets).length ? { networks: engineNets } : {}),
        ...(Object.keys(engineVols).length ? { volumes: engineVols } : {}),
      };
    }
    const hashes = [...new Set(config.volumes.flatMap((m) => (m.repo ? [m.repo.hash] : [])))].sort();
    if (hashes.length) config.files = hashes;
    services.push({
      name,
      config,
      configHash: configHash(config),
      ...(l.updateOrder ? { updateOrder: l.updateOrder } : {}),
      ...(l.pullPolicy ? { pullPolicy: l.pullPolicy } : {}),
    });
  }
  // Compose makes only the networks and volumes its services use; a definition nothing uses is left alone.
  const usedNets = new Set(services.flatMap((s) => s.config.networks));
  const usedVols = new Set(
    services.flatMap((s) => s.config.volumes.flatMap((m) => (m.type === 'volume' && m.source ? [m.source] : []))),
  );
  for (const [kind, defs, used] of [
    ['network', networks, usedNets],
    ['volume', volumes, usedVols],
  ] as const)
    for (const d of defs)
      if (!used.has(d.name) && !d.external)
        warn(
          { y, path: [`${kind}s`, d.name] },
          `${kind} "${d.name}" is used by no service, so it is not made, as with Compose`,
        );
  const nets = networks.filter((n) => usedNets.has(n.name)).sort((a, b) => (a.name < b.name ? -1 : 1));
  if (usesDefault && !netByName.has('default'))
    nets.unshift({
      name: 'default',
      driver: 'bridge',
      internal: false,
      ...(project !== appName ? { engineName: `${project}_default` } : {}),
    });
  // Engine names for the project prefix when `name:` differs from the app's name.
  for (const n of nets) if (!n.engineName && project !== appName) n.engineName = `${project}_${n.name}`;
  const vols = volumes.filter((v) => usedVols.has(v.name)).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const v of vols) if (!v.engineName && project !== appName) v.engineName = `${project}_${v.name}`;
  // Hashes of the definitions, without the key: what the Engine object was made from.
  for (const n of nets)
    if (!n.external) n.configHash = sha256Hex(canonicalJson({ ...n, name: undefined, configHash: undefined }));
  for (const v of vols)
    if (!v.external) v.configHash = sha256Hex(canonicalJson({ ...v, name: undefined, configHash: undefined }));
  const trees = [...files.trees.values()].filter((t) => services.some((s) => s.config.files?.includes(t.hash)));
  return {
    name: appName,
    order: order ?? DEFAULT_APP_ORDER,
    strategy: (strategy as UpdateStrategy | undefined) ?? 'new-before-old',
    pruneVolumes: x.bool('prune_volumes') ?? false,
    services,
    networks: nets,
    volumes: vols,
    ...(trees.length ? { files: trees.sort((a, b) => (a.hash < b.hash ? -1 : 1)) } : {}),
    ...(hostSecrets.size ? { hostSecretFiles: [...hostSecrets].sort() } : {}),
  };
}

/**
 * The gateway's policy over one app: its images, and every key of HOST_KEYS, on what the app
 * asks for once read (interpolated, merged, overridden), each breach at the place it was written.
 */
function checkPolicy(
  ctx: LoadContext,
  y: YamlFile,
  policy: GatewayPolicy,
  app: {
    project: string;
    loaded: Map<string, LoadedService | undefined>;
    networks: DesiredNetwork[];
    volumes: DesiredVolume[];
    overrides: ServiceOverrides;
  },
): void {
  const netName = (key: string) => app.networks.find((n) => n.name === key)?.engineName ?? `${app.project}_${key}`;
  const services: ServiceSubject[] = [];
  for (const [name, l] of app.loaded) {
    if (!l) continue;
    const override = app.overrides.get(name);
    for (const b of imageBreaches(l.config.image, policy)) {
      const at = override?.fields.image ? override.at : { y, path: ['services', name, 'image'] };
      ctx.breach(at, b.rule, `service "${name}": ${b.message}`);
    }
    services.push({
      name,
      config: l.config,
      mountAt: l.mountAt,
      portAt: l.portAt,
      networkNames: Object.fromEntries(l.config.networks.map((n) => [n, netName(n)])),
    });
  }
  const breaches = composeBreaches(
    {
      services,
      networks: app.networks.map((def) => ({ def, engineName: def.engineName ?? `${app.project}_${def.name}` })),
      volumes: app.volumes.map((def) => ({ def, engineName: def.engineName ?? `${app.project}_${def.name}` })),
    },
    policy,
  );
  for (const b of breaches) {
    const [scope, name] = b.path;
    ctx.breach({ y, path: b.path }, b.rule, scope === 'services' ? `service "${name}": ${b.message}` : b.message);
  }
}

async function readEnvFiles(
  ctx: LoadContext,
  composeFile: string,
  r: Reader,
  key: 'env_file' | 'label_file',
  vars: Variables,
): Promise<Record<string, string>> {
  const spec = r.raw[key];
  if (spec === undefined || spec === null) return {};
  const entries: { path: string; required: boolean; at: At }[] = [];
  if (typeof spec === 'string') entries.push({ path: spec, required: true, at: r.here(key) });
  else if (Array.isArray(spec)) {
    spec.forEach((e: unknown, i) => {
      const at = r.here(key, i);
      if (typeof e === 'string') entries.push({ path: e, required: true, at });
      else if (isMap(e) && typeof e['path'] === 'string') {
        for (const k of Object.keys(e))
          if (k !== 'path' && k !== 'required' && k !== 'format')
            ctx.at(r.here(key, i, k), `${key}: unsupported key "${k}" (expected path, required)`, 'key');
        if (e['format'] !== undefined && e['format'] !== 'raw')
          ctx.at(r.here(key, i, 'format'), `${key}: only format "raw" is supported besides the default`);
        entries.push({ path: e['path'], required: new Reader(ctx, at, e).bool('required') ?? true, at });
      } else r.bad([key, i], 'a path or { path, required }', e);
    });
  } else return r.bad(key, 'a path or a list of paths') ?? {};
  const env: Record<string, string> = {};
  for (const e of entries) {
    let repoPath: string;
    try {
      repoPath = resolveRepoPath(composeFile, e.path);
    } catch (err) {
      if (!(err instanceof RepoPathError)) throw err;
      ctx.at(e.at, `${key} ${JSON.stringify(e.path)}: ${err.message}`);
      continue;
    }
    if (!e.required && !(await ctx.source.read(repoPath, { maxBytes: MAX_ENV_FILE_BYTES }).catch(() => null))) continue;
    const f = await ctx.readNamed(e.at, repoPath, { maxBytes: MAX_ENV_FILE_BYTES }, key);
    if (!f) continue;
    const parsed = parseEnvFile(new TextDecoder().decode(f.bytes), vars, ctx.problems.concealer.names);
    for (const err of parsed.errors)
      ctx.problems.add({ file: repoPath, line: err.line, column: 1, message: err.message });
    Object.assign(env, parsed.env);
  }
  return env;
}
