// The live gateway as one ObservedState, from each applier's read-only queries.

import { emptyObservedState, type DesiredState, type ObservedState } from '../model/index.js';
import type { DockerApplier } from './docker/applier.js';
import type { InterfaceApplier } from './interface/applier.js';
import { silentLog, type Log } from '../base/log.js';

export interface GatewayAppliers {
  docker?: DockerApplier;
  interfaces?: InterfaceApplier;
}

/**
 * Observes containers through the Engine and components through their interfaces: those of
 * `desired` when given (the components the fleet repo names), else those rollgate has records of.
 */
/** Images of services with a pull_policy that re-resolves: those whose tag moved in the registry are reported. */
export function refreshableImages(
  desired: DesiredState | undefined,
  due: (image: string, everyMs: number | undefined) => boolean = () => true,
): string[] {
  const out = new Set<string>();
  for (const app of desired?.apps ?? []) {
    for (const s of app.services) {
      const p = s.pullPolicy;
      if (p === 'always' || (typeof p === 'object' && due(s.config.image, p.everyMs)))
        if (!s.config.image.includes('@')) out.add(s.config.image);
    }
  }
  return [...out].sort();
}

export async function observeGateway(
  a: GatewayAppliers,
  desired?: DesiredState,
  log: Log = silentLog,
  opts: { refreshImages?: string[] } = {},
): Promise<ObservedState> {
  const parts = [a.docker ? `Docker Engine at unix://${a.docker.engine.socketPath}` : 'no Docker Engine'];
  if (a.interfaces) parts.push('update interfaces');
  const observed = emptyObservedState(`live gateway (${parts.join(', ')})`);
  if (a.docker) {
    const { foreign, ...docker } = await a.docker.observe();
    Object.assign(observed, docker);
    for (const f of foreign)
      log.warn(
        { app: f.app, owner: f.owner },
        `app ${f.app} on this Engine belongs to another rollgate instance (state directory owner ${f.owner}); ` +
          'it is reported, never touched',
      );
  }
  if (a.docker && desired) {
    const seen = new Set(observed.volumes.map((v) => `${v.app}/${v.name}`));
    const wanted = desired.apps.flatMap((app) =>
      app.volumes
        .filter((v) => !v.external && !seen.has(`${app.name}/${v.name}`))
        .map((v) => ({ app: app.name, name: v.name, ...(v.engineName ? { engineName: v.engineName } : {}) })),
    );
    if (wanted.length) observed.volumes.push(...(await a.docker.adoptVolumes(wanted, log)));
    // service_healthy on a service whose healthcheck must come from its image: read it now, so a
    // dependency that can never be healthy is refused before anything runs.
    const refs = new Set<string>();
    for (const app of desired.apps) {
      for (const s of app.services) {
        for (const [dep, c] of Object.entries(s.config.dependsOn)) {
          const d = app.services.find((x) => x.name === dep);
          if (
            c.condition === 'service_healthy' &&
            d &&
            !d.config.healthcheck &&
            observed.images.includes(d.config.image)
          )
            refs.add(d.config.image);
        }
      }
    }
    const without = await a.docker.imagesWithoutHealthcheck([...refs].sort());
    if (without.length) observed.imagesWithoutHealthcheck = without;
  }
  if (a.docker && opts.refreshImages?.length) {
    const moved = await a.docker.movedImages(opts.refreshImages, log);
    if (moved.length) observed.movedImages = moved;
  }
  if (a.interfaces) {
    const targets = desired?.components ?? (await a.interfaces.recorded());
    observed.components = await a.interfaces.observe(targets, log, desired?.system ?? '');
  }
  return observed;
}
