// Resuming the transaction a crash (or the gateway) interrupted, from its journal, before
// anything new is applied: put back, carried to the end, or gone on with, as its phase says.

import type { DesiredState, Plan, ResumeReason } from '../model/index.js';
import type { Applier, StepContext } from './applier.js';
import { finalizeAll } from './finalize.js';
import type { Journal, JournalData } from './journal.js';
import { newOutcome, TransactionSuspendedError, type ApplyOutcome, type FailureHook } from './outcome.js';
import type { StateScriptRunner } from './state-scripts.js';
import { suspendedHere, Transaction, type Failure } from './transaction.js';
import { undoAll, type UndoTally } from './undo.js';
import type { Log } from '../base/log.js';

const INTERRUPTED = 'interrupted';

export interface ResumeOutcome {
  txn: string;
  /**
   * `rolled-back`: the interrupted apply was put back; `finished`: its finalize was completed;
   * `continued`: it had rebooted the gateway on purpose and went on to the end.
   */
  action: ResumeReason;
  /** For `continued` (and a commit phase finished or rolled back): how it ended, and its plan. */
  outcome?: ApplyOutcome;
  plan?: Plan;
  undone: string[];
  undoErrors: string[];
  finalizeErrors: string[];
  interruptedIn: JournalData['phase'];
  /** The failure the transaction was rolling back from, when it was not a crash. */
  failure?: string;
}

export interface ResumeOptions {
  /** The health window, for a transaction that continues after a gateway reboot. */
  confirm?: () => Promise<void>;
  concurrency?: number;
  onFailure?: FailureHook;
  /**
   * The state scripts of the transaction's desired state (read from beside the journal, only when
   * one is there): the ones the journal has not seen run.
   */
  scriptsFor?: (desired: DesiredState | undefined) => StateScriptRunner | undefined;
  /**
   * The commit being applied now: a transaction the gateway paused (the Engine away, the disk
   * full) goes on only when it applies this commit, and is put back otherwise. Absent: it goes on.
   */
  forwardFor?: string | undefined;
}

/**
 * Resumes the transaction a crash interrupted. Before its stages finished it is put back (every
 * step that started is undone, the stages newest first) — unless the stage ended in a gateway reboot that
 * rollgate asked for, in which case the steps are verified and the transaction goes on, or the
 * gateway paused it (the Engine away, the disk full), in which case it goes on too. Once
 * confirmed it is carried to the end. Returns undefined when no transaction was in flight.
 */
export async function resumeJournal(
  journal: Journal,
  appliers: Applier[],
  log: Log,
  opts: ResumeOptions = {},
): Promise<ResumeOutcome | undefined> {
  const data = await journal.load();
  if (!data) return undefined;
  const ctx: StepContext = { txn: data.txn, log };
  const pause = data.suspended ?? suspendedHere.get(data.txn);
  suspendedHere.delete(data.txn);
  // Paused after it had failed: its rollback goes on, whatever phase the journal could still record.
  if (pause?.failure !== undefined && data.phase !== 'rolling-back') {
    data.phase = 'rolling-back';
    data.error = pause.failure;
  }
  const out: ResumeOutcome = {
    txn: data.txn,
    action: 'nothing-touched',
    undone: [],
    undoErrors: [],
    finalizeErrors: [],
    interruptedIn: data.phase,
    ...(data.phase === 'rolling-back' && data.error && data.error !== INTERRUPTED
      ? { failure: data.error, plan: data.plan }
      : {}),
  };
  log.warn({ txn: data.txn, phase: data.phase }, `resuming the apply interrupted in its ${data.phase} phase`);
  // The desired state beside the journal, read once: for the state scripts and for going on.
  let desiredRead: Promise<DesiredState | undefined> | undefined;
  const desired = () => (desiredRead ??= journal.loadDesired());
  const scripts = opts.scriptsFor?.(await desired());
  const t = new Transaction(
    journal,
    appliers,
    ctx,
    opts.concurrency ?? 4,
    opts.confirm,
    { ...newOutcome(data.txn), undone: out.undone, undoErrors: out.undoErrors, finalizeErrors: out.finalizeErrors },
    opts.onFailure,
    scripts,
  );
  const records = Object.values(data.steps);
  const rebooted =
    data.phase === 'stages' &&
    records.some((r) => r.status === 'awaiting-reboot') &&
    !records.some((r) => r.status === 'started' || r.status === 'failed');

  const settle = (o: ApplyOutcome): ResumeOutcome => ({
    ...out,
    outcome: o,
    plan: data.plan,
    undoErrors: o.undoErrors,
    finalizeErrors: o.finalizeErrors,
    undone: o.undone,
  });
  if (pause && !rebooted && (data.phase === 'stages' || data.phase === 'confirm')) {
    const d = await desired();
    if (d && (opts.forwardFor === undefined || d.source.commit === opts.forwardFor)) {
      // Safety rule 4 lets a transaction end at the new commit or the last good one. This one did
      // not fail, and did not crash: the gateway stopped it (the Engine away, the disk full) with
      // every step it ran journaled, and every step is safe to repeat. Putting it all back to apply it all again
      // would disrupt the gateway twice for one change, so it goes on: the steps not recorded as
      // done run (again), the health window runs in full, and a failure there rolls back as ever.
      ctx.desired = d;
      ctx.plan = data.plan;
      log.info(
        { txn: data.txn, phase: data.phase, interruption: pause.reason },
        `going on with the transaction paused in its ${data.phase} phase (${pause.error}); nothing is put back`,
      );
      await t.orSuspend(journal.resume());
      t.watch();
      try {
        let f: Failure | undefined;
        try {
          await t.orSuspend(t.resettle());
        } catch (err) {
          if (err instanceof TransactionSuspendedError) throw err;
          f = { err };
        }
        if (!f && data.phase === 'stages') f = await t.stages();
        const o = f ? await t.rollback(f) : await t.finish('stages');
        return { ...settle(o), action: o.status === 'applied' ? 'continued' : 'rolled-back' };
      } finally {
        t.unwatch();
      }
    }
  }
  if (rebooted) {
    const d = await desired();
    if (d) ctx.desired = d;
    log.info({ txn: data.txn }, 'the gateway rebooted for this transaction: verifying, then going on');
    const f = (await t.verifyAfterReboot()) ?? (await t.stages());
    const o = f ? await t.rollback(f) : await t.finish('stages');
    return { ...settle(o), action: o.status === 'applied' ? 'continued' : 'rolled-back' };
  }
  if (data.phase === 'commit') {
    const d = await desired();
    if (d) ctx.desired = d;
    const o = await t.finish('commit');
    return { ...settle(o), action: o.status === 'applied' ? 'finished' : 'rolled-back' };
  }
  if (data.phase === 'finalize') {
    await finalizeAll(data, appliers, journal, ctx, opts.concurrency ?? 4, out);
    out.action = 'finished';
    await journal.clear();
    return out;
  }
  const tally: UndoTally = { undone: out.undone, undoErrors: out.undoErrors };
  const failure = data.error ?? INTERRUPTED;
  if (data.phase !== 'rolling-back' || pause) await t.orSuspend(journal.phase('rolling-back', failure), failure);
  if (pause) await t.orSuspend(journal.resume(), failure);
  const touched = out.interruptedIn !== 'prepare';
  if (touched) await t.scriptsBack('ArtifactRollback', 'Enter');
  await undoAll(data, appliers, journal, ctx, tally, opts.concurrency ?? 4);
  if (tally.interrupted) await t.suspend(tally.interrupted.kind, tally.interrupted.err, failure);
  if (touched)
    for (const [state, action] of [
      ['ArtifactRollback', 'Leave'],
      ['ArtifactFailure', 'Enter'],
      ['ArtifactFailure', 'Leave'],
    ] as const)
      await t.scriptsBack(state, action);
  out.action = out.interruptedIn === 'prepare' ? 'nothing-touched' : 'rolled-back';
  // The rollback of a failure that falls short is reported (rollback-incomplete) like one that was
  // never interrupted, and the next reconcile plans afresh from what it observes; a crash's undo
  // that falls short keeps its journal, so nothing new is applied until it is put back.
  if (out.undoErrors.length === (tally.permanentUndoErrors ?? 0) || out.failure !== undefined) await journal.clear();
  return out;
}
