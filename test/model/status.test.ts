// The status vocabulary: which conditions each verdict sets, and that `since` moves only when a
// condition changes.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { reconciling, VERDICT_CONDITIONS, withVerdict, type Condition } from '../../src/model/index.js';

const statusOf = (cs: Condition[]) => Object.fromEntries(cs.map((c) => [c.type, `${c.status}/${c.reason}`]));

describe('status vocabulary', () => {
  test('a rollback leaves the gateway healthy, not ready, and stalled until the branch moves', () => {
    const cs = withVerdict([], { reason: 'rolled-back', commit: 'c1' }, 't1');
    assert.deepEqual(statusOf(cs), {
      Ready: 'False/rolled-back',
      Healthy: 'True/rolled-back',
      Stalled: 'True/rolled-back',
    });
  });

  test('a verdict keeps the conditions it does not set, and `since` of a condition that did not change', () => {
    const a = withVerdict([], { reason: 'applied', commit: 'c1' }, 't1');
    const b = withVerdict(a, { reason: 'poll-failed', message: 'ECONNREFUSED' }, 't2');
    assert.equal(b.find((c) => c.type === 'Healthy')?.since, 't1');
    assert.equal(b.find((c) => c.type === 'Ready')?.status, 'Unknown');
    assert.equal(b.find((c) => c.type === 'Ready')?.since, 't2');
    const c = withVerdict(a, { reason: 'applied', commit: 'c2' }, 't3');
    assert.equal(c.find((x) => x.type === 'Ready')?.since, 't1', 'still Ready, for the same reason');
  });

  test('Reconciling is live: never set by a verdict; busy while polling, not while idle', () => {
    for (const effect of Object.values(VERDICT_CONDITIONS)) assert.equal('Reconciling' in effect, false);
    assert.equal(reconciling('health', 't', 'c').status, 'True');
    assert.equal(reconciling('idle', 't').status, 'False');
  });
});
