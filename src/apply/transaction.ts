// The transaction after prepare: the stages (concurrent inside a stage, as the steps'
// dependencies allow), gateway reboots, confirm (the health window), the commits, finalize; or,
// on a failure before finalize, the rollback. An outage of the Engine or a full disk suspends it
// where it is, its journal kept.

import type { ScriptAction, ScriptState, Step } from '../model/index.js';
import {
  applierFor,
  interruptionOf,
  RefusedError,
  type Applier,
  type Interruption,
  type OutageWatch,
  type StepContext,
} from './applier.js';
import { crashPoint } from './crash-points.js';
import { finalizeAll } from './finalize.js';
import type { Journal, JournalData, Suspension } from './journal.js';
import { message, TransactionSuspendedError, type ApplyOutcome, type FailureHook, type StepHook } from './outcome.js';
import { runGraph } from './run-graph.js';
import type { StateScriptRunner } from './state-scripts.js';
import { undoAll, type UndoTally } from './undo.js';

/**
 * Transactions this process suspended. A full disk may keep the journal from saying so, and the
 * process that paused a transaction knows it anyway; after a restart the journal alone decides.
 */
export const suspendedHere = new Map<string, Suspension>();

/** How often the Engine may go away inside one transaction before a step's failure is taken as final. */
const MAX_OUTAGES = 3;

export type Failure = { step?: Step; err: unknown };

const refusedKind = (err: unknown) => (err instanceof RefusedError ? err.kind : undefined);

/** The targets of the stages' container steps (Apps' state scripts run around them). */
const CONTAINER_TARGETS = new Set<Step['target']['kind']>(['service', 'network', 'volume']);

/** The transaction after prepare: stages, gateway reboots, confirm, commits, finalize; or rollback. */
export class Transaction {
  /** The state whose scripts or steps failed: its Error scripts run on the way back. */
  private failedState: ScriptState | undefined;
  /** Steps started so far, of every step in the plan. */
  private startedSteps = 0;

  constructor(
    private readonly journal: Journal,
    private readonly appliers: Applier[],
    private readonly ctx: StepContext,
    private readonly limit: number,
    private readonly confirm: (() => Promise<void>) | undefined,
    readonly outcome: ApplyOutcome,
    private readonly onFailure?: FailureHook,
    private readonly scripts?: StateScriptRunner,
    private readonly onStep?: StepHook,
  ) {}

  /** Counts a step that starts, and tells onStep. */
  readonly started = (step: Step): void => {
    if (!this.onStep) return;
    const { prepare, stages, finalize } = this.data.plan;
    const of = prepare.length + stages.reduce((n, s) => n + s.steps.length, 0) + finalize.length;
    this.onStep({ kind: 'step', n: ++this.startedSteps, of, step: step.id });
  };

  get data(): JournalData {
    return this.journal.current;
  }

  /** Watches of what the appliers act on, from the first stage to the end of the health window. */
  private watches: OutageWatch[] = [];
  private outages = 0;

  watch(): void {
    this.unwatch();
    this.watches = this.appliers.flatMap((a) => (a.watch ? [a.watch()] : []));
  }

  unwatch(): void {
    for (const w of this.watches) w.stop();
    this.watches = [];
  }

  /** The Docker Engine went away (and maybe came back) since the watch began, or is going away now. */
  private async gatewayWentAway(): Promise<boolean> {
    for (const w of this.watches) if (await w.check()) return true;
    return false;
  }

  /**
   * Stops the transaction where it is, because of the gateway: the journal keeps it, marked
   * suspended (when the disk lets it), and the next reconcile goes on from it. `failure`: it had
   * failed already and is to be rolled back, never gone on with.
   */
  async suspend(kind: Interruption, err: unknown, failure?: string): Promise<never> {
    this.unwatch();
    const d = this.data;
    const s: Suspension = {
      reason: kind,
      at: new Date().toISOString(),
      error: message(err),
      ...(failure !== undefined ? { failure } : {}),
    };
    suspendedHere.set(d.txn, s);
    await this.journal.suspend(s).catch(() => {}); // a full disk: this process remembers
    const until = kind === 'engine-away' ? 'the Docker Engine answers again' : 'the disk has room again';
    const what = failure !== undefined ? 'its rollback' : 'it';
    this.ctx.log.warn(
      { txn: d.txn, phase: d.phase, interruption: kind, err: message(err) },
      `the transaction is paused in its ${d.phase} phase (${message(err)}); ${what} goes on from the journal ` +
        `once ${until}. This is not a verdict on the commit`,
    );
    throw new TransactionSuspendedError(
      kind,
      d.txn,
      `the transaction of ${d.plan.desired.source.commit?.slice(0, 12) ?? 'the desired state'} is paused in its ` +
        `${d.phase} phase until ${until}: ${message(err)}`,
    );
  }

  /** Suspends on an interruption (rethrowing anything else). */
  async orSuspend<T>(p: Promise<T>, failure?: string): Promise<T> {
    try {
      return await p;
    } catch (err) {
      const kind = interruptionOf(err);
      if (kind) await this.suspend(kind, err, failure);
      throw err;
    }
  }

  /**
   * The Engine went away during the transaction, and something failed: wait for it (bounded;
   * past the bound the transaction is suspended), put back in place what its restart undid, and
   * go on. Only a failure that persists with the Engine there is final. False when it went away
   * too often in this transaction.
   */
  private async afterOutage(why: string): Promise<boolean> {
    if (this.outages >= MAX_OUTAGES || !(await this.gatewayWentAway())) return false;
    try {
      return await this.recoverFromOutage(why);
    } catch (err) {
      if (err instanceof TransactionSuspendedError) throw err;
      this.ctx.log.error({ txn: this.data.txn, err: message(err) }, `after the Engine came back: ${message(err)}`);
      return false;
    }
  }

  private async recoverFromOutage(why: string): Promise<boolean> {
    this.outages++;
    this.ctx.log.warn(
      { txn: this.data.txn, outage: this.outages },
      `the Docker Engine went away during the transaction, and then ${why}; once it answers, what its ` +
        'restart stopped runs again and this is tried again',
    );
    for (const a of this.appliers) if (a.awaitAvailable) await this.orSuspend(a.awaitAvailable());
    this.watch();
    await this.orSuspend(this.resettle());
    return true;
  }

  /** After an outage of the Engine: every step that ran is put back in the state it left. */
  async resettle(): Promise<void> {
    const done = this.data.plan.stages.flatMap((st) =>
      st.steps.flatMap((step) => {
        const rec = this.data.steps[step.id];
        return rec?.status === 'done' ? [{ step, rec }] : [];
      }),
    );
    // Replaced containers stop before the new ones start, so they can have the ports back.
    const order = [...done.filter((d) => d.step.kind === 'stop'), ...done.filter((d) => d.step.kind !== 'stop')];
    for (const { step, rec } of order) {
      const a = applierFor(this.appliers, step);
      const r = await a.resettle?.(step, rec, this.ctx);
      if (r) await this.journal.step(step.id, { ...rec, ...r, status: 'done' });
    }
  }

  /** The state scripts of a stage, journaled one by one so a resumed transaction never runs one twice. */
  async script(state: ScriptState, action: ScriptAction): Promise<void> {
    if (!this.scripts) return;
    if (action !== 'Error') this.failedState = state;
    await this.scripts.run(state, action, {
      done: (name) => this.data.steps[`script ${name}`]?.status === 'done',
      record: (name) => this.journal.step(`script ${name}`, { status: 'done' }),
    });
  }

  /** On the way back, script failures are logged: a rollback is not stopped by a script. */
  async scriptsBack(state: ScriptState, action: ScriptAction): Promise<void> {
    try {
      await this.script(state, action);
    } catch (err) {
      this.ctx.log.warn({ state, action }, `${message(err)}; the rollback goes on`);
    }
  }

  private rebootEnter: Promise<void> | undefined;
  private appsEnter: Promise<void> | undefined;

  readonly exec = async (step: Step): Promise<void> => {
    // The first reboot the transaction really makes: ArtifactReboot's Enter scripts, once, before it.
    if (step.kind === 'reboot' && this.scripts && (await applierFor(this.appliers, step).willReboot?.(step, this.ctx)))
      await (this.rebootEnter ??= this.script('ArtifactReboot', 'Enter'));
    // The first container step of the stages: Apps' Enter scripts, once, before it.
    if (this.scripts && CONTAINER_TARGETS.has(step.target.kind) && this.data.phase === 'stages')
      await (this.appsEnter ??= this.script('Apps', 'Enter'));
    this.started(step);
    await this.journal.step(step.id, { status: 'started' });
    crashPoint(step.kind);
    try {
      const r = await applierFor(this.appliers, step).run(step, this.ctx);
      if (r.reboot === 'gateway') await this.journal.step(step.id, { ...r, status: 'awaiting-reboot' });
      else this.journal.stepDone(step.id, { ...r, status: 'done' });
      this.outcome.ran.push(step.id);
    } catch (err) {
      await this.journal.step(step.id, { status: 'failed', error: message(err) });
      this.outcome.ran.push(step.id);
      throw err;
    }
  };

  /** Runs every stage step not yet done, stage by stage; a stage whose steps await it ends in one reboot. */
  async stages(): Promise<Failure | undefined> {
    try {
      await this.orSuspend(this.script('ArtifactInstall', 'Enter'));
    } catch (err) {
      if (err instanceof TransactionSuspendedError) throw err;
      return { err };
    }
    for (const stage of this.data.plan.stages) {
      for (;;) {
        const todo = stage.steps.filter((s) => this.data.steps[s.id]?.status !== 'done');
        if (todo.length === 0) break;
        this.ctx.log.info({ stage: stage.name, steps: todo.length }, `stage ${stage.name}`);
        const f = await runGraph(todo, this.limit, this.exec);
        if (!f) break;
        const kind = interruptionOf(f.err);
        if (kind) await this.suspend(kind, f.err);
        if (await this.afterOutage(`${f.step?.id ?? 'a step'} failed (${message(f.err)})`)) continue;
        return f;
      }
      const awaiting = stage.steps.filter((s) => this.data.steps[s.id]?.status === 'awaiting-reboot');
      const [first] = awaiting;
      if (first) {
        const applier = applierFor(this.appliers, first);
        if (!applier.rebootGateway)
          return { step: first, err: new Error(`${applier.name} asked for a gateway reboot it cannot perform`) };
        this.ctx.log.warn(
          { stage: stage.name, steps: awaiting.map((s) => s.id) },
          `stage ${stage.name} needs the gateway to reboot; the transaction is journaled and continues when the ` +
            `agent starts again`,
        );
        try {
          await applier.rebootGateway(this.ctx);
          return { step: first, err: new Error('the reboot command returned but the gateway did not reboot') };
        } catch (err) {
          return { step: first, err };
        }
      }
    }
    try {
      // Leave follows Enter: in this run, or in the one before a gateway reboot (the journal says).
      return await this.orSuspend(this.leaveStages());
    } catch (err) {
      if (err instanceof TransactionSuspendedError) throw err;
      return { err };
    }
  }

  private async leaveStages(): Promise<undefined> {
    const entered =
      this.rebootEnter !== undefined ||
      this.scripts?.of('ArtifactReboot', 'Enter').some((s) => this.data.steps[`script ${s.name}`]) === true;
    if (entered) await this.script('ArtifactReboot', 'Leave');
    const appsEntered =
      this.appsEnter !== undefined ||
      this.scripts?.of('Apps', 'Enter').some((s) => this.data.steps[`script ${s.name}`]) === true;
    if (appsEntered) await this.script('Apps', 'Leave');
    await this.script('ArtifactInstall', 'Leave');
    return undefined;
  }

  /** After a gateway reboot: verifies the steps that awaited it. */
  async verifyAfterReboot(): Promise<Failure | undefined> {
    const awaiting = this.data.plan.stages.flatMap((s) =>
      s.steps.flatMap((step) => {
        const rec = this.data.steps[step.id];
        return rec?.status === 'awaiting-reboot' ? [{ step, rec }] : [];
      }),
    );
    for (const { step, rec } of awaiting) {
      try {
        const applier = applierFor(this.appliers, step);
        if (!applier.verifyAfterReboot) throw new Error(`${applier.name} cannot verify ${step.id} after a reboot`);
        await applier.verifyAfterReboot(step, rec, this.ctx);
        await this.journal.step(step.id, { status: 'done' });
        this.outcome.ran.push(step.id);
      } catch (err) {
        await this.journal.step(step.id, { status: 'failed', error: message(err) });
        return { step, err };
      }
    }
    return undefined;
  }

  /** Confirm (the health window), then commit; any failure rolls back. Then finalize. */
  async finish(fromPhase: 'stages' | 'commit'): Promise<ApplyOutcome> {
    let failure: Failure | undefined;
    if (fromPhase === 'stages' && (this.confirm || this.scripts)) {
      await this.orSuspend(this.journal.phase('confirm'));
      for (;;) {
        try {
          await this.script('Health', 'Enter');
          await this.confirm?.();
          await this.script('Health', 'Leave');
          failure = undefined;
          break;
        } catch (err) {
          const kind = interruptionOf(err);
          if (kind) await this.suspend(kind, err);
          // A health window the Engine's restart cut across says nothing about the commit: it runs again.
          if (await this.afterOutage(`the health window failed (${message(err)})`)) continue;
          failure = { err };
          break;
        }
      }
    }
    this.unwatch();
    if (!failure) {
      // Commit last (safety rule 3), and a commit that fails still rolls every component back.
      await this.orSuspend(this.journal.phase('commit'));
      const commits = this.data.plan.finalize.filter(
        (s) => s.kind === 'commit' && this.data.steps[s.id]?.status !== 'done',
      );
      try {
        await this.script('ArtifactCommit', 'Enter');
        failure = await runGraph(commits, this.limit, this.exec);
        if (!failure) await this.script('ArtifactCommit', 'Leave');
      } catch (err) {
        failure = { err };
      }
    }
    if (failure) return this.rollback(failure);
    await this.orSuspend(this.journal.phase('finalize'));
    const { txn, plan } = this.data;
    await finalizeAll(this.data, this.appliers, this.journal, this.ctx, this.limit, this.outcome, this.started);
    await this.journal.clear();
    this.ctx.log.info({ txn, commit: plan.desired.source.commit }, 'applied');
    return this.outcome;
  }

  async rollback(failure: Failure): Promise<ApplyOutcome> {
    this.unwatch();
    const txn = this.data.txn;
    const error = failure.step ? `${failure.step.id}: ${message(failure.err)}` : message(failure.err);
    this.ctx.log.error(
      { txn, step: failure.step?.id, err: message(failure.err) },
      `apply failed, rolling back: ${error}`,
    );
    await this.orSuspend(this.journal.phase('rolling-back', error), error);
    const refused = refusedKind(failure.err);
    if (this.onFailure) {
      try {
        await this.onFailure(error, failure.step?.id, refused);
      } catch (err) {
        this.ctx.log.error({ txn, err: message(err) }, `could not record the failure: ${message(err)}`);
      }
    }
    if (this.failedState) await this.scriptsBack(this.failedState, 'Error');
    await this.scriptsBack('ArtifactRollback', 'Enter');
    const tally: UndoTally = this.outcome;
    await undoAll(this.data, this.appliers, this.journal, { ...this.ctx, desired: undefined }, tally, this.limit);
    if (tally.interrupted) await this.suspend(tally.interrupted.kind, tally.interrupted.err, error);
    await this.scriptsBack('ArtifactRollback', 'Leave');
    await this.scriptsBack('ArtifactFailure', 'Enter');
    await this.scriptsBack('ArtifactFailure', 'Leave');
    // Reported as rollback-incomplete; the next reconcile plans afresh from what it observes.
    await this.journal.clear();
    return {
      ...this.outcome,
      status: this.outcome.undoErrors.length ? 'rollback-incomplete' : 'rolled-back',
      error,
      ...(failure.step ? { failedStep: failure.step.id } : {}),
      ...(refused ? { refused } : {}),
    };
  }
}
