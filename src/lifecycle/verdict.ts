// The rollback policy, pure: given what happened to a commit and the gateway's state, the state
// after it and what to do next. Every "what happens when health fails" decision is made here and
// nowhere else; src/lifecycle/lifecycle.ts carries the decisions out. Safety rules 5 (one attempt
// per commit: a bad commit is never applied again on its own) and 6 (a rollback is reported as a
// rollback, naming the commit, the reason and what runs now) are kept by these functions and
// checked by their table (test/lifecycle/verdict.test.ts).

import {
  CONDITION_TYPES,
  Reason,
  VERDICT_CONDITIONS,
  withVerdict,
  type AgentState,
  type BadCommit,
  type BadReason,
  type GateName,
} from '../model/index.js';
import type { RolloutStanding } from '../model/rollout.js';

export { afterPoll, stalledOn, type PollDecision } from '../model/poll-decision.js';
import { badRecord, withBad } from './bad-commits.js';

/** A commit interrupted this many times while being applied is recorded as bad. */
export const MAX_INTERRUPTED_ATTEMPTS = 3;

export type { Decision, Next, Outcome, RollbackSummary, TransactionSummary, Verdict } from './outcomes.js';
import type { Decision, Next, Outcome, RollbackSummary, TransactionSummary, Verdict } from './outcomes.js';

const clone = (s: AgentState): AgentState => structuredClone(s);

/** Records a verdict: history, conditions and the last attempted commit. */
function recordVerdict(s: AgentState, v: Verdict, at: string, history = true): void {
  const message = v.detail;
  const c = {
    reason: v.reason,
    ...(v.commit ? { commit: v.commit } : {}),
    ...(message !== undefined ? { message } : {}),
  };
  s.conditions = withVerdict(s.conditions, c, at);
  if (v.commit && v.reason !== 'resumed') s.lastAttempted = { commit: v.commit, at, reason: v.reason };
  if (!history) return;
  const changed = CONDITION_TYPES.flatMap((type) => {
    const status = type === 'Reconciling' ? undefined : VERDICT_CONDITIONS[v.reason][type];
    return status ? [{ type, status }] : [];
  });
  s.history.push({
    at,
    event: v.reason,
    ...(v.commit ? { commit: v.commit } : {}),
    ...(v.to ? { to: v.to } : {}),
    ...(v.detail !== undefined ? { detail: v.detail } : {}),
    ...(v.steps ? { steps: v.steps } : {}),
    ...(changed.length ? { conditions: changed } : {}),
    ...(s.rollout ? { rollout: { id: s.rollout.id, target: s.rollout.target } } : {}),
  });
}

function markBad(s: AgentState, bad: BadCommit): void {
  s.bad = withBad(s.bad, bad);
  s.lastError = { at: bad.at, message: bad.reason, commit: bad.commit };
}

function applied(
  state: AgentState,
  commit: string,
  at: string,
  t: TransactionSummary | undefined,
  resumed: boolean,
): Decision {
  const s = clone(state);
  s.applied = { commit, at };
  s.lastGood = { commit, at };
  delete s.inProgress;
  delete s.lastError;
  delete s.lastGoodUnhealthy;
  if (s.deferred?.commit === commit) delete s.deferred;
  const steps = t?.ran ?? [];
  const detail = t ? undefined : resumed ? 'finished after the agent restarted' : 'nothing to change on this gateway';
  // The history says `applied` either way (the gateway runs the commit); the verdict says whether it changed anything.
  recordVerdict(s, { reason: Reason.Applied, commit, steps, ...(detail ? { detail } : {}) }, at);
  const v: Verdict = { reason: t ? Reason.Applied : Reason.NoChange, commit, steps };
  s.lastAttempted = { commit, at, reason: v.reason };
  return { state: s, next: { action: 'done' }, verdict: v, pin: commit };
}

/** After the transaction of `commit`: record, and say whether to roll back to the last good commit. */
function afterTransaction(
  state: AgentState,
  commit: string,
  t: TransactionSummary | undefined,
  at: string,
  resumed = false,
): Decision {
  if (!t || t.status === 'applied') return applied(state, commit, at, t, resumed);
  const s = clone(state);
  if (t.status === 'prepare-failed' && t.refused) {
    // Nothing was touched, and the commit itself is at fault (an artifact's signature or sum).
    const reason = t.error ?? 'refused';
    markBad(s, { commit, kind: t.refused, reason, at, ...(t.failedStep ? { step: t.failedStep } : {}) });
    delete s.inProgress;
    const v: Verdict = { reason: Reason.Rejected, commit, detail: reason, steps: t.ran };
    recordVerdict(s, v, at);
    return { state: s, next: { action: 'done' }, verdict: v };
  }
  if (t.status === 'prepare-failed') {
    delete s.inProgress;
    const detail = t.error ?? '';
    s.lastError = { at, message: t.error ?? 'prepare failed', commit };
    const v: Verdict = { reason: Reason.PrepareFailed, commit, detail, steps: t.ran };
    recordVerdict(s, v, at);
    return { state: s, next: { action: 'retry' }, verdict: v };
  }
  // Rolled back by its own transaction. The failure hook has recorded it as bad already (unless
  // it failed before the hook could run); make sure.
  const known = badRecord(s.bad, commit);
  const bad: BadCommit = known ?? {
    commit,
    kind: t.status === 'rollback-incomplete' ? Reason.RollbackIncomplete : Reason.ApplyFailed,
    reason: t.error ?? 'failed',
    at,
    ...(t.failedStep ? { step: t.failedStep } : {}),
  };
  const ran = [...t.ran, ...t.undone];
  delete s.inProgress;
  if (t.status === 'rollback-incomplete') {
    delete s.rollingBack;
    const b: BadCommit = {
      ...bad,
      kind: Reason.RollbackIncomplete,
      reason: `${bad.reason}; could not put back: ${t.undoErrors.join('; ')}`,
    };
    markBad(s, b);
    const v: Verdict = { reason: Reason.RollbackIncomplete, commit, detail: b.reason, steps: ran };
    recordVerdict(s, v, at);
    return { state: s, next: { action: 'done' }, verdict: v };
  }
  if (!known) markBad(s, bad);
  return { state: s, next: rollBack(bad, s, ran, at) };
}

/** Back to the last good commit; until that ends, the state says so (a rollback paused is finished first). */
function rollBack(failed: BadCommit, s: AgentState, ran: string[], at: string): Next {
  s.rollingBack = { commit: failed.commit, since: s.rollingBack?.commit === failed.commit ? s.rollingBack.since : at };
  return { action: 'roll-back', failed, ran, ...(s.lastGood ? { lastGood: s.lastGood.commit } : {}) };
}

/** The rollback to the last good commit ended: what the gateway runs now, and whether that is healthy. */
function afterRollback(
  state: AgentState,
  failed: BadCommit,
  r: RollbackSummary,
  ran: string[],
  at: string,
  recovered?: string,
): Decision {
  const s = clone(state);
  delete s.rollingBack;
  const unhealthy = r.healthy === false;
  if (r.to && r.converged) s.applied = { commit: r.to, at };
  else if (!r.to) delete s.applied;
  if (unhealthy && r.to) s.lastGoodUnhealthy = { commit: r.to, reason: r.healthReason ?? 'unhealthy', at };
  else delete s.lastGoodUnhealthy;
  const v: Verdict = {
    reason: unhealthy ? Reason.LastGoodUnhealthy : Reason.RolledBack,
    commit: failed.commit,
    ...(r.to ? { to: r.to } : {}),
    detail:
      (recovered ?? '') +
      (unhealthy
        ? `${failed.reason}; and the last good commit is unhealthy too: ${r.healthReason}`
        : r.convergeError
          ? `${failed.reason}; converging to the last good commit failed: ${r.convergeError}`
          : failed.reason),
    steps: [...ran, ...r.steps],
  };
  recordVerdict(s, v, at);
  return { state: s, next: { action: 'done' }, verdict: v };
}

function rejected(state: AgentState, o: Extract<Outcome, { kind: 'invalid' }>, at: string): Decision {
  const { commit, reason } = o;
  const s = clone(state);
  markBad(s, { commit, kind: o.bad ?? Reason.Invalid, reason, at });
  delete s.inProgress;
  const v: Verdict = { reason: Reason.Rejected, commit, detail: reason };
  recordVerdict(s, v, at);
  return { state: s, next: { action: 'done' }, verdict: v };
}

/** The transaction failed: the verdict goes on disk before anything is undone, so no crash loses it (rules 4, 5). */
function failing(state: AgentState, o: Extract<Outcome, { kind: 'failing' }>, at: string): Decision {
  const s = clone(state);
  const kind: BadReason = o.refused ?? (o.healthFailed ? Reason.HealthFailed : Reason.ApplyFailed);
  markBad(s, { commit: o.commit, kind, reason: o.error, at, ...(o.step ? { step: o.step } : {}) });
  // From here on the commit is being rolled back: if the Engine pauses the undo, it is finished first.
  s.rollingBack = { commit: o.commit, since: at };
  return { state: s, next: { action: 'undo' } };
}

/**
 * A fault of the gateway's own configuration is an error of the gateway, never a verdict on the
 * commit (DESIGN.md): nothing is recorded as bad, the gateway keeps what it runs, and the commit
 * is tried again. The same fault again, unchanged, is not written again.
 */
function configError(state: AgentState, o: Extract<Outcome, { kind: 'config-error' }>, at: string): Decision {
  const v: Verdict = { reason: Reason.ConfigError, commit: o.commit, detail: o.reason };
  const known =
    state.lastAttempted?.commit === o.commit &&
    state.lastAttempted.reason === Reason.ConfigError &&
    state.lastError?.message === o.reason &&
    state.inProgress?.commit !== o.commit;
  if (known) return { state, next: { action: 'retry' }, verdict: v };
  const s = clone(state);
  if (s.inProgress?.commit === o.commit) delete s.inProgress;
  s.lastError = { at, message: o.reason, commit: o.commit };
  recordVerdict(s, v, at);
  return { state: s, next: { action: 'retry' }, verdict: v };
}

/**
 * Not yet (safety rule 5 is not in play: nothing is bad). Recorded — history, conditions, the
 * deferral in the state — once per cause; the same cause found again by later polls writes
 * nothing, though a detail that changed (two waves open now, not one) is kept up to date quietly.
 */
function deferred(state: AgentState, o: Extract<Outcome, { kind: 'deferred' }>, at: string): Decision {
  const v: Verdict = { reason: Reason.Deferred, commit: o.commit, detail: o.detail };
  const d = {
    commit: o.commit,
    gate: o.gate,
    cause: o.cause,
    detail: o.detail,
    ...(o.until !== undefined ? { until: o.until } : {}),
    ...(o.instead !== undefined ? { instead: o.instead } : {}),
  };
  const was = state.deferred;
  if (was && was.commit === o.commit && was.gate === o.gate && was.cause === o.cause) {
    if (JSON.stringify({ ...was, since: '' }) === JSON.stringify({ ...d, since: '' }))
      return { state, next: { action: 'done' }, verdict: v };
    const s = clone(state);
    s.deferred = { ...d, since: was.since };
    return { state: s, next: { action: 'done' }, verdict: v };
  }
  const s = clone(state);
  s.deferred = { ...d, since: at };
  recordVerdict(s, v, at);
  return { state: s, next: { action: 'done' }, verdict: v };
}

/** What the gates made of a new head, as far as the state cares (src/lifecycle/gates). */
export interface Standing {
  /** The rollout at the head and where the gateway stands in it; absent: none runs. */
  rollout?: RolloutStanding;
  /** The commit the gateway wants now: the one a gate deferred, else the one it may run. */
  wants: string;
  /** The gate that deferred it, when one did. */
  deferredAt?: GateName;
  /** The gates the head passed (a deferral made at one of them earlier has lapsed). */
  passed: readonly GateName[];
}

/**
 * The rollout the gateway stands in now, from the gates of a new head: kept in the state (status
 * and reports show it, verdicts name it) without a history entry of its own. A deferral that has
 * lapsed (its gate passed now, or the gateway wants another commit: the rollout moved on, or
 * ended) is dropped with it.
 */
export function withStanding(state: AgentState, now: Standing): AgentState {
  const d = state.deferred;
  const lapsed =
    d !== undefined &&
    (d.commit !== now.wants ||
      (now.deferredAt !== undefined ? d.gate !== now.deferredAt : now.passed.includes(d.gate)));
  if (JSON.stringify(state.rollout) === JSON.stringify(now.rollout) && !lapsed) return state;
  const s = clone(state);
  if (now.rollout) s.rollout = now.rollout;
  else delete s.rollout;
  if (lapsed) delete s.deferred;
  return s;
}

/**
 * A stalled gateway looked at again. Back on the last good commit and healthy: that is the
 * rollback the commit's failure asked for, recorded as one (`rolled-back`, Healthy=True) — the
 * commit stays bad. Converged but still unhealthy: said once (`last-good-unhealthy`), not again at
 * every look. Not converged: nothing new to record; the next look comes later (the agent backs off).
 */
function recovery(state: AgentState, o: Extract<Outcome, { kind: 'recovery' }>, at: string): Decision {
  const r = o.rollback;
  const was = state.lastAttempted?.reason;
  if (!r.converged || (r.healthy === false && was === Reason.LastGoodUnhealthy))
    return { state, next: { action: 'done' } };
  const note = `recovered from ${was ?? 'a stalled rollback'}: the gateway is back on the last good commit; `;
  return afterRollback(state, o.failed, r, [], at, r.healthy === false ? undefined : note);
}

/** What a crash interrupted, once its journal (if any) was resumed. */
function interrupted(state: AgentState, o: Extract<Outcome, { kind: 'interrupted' }>, at: string): Decision {
  const { commit, resumed } = o;
  if (resumed?.transaction) return afterTransaction(state, commit, resumed.transaction, at, true);
  if (resumed?.action === 'finished') return afterTransaction(state, commit, undefined, at, true);
  // The transaction was put back (or never began, or ended before the state said so).
  const bad = badRecord(state.bad, commit);
  const s = clone(state);
  if (bad) {
    delete s.inProgress;
    return { state: s, next: rollBack(bad, s, [], at) };
  }
  if (!resumed) {
    // It may have finished, health and all, with the crash before the state file said so.
    if (o.matchesLive === undefined) return { state, next: { action: 'check-live' } };
    if (o.matchesLive) return afterTransaction(state, commit, undefined, at, true);
  }
  const attempts = state.inProgress?.commit === commit ? state.inProgress.attempts : 1;
  if (attempts >= MAX_INTERRUPTED_ATTEMPTS) {
    const b: BadCommit = {
      commit,
      kind: Reason.Interrupted,
      reason: `the agent was interrupted ${attempts} times while applying it`,
      at,
    };
    markBad(s, b);
    delete s.inProgress;
    return { state: s, next: rollBack(b, s, [], at) };
  }
  return { state, next: { action: 'retry' } };
}

/** The policy: the state after an outcome, and what to do next. */
export function decide(state: AgentState, o: Outcome, at: string): Decision {
  switch (o.kind) {
    case 'invalid':
      return rejected(state, o, at);
    case 'transaction':
      return afterTransaction(state, o.commit, o.transaction, at, o.resumed === true);
    case 'failing':
      return failing(state, o, at);
    case 'rollback':
      return afterRollback(state, o.failed, o.rollback, o.ran, at);
    case 'config-error':
      return configError(state, o, at);
    case 'deferred':
      return deferred(state, o, at);
    case 'recovery':
      return recovery(state, o, at);
    case 'interrupted':
      return interrupted(state, o, at);
  }
}

/** A new attempt at `commit` begins: counted, so a commit that kills the agent again and again ends as bad. */
export function beginAttempt(state: AgentState, commit: string, at: string): AgentState {
  const s = clone(state);
  s.inProgress = {
    commit,
    since: at,
    attempts: (s.inProgress?.commit === commit ? s.inProgress.attempts : 0) + 1,
  };
  return s;
}

/** A verdict that changes no commit (a failed poll, a repaired drift): conditions, history, last error. */
export function note(
  state: AgentState,
  v: Verdict,
  at: string,
  opts: { history?: boolean; error?: string } = {},
): AgentState {
  const s = clone(state);
  recordVerdict(s, v, at, opts.history ?? false);
  if (opts.error !== undefined && s.lastError?.message !== opts.error)
    s.lastError = { at, message: opts.error, ...(v.commit ? { commit: v.commit } : {}) };
  return s;
}
