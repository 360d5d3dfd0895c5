// The gateway's policy where only the gateway can judge it (safety rule 9): the rows of the
// policy's table marked atApply — bind sources, devices, volumes that bind a host path, volumes
// rollgate did not make — checked again on what the gateway has now. The Engine follows symlinks
// in these paths, so a link under an allowed directory (one a container wrote there, say) that
// points at /etc is judged as /etc. Run before the plan starts and right before each container is
// created; a breach refuses the commit (RefusedError 'forbidden'), recorded like any breach.

import { lstat, readlink, realpath } from 'node:fs/promises';
import { posix } from 'node:path';
import {
  composeBreaches,
  localVolumeKind,
  type ComposeSubject,
  type GatewayPolicy,
  type ServiceSubject,
} from '../../manifest/index.js';
import type { DesiredApp, DesiredService, VolumeMount } from '../../model/index.js';
import { RefusedError } from '../applier.js';
import { bindSource, engineVolume, type HostPaths } from './container-spec.js';
import type { DockerEnv } from './env.js';
import { unmanagedVolume } from './volume-steps.js';

/** Links followed before a path is taken as a loop (the kernel's own limit is 40). */
const MAX_LINKS = 40;

/**
 * What `path` resolves to on this host, every symlink followed — also where it does not exist
 * yet, as a directory made there (Compose creates missing bind sources) would be: a dangling link
 * is followed to where it points.
 */
export async function resolveOnHost(path: string, links = 0): Promise<string> {
  if (links > MAX_LINKS) throw new Error(`${path}: too many levels of symbolic links`);
  try {
    return await realpath(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
  }
  const st = await lstat(path).catch(() => undefined);
  if (st?.isSymbolicLink()) return resolveOnHost(posix.resolve(posix.dirname(path), await readlink(path)), links + 1);
  const parent = posix.dirname(path);
  if (parent === path) return path;
  return posix.join(await resolveOnHost(parent, links + 1), posix.basename(path));
}

/** The operator's own entries, and what they resolve to: an allowed directory may itself be a link. */
async function withResolved(entries: readonly string[] | undefined, extra: string[] = []): Promise<string[]> {
  const all = [...(entries ?? []), ...extra];
  const resolved = await Promise.all(all.filter((e) => e.startsWith('/')).map((e) => resolveOnHost(e).catch(() => e)));
  return [...new Set([...all, ...resolved])];
}

export interface HostFacts {
  /** Whether a volume of this Engine name is on the gateway without rollgate's labels. */
  unmanaged(engineName: string): Promise<boolean>;
}

/**
 * What a service about to be created breaks of the policy on this gateway, as messages; empty
 * when nothing. Repo files and data directories must resolve inside the state directory.
 */
export async function hostBreaches(
  app: DesiredApp,
  svc: DesiredService,
  policy: GatewayPolicy,
  paths: HostPaths,
  facts: HostFacts,
): Promise<string[]> {
  const resolvedFrom = new Map<string, string>();
  const unresolved: string[] = [];
  const resolve = async (p: string) => {
    let r: string;
    try {
      r = await resolveOnHost(p);
    } catch (err) {
      // A loop or an unreadable link is no path the policy can allow: refused, and judged no further.
      unresolved.push(
        `forbidden by this gateway's policy: ${app.name}/${svc.name}: ${p} cannot be resolved on this gateway ` +
          `(${(err as Error).message})`,
      );
      return 'unresolved';
    }
    if (r !== p) resolvedFrom.set(r, p);
    return r;
  };
  const volumes: VolumeMount[] = [];
  for (const v of svc.config.volumes) {
    if (v.type !== 'bind') {
      volumes.push(v);
      continue;
    }
    // Repo files and data directories too, as plain binds: where they resolve must be allowed.
    const source = await resolve(bindSource(paths, app.name, v)!);
    volumes.push({ type: 'bind', source, target: v.target, readOnly: v.readOnly });
  }
  const devices: string[] = [];
  for (const d of svc.config.devices) {
    const [host, ...rest] = d.split(':');
    devices.push([await resolve(host!), ...rest].join(':'));
  }
  const service: ServiceSubject = {
    name: svc.name,
    config: { ...svc.config, volumes, devices },
    mountAt: volumes.map((_, i) => ['volumes', i]),
    portAt: [],
    networkNames: {},
  };
  const subject: ComposeSubject = { services: [service], networks: [], volumes: [] };
  const mounted = new Set(svc.config.volumes.flatMap((v) => (v.type === 'volume' && v.source ? [v.source] : [])));
  for (const def of app.volumes) {
    if (!mounted.has(def.name)) continue;
    const engineName = engineVolume(app.name, svc.config, def.name);
    let driverOpts = def.driverOpts;
    if (def.driver === 'local' && driverOpts && localVolumeKind(driverOpts) === 'bind' && driverOpts['device'])
      driverOpts = { ...driverOpts, device: await resolve(driverOpts['device']) };
    subject.volumes.push({
      def: { ...def, ...(driverOpts ? { driverOpts } : {}) },
      engineName,
      ...((await facts.unmanaged(engineName)) ? { unmanaged: true } : {}),
    });
  }
  const effective: GatewayPolicy = {
    ...policy,
    // The state directory's own files and data directories are always allowed: where rollgate writes them.
    bindPaths: await withResolved(policy.bindPaths, [paths.files, paths.data]),
    devices: await withResolved(policy.devices),
  };
  if (unresolved.length) return unresolved;
  return composeBreaches(subject, effective, (row) => row.atApply === true).map((b) => {
    const links = [...resolvedFrom]
      .filter(([to]) => b.message.includes(to))
      .map(([to, from]) => `${from} resolves to ${to} on this gateway`);
    return (
      `forbidden by this gateway's ${b.rule}: ${app.name}/${svc.name}: ${b.message}` +
      (links.length ? ` (${links.join('; ')})` : '')
    );
  });
}

/** Throws the refusal when there is a breach. */
export async function refuseHostBreaches(...args: Parameters<typeof hostBreaches>): Promise<void> {
  const found = await hostBreaches(...args);
  if (found.length) throw new RefusedError('forbidden', found.join('; '));
}

/** The policy on this gateway's paths and volumes for one service, as they are now (safety rule 9). */
export async function vetService(env: DockerEnv, app: DesiredApp, svc: DesiredService): Promise<void> {
  if (!env.opts.policy) return;
  await refuseHostBreaches(app, svc, env.opts.policy, env.paths, {
    unmanaged: (name) => unmanagedVolume(env, name),
  });
}
