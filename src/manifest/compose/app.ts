// A Compose file -> DesiredApp. The file is read as `docker compose` reads it: YAML anchors and
// merge keys, then ${VAR} interpolation from the app's variables, then every key checked against
// the specification; every problem of every service is reported in the one run.

import type { DesiredApp, DesiredService, ServiceConfig, UpdateStrategy } from '../../model/index.js';
import { DEFAULT_STATE_DIR } from '../../base/state-dir.js';
import { canonicalJson, sha256Hex } from '../canonical.js';
import type { At, LoadContext } from '../context.js';
import { findCycle } from '../graph.js';
import { positionOf, type YamlFile } from '../yaml-file.js';
import { checkPolicy } from './app-policy.js';
import { interpolateTree, projectFolder, readEnvFiles, unsetNote, type Unset } from './app-variables.js';
import { loadFileDefinitions, loadNetworks, loadVolumes } from './definitions.js';
import { appWindow } from './app-window.js';
import { AppFiles } from './files.js';
import type { Variables } from './interpolate.js';
import { checkKeys, TOP_LEVEL_KEYS } from './keys.js';
import { loadService, type ServiceScope } from './service.js';
import { isMap, Reader, type Raw } from './values.js';

export const DEFAULT_APP_ORDER = 100;
const SERVICE_NAME = /^[a-zA-Z0-9._-]+$/;

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

/** Compose's project names: lower case letters, digits, dashes and underscores. */
function projectName(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9_-]/g, '');
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
    window?: unknown;
  };
  const x = new Reader(ctx, { y, path: ['x-rollgate'] }, xr as Raw);
  for (const k of Object.keys(xr))
    if (!['order', 'strategy', 'prune_volumes', 'recreate_volumes', 'window'].includes(k))
      ctx.at(
        x.here(k),
        `unsupported key "${k}" in x-rollgate (expected one of: order, strategy, prune_volumes, recreate_volumes, ` +
          'window)',
        'key',
      );
  const window = xr.window === undefined ? undefined : appWindow(ctx, y, appName);
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
    ...(window ? { window } : {}),
    services,
    networks: nets,
    volumes: vols,
    ...(trees.length ? { files: trees.sort((a, b) => (a.hash < b.hash ? -1 : 1)) } : {}),
    ...(hostSecrets.size ? { hostSecretFiles: [...hostSecrets].sort() } : {}),
  };
}
