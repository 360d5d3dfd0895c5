// Rows of the rollback policy: resumed after a crash, and the gateway's own configuration at fault.

import { MAX_INTERRUPTED_ATTEMPTS } from '../../../src/lifecycle/index.js';
import { gateway, GOOD, healthBad, inProgress, NEW, txn, type Row } from './table.js';

export const RESUME_ROWS: Row[] = [
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
];
