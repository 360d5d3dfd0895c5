// The live gateway as the agent and the CLI reach it: the Docker Engine's socket and registry
// credentials, the update interfaces' directories, the reboot command and the state directory.
// Its appliers are built once (the Engine pinged and the credentials read once, when first
// needed) and bound to a fleet repo per commit without changing them.

import { randomUUID } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { open, readFile, type FileHandle } from 'node:fs/promises';
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
  type RegistryAuth,
} from '../apply/index.js';
import type { DesiredState, ObservedState, ReportedComponent, ReportedContainer } from '../model/index.js';
import { parseEnvFile } from '../manifest/index.js';
import { durationMs, parseSize } from '../base/duration.js';
import { DEFAULT_STATE_DIR, statePath } from '../base/state-dir.js';
import { writeFileAtomic } from '../base/atomic-write.js';
import type { Log } from '../base/log.js';
import { processSecrets } from '../base/redact.js';
import type { GatewayPolicy, RepoSource } from '../manifest/index.js';
import { readArtifactKeys } from '../trust/index.js';
import { GatewayConfigError } from '../base/config-error.js';
import { holdsRollgateObjects } from './engine-probe.js';

export { DEFAULT_STATE_DIR };

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
  /** PEM public keys artifacts must be signed with (trust.artifactKeys, --artifact-key). */
  artifactKeys?: string[];
  /** The gateway's policy, for what only the gateway can judge: paths as they resolve here. */
  policy?: GatewayPolicy;
  /** How long a step waits for an Engine that went away before the transaction is paused (docker.engineWait). */
  engineWait?: string;
  /**
   * The agent's: with no apps desired, the Engine client is made only when a transaction is in
   * flight or the Engine holds rollgate's objects (to remove, or another instance's to report), so a
   * gateway of devices never loads it. Otherwise it is made whenever an Engine answers: the CLI's
   * observation lists the images present.
   */
  engineWhenNeeded?: boolean;
}

/** `{ "registry.example.com": { username, password } }`, YAML or JSON. */
export async function readRegistryAuth(file: string): Promise<RegistryAuth> {
  let doc: unknown;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new GatewayConfigError(
      `cannot read the registry credentials file ${file}: ${(err as Error).message}`,
      'docker.registryAuthFile',
    );
  }
  try {
    doc = parse(text);
  } catch (err) {
    // The parser's message quotes the file around the error: a password, here. Only where and what.
    const e = err as { linePos?: { line: number; col: number }[]; code?: string };
    const at = e.linePos?.[0];
    throw new GatewayConfigError(
      `the registry credentials file ${file} is not valid YAML or JSON` +
        (at ? ` (line ${at.line}, column ${at.col}${e.code ? `: ${e.code}` : ''})` : '') +
        '; its content is not shown, as it holds passwords',
      'docker.registryAuthFile',
    );
  }
  const bad = () =>
    new GatewayConfigError(
      `${file}: expected a map of registry host to { username, password }, e.g.\n  registry.example.com:\n    ` +
        `username: gateway\n    password: s3cret`,
      'docker.registryAuthFile',
    );
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw bad();
  const out: RegistryAuth = {};
  for (const [host, v] of Object.entries(doc as Record<string, unknown>)) {
    const c = v as { username?: unknown; password?: unknown } | null;
    if (!c || typeof c.username !== 'string' || typeof c.password !== 'string')
      throw new GatewayConfigError(
        `${file}: registry "${host}" needs a username and a password (strings)`,
        'docker.registryAuthFile',
      );
    out[host] = { username: c.username, password: c.password };
    // A user name is who, not a secret; the pair is what a basic-auth header carries (base64).
    processSecrets.add([c.password, `${c.username}:${c.password}`]);
  }
  return out;
}

/**
 * The identity of a state directory, made on first use: a random id in `<stateDir>/owner`. The
 * Docker objects its agent creates carry it, so two state directories on one Engine never touch
 * each other's apps. Undefined for a state directory that does not exist or cannot be written
 * (a read-only `diff` or `observe`, which then sees every rollgate app).
 */
export async function ownerOf(stateDir: string): Promise<string | undefined> {
  const file = statePath(stateDir, 'owner');
  try {
    const id = (await readFile(file, 'utf8')).trim();
    if (/^[0-9a-f-]{36}$/.test(id)) return id;
    throw new Error(`${file} does not hold an owner id (a UUID); it was changed outside rollgate`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (!existsSync(stateDir)) return undefined;
  const id = randomUUID();
  try {
    await writeFileAtomic(file, `${id}\n`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM') return undefined;
    throw err;
  }
  return id;
}

function isSocket(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isSocket() === true;
}

export async function dockerApplier(o: GatewayOptions, log: Log): Promise<DockerApplier> {
  const reconnectMs = duration(o.engineWait, 'docker.engineWait');
  const engine = new Engine({
    socketPath: socketFromHost(o.dockerHost ?? process.env['DOCKER_HOST']),
    ...(reconnectMs !== undefined ? { reconnectMs } : {}),
  });
  await engine.ping();
  const registryAuth = o.registryAuthFile ? await readRegistryAuth(o.registryAuthFile) : undefined;
  log.debug({ socket: engine.socketPath }, 'Docker Engine reachable');
  const stateDir = resolve(o.stateDir ?? DEFAULT_STATE_DIR);
  const owner = await ownerOf(stateDir);
  return new DockerApplier(engine, {
    ...(registryAuth ? { registryAuth } : {}),
    paths: hostPaths(stateDir),
    ...(owner ? { owner } : {}),
    ...(o.policy ? { policy: o.policy } : {}),
  });
}

/**
 * The gateway's own variables for Compose files: variables files (the .env format), then
 * `--var KEY=value`, later ones winning. Their values are secrets of this process (processSecrets):
 * never logged, reported or printed.
 */
export async function readVariables(files: string[] = [], pairs: string[] = []): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (err as Error).message;
      throw new GatewayConfigError(`cannot read the variables file ${file}: ${why}`, 'gateway.variablesFile');
    }
    const parsed = parseEnvFile(text, new Map(Object.entries(out)));
    // Its values are secrets: the lines at fault are named, never quoted.
    if (parsed.errors.length)
      throw new GatewayConfigError(
        `the variables file ${file} is not KEY=value lines (the lines are not shown, as they may hold ` +
          `secrets):\n${parsed.errors.map((e) => `  ${file}:${e.line}: ${e.brief}`).join('\n')}`,
        'gateway.variablesFile',
      );
    Object.assign(out, parsed.env);
  }
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(p.slice(0, eq)))
      throw new Error('--var takes KEY=value (KEY of letters, digits and _); one of them is not (not shown)');
    out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  processSecrets.add(Object.values(out));
  return out;
}

/** The most of a gateway secret file read to keep its content out of output (a key, a token, a certificate). */
const MAX_HOST_SECRET_BYTES = 64 * 1024;

/**
 * The gateway files the desired state mounts as secrets, read into processSecrets before anything
 * runs: a container, a hook or a health check that prints one is scrubbed like the variables. A
 * file that cannot be read is left to the Engine, which says so when it mounts it.
 */
export async function readHostSecrets(desired: DesiredState): Promise<void> {
  for (const file of new Set(desired.apps.flatMap((a) => a.hostSecretFiles ?? []))) {
    let handle: FileHandle | undefined;
    try {
      handle = await open(file, 'r');
      const buf = Buffer.alloc(MAX_HOST_SECRET_BYTES);
      const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
      processSecrets.add([buf.subarray(0, bytesRead).toString('utf8')]);
    } catch {
      // Missing or unreadable: nothing of it can be printed by what runs, either.
    } finally {
      await handle?.close();
    }
  }
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
        `${what}: "${name}" is not a state or query of the update-interface protocol ` +
          `(states: ${STATES.join(', ')}; queries: ${QUERIES.join(', ')})`,
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
  const artifactKeys = o.artifactKeys?.length ? readArtifactKeys(o.artifactKeys) : undefined;
  return new InterfaceApplier({
    ...(artifactKeys ? { artifactKeys } : {}),
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
 * One gateway's appliers. The Docker applier is made on first need and kept: the Engine is
 * required when the desired state has apps, and used if reachable otherwise (to remove apps no
 * longer desired). The interface applier is made once; `appliers(desired, repo)` binds a copy to
 * the commit's repo, sharing its artifact cache.
 */
export class Gateway {
  private docker?: DockerApplier;
  private readonly interfaces: InterfaceApplier;

  constructor(
    readonly options: GatewayOptions,
    private readonly log: Log,
  ) {
    this.interfaces = interfaceApplier(options, log);
  }

  async appliers(desired?: DesiredState, repo?: RepoSource): Promise<GatewayAppliers> {
    if (desired) await readHostSecrets(desired);
    const docker = await this.dockerFor(desired);
    return { ...(docker ? { docker } : {}), interfaces: repo ? this.interfaces.forRepo(repo) : this.interfaces };
  }

  /** The live gateway, read-only. */
  async observe(desired?: DesiredState): Promise<ObservedState> {
    return observeGateway(await this.appliers(desired), desired, this.log);
  }

  /**
   * What runs here, cheaply and read-only, for a report: component versions from rollgate's own
   * records (no interface is called) and this state directory's containers as the Engine lists them.
   */
  async inventory(): Promise<{ components: ReportedComponent[]; containers: ReportedContainer[] }> {
    const components = (await this.interfaces.records()).map((r) => ({
      key: r.target.key,
      type: r.target.type,
      ...(r.installed !== undefined ? { version: r.installed } : {}),
      ...(r.update ? { updating: true } : {}),
    }));
    if (!this.docker && (!this.options.engineWhenNeeded || (await this.engineNeeded()))) {
      try {
        this.docker = await dockerApplier(this.options, this.log);
      } catch {
        // No Engine: a gateway of device components only. Not logged: the reconcile says it once.
      }
    }
    const docker = this.docker;
    const containers = docker
      ? (await docker.observe()).containers.map((c) => ({
          app: c.app,
          service: c.service,
          image: c.image,
          state: c.state,
          ...(c.health ? { health: c.health } : {}),
          ...(c.commit ? { commit: c.commit } : {}),
        }))
      : [];
    return { components, containers };
  }

  /**
   * Whether this gateway has a Docker Engine is read from its socket, however it was named (a flag,
   * DOCKER_HOST or the default): no socket there (nothing, or a directory a bind mount left) is a
   * gateway of device components only, fine while no apps are desired; a socket that refuses, or
   * that this user may not use, is an error, since apps it runs would otherwise go unseen.
   */
  private async dockerFor(desired: DesiredState | undefined): Promise<DockerApplier | undefined> {
    if (this.docker) return this.docker;
    const o = this.options;
    if (o.engineWhenNeeded && !desired?.apps.length && !(await this.engineNeeded())) return undefined;
    try {
      this.docker = await dockerApplier(o, this.log);
      this.noEngine = undefined;
      return this.docker;
    } catch (err) {
      let socket: string | undefined;
      try {
        socket = socketFromHost(o.dockerHost ?? process.env['DOCKER_HOST']);
      } catch {
        // not a unix socket: the error says so
      }
      const absent = err instanceof DockerError && socket !== undefined && !isSocket(socket);
      if (!absent || (desired?.apps.length ?? 0) > 0) throw err;
      this.noEngine = err.message;
      this.log.info({}, `${err.message}; no apps are desired, so only device components are handled`);
      return undefined;
    }
  }

  /**
   * With no apps desired, whether the Engine client is needed all the same: a transaction in flight
   * (its steps may be the Engine's), or rollgate's objects on the Engine. An Engine that does not
   * answer the question (no socket, refused, not allowed) is left to dockerFor, which says why.
   */
  private async engineNeeded(): Promise<boolean> {
    if (existsSync(statePath(resolve(this.options.stateDir ?? DEFAULT_STATE_DIR), 'journal'))) return true;
    try {
      const socket = socketFromHost(this.options.dockerHost ?? process.env['DOCKER_HOST']);
      return !isSocket(socket) || (await holdsRollgateObjects(socket));
    } catch {
      return true;
    }
  }

  /** Why the last look found no Docker Engine on this gateway (no socket where it was looked for). */
  noEngine: string | undefined;
}
