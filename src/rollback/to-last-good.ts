// After a failed commit has been undone by its own transaction: converge the gateway to the last
// good commit's desired state (containers whose undo fell short are put right from the images
// still on the gateway; components are already back through ArtifactRollback), then check that
// state's health. If the last good state is unhealthy too, say so and stop there: rolling back
// further, or again, would only loop.

import type { Log } from '../base/log.js';
import type { HealthVerdict } from '../health/index.js';
import type { BadCommit } from '../model/index.js';
import type { RollbackSummary } from './verdict.js';

export interface Convergence {
  ok: boolean;
  error?: string;
  /** Steps it took; none when the undo had already put everything back. */
  steps: string[];
}

export interface RollbackDeps {
  lastGood?: string;
  converge(commit: string): Promise<Convergence>;
  health(commit: string): Promise<HealthVerdict>;
  log: Log;
}

export interface RollbackReport extends RollbackSummary {
  failed: BadCommit;
}

const short = (c: string) => c.slice(0, 12);

export async function rollBackToLastGood(failed: BadCommit, deps: RollbackDeps): Promise<RollbackReport> {
  const { log } = deps;
  if (!deps.lastGood) {
    log.warn(
      { failed: failed.commit },
      `commit ${short(failed.commit)} failed (${failed.reason}); no commit has been good on this gateway yet, ` +
        `so it stays as the failed apply's rollback left it`,
    );
    return { failed, converged: true, steps: [] };
  }
  const to = deps.lastGood;
  log.warn(
    { failed: failed.commit, to },
    `rolling back to the last good commit ${short(to)} after ${short(failed.commit)} failed: ${failed.reason}`,
  );
  let conv: Convergence;
  try {
    conv = await deps.converge(to);
  } catch (err) {
    conv = { ok: false, error: (err as Error).message, steps: [] };
  }
  if (!conv.ok) {
    log.error(
      { to, err: conv.error },
      `could not converge to the last good commit ${short(to)}: ${conv.error}; the gateway is left as it is`,
    );
    return { failed, to, converged: false, ...(conv.error ? { convergeError: conv.error } : {}), steps: conv.steps };
  }
  if (conv.steps.length > 0)
    log.info({ to, steps: conv.steps }, `converged to ${short(to)} in ${conv.steps.length} step(s)`);
  const verdict = await deps.health(to);
  if (!verdict.ok) {
    log.error(
      { to, reason: verdict.reason },
      `the last good commit ${short(to)} is unhealthy too: ${verdict.reason}. The gateway is kept as it is and ` +
        `nothing else is rolled back; push a fix to the branch`,
    );
    return {
      failed,
      to,
      converged: true,
      steps: conv.steps,
      healthy: false,
      ...(verdict.reason ? { healthReason: verdict.reason } : {}),
    };
  }
  log.info({ to }, `rolled back: the gateway runs the last good commit ${short(to)} and it is healthy`);
  return { failed, to, converged: true, steps: conv.steps, healthy: true };
}
