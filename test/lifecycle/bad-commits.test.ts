// Clearing a bad record by hand (`rollgate forget`), as a table of requests: which record an id
// names (in full, abbreviated, in capitals), which requests are refused, and what the history says.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { emptyState, type AgentState, type BadCommit } from '../../src/model/index.js';
import { ForgetError, forgetBad } from '../../src/lifecycle/index.js';

const AT = '2026-12-01T10:00:00.000Z';
const bad = (commit: string, kind: BadCommit['kind'] = 'health-failed'): BadCommit => ({
  commit,
  kind,
  reason: `${kind} of ${commit.slice(0, 4)}\nsecond line`,
  at: 'earlier',
});
const A = 'a1b2c3d4'.repeat(5);
const A2 = 'a1b2ffff'.repeat(5);
const B = 'b'.repeat(40);
const state = (): AgentState => ({
  ...emptyState(),
  applied: { commit: 'c'.repeat(40), at: 'earlier' },
  lastGood: { commit: 'c'.repeat(40), at: 'earlier' },
  bad: [bad(A), bad(A2, 'invalid'), bad(B, 'interrupted')],
});

const ROWS: [string, string, string | RegExp][] = [
  ['the full id', A, A],
  ['an abbreviation', 'b'.repeat(7), B],
  ['an abbreviation in capitals', 'A1B2C3D4A1', A],
  ['the shortest abbreviation git prints', 'bbbb', B],
  [
    'an abbreviation naming two bad commits',
    'a1b2',
    /names 2 bad commits \(a1b2c3d4a1b2, a1b2ffffa1b2\); give more of it/,
  ],
  [
    'a commit that is not bad',
    'c'.repeat(40),
    /is not recorded as bad on this gateway; the bad commits here are: a1b2c3d4a1b2/,
  ],
  ['three digits', 'bbb', /"bbb" is not a commit id/],
  ['a revision, not an id', 'HEAD~1', /"HEAD~1" is not a commit id/],
  ['an empty id', '', /"" is not a commit id/],
];

describe('forgetting a bad commit (pure)', () => {
  for (const [name, commit, expect] of ROWS)
    test(name, () => {
      const before = state();
      const copy = structuredClone(before);
      if (typeof expect !== 'string') {
        assert.throws(
          () => forgetBad(before, { commit, reason: 'why', by: 'ops' }, AT),
          (e: Error) => e instanceof ForgetError && expect.test(e.message),
        );
        assert.deepEqual(before, copy, 'nothing changed');
        return;
      }
      const r = forgetBad(before, { commit, reason: ' probe fixed ', by: 'ops (sudo from alice)' }, AT);
      assert.equal(r.forgotten.commit, expect);
      assert.deepEqual(
        r.state.bad.map((b) => b.commit),
        before.bad.map((b) => b.commit).filter((c) => c !== expect),
        'only that record is cleared',
      );
      assert.deepEqual(before, copy, 'the input state is not changed');
      assert.equal(r.state.applied?.commit, before.applied?.commit);
      assert.equal(r.state.lastGood?.commit, before.lastGood?.commit);
      assert.deepEqual(r.state.conditions, before.conditions);
      const h = r.state.history.at(-1)!;
      assert.deepEqual(
        { at: h.at, event: h.event, commit: h.commit, by: h.by },
        { at: AT, event: 'forgotten', commit: expect, by: 'ops (sudo from alice)' },
      );
      assert.match(h.detail!, /^ops \(sudo from alice\) cleared its bad record \(\S+: \S+ of \w{4}\): probe fixed$/);
    });

  test('no reason: refused, so the history always says why', () => {
    for (const reason of ['', '   '])
      assert.throws(() => forgetBad(state(), { commit: A, reason, by: 'ops' }, AT), /say why with --reason/);
  });

  test('a gateway with no bad commits says so', () => {
    assert.throws(
      () => forgetBad(emptyState(), { commit: A, reason: 'x', by: 'ops' }, AT),
      /this gateway has no bad commits/,
    );
  });
});
