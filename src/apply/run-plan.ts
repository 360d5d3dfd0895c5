// Executes a Plan through the appliers as one transaction: prepare everything first, then the
// stages in order (concurrent inside a stage, as the steps' dependencies allow), then confirm,
// then finalize. A failure before finalize undoes every step that ran: the stages newest first,
// each as concurrently as it ran.

import { randomUUID } from 'node:crypto';
import type {
  ActivityProgress,
  DesiredState,
  Plan,
  ResumeReason,
  ScriptAction,
  ScriptState,
  Step,
  TransactionReason,
} from '../model/index.js';
import {
  interruptionOf,
  RefusedError,
  UndoImpossibleError,
  type Applier,
  type Interruption,
  type OutageWatch,
  type StepContext,
} from './applier.js';
import { crashPoint } from './crash-points.js';
import type { StateScriptRunner } from './state-scripts.js';
import { Journal, type JournalData, type Suspension } from './journal.js';
import type { Log } from '../base/log.js';

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

export type StepHook = (p: Extract<ActivityProgress, { kind: 'step' }>) => void;

/** `refused`: the step refused the commit itself (RefusedError), e.g. as forbidden by the policy. */
export type FailureHook = (error: string, failedStep?: string, refused?: RefusedError['kind']) => Promise<void>;

export interface ApplyOutcome {
  txn: string;
  status: TransactionReason;
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
  /** How many undo errors no retry can fix (interfaces without rollback). */
  permanentUndoErrors?: number;
  /** A step refused the commit itself (RefusedError): retrying cannot help. */
  refused?: RefusedError['kind'];
}

export class NoApplierError extends Error {
  override name = 'NoApplierError';
}

/**
 * The transaction stopped where it was because of the gateway (the Docker Engine away longer than
 * a step waits, the state disk full), not because of the commit. Its journal is kept, marked
 * suspended, and the next reconcile goes on from it: not a verdict, nothing put back.
 */
export class TransactionSuspendedError extends Error {
  override name = 'TransactionSuspendedError';
  constructor(
    readonly interruption: Interruption,
    readonly txn: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Transactions this process suspended. A full disk may keep the journal from saying so, and the
 * process that paused a transaction knows it anyway; after a restart the journal alone decides.
 */
const suspendedHere = new Map<string, Suspension>();

/** How often the Engine may go away inside one transaction before a step's failure is taken as final. */
const MAX_OUTAGES = 3;

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
async function runGraph(
  steps: Step[],
  limit: number,
  exec: (s: Step) => Promise<void>,
): Promise<{ step: Step; err: unknown } | undefined> {
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
      for (let i = 0; i < pending.length && running < limit;) {
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
        failure = {
          step: pending[0]!,
          err: new Error(`steps wait on each other and cannot start: ${pending.map((p) => p.id).join(', ')}`),
        };
        resolve(failure);
      }
    };
    pump();
  });
}

function isPermanent(err: unknown): boolean {
  return err instanceof UndoImpossibleError;
}

interface UndoTally {
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
async function undoAll(
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
      const rec = data.steps[step.id]!;
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

/** The transaction after prepare: stages, gateway reboots, confirm, commits, finalize; or rollback. */
class Transaction {
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
    const done = this.data.plan.stages
      .flatMap((st) => st.steps)
      .filter((st) => this.data.steps[st.id]?.status === 'done');
    // Replaced containers stop before the new ones start, so they can have the ports back.
    const order = [...done.filter((st) => st.kind === 'stop'), ...done.filter((st) => st.kind !== 'stop')];
    for (const step of order) {
      const a = applierFor(this.appliers, step);
      const rec = this.data.steps[step.id]!;
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
      if (awaiting.length > 0) {
        const first = awaiting[0]!;
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
    const steps = this.data.plan.stages
      .flatMap((s) => s.steps)
      .filter((s) => this.data.steps[s.id]?.status === 'awaiting-reboot');
    for (const step of steps) {
      try {
        await applierFor(this.appliers, step).verifyAfterReboot!(step, this.data.steps[step.id]!, this.ctx);
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
    if (this.onFailure) {
      try {
        await this.onFailure(error, failure.step?.id, refusedKind(failure.err));
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
      ...(refusedKind(failure.err) ? { refused: refusedKind(failure.err)! } : {}),
    };
  }
}

type Failure = { step?: Step; err: unknown };

const refusedKind = (err: unknown) => (err instanceof RefusedError ? err.kind : undefined);

/** The targets of the stages' container steps (Apps' state scripts run around them). */
const CONTAINER_TARGETS = new Set<Step['target']['kind']>(['service', 'network', 'volume']);

async function finalizeAll(
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

const newOutcome = (txn: string): ApplyOutcome => ({
  txn,
  status: 'applied',
  ran: [],
  undone: [],
  undoErrors: [],
  finalizeErrors: [],
});

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
