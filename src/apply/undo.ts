// Undoing a transaction: every step that ran, the stages newest first and then prepare, each
// stage as concurrently as it ran. An undo the gateway interrupts (the Engine away, the disk full)
// stops the rest, to go on later from the journal.

import type { Step } from '../model/index.js';
import { applierFor, interruptionOf, UndoImpossibleError, type Interruption, type StepContext } from './applier.js';
import type { Applier } from './applier.js';
import { crashPoint } from './crash-points.js';
import type { Journal, JournalData } from './journal.js';
import { message } from './outcome.js';
import { runGraph } from './run-graph.js';

function isPermanent(err: unknown): boolean {
  return err instanceof UndoImpossibleError;
}

export interface UndoTally {
  undone: string[];
  undoErrors: string[];
  /** Undo errors that retrying cannot fix (an interface without rollback). */
  permanentUndoErrors?: number;
  /** An undo that could not run because of the gateway (the Engine away, the disk full): not an undo error. */
  interrupted?: { kind: Interruption; err: unknown };
}

/**
 * Undoes every step that ran: the stages newest first, then prepare. Inside a stage, steps run
 * concurrently just as they did forwards, so they are undone concurrently too, each after the
 * steps that depended on it (a new container is stopped before the old one starts again). An
 * undo that fails does not hold the others back: the rest of the gateway is still put back.
 */
export async function undoAll(
  data: JournalData,
  appliers: Applier[],
  journal: Journal,
  ctx: StepContext,
  outcome: UndoTally,
  limit: number,
): Promise<void> {
  const ran = (s: Step) => {
    const rec = data.steps[s.id];
    return rec !== undefined && rec.status !== 'undone';
  };
  const phases = [...data.plan.stages.map((s) => s.steps)].reverse();
  phases.push(data.plan.prepare);
  for (const phase of phases) {
    if (outcome.interrupted) return;
    const todo = phase.filter(ran);
    if (todo.length === 0) continue;
    // The undo of a step waits for the undo of every step that depended on it.
    const dependents = new Map<string, string[]>();
    for (const s of todo) for (const d of s.dependsOn) dependents.set(d, [...(dependents.get(d) ?? []), s.id]);
    const reversed = todo.map((s) => ({ ...s, dependsOn: dependents.get(s.id) ?? [] }));
    await runGraph(reversed, limit, async (step) => {
      if (outcome.interrupted) return; // the rest waits for the gateway too, from the journal
      const rec = data.steps[step.id];
      if (rec === undefined) return; // only steps that ran are in the graph
      crashPoint('undo');
      try {
        await applierFor(appliers, step).undo(step, rec, ctx);
        await journal.step(step.id, { ...rec, status: 'undone' });
        outcome.undone.push(step.id);
        ctx.log.info({ step: step.id }, `undid ${step.id}`);
      } catch (err) {
        const kind = interruptionOf(err);
        if (kind) {
          // The undo waits for the gateway and goes on later, from the journal (safety rule 4).
          outcome.interrupted ??= { kind, err };
          return;
        }
        outcome.undoErrors.push(`${step.id}: ${message(err)}`);
        ctx.log.error({ step: step.id, err: message(err) }, `could not undo ${step.id}: ${message(err)}`);
        if (isPermanent(err)) {
          outcome.permanentUndoErrors = (outcome.permanentUndoErrors ?? 0) + 1;
          await journal.step(step.id, { ...rec, status: 'undone', error: message(err) });
        }
      }
    });
  }
}
