// The runs of the gateway's reconcile that the lifecycle starts, and what each is given: the state
// directory and its settings, the health window as the gate of a transaction, and convergence to
// a commit's desired state (a rollback's target, drift).

import { crashPoint } from '../apply/crash-points.js';
import type { GatewayAppliers } from '../apply/index.js';
import { reconcileOnce } from '../gateway/reconcile.js';
import { HealthFailedError, type HealthVerdict } from '../health/index.js';
import type { ActivityProgress, DesiredState, Plan } from '../model/index.js';
import type { LifecyclePorts } from './ports.js';
import { shortCommit } from '../base/short-commit.js';
import type { Convergence, WatchedHealth } from './to-last-good.js';

/** What every run is given: the state directory, the log, the concurrency and the state scripts' deadlines. */
export function runSettings(p: LifecyclePorts) {
  return {
    stateDir: p.stateDir,
    log: p.log,
    concurrency: p.concurrency,
    ...(p.scriptTimeouts ? { scriptTimeouts: p.scriptTimeouts } : {}),
  };
}

/** Tells the agent of each step a run has started. */
export const onStep = (p: LifecyclePorts) => (s: Extract<ActivityProgress, { kind: 'step' }>) => p.events.progress?.(s);

/** Tells the agent a health window begins, and when it passes at the earliest and fails at the latest. */
export function healthBegins(p: LifecyclePorts, desired: DesiredState, commit: string | undefined): void {
  const at = Date.now();
  p.events.activity('health', commit, {
    kind: 'health',
    passAt: new Date(at + desired.health.windowMs).toISOString(),
    failAt: new Date(at + desired.health.deadlineMs).toISOString(),
  });
}

/** The health window of a desired state; throws HealthFailedError to roll the transaction back. */
export function healthGate(
  p: LifecyclePorts,
  desired: DesiredState,
  a: GatewayAppliers,
  verdicts: HealthVerdict[],
): () => Promise<void> {
  return async () => {
    const commit = desired.source.commit;
    healthBegins(p, desired, commit);
    crashPoint('confirm');
    const v = await p.health(desired, a, shortCommit(commit));
    verdicts.push(v);
    if (!v.ok) throw new HealthFailedError(v);
    // The components' commits and the removal of replaced containers follow.
    p.events.activity('applying', commit);
  };
}

/** The health window, noting whether the Docker Engine went away while it ran (then it says nothing). */
async function watchedHealth(
  p: LifecyclePorts,
  desired: DesiredState,
  a: GatewayAppliers,
  subject: string,
): Promise<WatchedHealth> {
  const watch = a.docker?.watch();
  try {
    const v = await p.health(desired, a, subject);
    return !v.ok && (await watch?.check()) ? { ...v, engineWentAway: true } : v;
  } finally {
    watch?.stop();
  }
}

/** The health of the last good commit, once the gateway is back on it. */
export async function lastGoodHealth(p: LifecyclePorts, c: string): Promise<WatchedHealth> {
  const { desired } = await p.load(c);
  const a = await p.appliers(desired);
  healthBegins(p, desired, c);
  return watchedHealth(p, desired, a, `last good ${shortCommit(c)}`);
}

/**
 * Takes the gateway to a commit's desired state (the rollback target, drift). Without a health
 * gate, except when an image moved in the registry: that is a new release of the service, so
 * it passes the health window or is put back, as a commit would.
 */
export async function converge(p: LifecyclePorts, commit: string, refresh = false): Promise<Convergence> {
  const { desired, repo } = await p.load(commit);
  const a = await p.appliers(desired, repo);
  const refreshImages = refresh ? p.dueImages(desired) : [];
  const gate = refreshImages.length
    ? {
        refreshImages,
        confirm: healthGate(p, desired, a, []),
        gateIf: (plan: Plan) => plan.changes.some((c) => c.cause === 'registry'),
      }
    : {};
  const r = await reconcileOnce(desired, { ...a, ...runSettings(p), ...gate, onStep: onStep(p) });
  const o = r.outcome;
  if (!o || o.status === 'applied') return { ok: true, steps: o?.ran ?? [] };
  return { ok: false, error: o.error ?? o.status, steps: [...o.ran, ...o.undone] };
}
