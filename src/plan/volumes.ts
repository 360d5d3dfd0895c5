// An app's named volumes: made when missing; a changed definition is refused, naming the volume,
// because recreating it drops its data; removed only when the app asks (x-rollgate.prune_volumes).

import type { DesiredApp, VolumeTarget } from '../model/index.js';
import { byString, type AppSteps, type Builder } from './builder.js';
import { PlanError } from './errors.js';
import { stepId } from './ids.js';

/** The observed volume that is this desired one: the same key under another Engine name (recreate_volumes) is not. */
function sameVolume(
  app: DesiredApp,
  o: { app: string; name: string; engineName?: string },
  v: { name: string; engineName?: string },
): boolean {
  return (
    o.app === app.name &&
    o.name === v.name &&
    (o.engineName ?? `${app.name}_${o.name}`) === (v.engineName ?? `${app.name}_${v.name}`)
  );
}

/** A volume whose definition changed since it was made is refused: rollgate never drops data silently. */
export function checkVolumeDefinitions(b: Builder, app: DesiredApp): void {
  for (const v of app.volumes) {
    const seen = b.observedVolumes(app.name, v.name).find((o) => sameVolume(app, o, v))?.configHash;
    if (seen && v.configHash && seen !== v.configHash) {
      throw new PlanError(
        `volume "${v.name}" of app "${app.name}" is defined differently from the volume on the gateway (driver, ` +
          `options or name changed); recreating it would drop its data, which rollgate never does silently: ` +
          `back it up and remove it by hand (docker volume rm), give the volume a new key, or set x-rollgate: { ` +
          `recreate_volumes: true } to have a changed volume made anew, empty, beside the old one`,
        `volume ${app.name}/${v.name}`,
      );
    }
  }
}

/** Declared volumes the gateway does not have yet. */
export function planNewVolumes(b: Builder, a: AppSteps): void {
  const app = a.app;
  for (const v of app.volumes) {
    if (b.observedVolumes(app.name, v.name).some((o) => sameVolume(app, o, v)) || v.external) continue;
    const target: VolumeTarget = { kind: 'volume', app: app.name, name: v.name };
    a.steps.push({
      id: stepId('create-volume', target),
      kind: 'create-volume',
      target,
      dependsOn: [],
      ...(v.engineName ? { engineName: v.engineName } : {}),
    });
    a.infra.push(stepId('create-volume', target));
    b.changes.push({ action: 'add', target, reason: 'named volume' });
  }
}

/** With x-rollgate.prune_volumes, volumes no longer declared go in finalize, after the containers removed there. */
export function planRemovedVolumes(b: Builder, a: AppSteps, removals: string[]): void {
  const app = a.app;
  if (!app.pruneVolumes) return;
  const desired = new Set(app.volumes.map((v) => v.name));
  for (const v of [...(b.volumesByApp.get(app.name) ?? new Set<string>())].sort(byString)) {
    if (desired.has(v)) continue;
    const target: VolumeTarget = { kind: 'volume', app: app.name, name: v };
    const engineName = b.engineNames.get(`volume/${app.name}/${v}`);
    a.fin.push({
      id: stepId('remove-volume', target),
      kind: 'remove-volume',
      target,
      dependsOn: removals,
      ...(engineName ? { engineName } : {}),
    });
    b.changes.push({ action: 'remove', target, reason: 'volume no longer declared (x-rollgate.prune_volumes)' });
  }
}
