// The live gateway as one ObservedState, from each applier's read-only queries.

import { emptyObservedState, type ObservedState } from '../model/index.js';
import type { DockerApplier } from './docker/applier.js';

export interface GatewayAppliers {
  docker?: DockerApplier;
}

export async function observeGateway(a: GatewayAppliers): Promise<ObservedState> {
  const parts = [a.docker ? `Docker Engine at unix://${a.docker.engine.socketPath}` : 'no Docker Engine'];
  const observed = emptyObservedState(`live gateway (${parts.join(', ')})`);
  if (a.docker) Object.assign(observed, await a.docker.observe());
  return observed;
}
