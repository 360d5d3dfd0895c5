// Executes a Plan through the appliers as one transaction: prepare everything first, then the
// stages in order (concurrent inside a stage, as the steps' dependencies allow), then confirm,
// then finalize. A failure before finalize undoes every step that ran, newest first.

import { randomUUID } from 'node:crypto';
import type { DesiredState, Plan, Step } from '../model/index.js';
import type { Applier, StepContext, StepRecord } from './applier.js';
import { crashPoint } from './crash-points.js';
import { Journal, type JournalData } from './journal.js';
import type { Log } from './log.js';

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
}

export type ApplyStatus = 'applied' | 'prepare-failed' | 'rolled-back' | 'rollback-incomplete';

export interface ApplyOutcome {
  txn: string;
  status: ApplyStatus;
  /** What failed, in the operator's terms, naming the step. */
  error?: string;
  failedStep?: string;
  /** Steps that ran (done or failed) and steps undone, in order. */
  ran: string[];
  undone: string[];
  /** Undo steps that failed: the gateway may not be exactly as before. */
  undoErrors: string[];
  /** Finalize steps that failed; the change stands, the next reconcile cleans up. */
  finalizeErrors: string[];
}

export class NoApplierError extends Error {
  override name = 'NoApplierError';
}

function applierFor(appliers: Applier[], step: Step): Applier {
  const a = appliers.find((x) => x.handles(step));
  if (!a) throw new NoApplierError(`no applier in this build executes "${step.kind}" steps (${step.id})`);
  return a;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Runs steps as their dependencies allow, at most `limit` at once. On the first failure no new
 * step starts; steps already running finish. Dependencies outside `steps` count as met.
 */
async function runGraph(steps: Step[], limit: number, exec: (s: Step) => Promise<void>): Promise<{ step: Step; err: unknown } | undefined> {
  const ids = new Set(steps.map((s) => s.id));
  const done = new Set<string>();
  const pending = [...steps];
  let running = 0;
  let failure: { step: Step; err: unknown } | undefined;
  return new Promise((resolve) => {
    const pump = () => {
      if (failure || pending.length === 0) {
        if (running === 0) resolve(failure);
        return;
      }
      for (let i = 0; i < pending.length && running < limit; ) {
        const s = pending[i]!;
        if (s.dependsOn.every((d) => done.has(d) || !ids.has(d))) {
          pending.splice(i, 1);
          running++;
          exec(s).then(
            () => {
              running--;
              done.add(s.id);
              pump();
            },
            (err: unknown) => {
              running--;
              failure ??= { step: s, err };
              pump();
            },
          );
        } else i++;
      }
      if (running === 0 && pending.length > 0 && !failure) {
        failure = { step: pending[0]!, err: new Error(`steps wait on each other and cannot start: ${pending.map((p) => p.id).join(', ')}`) };
        resolve(failure);
      }
    };
    pump();
  });
}

async function undoAll(data: JournalData, appliers: Applier[], journal: Journal, ctx: StepContext, outcome: Pick<ApplyOutcome, 'undone' | 'undoErrors'>): Promise<void> {
  const steps = new Map([...data.plan.prepare, ...data.plan.stages.flatMap((s) => s.steps)].map((s) => [s.id, s]));
  for (const id of [...data.order].reverse()) {
    const rec = data.steps[id];
    const step = steps.get(id);
    if (!rec || !step || rec.status === 'undone') continue;
    crashPoint('undo');
    try {
      await applierFor(appliers, step).undo(step, rec, ctx);
      await journal.step(id, { ...rec, status: 'undone' });
      outcome.undone.push(id);
      ctx.log.info({ step: id }, `undid ${id}`);
    } catch (err) {
      outcome.undoErrors.push(`${id}: ${message(err)}`);
      ctx.log.error({ step: id, err: message(err) }, `could not undo ${id}: ${message(err)}`);
    }
  }
}

async function finalizeAll(data: JournalData, appliers: Applier[], journal: Journal, ctx: StepContext, limit: number, outcome: Pick<ApplyOutcome, 'finalizeErrors'> & { ran?: string[] }): Promise<void> {
  const todo = data.plan.finalize.filter((s) => data.steps[s.id]?.status !== 'done');
  // A failed finalize step does not stop the others: the change is confirmed and stands.
  await runGraph(todo, limit, async (step) => {
    await journal.step(step.id, { status: 'started' });
    crashPoint('finalize');
    try {
      const r = await applierFor(appliers, step).run(step, ctx);
      journal.stepDone(step.id, { ...r, status: 'done' });
      outcome.ran?.push(step.id);
    } catch (err) {
      await journal.step(step.id, { status: 'failed', error: message(err) });
      outcome.finalizeErrors.push(`${step.id}: ${message(err)}`);
      ctx.log.warn({ step: step.id, err: message(err) }, `finalize step ${step.id} failed; the next reconcile cleans up: ${message(err)}`);
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

export async function applyPlan(plan: Plan, opts: ApplyOptions): Promise<ApplyOutcome> {
  const { appliers, journal, log } = opts;
  const all = [...plan.prepare, ...plan.stages.flatMap((s) => s.steps), ...plan.finalize];
  for (const s of all) applierFor(appliers, s); // refuse before touching anything
  const txn = randomUUID();
  const ctx: StepContext = { txn, desired: opts.desired, log };
  const outcome: ApplyOutcome = { txn, status: 'applied', ran: [], undone: [], undoErrors: [], finalizeErrors: [] };

  const exec = async (step: Step) => {
    await journal.step(step.id, { status: 'started' });
    crashPoint(step.kind);
    try {
      const r = await applierFor(appliers, step).run(step, ctx);
      journal.stepDone(step.id, { ...r, status: 'done' });
      outcome.ran.push(step.id);
    } catch (err) {
      await journal.step(step.id, { status: 'failed', error: message(err) });
      outcome.ran.push(step.id);
      throw err;
    }
  };

  await journal.begin(txn, plan);
  log.info({ txn, commit: plan.desired.source.commit, changes: plan.changes.length }, `applying ${plan.changes.length} change(s)`);
  const prepFail = await runGraph(plan.prepare, opts.prepareConcurrency ?? 3, exec);
  if (prepFail) {
    // Nothing running was touched (safety rule 1): there is nothing to undo.
    await journal.clear();
    return { ...outcome, status: 'prepare-failed', error: message(prepFail.err), failedStep: prepFail.step.id };
  }

  await journal.phase('stages');
  crashPoint('stages');
  let failure: { step?: Step; err: unknown } | undefined;
  for (const stage of plan.stages) {
    log.info({ stage: stage.name, steps: stage.steps.length }, `stage ${stage.name}`);
    const f = await runGraph(stage.steps, opts.concurrency ?? 4, exec);
    if (f) {
      failure = f;
      break;
    }
  }
  if (!failure && opts.confirm) {
    await journal.phase('confirm');
    try {
      await opts.confirm();
    } catch (err) {
      failure = { err };
    }
  }
  if (failure) {
    const error = failure.step ? `${failure.step.id}: ${message(failure.err)}` : message(failure.err);
    log.error({ txn, step: failure.step?.id, err: message(failure.err) }, `apply failed, rolling back: ${error}`);
    await journal.phase('rolling-back', error);
    await undoAll(journal.current, appliers, journal, { ...ctx, desired: undefined }, outcome);
    await journal.clear();
    return { ...outcome, status: outcome.undoErrors.length ? 'rollback-incomplete' : 'rolled-back', error, ...(failure.step ? { failedStep: failure.step.id } : {}) };
  }

  await journal.phase('finalize');
  await finalizeAll(journal.current, appliers, journal, ctx, opts.concurrency ?? 4, outcome);
  await journal.clear();
  log.info({ txn, commit: plan.desired.source.commit }, 'applied');
  return outcome;
}

export interface ResumeOutcome {
  txn: string;
  /** `rolled-back`: the interrupted apply was put back; `finished`: its finalize was completed. */
  action: 'nothing-touched' | 'rolled-back' | 'finished';
  undone: string[];
  undoErrors: string[];
  finalizeErrors: string[];
  interruptedIn: JournalData['phase'];
}

/**
 * Resumes the transaction a crash interrupted: before finalize it is put back (every step that
 * started is undone, newest first); in finalize the change was already confirmed, so finalize
 * is completed. Returns undefined when no transaction was in flight.
 */
export async function resumeJournal(journal: Journal, appliers: Applier[], log: Log): Promise<ResumeOutcome | undefined> {
  const data = await journal.load();
  if (!data) return undefined;
  const ctx: StepContext = { txn: data.txn, log };
  const out: ResumeOutcome = { txn: data.txn, action: 'nothing-touched', undone: [], undoErrors: [], finalizeErrors: [], interruptedIn: data.phase };
  log.warn({ txn: data.txn, phase: data.phase }, `resuming the apply interrupted in its ${data.phase} phase`);
  if (data.phase === 'finalize') {
    await finalizeAll(data, appliers, journal, ctx, 4, out);
    out.action = 'finished';
  } else if (data.phase !== 'prepare') {
    await journal.phase('rolling-back', data.error ?? 'interrupted');
    await undoAll(data, appliers, journal, ctx, out);
    out.action = 'rolled-back';
  }
  if (out.undoErrors.length === 0) await journal.clear();
  return out;
}
