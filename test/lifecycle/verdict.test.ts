// The rollback policy as a table: every row an outcome and a gateway state, and what the policy
// must make of them — the state after, the verdict, the next action. Pure: no process, no Docker,
// no git server.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { emptyState, VERDICTS, type AgentState, type BadCommit, type ConditionType } from '../../src/model/index.js';
import {
  afterPoll,
  beginAttempt,
  decide,
  MAX_INTERRUPTED_ATTEMPTS,
  withStanding,
  type Decision,
  type Outcome,
  type TransactionSummary,
} from '../../src/lifecycle/index.js';

const AT = '2026-11-30T10:00:00.000Z';
const GOOD = 'a'.repeat(40);
const NEW = 'b'.repeat(40);
const OLDER = 'c'.repeat(40);

function gateway(over: Partial<AgentState> = {}): AgentState {
  return {
    ...emptyState(),
    applied: { commit: GOOD, at: 'earlier' },
    lastGood: { commit: GOOD, at: 'earlier' },
    ...over,
  };
}

const inProgress = (attempts: number) => ({ inProgress: { commit: NEW, since: 'earlier', attempts } });
const txn = (status: TransactionSummary['status'], over: Partial<TransactionSummary> = {}): TransactionSummary => ({
  status,
  ran: ['pull web', 'start web'],
  undone: status === 'applied' || status === 'prepare-failed' ? [] : ['undo start web'],
  undoErrors: [],
  ...over,
});
const healthBad: BadCommit = { commit: NEW, kind: 'health-failed', reason: 'api down', at: 'earlier' };
const WAVE3 = 'not yet: wave 3 of 4 "half" opens once the waves before it pass their gates (1 of 4 waves open)';
const notYet = (over: Partial<Extract<Outcome, { kind: 'deferred' }>> = {}): Outcome => ({
  kind: 'deferred',
  commit: NEW,
  gate: 'rollout',
  cause: `rollout edge-v2 target ${NEW} not-yet at wave 3 of 4 "half"`,
  detail: WAVE3,
  until: 'wave 3 of 4 "half" opens',
  instead: GOOD,
  ...over,
});
const deferral = (over: Partial<NonNullable<AgentState['deferred']>> = {}): NonNullable<AgentState['deferred']> => ({
  commit: NEW,
  gate: 'rollout',
  cause: `rollout edge-v2 target ${NEW} not-yet at wave 3 of 4 "half"`,
  detail: WAVE3,
  until: 'wave 3 of 4 "half" opens',
  instead: GOOD,
  since: 'earlier',
  ...over,
});
const STANDING: NonNullable<AgentState['rollout']> = {
  id: 'edge-v2',
  target: NEW,
  base: GOOD,
  state: 'rolling',
  runs: 'base',
  code: 'not-yet',
  wave: { number: 3, of: 4, name: 'half', open: false },
  message: WAVE3,
};

interface Expect {
  next: Decision['next']['action'];
  verdict?: string;
  /** The bad record of NEW, by kind; null: none. */
  bad?: BadCommit['kind'] | null;
  badReason?: RegExp;
  applied?: string | null;
  lastGood?: string | null;
  inProgress?: boolean;
  lastGoodUnhealthy?: boolean;
  history?: string;
  /** Conditions as TYPE=Status. */
  conditions?: Partial<Record<ConditionType, string>>;
  rollBackTo?: string | null;
  pin?: string;
  /** The state object is returned as it was (nothing to write). */
  unchangedState?: boolean;
  /** A rollback of NEW to the last good commit is recorded as under way (finished first after a pause). */
  rollingBack?: boolean;
  detail?: RegExp;
  /** The deferral kept in the state: its detail and since; null: none. */
  deferred?: { detail: string; since: string } | null;
  /** The rollout the new history entry names. */
  historyRollout?: { id: string; target: string };
}

interface Row {
  name: string;
  state: AgentState;
  outcome: Outcome;
  expect: Expect;
}

const rows: Row[] = [
  {
    name: 'applied and healthy: the commit is applied and the last good one',
    state: gateway({ ...inProgress(1), lastError: { at: 'x', message: 'old' } }),
    outcome: { kind: 'transaction', commit: NEW, transaction: txn('applied') },
    expect: {
      next: 'done',
      verdict: 'applied',
      applied: NEW,
      lastGood: NEW,
      inProgress: false,
      history: 'applied',
      pin: NEW,
      conditions: { Ready: 'True', Healthy: 'True', Stalled: 'False' },
      bad: null,
    },
  },
  {
    name: 'a commit with nothing to change on this gateway is applied and good',
    state: gateway(inProgress(1)),
    outcome: { kind: 'transaction', commit: NEW },
    expect: { next: 'done', verdict: 'no-change', applied: NEW, lastGood: NEW, history: 'applied', pin: NEW },
  },
  {
    name: 'health failed: recorded as bad before the undo (safety rule 6), then the undo goes on',
    state: gateway(inProgress(1)),
    outcome: { kind: 'failing', commit: NEW, error: 'api down', step: 'start web', healthFailed: true },
    expect: { next: 'undo', bad: 'health-failed', badReason: /api down/, applied: GOOD, inProgress: true },
  },
  {
    name: 'a step failed: recorded as apply-failed before the undo',
    state: gateway(inProgress(1)),
    outcome: { kind: 'failing', commit: NEW, error: 'port in use', step: 'start web', healthFailed: false },
    expect: { next: 'undo', bad: 'apply-failed', badReason: /port in use/ },
  },
  {
    name: 'a step refused the commit (a bind source resolving outside the policy): recorded as forbidden',
    state: gateway(inProgress(1)),
    outcome: {
      kind: 'failing',
      commit: NEW,
      error: 'forbidden by policy.bindPaths',
      step: 'create web',
      healthFailed: false,
      refused: 'forbidden',
    },
    expect: { next: 'undo', bad: 'forbidden', badReason: /policy\.bindPaths/, inProgress: true },
  },
  {
    name: 'refused as forbidden before anything ran (paths resolved at prepare): rejected, not retried',
    state: gateway(inProgress(1)),
    outcome: {
      kind: 'transaction',
      commit: NEW,
      transaction: txn('prepare-failed', { error: '/srv/edge/x resolves to /etc', refused: 'forbidden' }),
    },
    expect: { next: 'done', verdict: 'rejected', bad: 'forbidden', applied: GOOD, history: 'rejected' },
  },
  {
    name: 'health failed and the transaction rolled back: back to the last good commit, the record kept',
    state: gateway({ ...inProgress(1), bad: [healthBad] }),
    outcome: { kind: 'transaction', commit: NEW, transaction: txn('rolled-back', { error: 'api down' }) },
    expect: { next: 'roll-back', rollBackTo: GOOD, bad: 'health-failed', inProgress: false, applied: GOOD },
  },
  {
    name: 'apply failed before the failure hook ran: recorded now as apply-failed, then rolled back',
    state: gateway(inProgress(1)),
    outcome: {
      kind: 'transaction',
      commit: NEW,
      transaction: txn('rolled-back', { error: 'no such image', failedStep: 'pull web' }),
    },
    expect: { next: 'roll-back', rollBackTo: GOOD, bad: 'apply-failed', badReason: /no such image/ },
  },
  {
    name: 'a failure with no last good commit: nothing to roll back to',
    state: { ...emptyState(), ...inProgress(1) },
    outcome: { kind: 'transaction', commit: NEW, transaction: txn('rolled-back', { error: 'boom' }) },
    expect: { next: 'roll-back', rollBackTo: null, bad: 'apply-failed' },
  },
  {
    name: 'undo incomplete: recorded with what could not be put back, stalled, no rollback on top',
    state: gateway({ ...inProgress(1), bad: [healthBad] }),
    outcome: {
      kind: 'transaction',
      commit: NEW,
      transaction: txn('rollback-incomplete', { error: 'api down', undoErrors: ['web: engine gone'] }),
    },
    expect: {
      next: 'done',
      verdict: 'rollback-incomplete',
      bad: 'rollback-incomplete',
      badReason: /api down; could not put back: web: engine gone/,
      applied: GOOD,
      history: 'rollback-incomplete',
      conditions: { Ready: 'False', Healthy: 'Unknown', Stalled: 'True' },
    },
  },
  {
    name: 'prepare failed: nothing running was touched, not bad, retried',
    state: gateway(inProgress(1)),
    outcome: { kind: 'transaction', commit: NEW, transaction: txn('prepare-failed', { error: 'registry down' }) },
    expect: {
      next: 'retry',
      verdict: 'prepare-failed',
      bad: null,
      applied: GOOD,
      inProgress: false,
      history: 'prepare-failed',
      conditions: { Ready: 'False', Stalled: 'False' },
    },
  },
  {
    name: 'an artifact whose signature does not verify: refused before anything ran, recorded as untrusted',
    state: gateway(inProgress(1)),
    outcome: {
      kind: 'transaction',
      commit: NEW,
      transaction: txn('prepare-failed', { error: 'R456: not signed', refused: 'untrusted' }),
    },
    expect: {
      next: 'done',
      verdict: 'rejected',
      bad: 'untrusted',
      badReason: /not signed/,
      applied: GOOD,
      inProgress: false,
      history: 'rejected',
      conditions: { Ready: 'False', Stalled: 'True' },
    },
  },
  {
    name: 'an artifact whose sha256 never matches the commit: refused, recorded as invalid, not retried',
    state: gateway(inProgress(1)),
    outcome: {
      kind: 'transaction',
      commit: NEW,
      transaction: txn('prepare-failed', { error: 'has sha256 x, but the manifest says y', refused: 'invalid' }),
    },
    expect: { next: 'done', verdict: 'rejected', bad: 'invalid', history: 'rejected' },
  },
  {
    name: 'untrusted (not signed by a trusted key): recorded as untrusted, nothing touched',
    state: gateway(),
    outcome: { kind: 'invalid', commit: NEW, reason: 'commit is not signed', bad: 'untrusted' },
    expect: { next: 'done', verdict: 'rejected', bad: 'untrusted', applied: GOOD, history: 'rejected' },
  },
  {
    name: 'a rewrite (does not descend from the applied commit): recorded as rewrite, last good unchanged',
    state: gateway(),
    outcome: { kind: 'invalid', commit: NEW, reason: 'does not descend', bad: 'rewrite' },
    expect: { next: 'done', verdict: 'rejected', bad: 'rewrite', applied: GOOD, lastGood: GOOD, history: 'rejected' },
  },
  {
    name: 'rejected (does not load): recorded as invalid, nothing touched, stalled until the branch moves',
    state: gateway(),
    outcome: { kind: 'invalid', commit: NEW, reason: 'compose.yaml:3: unknown key' },
    expect: {
      next: 'done',
      verdict: 'rejected',
      bad: 'invalid',
      applied: GOOD,
      history: 'rejected',
      conditions: { Ready: 'False', Stalled: 'True' },
    },
  },
  {
    name: 'rejected (no plan reaches it): recorded as invalid, the attempt ended',
    state: gateway(inProgress(1)),
    outcome: { kind: 'invalid', commit: NEW, reason: 'no plan: volume data changed' },
    expect: { next: 'done', verdict: 'rejected', bad: 'invalid', inProgress: false, history: 'rejected' },
  },
  {
    name: 'rolled back to a healthy last good commit',
    state: gateway({ bad: [healthBad], lastGoodUnhealthy: { commit: GOOD, reason: 'old', at: 'x' } }),
    outcome: {
      kind: 'rollback',
      failed: healthBad,
      rollback: { to: GOOD, converged: true, steps: [], healthy: true },
      ran: [],
    },
    expect: {
      next: 'done',
      verdict: 'rolled-back',
      applied: GOOD,
      lastGood: GOOD,
      lastGoodUnhealthy: false,
      history: 'rolled-back',
      conditions: { Ready: 'False', Healthy: 'True', Stalled: 'True' },
    },
  },
  {
    name: 'last good unhealthy: said so, and nothing rolled back further',
    state: gateway({ bad: [healthBad] }),
    outcome: {
      kind: 'rollback',
      failed: healthBad,
      rollback: { to: GOOD, converged: true, steps: ['start web'], healthy: false, healthReason: 'db down' },
      ran: [],
    },
    expect: {
      next: 'done',
      verdict: 'last-good-unhealthy',
      applied: GOOD,
      lastGoodUnhealthy: true,
      history: 'last-good-unhealthy',
      conditions: { Ready: 'False', Healthy: 'False', Stalled: 'True' },
    },
  },
  {
    name: 'converging to the last good commit failed: the gateway is not said to run it',
    state: gateway({ applied: { commit: NEW, at: 'x' }, bad: [healthBad] }),
    outcome: {
      kind: 'rollback',
      failed: healthBad,
      rollback: { to: GOOD, converged: false, convergeError: 'engine gone', steps: [] },
      ran: [],
    },
    expect: { next: 'done', verdict: 'rolled-back', applied: NEW, lastGood: GOOD, history: 'rolled-back' },
  },
  {
    name: 'no last good commit to roll back to: the gateway runs nothing recorded',
    state: { ...emptyState(), applied: { commit: NEW, at: 'x' }, bad: [healthBad] },
    outcome: { kind: 'rollback', failed: healthBad, rollback: { converged: true, steps: [] }, ran: [] },
    expect: { next: 'done', verdict: 'rolled-back', applied: null, lastGood: null, history: 'rolled-back' },
  },
  // ---- resumed after a crash, by the phase the journal was in
  {
    name: 'resumed, crash in prepare: nothing touched, tried again (attempt 1)',
    state: gateway(inProgress(1)),
    outcome: { kind: 'interrupted', commit: NEW, resumed: { action: 'nothing-touched' } },
    expect: { next: 'retry', unchangedState: true },
  },
  {
    name: 'resumed, crash in stages: put back, tried again (attempt 2)',
    state: gateway(inProgress(2)),
    outcome: { kind: 'interrupted', commit: NEW, resumed: { action: 'rolled-back' } },
    expect: { next: 'retry', unchangedState: true, bad: null },
  },
  {
    name: 'resumed, crash in confirm after a planned reboot: continued to its end and applied',
    state: gateway(inProgress(1)),
    outcome: { kind: 'interrupted', commit: NEW, resumed: { action: 'continued', transaction: txn('applied') } },
    expect: {
      next: 'done',
      verdict: 'applied',
      applied: NEW,
      lastGood: NEW,
      inProgress: false,
      history: 'applied',
      pin: NEW,
    },
  },
  {
    name: 'resumed, crash in commit or finalize: finished, and the commit is good',
    state: gateway(inProgress(1)),
    outcome: { kind: 'interrupted', commit: NEW, resumed: { action: 'finished' } },
    expect: { next: 'done', verdict: 'no-change', applied: NEW, lastGood: NEW, history: 'applied', pin: NEW },
  },
  {
    name: 'resumed, crash in rolling-back from a health failure: the rollback finished, then back to last good',
    state: gateway({ ...inProgress(1), bad: [healthBad] }),
    outcome: {
      kind: 'interrupted',
      commit: NEW,
      resumed: { action: 'rolled-back', transaction: txn('rolled-back', { error: 'api down' }) },
    },
    expect: { next: 'roll-back', rollBackTo: GOOD, bad: 'health-failed', inProgress: false },
  },
  {
    name: 'resumed, the crash came after the bad record: back to the last good commit',
    state: gateway({ ...inProgress(1), bad: [healthBad] }),
    outcome: { kind: 'interrupted', commit: NEW, resumed: { action: 'rolled-back' } },
    expect: { next: 'roll-back', rollBackTo: GOOD, inProgress: false },
  },
  {
    name: 'no journal: ask whether the gateway already runs the commit',
    state: gateway(inProgress(1)),
    outcome: { kind: 'interrupted', commit: NEW },
    expect: { next: 'check-live', unchangedState: true },
  },
  {
    name: 'no journal, and the gateway runs it: the crash came after health, before the state file said so',
    state: gateway(inProgress(1)),
    outcome: { kind: 'interrupted', commit: NEW, matchesLive: true },
    expect: { next: 'done', verdict: 'no-change', applied: NEW, lastGood: NEW, history: 'applied', pin: NEW },
  },
  {
    name: 'no journal, not running it, attempt 2: tried again',
    state: gateway(inProgress(2)),
    outcome: { kind: 'interrupted', commit: NEW, matchesLive: false },
    expect: { next: 'retry', unchangedState: true },
  },
  {
    name: `interrupted ${MAX_INTERRUPTED_ATTEMPTS} times: bad, and back to the last good commit`,
    state: gateway(inProgress(MAX_INTERRUPTED_ATTEMPTS)),
    outcome: { kind: 'interrupted', commit: NEW, resumed: { action: 'rolled-back' } },
    expect: {
      next: 'roll-back',
      rollBackTo: GOOD,
      bad: 'interrupted',
      badReason: /interrupted 3 times/,
      inProgress: false,
    },
  },
  {
    name: "the gateway's own configuration is at fault (no target matches it): nothing bad, the gateway stays, retried",
    state: gateway(inProgress(1)),
    outcome: { kind: 'config-error', commit: NEW, reason: 'no target matches gateway "gw-typo"' },
    expect: {
      next: 'retry',
      verdict: 'config-error',
      bad: null,
      applied: GOOD,
      lastGood: GOOD,
      inProgress: false,
      history: 'config-error',
      conditions: { Ready: 'False', Stalled: 'True' },
    },
  },
  {
    name: 'a configuration fault never turns an old bad record into another, nor removes it',
    state: gateway({ bad: [healthBad] }),
    outcome: { kind: 'config-error', commit: NEW, reason: 'cannot read the variables file /etc/rollgate/vars' },
    expect: { next: 'retry', verdict: 'config-error', bad: 'health-failed', history: 'config-error' },
  },
  {
    name: 'the same configuration fault again: nothing new to write, retried',
    state: gateway({
      lastAttempted: { commit: NEW, at: 'earlier', reason: 'config-error' },
      lastError: { at: 'earlier', message: 'no target', commit: NEW },
    }),
    outcome: { kind: 'config-error', commit: NEW, reason: 'no target' },
    expect: { next: 'retry', verdict: 'config-error', bad: null, unchangedState: true },
  },
  {
    name: 'another configuration fault on the same commit is recorded',
    state: gateway({
      lastAttempted: { commit: NEW, at: 'earlier', reason: 'config-error' },
      lastError: { at: 'earlier', message: 'no target', commit: NEW },
    }),
    outcome: { kind: 'config-error', commit: NEW, reason: 'interface "rtos" not found' },
    expect: { next: 'retry', verdict: 'config-error', bad: null, history: 'config-error' },
  },
  // ---- a rollback under way, and a stalled gateway looked at again
  {
    name: 'a commit failing: its rollback is under way from now on, before the undo (a paused undo is finished first)',
    state: gateway(inProgress(1)),
    outcome: { kind: 'failing', commit: NEW, error: 'api down', healthFailed: true },
    expect: { next: 'undo', bad: 'health-failed', rollingBack: true },
  },
  {
    name: 'a failed commit goes back to the last good commit, recorded as under way until that ends',
    state: gateway({ ...inProgress(1), bad: [healthBad] }),
    outcome: { kind: 'transaction', commit: NEW, transaction: txn('rolled-back', { error: 'api down' }) },
    expect: { next: 'roll-back', rollBackTo: GOOD, rollingBack: true },
  },
  {
    name: 'the rollback to the last good commit ended: no longer under way',
    state: gateway({ bad: [healthBad], rollingBack: { commit: NEW, since: 'earlier' } }),
    outcome: {
      kind: 'rollback',
      failed: healthBad,
      rollback: { to: GOOD, converged: true, steps: [], healthy: true },
      ran: [],
    },
    expect: { next: 'done', verdict: 'rolled-back', history: 'rolled-back', rollingBack: false },
  },
  {
    name: 'a rollback paused by the Engine and resumed after a restart: finished, back to the last good commit',
    state: gateway({ bad: [healthBad], rollingBack: { commit: NEW, since: 'earlier' } }),
    outcome: { kind: 'interrupted', commit: NEW },
    expect: { next: 'roll-back', rollBackTo: GOOD, rollingBack: true },
  },
  {
    name: 'rollback incomplete, looked at again: back on the last good commit and healthy, recorded as rolled back',
    state: gateway({
      bad: [{ ...healthBad, kind: 'rollback-incomplete' }],
      lastAttempted: { commit: NEW, at: 'earlier', reason: 'rollback-incomplete' },
    }),
    outcome: {
      kind: 'recovery',
      failed: { ...healthBad, kind: 'rollback-incomplete' },
      rollback: { to: GOOD, converged: true, steps: ['start web'], healthy: true },
    },
    expect: {
      next: 'done',
      verdict: 'rolled-back',
      bad: 'rollback-incomplete',
      applied: GOOD,
      lastGood: GOOD,
      history: 'rolled-back',
      detail: /^recovered from rollback-incomplete: the gateway is back on the last good commit; api down$/,
      conditions: { Ready: 'False', Healthy: 'True', Stalled: 'True' },
    },
  },
  {
    name: 'last good unhealthy, looked at again and healthy now: rolled back, Healthy=True, the commit still bad',
    state: gateway({
      bad: [healthBad],
      lastAttempted: { commit: NEW, at: 'earlier', reason: 'last-good-unhealthy' },
      lastGoodUnhealthy: { commit: GOOD, reason: 'web is starting', at: 'earlier' },
    }),
    outcome: {
      kind: 'recovery',
      failed: healthBad,
      rollback: { to: GOOD, converged: true, steps: [], healthy: true },
    },
    expect: {
      next: 'done',
      verdict: 'rolled-back',
      bad: 'health-failed',
      lastGoodUnhealthy: false,
      history: 'rolled-back',
      conditions: { Ready: 'False', Healthy: 'True', Stalled: 'True' },
    },
  },
  {
    name: 'last good unhealthy, looked at again and still unhealthy: nothing new recorded (no history at every look)',
    state: gateway({
      bad: [healthBad],
      lastAttempted: { commit: NEW, at: 'earlier', reason: 'last-good-unhealthy' },
      lastGoodUnhealthy: { commit: GOOD, reason: 'db down', at: 'earlier' },
    }),
    outcome: {
      kind: 'recovery',
      failed: healthBad,
      rollback: { to: GOOD, converged: true, steps: [], healthy: false, healthReason: 'db down' },
    },
    expect: { next: 'done', unchangedState: true },
  },
  {
    name: 'rollback incomplete, looked at again: converged but unhealthy, said once as last-good-unhealthy',
    state: gateway({
      bad: [{ ...healthBad, kind: 'rollback-incomplete' }],
      lastAttempted: { commit: NEW, at: 'earlier', reason: 'rollback-incomplete' },
    }),
    outcome: {
      kind: 'recovery',
      failed: { ...healthBad, kind: 'rollback-incomplete' },
      rollback: { to: GOOD, converged: true, steps: [], healthy: false, healthReason: 'db down' },
    },
    expect: {
      next: 'done',
      verdict: 'last-good-unhealthy',
      history: 'last-good-unhealthy',
      lastGoodUnhealthy: true,
      conditions: { Healthy: 'False', Stalled: 'True' },
    },
  },
  {
    name: 'rollback incomplete, looked at again and still not converged: nothing new recorded, looked at later',
    state: gateway({
      bad: [{ ...healthBad, kind: 'rollback-incomplete' }],
      lastAttempted: { commit: NEW, at: 'earlier', reason: 'rollback-incomplete' },
    }),
    outcome: {
      kind: 'recovery',
      failed: { ...healthBad, kind: 'rollback-incomplete' },
      rollback: { to: GOOD, converged: false, convergeError: 'port taken', steps: [] },
    },
    expect: { next: 'done', unchangedState: true },
  },
  {
    name: 'deferred by its rollout wave: recorded once, nothing bad, not ready, not stalled (the wave opens by itself)',
    state: gateway(),
    outcome: notYet(),
    expect: {
      next: 'done',
      verdict: 'deferred',
      detail: /^not yet: wave 3 of 4 "half"/,
      history: 'deferred',
      conditions: { Ready: 'False', Stalled: 'False' },
      bad: null,
      applied: GOOD,
      lastGood: GOOD,
      deferred: { detail: WAVE3, since: AT },
    },
  },
  {
    name: 'deferred again for the same cause, at a later poll: nothing is written (no history spam)',
    state: gateway({ deferred: deferral() }),
    outcome: notYet(),
    expect: { next: 'done', verdict: 'deferred', unchangedState: true, deferred: { detail: WAVE3, since: 'earlier' } },
  },
  {
    name: 'the same cause, said with newer numbers (two waves open now): kept up to date quietly, no history entry',
    state: gateway({ deferred: deferral() }),
    outcome: notYet({ detail: WAVE3.replace('1 of 4', '2 of 4') }),
    expect: {
      next: 'done',
      verdict: 'deferred',
      bad: null,
      deferred: { detail: WAVE3.replace('1 of 4', '2 of 4'), since: 'earlier' },
    },
  },
  {
    name: 'another cause (the rollout paused before the wave): recorded anew',
    state: gateway({ deferred: deferral() }),
    outcome: notYet({ cause: `rollout edge-v2 target ${NEW} paused at wave 3 of 4 "half"`, detail: 'paused' }),
    expect: { next: 'done', verdict: 'deferred', history: 'deferred', deferred: { detail: 'paused', since: AT } },
  },
  {
    name: 'the deferred commit applied at last: its deferral is done with',
    state: gateway({ ...inProgress(1), deferred: deferral() }),
    outcome: { kind: 'transaction', commit: NEW, transaction: txn('applied') },
    expect: { next: 'done', verdict: 'applied', history: 'applied', applied: NEW, pin: NEW, deferred: null },
  },
  {
    name: "the base applied while the target waits: the target's deferral stays",
    state: gateway({ inProgress: { commit: OLDER, since: 'earlier', attempts: 1 }, deferred: deferral() }),
    outcome: { kind: 'transaction', commit: OLDER, transaction: txn('applied') },
    expect: {
      next: 'done',
      verdict: 'applied',
      history: 'applied',
      applied: OLDER,
      pin: OLDER,
      deferred: { detail: WAVE3, since: 'earlier' },
    },
  },
  {
    name: 'a verdict recorded under a rollout names it (id and target), for the hub to count',
    state: gateway({ ...inProgress(1), rollout: { ...STANDING, runs: 'target', code: 'admitted' } }),
    outcome: { kind: 'transaction', commit: NEW, transaction: txn('applied') },
    expect: {
      next: 'done',
      verdict: 'applied',
      history: 'applied',
      applied: NEW,
      pin: NEW,
      historyRollout: { id: 'edge-v2', target: NEW },
    },
  },
];

function check(d: Decision, before: AgentState, e: Expect): void {
  assert.equal(d.next.action, e.next, 'next action');
  if (e.verdict !== undefined) assert.equal(d.verdict?.reason, e.verdict, 'verdict');
  else assert.equal(d.verdict, undefined, 'no verdict yet');
  const s = d.state;
  const bad = s.bad.find((b) => b.commit === NEW);
  if (e.bad === null) assert.equal(bad, undefined, 'no bad record');
  else if (e.bad !== undefined) assert.equal(bad?.kind, e.bad, 'bad kind');
  if (e.badReason) assert.match(bad?.reason ?? '', e.badReason);
  if (e.applied !== undefined) assert.equal(s.applied?.commit ?? null, e.applied, 'applied');
  if (e.lastGood !== undefined) assert.equal(s.lastGood?.commit ?? null, e.lastGood, 'last good');
  if (e.inProgress !== undefined) assert.equal(s.inProgress !== undefined, e.inProgress, 'in progress');
  if (e.lastGoodUnhealthy !== undefined) assert.equal(s.lastGoodUnhealthy !== undefined, e.lastGoodUnhealthy);
  if (e.history !== undefined) {
    assert.equal(s.history.length, before.history.length + 1, 'one history entry');
    assert.equal(s.history.at(-1)?.event, e.history);
    for (const [type, status] of Object.entries(e.conditions ?? {}))
      assert.ok(
        s.history.at(-1)?.conditions?.some((c) => c.type === type && c.status === status),
        `the history entry records ${type}=${status}`,
      );
  } else assert.equal(s.history.length, before.history.length, 'no history entry');
  for (const [type, status] of Object.entries(e.conditions ?? {}))
    assert.equal(s.conditions.find((c) => c.type === type)?.status, status, `condition ${type}`);
  if (e.rollBackTo !== undefined) {
    assert.ok(d.next.action === 'roll-back');
    assert.equal(d.next.lastGood ?? null, e.rollBackTo, 'rolls back to');
    assert.equal(d.next.failed.commit, NEW);
  }
  assert.equal(d.pin, e.pin, 'pinned commit');
  if (e.unchangedState) assert.equal(s, before, 'the state is returned as it was');
  if (e.rollingBack !== undefined) assert.equal(s.rollingBack?.commit === NEW, e.rollingBack, 'rollback under way');
  if (e.detail) assert.match(d.verdict?.detail ?? '', e.detail);
  if (e.deferred === null) assert.equal(s.deferred, undefined, 'no deferral');
  else if (e.deferred !== undefined) {
    assert.equal(s.deferred?.detail, e.deferred.detail, 'deferral detail');
    assert.equal(s.deferred?.since, e.deferred.since, 'deferred since');
  }
  if (e.historyRollout) assert.deepEqual(s.history.at(-1)?.rollout, e.historyRollout, 'the rollout it names');
  else if (e.history !== undefined) assert.equal(s.history.at(-1)?.rollout, undefined, 'names no rollout');
}

describe('the rollback policy (decide), as a table', () => {
  for (const row of rows)
    test(row.name, () => {
      const before = structuredClone(row.state);
      const d = decide(row.state, row.outcome, AT);
      assert.deepEqual(row.state, before, 'the input state is not changed');
      check(d, row.state, row.expect);
    });

  test('every verdict the rows reach records its commit as bad exactly when its row in the verdict table says', () => {
    const reached = new Set<string>();
    for (const row of rows) {
      const v = decide(row.state, row.outcome, AT).verdict;
      if (!v?.commit) continue;
      reached.add(v.reason);
      const isBad = (s: AgentState) => s.bad.some((b) => b.commit === v.commit);
      const after = isBad(decide(row.state, row.outcome, AT).state);
      // A verdict that records nothing as bad keeps a record made before (a config error does).
      assert.equal(after, VERDICTS[v.reason].bad || isBad(row.state), `${row.name}: ${v.reason}`);
    }
    assert.ok(reached.size >= 6, `the rows reach several verdicts: ${[...reached].join(', ')}`);
  });
});

describe('the rollback policy around a commit', () => {
  test('a bad commit at the branch head is skipped, even when a drift check is due (safety rule 5)', () => {
    const s = gateway({ bad: [healthBad] });
    assert.equal(afterPoll(s, NEW, true).action, 'skip-bad');
    assert.equal(afterPoll(s, GOOD, true).action, 'check-drift');
    assert.equal(afterPoll(s, GOOD, false).action, 'nothing');
    assert.equal(afterPoll(s, OLDER, false).action, 'apply');
  });

  test('after a poll, as a table: a paused rollback first, a stalled gateway looked at again when due', () => {
    const stalled = (reason: 'rollback-incomplete' | 'last-good-unhealthy' | 'rolled-back') =>
      gateway({ bad: [healthBad], lastAttempted: { commit: NEW, at: 'x', reason } });
    const paused = gateway({ bad: [healthBad], rollingBack: { commit: NEW, since: 'x' } });
    const withoutLastGood = (st: AgentState): AgentState => {
      const rest = { ...st };
      delete rest.lastGood;
      return rest;
    };
    const rows: [string, AgentState, string, boolean, boolean, string][] = [
      ['a rollback under way, whatever the branch', paused, NEW, false, false, 'finish-rollback'],
      ['a rollback under way, the branch moved on', paused, OLDER, false, false, 'finish-rollback'],
      ['rollback incomplete, a look due', stalled('rollback-incomplete'), NEW, false, true, 'recover'],
      ['last good unhealthy, a look due', stalled('last-good-unhealthy'), NEW, false, true, 'recover'],
      ['rollback incomplete, no look due yet', stalled('rollback-incomplete'), NEW, true, false, 'skip-bad'],
      ['rolled back cleanly: nothing to look at again', stalled('rolled-back'), NEW, true, true, 'skip-bad'],
      ['stalled, and the branch moved to a new commit', stalled('rollback-incomplete'), OLDER, false, true, 'apply'],
      [
        'stalled with no last good commit: nothing to go back to',
        withoutLastGood(stalled('rollback-incomplete')),
        NEW,
        false,
        true,
        'skip-bad',
      ],
    ];
    for (const [name, state, head, driftDue, recoverDue, action] of rows)
      assert.equal(afterPoll(state, head, driftDue, recoverDue).action, action, name);
    const r = afterPoll(stalled('rollback-incomplete'), NEW, false, true);
    assert.ok(r.action === 'recover' && r.lastGood === GOOD && r.failed.commit === NEW);
  });

  test('the rollout a gateway stands in, as a table: kept without history, a deferral that lapsed dropped', () => {
    const admitted = { ...STANDING, runs: 'target' as const, code: 'admitted' as const };
    const rows: [string, AgentState, Parameters<typeof withStanding>[1], 'same' | 'kept' | 'dropped', string?][] = [
      [
        'nothing new: the same state object',
        gateway({ rollout: STANDING, deferred: deferral() }),
        {
          rollout: STANDING,
          wants: NEW,
          deferredAt: 'rollout',
          passed: ['trust', 'descent'],
        },
        'same',
      ],
      ['no rollout, no deferral', gateway(), { wants: NEW, passed: ['trust', 'descent', 'rollout'] }, 'same'],
      [
        'the wave opened: the standing changes, the rollout deferral lapses',
        gateway({ rollout: STANDING, deferred: deferral() }),
        { rollout: admitted, wants: NEW, passed: ['trust', 'descent', 'rollout'] },
        'dropped',
        'admitted',
      ],
      [
        'a new rollout of another target: the old deferral lapses',
        gateway({ rollout: STANDING, deferred: deferral() }),
        {
          rollout: { ...STANDING, id: 'edge-v3', target: OLDER },
          wants: OLDER,
          deferredAt: 'rollout',
          passed: ['trust', 'descent'],
        },
        'dropped',
        'not-yet',
      ],
      [
        'the rollout file removed: no standing, the deferral lapses',
        gateway({ rollout: STANDING, deferred: deferral() }),
        { wants: NEW, passed: ['trust', 'descent', 'rollout'] },
        'dropped',
      ],
      [
        "a later gate's deferral of the commit still wanted stays",
        gateway({ deferred: deferral({ gate: 'window' }) }),
        { rollout: admitted, wants: NEW, passed: ['trust', 'descent', 'rollout'] },
        'kept',
        'admitted',
      ],
    ];
    for (const [name, state, now, deferralAfter, code] of rows) {
      const before = structuredClone(state);
      const after = withStanding(state, now);
      assert.deepEqual(state, before, `${name}: the input is not changed`);
      if (deferralAfter === 'same') {
        assert.equal(after, state, name);
        continue;
      }
      assert.equal(after.deferred !== undefined, deferralAfter === 'kept', `${name}: deferral ${deferralAfter}`);
      assert.equal(after.rollout?.code, code, `${name}: standing`);
      assert.equal(after.history.length, state.history.length, `${name}: no history entry`);
    }
  });

  test('attempts at one commit are counted; another commit starts again at 1', () => {
    let s = beginAttempt(gateway(), NEW, AT);
    s = beginAttempt(s, NEW, AT);
    assert.equal(s.inProgress?.attempts, 2);
    assert.equal(beginAttempt(s, OLDER, AT).inProgress?.attempts, 1);
  });

  test('health failure end to end: recorded, rolled back, the last good commit runs and is healthy', () => {
    let s = beginAttempt(gateway(), NEW, AT);
    const failing = decide(s, { kind: 'failing', commit: NEW, error: 'api down', healthFailed: true }, AT);
    s = failing.state;
    const ended = decide(s, { kind: 'transaction', commit: NEW, transaction: txn('rolled-back') }, AT);
    assert.equal(ended.next.action, 'roll-back');
    if (ended.next.action !== 'roll-back') return;
    assert.deepEqual(ended.next.ran, ['pull web', 'start web', 'undo start web']);
    const back = decide(
      ended.state,
      {
        kind: 'rollback',
        failed: ended.next.failed,
        rollback: { to: GOOD, converged: true, steps: [], healthy: true },
        ran: ended.next.ran,
      },
      AT,
    );
    assert.equal(back.verdict?.reason, 'rolled-back');
    assert.equal(back.verdict?.to, GOOD);
    assert.equal(back.verdict?.detail, 'api down');
    assert.equal(back.state.bad.length, 1);
    assert.equal(back.state.lastAttempted?.commit, NEW);
    assert.equal(back.state.lastAttempted?.reason, 'rolled-back');
    // The commit is never applied again on its own.
    assert.equal(afterPoll(back.state, NEW, false).action, 'skip-bad');
  });
});
