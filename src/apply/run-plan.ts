// Executes a Plan through the appliers as one transaction: prepare everything first, then the
// stages in order (concurrent inside a stage, as the steps' dependencies allow), then confirm,
// then finalize. A failure before finalize undoes every step that ran: the stages newest first,
// each as concurrently as it ran.

import { randomUUID } from 'node:crypto';
import type { DesiredState, Plan, Step } from '../model/index.js';
import { applierFor, RefusedError, type Applier, type StepContext } from './applier.js';
import { crashPoint } from './crash-points.js';
import type { Journal } from './journal.js';
import { message, newOutcome, type ApplyOutcome, type FailureHook, type StepHook } from './outcome.js';
import { runGraph } from './run-graph.js';
import type { StateScriptRunner } from './state-scripts.js';
import { Transaction } from './transaction.js';
import { undoAll } from './undo.js';
import type { Log } from '../base/log.js';

export { NoApplierError } from './applier.js';
export { TransactionSuspendedError, type ApplyOutcome, type FailureHook, type StepHook } from './outcome.js';
export { resumeJournal, type ResumeOptions, type ResumeOutcome } from './resume.js';

export interface ApplyOptions {
  appliers: Applier[];
  desired: DesiredState;
  log: Log;
  journal: Journal;
  /** Steps running at once inside a stage. */
  concurrency?: number;
  /** Pulls and downloads running at once. */
  prepareConcurrency?: number;
  /** The gate between the stages and finalize (the health window); throw to roll back. */
  confirm?: () => Promise<void>;
  /** Called once the transaction has failed and before anything is undone, so the verdict is on disk first. */
  onFailure?: FailureHook;
  /** The system's Mender state scripts, run at the transaction's stages. */
  scripts?: StateScriptRunner;
  /** Called as each step of the plan starts, with its place among them all (what STATUS= shows). */
  onStep?: StepHook;
}

export async function applyPlan(plan: Plan, opts: ApplyOptions): Promise<ApplyOutcome> {
  const { appliers, journal, log } = opts;
  const all = [...plan.prepare, ...plan.stages.flatMap((s) => s.steps), ...plan.finalize];
  for (const s of all) applierFor(appliers, s); // refuse before touching anything
  const txn = randomUUID();
  const ctx: StepContext = { txn, desired: opts.desired, plan, log };
  const t = new Transaction(
    journal,
    appliers,
    ctx,
    opts.concurrency ?? 4,
    opts.confirm,
    newOutcome(txn),
    opts.onFailure,
    opts.scripts,
    opts.onStep,
  );

  await journal.begin(txn, plan, opts.desired);
  log.info(
    {
      txn,
      commit: plan.desired.source.commit,
      changes: plan.changes.length,
      ...(plan.order ? { order: plan.order.chosen } : {}),
    },
    `applying ${plan.changes.length} change(s)${plan.order ? `; order: ${plan.order.reason}` : ''}`,
  );
  // Download's state scripts wrap the prepare phase; a failing one is a failed prepare.
  let prepFail: { step?: Step; err: unknown } | undefined;
  try {
    // What only the gateway can judge (paths as they resolve here), before anything runs.
    for (const a of appliers) await a.vet?.(plan, ctx);
    await t.script('Download', 'Enter');
    prepFail = await runGraph(plan.prepare, opts.prepareConcurrency ?? 3, t.exec);
    if (!prepFail) await t.script('Download', 'Leave');
  } catch (err) {
    prepFail = { err };
  }
  if (prepFail) {
    // Nothing running was touched (safety rule 1); downloads still get their Cleanup.
    const error = message(prepFail.err);
    await t.script('Download', 'Error');
    await journal.phase('rolling-back', error);
    await undoAll(journal.current, appliers, journal, ctx, t.outcome, opts.concurrency ?? 4);
    await journal.clear();
    return {
      ...t.outcome,
      status: 'prepare-failed',
      error,
      ...(prepFail.step ? { failedStep: prepFail.step.id } : {}),
      ...(prepFail.err instanceof RefusedError ? { refused: prepFail.err.kind } : {}),
    };
  }

  await t.orSuspend(journal.phase('stages'));
  crashPoint('stages');
  t.watch();
  try {
    const failure = await t.stages();
    if (failure) return await t.rollback(failure);
    return await t.finish('stages');
  } finally {
    t.unwatch();
  }
}
