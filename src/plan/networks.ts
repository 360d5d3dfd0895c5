// An app's networks: made when missing, made again when their definition changed (the containers
// on them with them), removed from finalize when no longer declared. External ones are never touched.

import type { DesiredApp, NetworkTarget } from '../model/index.js';
import { byString, type AppSteps, type Builder } from './builder.js';
import { stepId } from './ids.js';

/**
 * Networks whose definition changed since the Engine object was made (its label says so; objects
 * made before rollgate labelled definitions carry no hash and are taken as they are).
 */
export function changedNetworks(b: Builder, app: DesiredApp): Set<string> {
  const networks = new Set<string>();
  for (const n of app.networks) {
    const seen = b.observedNetwork(app.name, n.name)?.configHash;
    if (seen && n.configHash && seen !== n.configHash) networks.add(n.name);
  }
  return networks;
}

/**
 * A changed network is removed and made again once every container on it has stopped; the
 * services on it get new containers on the new network (stop-first: they cannot overlap).
 */
export function planRecreatedNetworks(b: Builder, a: AppSteps): void {
  const app = a.app;
  for (const n of app.networks.filter((x) => a.recreated.has(x.name))) {
    const target: NetworkTarget = { kind: 'network', app: app.name, name: n.name };
    const observed = b.observedNetwork(app.name, n.name);
    const id = stepId('recreate-network', target);
    a.steps.push({
      id,
      kind: 'recreate-network',
      target,
      dependsOn: a.stopsBeforeRecreate,
      ...(n.engineName ? { engineName: n.engineName } : {}),
      ...(observed?.spec ? { previous: observed.spec } : {}),
    });
    a.recreateIds.push(id);
    b.changes.push({
      action: 'change',
      target,
      ...(observed?.configHash ? { from: observed.configHash.slice(0, 12) } : {}),
      ...(n.configHash ? { to: n.configHash.slice(0, 12) } : {}),
      reason: 'its definition changed: it is made again, and the containers on it with it (stop-first)',
    });
  }
}

/** Declared networks the gateway does not have yet. */
export function planNewNetworks(b: Builder, a: AppSteps): void {
  const app = a.app;
  const have = b.networksByApp.get(app.name) ?? new Set<string>();
  for (const n of app.networks) {
    if (have.has(n.name) || n.external) continue;
    const target: NetworkTarget = { kind: 'network', app: app.name, name: n.name };
    a.steps.push({
      id: stepId('create-network', target),
      kind: 'create-network',
      target,
      dependsOn: [],
      ...(n.engineName ? { engineName: n.engineName } : {}),
    });
    a.infra.push(stepId('create-network', target));
    b.changes.push({ action: 'add', target, reason: 'network' });
  }
}

/** Networks of the app no longer declared go in finalize, after the containers removed there. */
export function planRemovedNetworks(b: Builder, a: AppSteps, removals: string[]): void {
  const app = a.app;
  const desired = new Set(app.networks.map((n) => n.name));
  for (const n of [...(b.networksByApp.get(app.name) ?? new Set<string>())].sort(byString)) {
    if (desired.has(n)) continue;
    const target: NetworkTarget = { kind: 'network', app: app.name, name: n };
    const engineName = b.engineNames.get(`network/${app.name}/${n}`);
    a.fin.push({
      id: stepId('remove-network', target),
      kind: 'remove-network',
      target,
      dependsOn: removals,
      ...(engineName ? { engineName } : {}),
    });
    b.changes.push({ action: 'remove', target, reason: 'network no longer declared' });
  }
}
