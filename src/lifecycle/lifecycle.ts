// The commit lifecycle: apply a commit behind the health gate, record the verdict, roll back to
// the last good commit when the apply or its health fails, resume what a crash interrupted.
// Every decision is `decide` (./verdict.ts); this module carries them out through its ports —
// the state store, the fleet repo, the gateway's appliers, the health window, the log and the
// agent's events (metrics, live status) — so the daemon holds no policy of its own.

import { crashPoint } from '../apply/crash-points.js';
import type { GatewayAppliers, RefusedError, ResumeOutcome } from '../apply/index.js';
import type { ScriptTimeouts } from '../apply/state-scripts.js';
import type { Log } from '../base/log.js';
import { PlanError, plan as makePlan } from '../plan/index.js';
import { interruptedDesired, reconcileOnce, resumeInterrupted, type ReconcileResult } from '../gateway/reconcile.js';
import { HealthFailedError, type HealthVerdict } from '../health/index.js';
import { FleetRepoError, formatProblem, type RepoSource } from '../manifest/index.js';
import { GatewayConfigError } from '../base/config-error.js';
import { observeGateway } from '../apply/index.js';
import {
  Reason,
  type ActivityProgress,
  type ActivityReason,
  type AgentState,
  type BadCommit,
  type BadReason,
  type DesiredState,
  type GateName,
  type Plan,
} from '../model/index.js';
import type { RolloutStanding } from '../model/rollout.js';
import { badRecord } from './bad-commits.js';
import {
  APPLY_GATES,
  CHOOSE_GATES,
  runGates,
  type Gate,
  type GateOutcome,
  type GatePorts,
  type LoadedCommit,
  type Subject,
} from './gates/index.js';
import {
  isInterruption,
  rollBackToLastGood,
  type Convergence,
  type RollbackReport,
  type WatchedHealth,
} from './to-last-good.js';
import {
  beginAttempt,
  decide,
  note,
  MAX_INTERRUPTED_ATTEMPTS,
  type Decision,
  type Outcome,
  type TransactionSummary,
  type Verdict,
  withStanding,
} from './verdict.js';

export type { LoadedCommit };

export interface StatePort {
  readonly current: Readonly<AgentState>;
  /** Writes the new state through before returning. */
  replace(next: AgentState): Promise<void>;
}

export interface LifecycleEvents {
  /** What the agent is doing now (its live status and the Reconciling condition), and how far it has come. */
  activity(a: ActivityReason, commit?: string, progress?: ActivityProgress): void;
  /** The step an apply (or a rollback's convergence) has started. */
  progress?(p: ActivityProgress): void;
  /** A verdict was recorded. */
  verdict(v: Verdict): void;
  /** A rollback to the last good commit begins, because of a commit that failed this way. */
  rollingBack(kind: BadReason): void;
}

/** The admission gates' ports (./gates/gate.ts: signatures, history, the rollout's files, loading) and the rest. */
export interface LifecyclePorts extends GatePorts {
  store: StatePort;
  /** A repo reading the commit a journaled transaction was applying. */
  repoAt(commit: string): RepoSource;
  /** Keeps the applied and last good commits in the local repo (shallow fetches may drop them). */
  pin(role: 'applied' | 'last-good', commit: string): Promise<void>;
  appliers(desired?: DesiredState, repo?: RepoSource): Promise<GatewayAppliers>;
  health(desired: DesiredState, appliers: GatewayAppliers, subject: string): Promise<HealthVerdict>;
  /** pull_policy images due for a look in the registry. */
  dueImages(desired: DesiredState): string[];
  stateDir: string;
  concurrency: number;
  /** Deadlines of state scripts (stateScripts.* of the agent's configuration). */
  scriptTimeouts?: Partial<ScriptTimeouts>;
  log: Log;
  events: LifecycleEvents;
}

const short = (c: string | undefined) => (c ? c.slice(0, 12) : 'none');

/** What the choose gates made of the branch's head: the commit the gateway may run now, and why. */
export interface Choice {
  head: string;
  /** The head, or the rollout's target or base. */
  commit: string;
  rollout?: RolloutStanding;
  /** When `commit` stands in for a commit a gate deferred (the base, for the target of a wave not open yet). */
  deferral?: { gate: GateName; commit: string; why: string; until?: string };
}

const isChoice = (r: Choice | Verdict): r is Choice => !('reason' in r);
const now = () => new Date().toISOString();
const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** What to tell an operator when the gateway's own configuration is at fault; undefined for any other error. */
function configFault(err: unknown): string | undefined {
  if (err instanceof GatewayConfigError)
    return `${err.message} (the gateway's configuration is at fault, not the commit: fix ${err.setting})`;
  if (err instanceof FleetRepoError && err.gatewayFault)
    return (
      `${err.problems.map(formatProblem).join('; ')} (the gateway's configuration is at fault, not the commit: ` +
      `fix ${err.gatewayFault})`
    );
  return undefined;
}

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

  constructor(private readonly p: LifecyclePorts) {}

  private get state(): Readonly<AgentState> {
    return this.p.store.current;
  }

  /** Records a decision, then carries out its next action; resolves to the verdict it came to. */
  private async carryOut(d: Decision): Promise<Verdict | undefined> {
    if (d.state !== this.state) await this.p.store.replace(d.state);
    if (d.pin) {
      await this.p.pin('applied', d.pin).catch(() => {});
      await this.p.pin('last-good', d.pin).catch(() => {});
    }
    if (d.verdict) this.report(d.verdict);
    const next = d.next;
    if (next.action === 'roll-back') return this.rollBack(next.failed, next.lastGood, next.ran);
    return d.verdict;
  }

  private async decide(o: Outcome): Promise<Verdict | undefined> {
    return this.carryOut(decide(this.state, o, now()));
  }

  /** Every verdict is logged with its reason (`verdict` field) in the status vocabulary. */
  private report(v: Verdict): void {
    const c = short(v.commit);
    const fields = { verdict: v.reason, commit: v.commit, ...(v.to ? { to: v.to } : {}) };
    const log = this.p.log;
    switch (v.reason) {
      case 'applied':
      case 'no-change':
        log.info(
          { ...fields, steps: v.steps?.length ?? 0 },
          `commit ${c} is applied, healthy, and the last good commit`,
        );
        break;
      case 'rejected':
        log.error(fields, `commit ${c} is rejected, nothing was changed: ${v.detail}`);
        break;
      case 'prepare-failed':
        log.warn(
          { ...fields, err: v.detail },
          `commit ${c} could not be prepared, nothing running was touched; retrying soon: ${v.detail}`,
        );
        break;
      case 'rollback-incomplete':
        log.error(
          fields,
          `ROLLBACK INCOMPLETE for ${c}: ${v.detail}. The gateway is left as it is; ` +
            'nothing else is applied until the branch moves',
        );
        break;
      case 'rolled-back':
        log.warn(fields, `commit ${c} was rolled back; the gateway runs ${short(v.to)}: ${v.detail}`);
        break;
      case 'last-good-unhealthy':
        log.error(fields, `commit ${c} was rolled back onto ${short(v.to)}, which is unhealthy: ${v.detail}`);
        break;
      default:
        break;
    }
    this.p.events.verdict(v);
  }

  /** Tells the agent a health window begins, and when it passes at the earliest and fails at the latest. */
  private healthBegins(desired: DesiredState, commit: string | undefined): void {
    const at = Date.now();
    this.p.events.activity('health', commit, {
      kind: 'health',
      passAt: new Date(at + desired.health.windowMs).toISOString(),
      failAt: new Date(at + desired.health.deadlineMs).toISOString(),
    });
  }

  private readonly onStep = (p: Extract<ActivityProgress, { kind: 'step' }>) => this.p.events.progress?.(p);

  /** The health window of a desired state; throws HealthFailedError to roll the transaction back. */
  private gate(desired: DesiredState, a: GatewayAppliers, verdicts: HealthVerdict[]): () => Promise<void> {
    return async () => {
      const commit = desired.source.commit;
      this.healthBegins(desired, commit);
      crashPoint('confirm');
      const v = await this.p.health(desired, a, short(commit));
      verdicts.push(v);
      if (!v.ok) throw new HealthFailedError(v);
      // The components' commits and the removal of replaced containers follow.
      this.p.events.activity('applying', commit);
    };
  }

  /** Writes the verdict before the transaction undoes anything, so a crash cannot lose it (safety rules 4, 5). */
  private failureHook(commit: string, verdicts: HealthVerdict[]) {
    return async (error: string, step?: string, refused?: RefusedError['kind']) => {
      const healthFailed = verdicts.some((v) => !v.ok);
      await this.decide({
        kind: 'failing',
        commit,
        error,
        healthFailed,
        ...(step ? { step } : {}),
        ...(refused ? { refused } : {}),
      });
      this.p.events.activity('rolling-back', commit);
      crashPoint('bad-recorded');
    };
  }

  /**
   * The gateway's own configuration is at fault: nothing changed, nothing recorded as bad, tried
   * again on the retry schedule. Logged once per distinct fault, not once per retry.
   */
  private async configError(commit: string, reason: string): Promise<Verdict> {
    const d = decide(this.state, { kind: 'config-error', commit, reason }, now());
    if (d.state !== this.state)
      this.p.log.error(
        { verdict: 'config-error', commit, err: reason },
        `commit ${short(commit)} is not applied: ${reason}. Nothing was changed and the commit is not recorded ` +
          'as bad; it is tried again on the retry schedule (restart the agent after changing its configuration file)',
      );
    return (await this.carryOut(d))!;
  }

  /**
   * The gateway paused what was under way (the Docker Engine away longer than a step waits, the
   * disk full): an error that changed nothing final. The journal (and a rollback under way) is
   * kept, and goes on at the next reconcile, once the Engine answers or the disk has room.
   */
  private async interrupted(commit: string | undefined, err: unknown): Promise<Verdict> {
    this.p.log.warn(
      { commit, err: message(err) },
      `paused, not a verdict on ${short(commit)}: ${message(err)}; it goes on at the next reconcile`,
    );
    return this.error(commit, message(err)).catch((e: unknown) => {
      // A full disk may not take the note either; the next reconcile tries again all the same.
      this.p.log.warn({ err: message(e) }, `could not record the pause: ${message(e)}`);
      const v: Verdict = { reason: 'error', detail: message(err), ...(commit ? { commit } : {}) };
      return v;
    });
  }

  /** The health window, noting whether the Docker Engine went away while it ran (then it says nothing). */
  private async watchedHealth(desired: DesiredState, a: GatewayAppliers, subject: string): Promise<WatchedHealth> {
    const watch = a.docker?.watch();
    try {
      const v = await this.p.health(desired, a, subject);
      return !v.ok && (await watch?.check()) ? { ...v, engineWentAway: true } : v;
    } finally {
      watch?.stop();
    }
  }

  /** An error that is not a verdict on the commit: recorded once per distinct message, retried. */
  private async error(commit: string | undefined, err: string): Promise<Verdict> {
    const v: Verdict = { reason: 'error', detail: err, ...(commit ? { commit } : {}) };
    await this.noteOnce(note(this.state, v, now(), { error: err }));
    this.p.events.verdict(v);
    return v;
  }

  /** Writes a noted error only when it says something new: one write per distinct error, not one per retry. */
  private async noteOnce(next: AgentState): Promise<void> {
    const before = this.state;
    if (
      next.lastError?.message !== before.lastError?.message ||
      JSON.stringify(next.conditions) !== JSON.stringify(before.conditions)
    )
      await this.p.store.replace(next);
  }

  /** A commit refused before it could be read (too large to fetch): recorded as bad, nothing touched. */
  async refuse(commit: string, reason: string): Promise<Verdict> {
    return (await this.decide({ kind: 'invalid', commit, reason }))!;
  }

  /** A poll failed: the gateway is left as it is. */
  async pollFailed(err: string): Promise<Verdict> {
    const v: Verdict = { reason: 'poll-failed', detail: err };
    await this.noteOnce(note(this.state, v, now(), { error: err }));
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
    const keyNow = () => [head, applied, ...this.state.bad.map((b) => b.commit)].join(' ');
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
          `rollout ${ro.id}: this gateway runs the ${ro.runs} ${short(choice.commit)}: ${ro.message}`,
        );
    }
    if (d) await this.defer(d);
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
    const r = await this.gated(APPLY_GATES, { head: c.head, commit: c.commit, ...(applied ? { applied } : {}) });
    if (!isGatesPassed(r)) return r;
    if (!r.loaded) throw new Error('no admission gate loaded the commit (the policy gate is missing)');
    const target = c.commit;
    const { desired, repo } = r.loaded;
    let a: GatewayAppliers;
    try {
      a = await this.p.appliers(desired, repo);
    } catch (err) {
      const fault = configFault(err);
      if (fault) return this.configError(target, fault);
      this.p.log.error(
        { commit: target, err: message(err) },
        `cannot reach the gateway's appliers, nothing was changed: ${message(err)}`,
      );
      return this.error(target, message(err));
    }
    try {
      return await this.attempt(target, desired, repo, a);
    } catch (err) {
      if (isInterruption(err)) {
        this.paused = target;
        return this.interrupted(target, err);
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
    const r = await runGates(gates, s, this.p);
    switch (r.kind) {
      case 'pass':
        return r;
      case 'refuse': {
        const bad = badRecord(this.state.bad, r.commit);
        if (bad) return { reason: Reason.KnownBad, commit: r.commit, detail: bad.reason };
        return (await this.decide({ kind: 'invalid', commit: r.commit, reason: r.reason, bad: r.bad }))!;
      }
      case 'defer':
        return this.defer(r);
      case 'error': {
        const fault = configFault(r.error);
        if (fault) return this.configError(r.commit, fault);
        const why = message(r.error);
        this.p.log.error(
          { commit: r.commit, gate: r.gate, err: why },
          `cannot tell whether commit ${short(r.commit)} may run (${r.gate} gate): ${why}`,
        );
        return this.error(r.commit, why);
      }
    }
  }

  /** A gate said "not yet": recorded (and logged) once per cause, never a verdict on the commit. */
  private async defer(d: {
    gate: GateName;
    commit: string;
    cause: string;
    why: string;
    until?: string;
    instead?: string;
  }): Promise<Verdict> {
    const before = this.state.history.length;
    const dec = decide(
      this.state,
      {
        kind: 'deferred',
        commit: d.commit,
        gate: d.gate,
        cause: d.cause,
        detail: d.why,
        ...(d.until !== undefined ? { until: d.until } : {}),
        ...(d.instead !== undefined ? { instead: d.instead } : {}),
      },
      now(),
    );
    if (dec.state.history.length > before)
      this.p.log.info(
        { verdict: Reason.Deferred, commit: d.commit, gate: d.gate, until: d.until, instead: d.instead },
        `commit ${short(d.commit)} waits at the ${d.gate} gate, and nothing is recorded against it: ${d.why}` +
          (d.instead
            ? `; meanwhile the gateway runs ${short(d.instead)}`
            : '; meanwhile the gateway keeps what it runs'),
      );
    return (await this.carryOut(dec))!;
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
        stateDir: this.p.stateDir,
        log: this.p.log,
        concurrency: this.p.concurrency,
        ...(this.p.scriptTimeouts ? { scriptTimeouts: this.p.scriptTimeouts } : {}),
        ...(this.p.scriptTimeouts ? { scriptTimeouts: this.p.scriptTimeouts } : {}),
        confirm: this.gate(desired, a, verdicts),
        onFailure: this.failureHook(commit, verdicts),
        refreshImages: this.p.dueImages(desired),
        onStep: this.onStep,
      });
    } catch (err) {
      // Found before any step ran (observing an interface that is not installed): nothing changed.
      const fault = configFault(err);
      if (fault) return this.configError(commit, fault);
      if (!(err instanceof PlanError)) throw err;
      // No plan takes this gateway to the commit (a constraint, a changed network or volume):
      // nothing was touched, and trying again would find the same. The commit is rejected.
      return (await this.decide({ kind: 'invalid', commit, reason: `no plan: ${err.message}` }))!;
    }
    return (await this.decide({
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
      converge: (c) => this.converge(c),
      health: (c) => this.lastGoodHealth(c),
    });
    return this.decide({ kind: 'rollback', failed, rollback: report, ran });
  }

  private async lastGoodHealth(c: string): Promise<WatchedHealth> {
    const { desired } = await this.p.load(c);
    const a = await this.p.appliers(desired);
    this.healthBegins(desired, c);
    return this.watchedHealth(desired, a, `last good ${short(c)}`);
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
        converge: (c) => this.converge(c),
        health: (c) => this.lastGoodHealth(c),
      });
    } catch (err) {
      this.p.log.warn(
        { commit: failed.commit, err: message(err) },
        `could not look again at the gateway ${short(failed.commit)} left stalled: ${message(err)}; later again`,
      );
      return still;
    }
    const v = await this.decide({ kind: 'recovery', failed, rollback: report });
    if (v?.reason === 'rolled-back') this.p.log.info({ commit: failed.commit, to: lastGood }, `recovered: ${v.detail}`);
    return v ?? still;
  }

  /**
   * Takes the gateway to a commit's desired state (the rollback target, drift). Without a health
   * gate, except when an image moved in the registry: that is a new release of the service, so
   * it passes the health window or is put back, as a commit would.
   */
  private async converge(commit: string, refresh = false): Promise<Convergence> {
    const { desired, repo } = await this.p.load(commit);
    const a = await this.p.appliers(desired, repo);
    const refreshImages = refresh ? this.p.dueImages(desired) : [];
    const gate = refreshImages.length
      ? {
          refreshImages,
          confirm: this.gate(desired, a, []),
          gateIf: (p: Plan) => p.changes.some((c) => c.cause === 'registry'),
        }
      : {};
    const r = await reconcileOnce(desired, {
      ...a,
      stateDir: this.p.stateDir,
      log: this.p.log,
      concurrency: this.p.concurrency,
      ...(this.p.scriptTimeouts ? { scriptTimeouts: this.p.scriptTimeouts } : {}),
      ...gate,
      onStep: this.onStep,
    });
    const o = r.outcome;
    if (!o || o.status === 'applied') return { ok: true, steps: o?.ran ?? [] };
    return { ok: false, error: o.error ?? o.status, steps: [...o.ran, ...o.undone] };
  }

  /** Puts back what changed on the gateway by hand (and releases of moved image tags). */
  async repairDrift(commit: string): Promise<Verdict> {
    this.p.events.activity('applying', commit);
    let conv: Convergence;
    try {
      conv = await this.converge(commit, true);
    } catch (err) {
      const fault = configFault(err);
      if (fault) return this.configError(commit, fault);
      this.p.log.warn({ commit, err: message(err) }, `drift check failed: ${message(err)}`);
      return this.error(commit, message(err));
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
      this.p.log.info({ commit, steps: conv.steps }, `drift repaired: the gateway matches ${short(commit)} again`);
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
      await this.resumePending();
    } catch (err) {
      if (!isInterruption(err)) throw err;
      const commit = this.state.rollingBack?.commit ?? this.state.inProgress?.commit;
      await this.interrupted(commit, err);
    }
  }

  /** A rollback the gateway paused (the Engine away, the disk full) goes on to its end and its verdict. */
  async finishRollback(): Promise<Verdict> {
    const commit = this.state.rollingBack?.commit;
    this.p.events.activity('rolling-back', commit);
    try {
      return (await this.resumePending()) ?? { reason: 'unchanged', ...(commit ? { commit } : {}) };
    } catch (err) {
      if (isInterruption(err)) return this.interrupted(commit, err);
      throw err;
    }
  }

  private async resumePending(): Promise<Verdict | undefined> {
    let desired = await interruptedDesired(this.p.stateDir);
    const rb = this.state.rollingBack;
    if (desired && rb && desired.source.commit !== rb.commit) {
      // The journal is the rollback's own convergence to the last good commit: it is finished (or
      // put back) first, and then the rollback goes on, converging and checking health as ever.
      await this.resumeJournal(desired, desired.source.commit);
      desired = undefined;
    }
    const commit = desired?.source.commit ?? rb?.commit ?? this.state.inProgress?.commit;
    let resumed: Extract<Outcome, { kind: 'interrupted' }>['resumed'];
    if (desired) {
      const verdicts: HealthVerdict[] = [];
      const r = await this.resumeJournal(desired, commit, verdicts);
      if (!r) return undefined;
      const short = r.undoErrors.length > (r.outcome?.permanentUndoErrors ?? 0) && !r.outcome;
      if (short && r.failure === undefined) {
        throw new Error(
          `the apply interrupted by a crash could not be put back completely: ${r.undoErrors.join('; ')}; ` +
            'fix the cause and start the agent again',
        );
      }
      if (!commit) return undefined;
      // The rollback of a failed commit, resumed, fell short: said as such (and looked at again later).
      const incomplete: TransactionSummary | undefined =
        short && r.failure !== undefined
          ? { status: 'rollback-incomplete', error: r.failure, ran: [], undone: r.undone, undoErrors: r.undoErrors }
          : undefined;
      const transaction = r.outcome ?? incomplete;
      resumed = { action: r.action, ...(transaction ? { transaction } : {}) };
    }
    if (!commit) return undefined;
    const o: Extract<Outcome, { kind: 'interrupted' }> = {
      kind: 'interrupted',
      commit,
      ...(resumed ? { resumed } : {}),
    };
    let d = decide(this.state, o, now());
    if (d.next.action === 'check-live')
      d = decide(this.state, { ...o, matchesLive: await this.matchesLive(commit) }, now());
    if (d.next.action === 'retry') {
      const attempts = this.state.inProgress?.attempts ?? 1;
      this.p.log.warn(
        { commit, attempts },
        `the apply of ${short(commit)} was interrupted (attempt ${attempts} of ${MAX_INTERRUPTED_ATTEMPTS}); ` +
          'it is tried again',
      );
    }
    return this.carryOut(d);
  }

  /** Resumes the journaled transaction of `desired` and notes it in the history. */
  private async resumeJournal(
    desired: DesiredState,
    commit: string | undefined,
    verdicts?: HealthVerdict[],
  ): Promise<ResumeOutcome | undefined> {
    const a = await this.p.appliers(desired, commit ? this.p.repoAt(commit) : undefined);
    const r = await resumeInterrupted({
      ...a,
      stateDir: this.p.stateDir,
      log: this.p.log,
      concurrency: this.p.concurrency,
      ...(this.p.scriptTimeouts ? { scriptTimeouts: this.p.scriptTimeouts } : {}),
      ...(verdicts ? { confirm: this.gate(desired, a, verdicts) } : {}),
      ...(verdicts && commit ? { onFailure: this.failureHook(commit, verdicts) } : {}),
    });
    if (!r) return undefined;
    const v: Verdict = {
      reason: 'resumed',
      ...(commit ? { commit } : {}),
      detail: `the apply interrupted in its ${r.interruptedIn} phase was ${r.action}`,
      steps: [...(r.outcome?.ran ?? []), ...r.undone],
    };
    await this.p.store.replace(note(this.state, v, now(), { history: true }));
    return r;
  }

  private async matchesLive(commit: string): Promise<boolean> {
    try {
      const { desired } = await this.p.load(commit);
      const observed = await observeGateway(await this.p.appliers(desired), desired, this.p.log);
      return makePlan(desired, observed).changes.length === 0;
    } catch {
      return false;
    }
  }
}
