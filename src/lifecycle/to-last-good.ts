// After a failed commit has been undone by its own transaction: converge the gateway to the last
// good commit's desired state (containers whose undo fell short are put right from the images
// still on the gateway; components are already back through ArtifactRollback), then check that
// state's health. If the last good state is unhealthy too, say so and stop there: rolling back
// further, or again, would only loop.

import { interruptionOf, TransactionSuspendedError } from '../apply/index.js';
import type { Log } from '../base/log.js';
import type { HealthVerdict } from '../health/index.js';
import type { BadCommit } from '../model/index.js';
import type { RollbackSummary } from './verdict.js';
import { shortCommit } from '../base/short-commit.js';

/** A health verdict, and whether the Docker Engine went away while it was taken (then it says nothing). */
export type WatchedHealth = HealthVerdict & { engineWentAway?: boolean };

/** Converge and check again at most this often when the Engine went away during the health window. */
const MAX_ENGINE_RETRIES = 3;

/** The gateway stopped the rollback (the Engine away past the bound, the disk full): not a result, a pause. */
export function isInterruption(err: unknown): boolean {
  return err instanceof TransactionSuspendedError || interruptionOf(err) !== undefined;
}

export interface Convergence {
  ok: boolean;
  error?: string;
  /** Steps it took; none when the undo had already put everything back. */
  steps: string[];
}

export interface RollbackDeps {
  lastGood?: string;
  converge(commit: string): Promise<Convergence>;
  health(commit: string): Promise<WatchedHealth>;
  log: Log;
}

export interface RollbackReport extends RollbackSummary {
  failed: BadCommit;
}

export async function rollBackToLastGood(failed: BadCommit, deps: RollbackDeps): Promise<RollbackReport> {
  const { log } = deps;
  if (!deps.lastGood) {
    log.warn(
      { failed: failed.commit },
      `commit ${shortCommit(failed.commit)} failed (${failed.reason}); no commit has been good on this gateway yet, ` +
        `so it stays as the failed apply's rollback left it`,
    );
    return { failed, converged: true, steps: [] };
  }
  const to = deps.lastGood;
  log.warn(
    { failed: failed.commit, to },
    `rolling back to the last good commit ${shortCommit(to)} after ${shortCommit(failed.commit)} failed: ` +
      failed.reason,
  );
  const steps: string[] = [];
  let verdict: WatchedHealth;
  for (let attempt = 1; ; attempt++) {
    let conv: Convergence;
    try {
      conv = await deps.converge(to);
    } catch (err) {
      if (isInterruption(err)) throw err; // not a result: the rollback goes on once the gateway is back
      conv = { ok: false, error: (err as Error).message, steps: [] };
    }
    steps.push(...conv.steps);
    if (!conv.ok) {
      log.error(
        { to, err: conv.error },
        `could not converge to the last good commit ${shortCommit(to)}: ${conv.error}; the gateway is left as it is`,
      );
      return { failed, to, converged: false, ...(conv.error ? { convergeError: conv.error } : {}), steps };
    }
    if (conv.steps.length > 0)
      log.info({ to, steps: conv.steps }, `converged to ${shortCommit(to)} in ${conv.steps.length} step(s)`);
    verdict = await deps.health(to);
    if (verdict.ok || !verdict.engineWentAway || attempt >= MAX_ENGINE_RETRIES) break;
    // What the Engine's restart stopped is converged back, and the health window runs again in full.
    log.warn(
      { to, reason: verdict.reason },
      `the Docker Engine went away during the health window of the last good commit ${shortCommit(to)} ` +
        `(${verdict.reason}); converging again and checking again`,
    );
  }
  if (!verdict.ok) {
    log.error(
      { to, reason: verdict.reason },
      `the last good commit ${shortCommit(to)} is unhealthy too: ${verdict.reason}. The gateway is kept as it is and ` +
        `nothing else is rolled back; push a fix to the branch`,
    );
    return {
      failed,
      to,
      converged: true,
      steps,
      healthy: false,
      ...(verdict.reason ? { healthReason: verdict.reason } : {}),
    };
  }
  log.info({ to }, `rolled back: the gateway runs the last good commit ${shortCommit(to)} and it is healthy`);
  return { failed, to, converged: true, steps, healthy: true };
}
