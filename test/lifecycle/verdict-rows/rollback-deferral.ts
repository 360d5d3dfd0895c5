// Rows of the rollback policy: a rollback under way, a stalled gateway looked at again, and deferrals.

import {
  AT,
  deferral,
  gateway,
  GOOD,
  healthBad,
  inProgress,
  NEW,
  notYet,
  OLDER,
  STANDING,
  txn,
  WAVE3,
  type Row,
} from './table.js';

export const ROLLBACK_DEFERRAL_ROWS: Row[] = [
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
