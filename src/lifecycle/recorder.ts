// Records what happens to commits: each outcome goes through `decide` (./verdict.ts), the state
// it comes to is written before anything else happens, the verdict is logged and told to the agent,
// and a decision to roll back is carried out. Errors that are no verdict on a commit (the
// gateway's configuration, a pause, a retried fault) are noted once per distinct cause.

import type { RefusedError } from '../apply/index.js';
import { crashPoint } from '../apply/crash-points.js';
import { GatewayConfigError } from '../base/config-error.js';
import type { HealthVerdict } from '../health/index.js';
import { FleetRepoError, formatProblem } from '../manifest/index.js';
import { Reason, type AgentState, type BadCommit, type GateName } from '../model/index.js';
import type { LifecyclePorts } from './ports.js';
import { decide, note, type Decision, type Outcome, type Verdict } from './verdict.js';
import { shortCommit } from '../base/short-commit.js';
import { errorMessage } from '../base/error-message.js';

export const now = () => new Date().toISOString();

/** What to tell an operator when the gateway's own configuration is at fault; undefined for any other error. */
export function configFault(err: unknown): string | undefined {
  if (err instanceof GatewayConfigError)
    return `${err.message} (the gateway's configuration is at fault, not the commit: fix ${err.setting})`;
  if (err instanceof FleetRepoError && err.gatewayFault)
    return (
      `${err.problems.map(formatProblem).join('; ')} (the gateway's configuration is at fault, not the commit: ` +
      `fix ${err.gatewayFault})`
    );
  return undefined;
}

/** Carries out a decision to roll back (the lifecycle's own: it converges and checks health). */
export type RollBack = (failed: BadCommit, lastGood: string | undefined, ran: string[]) => Promise<Verdict | undefined>;

/** A gate's "not yet", as the recorder records it. */
export interface Deferral {
  gate: GateName;
  commit: string;
  cause: string;
  why: string;
  until?: string;
  instead?: string;
}

export class Recorder {
  constructor(
    private readonly p: LifecyclePorts,
    private readonly rollBack: RollBack,
  ) {}

  get state(): Readonly<AgentState> {
    return this.p.store.current;
  }

  /** Records a decision, then carries out its next action; resolves to the verdict it came to. */
  async carryOut(d: Decision): Promise<Verdict | undefined> {
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

  async decide(o: Outcome): Promise<Verdict | undefined> {
    return this.carryOut(decide(this.state, o, now()));
  }

  /** Every verdict is logged with its reason (`verdict` field) in the status vocabulary. */
  private report(v: Verdict): void {
    const c = shortCommit(v.commit);
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
        log.warn(fields, `commit ${c} was rolled back; the gateway runs ${shortCommit(v.to)}: ${v.detail}`);
        break;
      case 'last-good-unhealthy':
        log.error(fields, `commit ${c} was rolled back onto ${shortCommit(v.to)}, which is unhealthy: ${v.detail}`);
        break;
      // Logged where they happen (the poll, the gates, the drift check), or nothing to say.
      case 'bad-commit':
      case 'config-error':
      case 'deferred':
      case 'drift-repair-failed':
      case 'drift-repaired':
      case 'error':
      case 'forgotten':
      case 'poll-failed':
      case 'resumed':
      case 'stopping':
      case 'unchanged':
        break;
    }
    this.p.events.verdict(v);
  }

  /** Writes the verdict before the transaction undoes anything, so a crash cannot lose it (safety rules 4, 5). */
  failureHook(commit: string, verdicts: HealthVerdict[]) {
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
  async configError(commit: string, reason: string): Promise<Verdict> {
    const d = decide(this.state, { kind: 'config-error', commit, reason }, now());
    if (d.state !== this.state)
      this.p.log.error(
        { verdict: 'config-error', commit, err: reason },
        `commit ${shortCommit(commit)} is not applied: ${reason}. Nothing was changed and the commit is not recorded ` +
          'as bad; it is tried again on the retry schedule (restart the agent after changing its configuration file)',
      );
    return (await this.carryOut(d))!;
  }

  /**
   * The gateway paused what was under way (the Docker Engine away longer than a step waits, the
   * disk full): an error that changed nothing final. The journal (and a rollback under way) is
   * kept, and goes on at the next reconcile, once the Engine answers or the disk has room.
   */
  async interrupted(commit: string | undefined, err: unknown): Promise<Verdict> {
    this.p.log.warn(
      { commit, err: errorMessage(err) },
      `paused, not a verdict on ${shortCommit(commit)}: ${errorMessage(err)}; it goes on at the next reconcile`,
    );
    return this.error(commit, errorMessage(err)).catch((e: unknown) => {
      // A full disk may not take the note either; the next reconcile tries again all the same.
      this.p.log.warn({ err: errorMessage(e) }, `could not record the pause: ${errorMessage(e)}`);
      const v: Verdict = { reason: 'error', detail: errorMessage(err), ...(commit ? { commit } : {}) };
      return v;
    });
  }

  /** An error that is not a verdict on the commit: recorded once per distinct message, retried. */
  async error(commit: string | undefined, err: string): Promise<Verdict> {
    const v: Verdict = { reason: 'error', detail: err, ...(commit ? { commit } : {}) };
    await this.noteOnce(note(this.state, v, now(), { error: err }));
    this.p.events.verdict(v);
    return v;
  }

  /** Writes a noted error only when it says something new: one write per distinct error, not one per retry. */
  async noteOnce(next: AgentState): Promise<void> {
    const before = this.state;
    if (
      next.lastError?.message !== before.lastError?.message ||
      JSON.stringify(next.conditions) !== JSON.stringify(before.conditions)
    )
      await this.p.store.replace(next);
  }

  /** A gate said "not yet": recorded (and logged) once per cause, never a verdict on the commit. */
  async defer(d: Deferral): Promise<Verdict> {
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
        `commit ${shortCommit(d.commit)} waits at the ${d.gate} gate, and nothing is recorded against it: ${d.why}` +
          (d.instead
            ? `; meanwhile the gateway runs ${shortCommit(d.instead)}`
            : '; meanwhile the gateway keeps what it runs'),
      );
    return (await this.carryOut(dec))!;
  }
}
