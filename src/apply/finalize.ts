// Finalize: after the change is confirmed, the steps that clean up (replaced containers removed,
// components' Cleanup) and each applier's housekeeping. A failure here does not undo anything:
// the change stands, and the next reconcile cleans up.

import type { Step } from '../model/index.js';
import { applierFor, type Applier, type StepContext } from './applier.js';
import { crashPoint } from './crash-points.js';
import type { Journal, JournalData } from './journal.js';
import { message, type ApplyOutcome } from './outcome.js';
import { runGraph } from './run-graph.js';

/** Every finalize step not done yet (commits are the commit phase's), then each applier's housekeeping. */
export async function finalizeAll(
  data: JournalData,
  appliers: Applier[],
  journal: Journal,
  ctx: StepContext,
  limit: number,
  outcome: Pick<ApplyOutcome, 'finalizeErrors'> & { ran?: string[] },
  started?: (step: Step) => void,
): Promise<void> {
  const todo = data.plan.finalize.filter((s) => s.kind !== 'commit' && data.steps[s.id]?.status !== 'done');
  // A failed finalize step does not stop the others: the change is confirmed and stands.
  await runGraph(todo, limit, async (step) => {
    started?.(step);
    await journal.step(step.id, { status: 'started' });
    crashPoint('finalize');
    try {
      const r = await applierFor(appliers, step).run(step, ctx);
      journal.stepDone(step.id, { ...r, status: 'done' });
      outcome.ran?.push(step.id);
    } catch (err) {
      await journal.step(step.id, { status: 'failed', error: message(err) });
      outcome.finalizeErrors.push(`${step.id}: ${message(err)}`);
      ctx.log.warn(
        { step: step.id, err: message(err) },
        `finalize step ${step.id} failed; the next reconcile cleans up: ${message(err)}`,
      );
    }
  });
  for (const a of appliers) {
    try {
      await a.afterFinalize?.(data.plan, data.steps, ctx);
    } catch (err) {
      outcome.finalizeErrors.push(`${a.name} housekeeping: ${message(err)}`);
      ctx.log.warn({ applier: a.name, err: message(err) }, `${a.name} housekeeping failed: ${message(err)}`);
    }
  }
}
