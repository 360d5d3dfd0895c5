// Downloads ahead of a maintenance window (README "Maintenance windows"): while the window gate
// defers a commit, what its transaction will fetch — the images of its pull steps, the artifacts
// of its download steps — is fetched now, so the install in the window starts from what is on
// the gateway. Only fetching: no container is created or replaced, no interface is called, no
// journal is written; the transaction in the window plans again and finds the images present and
// the artifacts in the cache.

import { applierFor, observeGateway, type GatewayAppliers } from '../apply/index.js';
import type { Log } from '../base/log.js';
import type { DesiredState } from '../model/index.js';
import { plan as makePlan } from '../plan/index.js';
import { appliersOf } from './reconcile.js';

/** What was fetched ahead: image references pulled, artifacts in the cache (a repo path, or a URL's sha256). */
export interface Prefetched {
  images: string[];
  artifacts: string[];
}

/**
 * Fetches, one after another, what the plan from the live gateway to `desired` fetches in its
 * prepare phase. Throws the first failure (an unreachable registry, a download cut short): the
 * caller says why and tries again later; what was fetched before it stays.
 */
export async function prefetch(desired: DesiredState, a: GatewayAppliers, log: Log): Promise<Prefetched> {
  const plan = makePlan(desired, await observeGateway(a, desired, log));
  const appliers = appliersOf(a);
  const done: Prefetched = { images: [], artifacts: [] };
  const ctx = { txn: `prefetch-${desired.source.commit ?? 'local'}`, desired, plan, log };
  for (const step of plan.prepare) {
    const applier = applierFor(appliers, step);
    if (!(await applier.prefetch?.(step, ctx))) continue;
    if (step.kind === 'pull') done.images.push(step.image);
    else if (step.kind === 'download') {
      const a = desired.components.find((c) => c.key === step.target.key)?.artifact;
      // Components that share an artifact share one copy in the cache: it is counted once.
      const name = a?.kind === 'url' ? `sha256:${a.sha256}` : (a?.path ?? step.target.key);
      if (!done.artifacts.includes(name)) done.artifacts.push(name);
    }
  }
  return done;
}

/** `2 images and 1 artifact`, or undefined when nothing was fetched. */
export function prefetchedText(p: Prefetched): string | undefined {
  const n = (k: number, one: string) => `${k} ${one}${k === 1 ? '' : 's'}`;
  const parts = [
    ...(p.images.length ? [n(p.images.length, 'image')] : []),
    ...(p.artifacts.length ? [n(p.artifacts.length, 'artifact')] : []),
  ];
  return parts.length ? parts.join(' and ') : undefined;
}
