// The rows of the rollback policy's table (test/lifecycle/verdict.test.ts): the gateway states and
// outcomes they start from, what a row expects, and the check of a decision against it.

import assert from 'node:assert/strict';
import { emptyState, type AgentState, type BadCommit, type ConditionType } from '../../../src/model/index.js';
import type { Decision, Outcome, TransactionSummary } from '../../../src/lifecycle/index.js';

export const AT = '2026-11-30T10:00:00.000Z';
export const GOOD = 'a'.repeat(40);
export const NEW = 'b'.repeat(40);
export const OLDER = 'c'.repeat(40);

export function gateway(over: Partial<AgentState> = {}): AgentState {
  return {
    ...emptyState(),
    applied: { commit: GOOD, at: 'earlier' },
    lastGood: { commit: GOOD, at: 'earlier' },
    ...over,
  };
}

export const inProgress = (attempts: number) => ({ inProgress: { commit: NEW, since: 'earlier', attempts } });
export const txn = (
  status: TransactionSummary['status'],
  over: Partial<TransactionSummary> = {},
): TransactionSummary => ({
  status,
  ran: ['pull web', 'start web'],
  undone: status === 'applied' || status === 'prepare-failed' ? [] : ['undo start web'],
  undoErrors: [],
  ...over,
});
export const healthBad: BadCommit = { commit: NEW, kind: 'health-failed', reason: 'api down', at: 'earlier' };
export const WAVE3 = 'not yet: wave 3 of 4 "half" opens once the waves before it pass their gates (1 of 4 waves open)';
export const notYet = (over: Partial<Extract<Outcome, { kind: 'deferred' }>> = {}): Outcome => ({
  kind: 'deferred',
  commit: NEW,
  gate: 'rollout',
  cause: `rollout edge-v2 target ${NEW} not-yet at wave 3 of 4 "half"`,
  detail: WAVE3,
  until: 'wave 3 of 4 "half" opens',
  instead: GOOD,
  ...over,
});
export const deferral = (
  over: Partial<NonNullable<AgentState['deferred']>> = {},
): NonNullable<AgentState['deferred']> => ({
  commit: NEW,
  gate: 'rollout',
  cause: `rollout edge-v2 target ${NEW} not-yet at wave 3 of 4 "half"`,
  detail: WAVE3,
  until: 'wave 3 of 4 "half" opens',
  instead: GOOD,
  since: 'earlier',
  ...over,
});
export const STANDING: NonNullable<AgentState['rollout']> = {
  id: 'edge-v2',
  target: NEW,
  base: GOOD,
  state: 'rolling',
  runs: 'base',
  code: 'not-yet',
  wave: { number: 3, of: 4, name: 'half', open: false },
  message: WAVE3,
};

export interface Expect {
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

export interface Row {
  name: string;
  state: AgentState;
  outcome: Outcome;
  expect: Expect;
}

export function check(d: Decision, before: AgentState, e: Expect): void {
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
