// The live gateway as the agent and the CLI reach it: the Docker Engine's socket and registry credentials,
// the update interfaces' directories, the reboot command and the state directory.

import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import {
  DEFAULT_CACHE_BYTES,
  DEFAULT_INTERFACE_DIRS,
  DEFAULT_REBOOT_COMMAND,
  DockerApplier,
  DockerError,
  Engine,
  hostPaths,
  InterfaceApplier,
  isQuery,
  isState,
  observeGateway,
  QUERIES,
  socketFromHost,
  STATES,
  type GatewayAppliers,
  type InterfaceTimeouts,
  type Log,
  type RegistryAuth,
} from '../apply/index.js';
import type { DesiredState, ObservedState } from '../model/index.js';
import { parseEnvFile } from '../manifest/index.js';
import { parseDuration } from '../manifest/duration.js';

export const DEFAULT_STATE_DIR = '/var/lib/rollgate';

export interface GatewayOptions {
  dockerHost?: string;
  registryAuthFile?: string;
  stateDir?: string;
  interfacesDir?: string[];
  rebootCommand?: string;
  artifactCacheSize?: string;
  interfaceTimeout?: string;
  /** `State=duration` pairs (the flag, repeated) or a map of them (the agent's configuration). */
  interfaceStateTimeout?: string[] | Record<string, string>;
  interfaceKillGrace?: string;
  rebootWait?: string;
}

/** `{ "registry.example.com": { username, password } }`, YAML or JSON. */
export async function readRegistryAuth(file: string): Promise<RegistryAuth> {
  let doc: unknown;
  try {
    doc = parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the registry credentials file ${file}: ${(err as Error).message}`);
  }
  const bad = () =>
    new Error(
      `${file}: expected a map of registry host to { username, password }, e.g.\n  registry.example.com:\n    username: gateway\n    password: s3cret`,
    );
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw bad();
  const out: RegistryAuth = {};
  for (const [host, v] of Object.entries(doc as Record<string, unknown>)) {
    const c = v as { username?: unknown; password?: unknown } | null;
    if (!c || typeof c.username !== 'string' || typeof c.password !== 'string')
      throw new Error(`${file}: registry "${host}" needs a username and a password (strings)`);
    out[host] = { username: c.username, password: c.password };
  }
  return out;
}

export async function dockerApplier(o: GatewayOptions, log: Log): Promise<DockerApplier> {
  const engine = new Engine({ socketPath: socketFromHost(o.dockerHost ?? process.env['DOCKER_HOST']) });
  await engine.ping();
  const registryAuth = o.registryAuthFile ? await readRegistryAuth(o.registryAuthFile) : undefined;
  log.debug({ socket: engine.socketPath }, 'Docker Engine reachable');
  return new DockerApplier(engine, {
    ...(registryAuth ? { registryAuth } : {}),
    paths: hostPaths(resolve(o.stateDir ?? DEFAULT_STATE_DIR)),
  });
}

/**
 * The gateway's own variables for Compose files: variables files (the .env format), then
 * `--var KEY=value`, later ones winning. Their values are never logged.
 */
export async function readVariables(files: string[] = [], pairs: string[] = []): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new Error(
        `cannot read the variables file ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (err as Error).message}`,
      );
    }
    const parsed = parseEnvFile(text, new Map(Object.entries(out)));
    if (parsed.errors.length)
      throw new Error(
        `the variables file ${file} is not KEY=value lines:\n${parsed.errors.map((e) => `  ${file}:${e.line}: ${e.message}`).join('\n')}`,
      );
    Object.assign(out, parsed.env);
  }
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(p.slice(0, eq)))
      throw new Error(`--var takes KEY=value (KEY of letters, digits and _), got "${p.slice(0, 40)}"`);
    out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return out;
}

/** `1G`, `512M`, `64K` or a number of bytes. */
export function parseSize(text: string, what: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*([KMGT]i?B?|B)?$/i.exec(text.trim());
  if (!m) throw new Error(`${what}: "${text}" is not a size (e.g. 512M, 2G, or bytes)`);
  const unit = (m[2] ?? 'B').toUpperCase()[0]!;
  const mult = { B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[unit as 'B'] ?? 1;
  return Math.round(Number(m[1]) * mult);
}

/** A duration setting in milliseconds; an error naming the setting when it is not one. */
export function durationMs(text: string, what: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new Error(`${what}: "${text}" is not a duration (e.g. 30s, 5m, 4h)`);
  return ms;
}

function duration(text: string | undefined, what: string): number | undefined {
  return text === undefined ? undefined : durationMs(text, what);
}

/** `Download=30m`-style settings, checked: every name a protocol state or query, every value a duration. */
export function stateTimeouts(
  given: string[] | Record<string, string> | undefined,
  what = '--interface-state-timeout',
): InterfaceTimeouts['perState'] {
  const pairs: [string, string][] = [];
  if (Array.isArray(given)) {
    for (const p of given) {
      const eq = p.indexOf('=');
      if (eq <= 0) throw new Error(`${what}: expected State=duration (e.g. Download=30m), got "${p}"`);
      pairs.push([p.slice(0, eq).trim(), p.slice(eq + 1).trim()]);
    }
  } else if (given) pairs.push(...Object.entries(given));
  const out: InterfaceTimeouts['perState'] = {};
  for (const [name, text] of pairs) {
    if (!isState(name) && !isQuery(name))
      throw new Error(
        `${what}: "${name}" is not a state or query of the update-interface protocol (states: ${STATES.join(', ')}; queries: ${QUERIES.join(', ')})`,
      );
    out[name] = durationMs(text, `${what} ${name}`);
  }
  return out;
}

export function interfaceApplier(o: GatewayOptions, log: Log): InterfaceApplier {
  const stateMs = duration(o.interfaceTimeout, '--interface-timeout');
  const perState = stateTimeouts(o.interfaceStateTimeout);
  const killGraceMs = duration(o.interfaceKillGrace, '--interface-kill-grace');
  const rebootWaitMs = duration(o.rebootWait, '--reboot-wait');
  const reboot = o.rebootCommand?.trim().split(/\s+/).filter(Boolean);
  return new InterfaceApplier({
    interfacesDirs:
      o.interfacesDir && o.interfacesDir.length > 0 ? o.interfacesDir.map((d) => resolve(d)) : DEFAULT_INTERFACE_DIRS,
    stateDir: resolve(o.stateDir ?? DEFAULT_STATE_DIR),
    cacheMaxBytes: o.artifactCacheSize ? parseSize(o.artifactCacheSize, '--artifact-cache-size') : DEFAULT_CACHE_BYTES,
    rebootCommand: reboot && reboot.length > 0 ? reboot : DEFAULT_REBOOT_COMMAND,
    ...(rebootWaitMs !== undefined ? { rebootWaitMs } : {}),
    timeouts: {
      ...(stateMs !== undefined ? { stateMs } : {}),
      ...(killGraceMs !== undefined ? { killGraceMs } : {}),
      perState,
    },
    log,
  });
}

/**
 * The appliers this gateway needs for `desired`: the Docker Engine is required when the desired
 * state has apps and used if reachable otherwise (to remove apps no longer desired).
 */
export async function gatewayAppliers(o: GatewayOptions, log: Log, desired?: DesiredState): Promise<GatewayAppliers> {
  const needsDocker =
    (desired?.apps.length ?? 0) > 0 || o.dockerHost !== undefined || process.env['DOCKER_HOST'] !== undefined;
  let docker: DockerApplier | undefined;
  try {
    docker = await dockerApplier(o, log);
  } catch (err) {
    if (needsDocker || !(err instanceof DockerError)) throw err;
    log.info(
      {},
      `no Docker Engine reachable (${err.message}); no apps are desired, so only device components are handled`,
    );
  }
  return { ...(docker ? { docker } : {}), interfaces: interfaceApplier(o, log) };
}

/** The live gateway, read-only. */
export async function observeLive(o: GatewayOptions, log: Log, desired?: DesiredState): Promise<ObservedState> {
  return observeGateway(await gatewayAppliers(o, log, desired), desired, log);
}
