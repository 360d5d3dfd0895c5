// Apps that are no longer desired: their containers stop in a stage of their own and go in
// finalize, then their networks; their named volumes are kept (safety rule 2).

import type { NetworkTarget, RemoveStep, ServiceTarget, Step } from '../model/index.js';
import { byString, type Builder } from './builder.js';
import { stepId } from './ids.js';

/** The stop steps of the containers of apps no longer desired (their removals go into finalize). */
export function planRemovedApps(b: Builder, desiredApps: Set<string>): Step[] {
  const steps: Step[] = [];
  const gone = b.observed.containers
    .filter((c) => !desiredApps.has(c.app))
    .sort((x, y) => byString(x.app, y.app) || byString(x.service, y.service) || byString(x.containerId, y.containerId));
  const removals: string[] = [];
  for (const c of gone) {
    const target: ServiceTarget = { kind: 'service', app: c.app, service: c.service };
    if (c.state !== 'exited' && c.state !== 'created' && c.state !== 'dead')
      steps.push({
        id: stepId('stop', target, c.containerId),
        kind: 'stop',
        target,
        dependsOn: [],
        containerId: c.containerId,
      });
    const rm: RemoveStep = {
      id: stepId('remove', target, c.containerId),
      kind: 'remove',
      target,
      dependsOn: [],
      containerId: c.containerId,
    };
    b.finalize.push(rm);
    removals.push(rm.id);
    b.changes.push({
      action: 'remove',
      target,
      from: c.configHash.slice(0, 12),
      reason: `app "${c.app}" is no longer desired`,
    });
  }
  for (const n of b.observed.networks
    .filter((x) => !desiredApps.has(x.app))
    .sort((x, y) => byString(x.app, y.app) || byString(x.name, y.name))) {
    const target: NetworkTarget = { kind: 'network', app: n.app, name: n.name };
    b.finalize.push({
      id: stepId('remove-network', target),
      kind: 'remove-network',
      target,
      dependsOn: removals,
      ...(n.engineName ? { engineName: n.engineName } : {}),
    });
    b.changes.push({ action: 'remove', target, reason: `app "${n.app}" is no longer desired` });
  }
  return steps;
}
