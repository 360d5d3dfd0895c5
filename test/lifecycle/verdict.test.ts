// The rollback policy as a table: every row an outcome and a gateway state, and what the policy
// must make of them — the state after, the verdict, the next action. Pure: no process, no Docker,
// no git server.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { VERDICTS, type AgentState } from '../../src/model/index.js';
import { afterPoll, beginAttempt, decide, withStanding } from '../../src/lifecycle/index.js';
import { APPLY_ROWS } from './verdict-rows/apply.js';
import { RESUME_ROWS } from './verdict-rows/resume.js';
import { ROLLBACK_DEFERRAL_ROWS } from './verdict-rows/rollback-deferral.js';
import {
  AT,
  check,
  deferral,
  gateway,
  GOOD,
  healthBad,
  NEW,
  OLDER,
  STANDING,
  txn,
  type Row,
} from './verdict-rows/table.js';

const rows: Row[] = [...APPLY_ROWS, ...RESUME_ROWS, ...ROLLBACK_DEFERRAL_ROWS];

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
