// The live gateway as one ObservedState, from each applier's read-only queries.

import { emptyObservedState, type DesiredState, type ObservedState } from '../model/index.js';
import type { DockerApplier } from './docker/applier.js';
import type { InterfaceApplier } from './interface/applier.js';
import { silentLog, type Log } from './log.js';

export interface GatewayAppliers {
  docker?: DockerApplier;
  interfaces?: InterfaceApplier;
}

/**
 * Observes containers through the Engine and components through their interfaces: those of
 * `desired` when given (the components the fleet repo names), else those rollgate has records of.
 */
export async function observeGateway(a: GatewayAppliers, desired?: DesiredState, log: Log = silentLog): Promise<ObservedState> {
  const parts = [a.docker ? `Docker Engine at unix://${a.docker.engine.socketPath}` : 'no Docker Engine'];
  if (a.interfaces) parts.push('update interfaces');
  const observed = emptyObservedState(`live gateway (${parts.join(', ')})`);
  if (a.docker) Object.assign(observed, await a.docker.observe());
  if (a.interfaces) {
    const targets = desired?.components ?? (await a.interfaces.recorded());
    observed.components = await a.interfaces.observe(targets, log, desired?.system ?? '');
  }
  return observed;
}
