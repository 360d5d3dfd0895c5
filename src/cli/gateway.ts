// The live gateway as the CLI reaches it: the Docker Engine's socket and registry credentials.

import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { DockerApplier, Engine, observeGateway, socketFromHost, type Log, type RegistryAuth } from '../apply/index.js';
import type { ObservedState } from '../model/index.js';

export interface GatewayOptions {
  dockerHost?: string;
  registryAuthFile?: string;
}

/** `{ "registry.example.com": { username, password } }`, YAML or JSON. */
export async function readRegistryAuth(file: string): Promise<RegistryAuth> {
  let doc: unknown;
  try {
    doc = parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the registry credentials file ${file}: ${(err as Error).message}`);
  }
  const bad = () => new Error(`${file}: expected a map of registry host to { username, password }, e.g.\n  registry.example.com:\n    username: gateway\n    password: s3cret`);
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw bad();
  const out: RegistryAuth = {};
  for (const [host, v] of Object.entries(doc as Record<string, unknown>)) {
    const c = v as { username?: unknown; password?: unknown } | null;
    if (!c || typeof c.username !== 'string' || typeof c.password !== 'string') throw new Error(`${file}: registry "${host}" needs a username and a password (strings)`);
    out[host] = { username: c.username, password: c.password };
  }
  return out;
}

export async function dockerApplier(o: GatewayOptions, log: Log): Promise<DockerApplier> {
  const engine = new Engine({ socketPath: socketFromHost(o.dockerHost ?? process.env['DOCKER_HOST']) });
  await engine.ping();
  const registryAuth = o.registryAuthFile ? await readRegistryAuth(o.registryAuthFile) : undefined;
  log.debug({ socket: engine.socketPath }, 'Docker Engine reachable');
  return new DockerApplier(engine, { ...(registryAuth ? { registryAuth } : {}) });
}

/** The live gateway, read-only. */
export async function observeLive(o: GatewayOptions, log: Log): Promise<ObservedState> {
  return observeGateway({ docker: await dockerApplier(o, log) });
}
