// The commit lifecycle: choose the commit the gateway may run, apply it behind the health gate,
// roll back to the last good commit when the apply or its health fails, repair drift, resume what a
// crash interrupted. Every decision is `decide` (./verdict.ts), recorded by ./recorder.ts; this
// module carries them out through its ports (./ports.ts), so the daemon holds no policy of its own.

import type { GatewayAppliers } from '../apply/index.js';
import { reconcileOnce, type ReconcileResult } from '../gateway/reconcile.js';
import type { HealthVerdict } from '../health/index.js';
import type { RepoSource } from '../manifest/index.js';
import {
  choiceKey,
  Reason,
  type AgentState,
  type BadCommit,
  type DesiredState,
  type GateName,
} from '../model/index.js';
import type { RolloutStanding } from '../model/rollout.js';
import { PlanError } from '../plan/index.js';
import { AheadOfWindow } from './ahead.js';
import { badRecord } from './bad-commits.js';
import { converge, healthGate, lastGoodHealth, onStep, runSettings } from './gateway-runs.js';
import {
  APPLY_GATES,
  CHOOSE_GATES,
  REVERT_LOOKBACK,
  runGates,
  type Gate,
  type GateOutcome,
  type LoadedCommit,
  type Subject,
} from './gates/index.js';
import type { LifecyclePorts } from './ports.js';
import { errorMessage } from '../base/error-message.js';
import { shortCommit } from '../base/short-commit.js';
import { configFault, now, Recorder } from './recorder.js';
import { resumePending } from './resume.js';
import { isInterruption, rollBackToLastGood, type Convergence, type RollbackReport } from './to-last-good.js';
import { beginAttempt, note, withStanding, type Verdict } from './verdict.js';

export type { LoadedCommit };

/** What the choose gates made of the branch's head: the commit the gateway may run now, and why. */
export interface Choice {
  head: string;
  /** The head, or the rollout's target or base. */
  commit: string;
  rollout?: RolloutStanding;
  /** When `commit` stands in for a commit a gate deferred (the base, for the target of a wave not open yet). */
  deferral?: { gate: GateName; commit: string; why: string; until?: string };
}

/** The commits the history says the gateway ran good before `lastGood`, newest first, a few. */
function goodBefore(state: Readonly<AgentState>, lastGood: string | undefined): string[] {
  const out: string[] = [];
  for (let i = state.history.length - 1; i >= 0 && out.length < REVERT_LOOKBACK; i--) {
    const h = state.history[i]!;
    if (h.event === Reason.Applied && h.commit && h.commit !== lastGood && !out.includes(h.commit)) out.push(h.commit);
  }
  return out;
}

/**
 * What the lifecycle keeps between reconciles in memory, as plain data: the agent's worker process
 * ends after each piece of work, so the next one is given it back and behaves as one long-lived
 * lifecycle would (an idle choose asks no gate, a paused transaction goes on as the same attempt,
 * downloads ahead of a window are not fetched again).
 */
export interface LifecycleMemory {
  paused?: string;
  chosen?: { key: string; choice: Choice };
  ahead?: { commit: string; said: string };
  waiting?: WindowWait;
}

/**
 * A commit the window gate deferred with its downloads done: until `opensAt`, and while the
 * choice's key holds, asking again gives `verdict` again, so the agent's resident part answers
 * those polls itself (src/agent/at-rest.ts) instead of starting a worker at each one.
 */
export interface WindowWait {
  key: string;
  commit: string;
  opensAt: number;
  verdict: Verdict;
}

const isChoice = (r: Choice | Verdict): r is Choice => !('reason' in r);

type GatesPassed = Extract<GateOutcome, { kind: 'pass' }>;
const isGatesPassed = (r: GatesPassed | Verdict): r is GatesPassed => 'kind' in r;

export class CommitLifecycle {
  /** The commit whose transaction the gateway paused (the Engine away, the disk full): going on is no new attempt. */
  private paused: string | undefined;
  /**
   * The last head chosen for, with what the answer rests on (the applied commit, the bad ones, which
   * `rollgate forget` may change): the same again asks no gate.
   */
  private chosen: { key: string; choice: Choice } | undefined;
  private waiting: WindowWait | undefined;

  private readonly rec: Recorder;
  private readonly ahead: AheadOfWindow;

  constructor(
    private readonly p: LifecyclePorts,
    memory: LifecycleMemory = {},
  ) {
    this.rec = new Recorder(p, (failed, lastGood, ran) => this.rollBack(failed, lastGood, ran));
    this.ahead = new AheadOfWindow(p, (d) => this.rec.defer(d), memory.ahead);
    this.paused = memory.paused;
    this.chosen = memory.chosen;
    this.waiting = memory.waiting;
  }

  /** What a lifecycle made after this one must be given to go on as this one would. */
  memory(): LifecycleMemory {
    const ahead = this.ahead.memory();
    return {
      ...(this.paused !== undefined ? { paused: this.paused } : {}),
      ...(this.chosen ? { chosen: this.chosen } : {}),
      ...(ahead ? { ahead } : {}),
      ...(this.waiting ? { waiting: this.waiting } : {}),
    };
  }

  private get state(): Readonly<AgentState> {
    return this.p.store.current;
  }

  /** A commit refused before it could be read (too large to fetch): recorded as bad, nothing touched. */
  async refuse(commit: string, reason: string): Promise<Verdict> {
    return (await this.rec.decide({ kind: 'invalid', commit, reason }))!;
  }

  /** A poll failed: the gateway is left as it is. */
  async pollFailed(err: string): Promise<Verdict> {
    const v: Verdict = { reason: 'poll-failed', detail: err };
    await this.rec.noteOnce(note(this.state, v, now(), { error: err }));
    return v;
  }

  /**
   * Which commit the gateway may run now, for the branch's `head`: the gates of the choose phase
   * (trust, descent, rollout). A refusal is recorded as the bad commit it is; a deferral is
   * recorded once per cause, and the commit to run meanwhile chosen. The answer is kept for as long
   * as what it rests on holds (the head, the applied commit, the bad ones): an idle poll asks no gate.
   */
  async choose(head: string): Promise<Choice | Verdict> {
    const applied = this.state.applied?.commit;
    // A head refused before is not read again; the poll's decision skips it (safety rule 5). A head
    // the gateway runs passed the gates when it was applied (a head that carries a rollout file is
    // never run itself): it is not judged again while it runs.
    if (badRecord(this.state.bad, head) || head === applied) return { head, commit: head };
    const keyNow = () => choiceKey(head, this.state);
    if (this.chosen?.key === keyNow()) return this.chosen.choice;
    const r = await this.gated(CHOOSE_GATES, { head, commit: head, ...(applied ? { applied } : {}) });
    if (!isGatesPassed(r)) {
      // A commit the rollout names that is refused stays the one to run: the poll's decision skips it.
      if (r.reason === Reason.Rejected && r.commit && r.commit !== head)
        this.chosen = { key: keyNow(), choice: { head, commit: r.commit } };
      return r;
    }
    for (const n of r.notes) this.p.log.info({ commit: head }, n);
    const d = r.deferral;
    const choice: Choice = {
      head,
      commit: r.subject.commit,
      ...(r.rollout ? { rollout: r.rollout } : {}),
      ...(d
        ? { deferral: { gate: d.gate, commit: d.commit, why: d.why, ...(d.until ? { until: d.until } : {}) } }
        : {}),
    };
    const before = this.state;
    const next = withStanding(before, {
      ...(r.rollout ? { rollout: r.rollout } : {}),
      wants: d?.commit ?? choice.commit,
      ...(d ? { deferredAt: d.gate } : {}),
      passed: r.passed,
    });
    if (next !== before) {
      await this.p.store.replace(next);
      const ro = r.rollout;
      if (ro && (before.rollout?.id !== ro.id || before.rollout.code !== ro.code || before.rollout.runs !== ro.runs))
        this.p.log.info(
          { rollout: ro.id, target: ro.target, admission: ro.code, runs: choice.commit },
          `rollout ${ro.id}: this gateway runs the ${ro.runs} ${shortCommit(choice.commit)}: ${ro.message}`,
        );
    }
    if (d) await this.rec.defer(d);
    this.chosen = { key: keyNow(), choice };
    return choice;
  }

  /** What a poll that finds nothing to change says: the deferral the gateway waits on, or nothing new. */
  settled(c: Choice): Verdict {
    const d = c.deferral;
    return d
      ? { reason: Reason.Deferred, commit: d.commit, detail: d.why }
      : { reason: Reason.Unchanged, commit: c.commit };
  }

  /**
   * Applies the commit the gateway may run now behind the health gate, once the gates of the apply
   * phase (window, policy) admit it. Given a branch head alone (`chosen` absent), it is chosen first.
   */
  async applyCommit(commit: string, chosen?: Choice): Promise<Verdict> {
    this.p.events.activity('applying', commit);
    this.waiting = undefined;
    let c = chosen;
    if (!c) {
      const r = await this.choose(commit);
      if (!isChoice(r)) return r;
      const bad = badRecord(this.state.bad, r.commit);
      if (bad) return { reason: Reason.KnownBad, commit: r.commit, detail: bad.reason };
      if (r.commit === this.state.applied?.commit) return this.settled(r);
      c = r;
    }
    const applied = this.state.applied?.commit;
    const lastGood = this.state.lastGood?.commit;
    const earlierGood = goodBefore(this.state, lastGood);
    const r = await this.gated(APPLY_GATES, {
      head: c.head,
      commit: c.commit,
      ...(applied ? { applied } : {}),
      ...(lastGood ? { lastGood } : {}),
      ...(earlierGood.length ? { earlierGood } : {}),
      ...(c.rollout ? { rollout: c.rollout } : {}),
    });
    if (!isGatesPassed(r)) return r;
    for (const n of r.notes) this.p.log.info({ commit: c.commit }, n);
    if (!r.loaded) throw new Error('no admission gate loaded the commit (the policy gate is missing)');
    const target = c.commit;
    const { desired, repo } = r.loaded;
    let a: GatewayAppliers;
    try {
      a = await this.p.appliers(desired, repo);
    } catch (err) {
      const fault = configFault(err);
      if (fault) return this.rec.configError(target, fault);
      this.p.log.error(
        { commit: target, err: errorMessage(err) },
        `cannot reach the gateway's appliers, nothing was changed: ${errorMessage(err)}`,
      );
      return this.rec.error(target, errorMessage(err));
    }
    try {
      return await this.attempt(target, desired, repo, a);
    } catch (err) {
      if (isInterruption(err)) {
        this.paused = target;
        return this.rec.interrupted(target, err);
      }
      throw err;
    }
  }

  /**
   * Asks the gates; what stops them is carried out here, in one place: a refusal recorded as bad
   * (safety rule 9: nothing touched), a deferral recorded once per cause, a gate that could not
   * tell an error of the gateway (its configuration's, or one retried).
   */
  private async gated(gates: readonly Gate[], s: Subject): Promise<GatesPassed | Verdict> {
    // One load of a commit for all the gates of one pass and what they lead to (the window gate
    // compares desired states, the policy gate loads the commit, a deferral downloads for it).
    const loads = new Map<string, Promise<LoadedCommit>>();
    const load = (c: string) => loads.get(c) ?? (loads.set(c, this.p.load(c)), loads.get(c)!);
    const p: LifecyclePorts = Object.assign(Object.create(this.p) as LifecyclePorts, { load });
    const r = await runGates(gates, s, p);
    switch (r.kind) {
      case 'pass':
        return r;
      case 'refuse': {
        const bad = badRecord(this.state.bad, r.commit);
        if (bad) return { reason: Reason.KnownBad, commit: r.commit, detail: bad.reason };
        return (await this.rec.decide({ kind: 'invalid', commit: r.commit, reason: r.reason, bad: r.bad }))!;
      }
      case 'defer': {
        if (r.gate !== 'window') return this.rec.defer(r);
        const v = await this.ahead.defer(r, load);
        // Only once its downloads are on the gateway: a failed download is tried again at each poll.
        if (r.opensAt !== undefined && this.ahead.memory()?.commit === r.commit)
          this.waiting = { key: choiceKey(s.head, this.state), commit: r.commit, opensAt: r.opensAt, verdict: v };
        return v;
      }
      case 'error': {
        const fault = configFault(r.error);
        if (fault) return this.rec.configError(r.commit, fault);
        const why = errorMessage(r.error);
        this.p.log.error(
          { commit: r.commit, gate: r.gate, err: why },
          `cannot tell whether commit ${shortCommit(r.commit)} may run (${r.gate} gate): ${why}`,
        );
        return this.rec.error(r.commit, why);
      }
    }
  }

  private async attempt(commit: string, desired: DesiredState, repo: RepoSource, a: GatewayAppliers): Promise<Verdict> {
    // Going on with a transaction the gateway paused is the same attempt (the count is of crashes).
    if (this.paused !== commit) await this.p.store.replace(beginAttempt(this.state, commit, now()));
    this.paused = undefined;
    const verdicts: HealthVerdict[] = [];
    let r: ReconcileResult;
    try {
      r = await reconcileOnce(desired, {
        ...a,
        ...runSettings(this.p),
        confirm: healthGate(this.p, desired, a, verdicts),
        onFailure: this.rec.failureHook(commit, verdicts),
        refreshImages: this.p.dueImages(desired),
        onStep: onStep(this.p),
      });
    } catch (err) {
      // Found before any step ran (observing an interface that is not installed): nothing changed.
      const fault = configFault(err);
      if (fault) return this.rec.configError(commit, fault);
      if (!(err instanceof PlanError)) throw err;
      // No plan takes this gateway to the commit (a constraint, a changed network or volume):
      // nothing was touched, and trying again would find the same. The commit is rejected.
      return (await this.rec.decide({ kind: 'invalid', commit, reason: `no plan: ${err.message}` }))!;
    }
    return (await this.rec.decide({
      kind: 'transaction',
      commit,
      ...(r.outcome ? { transaction: r.outcome } : {}),
    }))!;
  }

  private async rollBack(failed: BadCommit, lastGood: string | undefined, ran: string[]): Promise<Verdict | undefined> {
    this.p.events.activity('rolling-back', failed.commit);
    this.p.events.rollingBack(failed.kind);
    const report = await rollBackToLastGood(failed, {
      ...(lastGood ? { lastGood } : {}),
      log: this.p.log,
      converge: (c) => converge(this.p, c),
      health: (c) => lastGoodHealth(this.p, c),
    });
    return this.rec.decide({ kind: 'rollback', failed, rollback: report, ran });
  }

  /**
   * Looks again at a gateway the rollback of `failed` left stalled (incomplete, or on an unhealthy
   * last good commit): converge to the last good commit, check its health with the window's
   * usual rules. Back and healthy: recorded as the rollback it was meant to be. Otherwise nothing
   * new is recorded, and the agent looks again later. The commit stays bad.
   */
  async recover(failed: BadCommit, lastGood: string): Promise<Verdict> {
    this.p.events.activity('rolling-back', failed.commit);
    const still: Verdict = { reason: 'bad-commit', commit: failed.commit, detail: failed.reason };
    let report: RollbackReport;
    try {
      report = await rollBackToLastGood(failed, {
        lastGood,
        log: this.p.log,
        converge: (c) => converge(this.p, c),
        health: (c) => lastGoodHealth(this.p, c),
      });
    } catch (err) {
      this.p.log.warn(
        { commit: failed.commit, err: errorMessage(err) },
        `could not look again at the gateway ${shortCommit(failed.commit)} left stalled: ${errorMessage(err)}; ` +
          'later again',
      );
      return still;
    }
    const v = await this.rec.decide({ kind: 'recovery', failed, rollback: report });
    if (v?.reason === 'rolled-back') this.p.log.info({ commit: failed.commit, to: lastGood }, `recovered: ${v.detail}`);
    return v ?? still;
  }

  /** Puts back what changed on the gateway by hand (and releases of moved image tags). */
  async repairDrift(commit: string): Promise<Verdict> {
    this.p.events.activity('applying', commit);
    let conv: Convergence;
    try {
      conv = await converge(this.p, commit, true);
    } catch (err) {
      const fault = configFault(err);
      if (fault) return this.rec.configError(commit, fault);
      this.p.log.warn({ commit, err: errorMessage(err) }, `drift check failed: ${errorMessage(err)}`);
      return this.rec.error(commit, errorMessage(err));
    }
    const last = this.state.lastAttempted;
    if (conv.steps.length === 0 && conv.ok && last?.commit === commit && last.reason === 'config-error') {
      // The configuration was fixed: the conditions it set (Stalled) must not outlive it.
      const v: Verdict = {
        reason: 'drift-repaired',
        commit,
        steps: [],
        detail: "the gateway's configuration is fixed; the gateway matches the applied commit",
      };
      await this.p.store.replace(note(this.state, v, now(), { history: true }));
      this.p.events.verdict(v);
      return v;
    }
    if (conv.steps.length === 0 && conv.ok) return { reason: 'unchanged', commit };
    const v: Verdict = conv.ok
      ? { reason: 'drift-repaired', commit, steps: conv.steps, detail: 'drift repaired' }
      : { reason: 'drift-repair-failed', commit, steps: conv.steps, detail: `drift repair failed: ${conv.error}` };
    let next = note(this.state, v, now(), { history: true });
    if (!conv.ok) next = note(next, v, now(), { error: conv.error ?? 'drift repair failed' });
    await this.p.store.replace(next);
    if (conv.ok)
      this.p.log.info(
        { commit, steps: conv.steps },
        `drift repaired: the gateway matches ${shortCommit(commit)} again`,
      );
    else this.p.log.error({ commit, err: conv.error }, `drift repair failed and was put back: ${conv.error}`);
    this.p.events.verdict(v);
    return v;
  }

  /**
   * Finishes or puts back what a crash interrupted, and records the verdict, before anything new.
   * What waits for the gateway (the Engine away, the disk full) is left for the first reconcile.
   */
  async resumeAtStart(): Promise<void> {
    try {
      await resumePending(this.rec, this.p);
    } catch (err) {
      if (!isInterruption(err)) throw err;
      const commit = this.state.rollingBack?.commit ?? this.state.inProgress?.commit;
      await this.rec.interrupted(commit, err);
    }
  }

  /** A rollback the gateway paused (the Engine away, the disk full) goes on to its end and its verdict. */
  async finishRollback(): Promise<Verdict> {
    const commit = this.state.rollingBack?.commit;
    this.p.events.activity('rolling-back', commit);
    try {
      return (await resumePending(this.rec, this.p)) ?? { reason: 'unchanged', ...(commit ? { commit } : {}) };
    } catch (err) {
      if (isInterruption(err)) return this.rec.interrupted(commit, err);
      throw err;
    }
  }
}
