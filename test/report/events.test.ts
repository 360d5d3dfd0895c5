// History entries to hub events: every verdict but the quiet ones, with the bad commit's kind as
// the reason, and details cut to a bound.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyState, type AgentState, type HistoryEntry } from '../../src/model/index.js';
import { reportEvents } from '../../src/report/index.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

test('each recorded verdict becomes one event with its own id; unchanged and stopping say nothing', () => {
  const after: AgentState = {
    ...emptyState(),
    bad: [{ commit: B, kind: 'health-failed', reason: 'check web failed', at: '2026-11-30T12:00:00.000Z' }],
  };
  const appended: HistoryEntry[] = [
    { at: '2026-11-30T12:00:00.000Z', event: 'applied', commit: A, conditions: [{ type: 'Ready', status: 'True' }] },
    { at: '2026-11-30T12:01:00.000Z', event: 'unchanged', commit: A },
    { at: '2026-11-30T12:02:00.000Z', event: 'rolled-back', commit: B, to: A, detail: 'check web failed' },
    { at: '2026-11-30T12:03:00.000Z', event: 'stopping' },
  ];
  const events = reportEvents(appended, after);
  assert.deepEqual(
    events.map((e) => [e.verdict, e.commit, e.reason, e.to]),
    [
      ['applied', A, undefined, undefined],
      ['rolled-back', B, 'health-failed', A],
    ],
  );
  assert.deepEqual(events[0]!.conditions, [{ type: 'Ready', status: 'True' }]);
  assert.notEqual(events[0]!.id, events[1]!.id);
  assert.match(events[0]!.id, /^[0-9a-f-]{36}$/);
});

test('a runaway detail is cut, so one event never fills a report', () => {
  const [e] = reportEvents(
    [{ at: '2026-11-30T12:00:00.000Z', event: 'rejected', commit: A, detail: 'x'.repeat(20_000) }],
    emptyState(),
  );
  assert.ok(e!.detail!.length <= 4001);
  assert.ok(e!.detail!.endsWith('…'));
});

test('a verdict recorded under a staged rollout names it in its event; a deferral is not quiet', () => {
  const rollout = { id: 'edge-v2', target: B };
  const events = reportEvents(
    [
      { at: '2026-11-30T12:00:00.000Z', event: 'applied', commit: A, rollout },
      { at: '2026-11-30T12:00:01.000Z', event: 'deferred', commit: B, detail: 'not yet: wave 2', rollout },
      { at: '2026-11-30T12:00:02.000Z', event: 'applied', commit: A },
    ],
    emptyState(),
  );
  assert.deepEqual(
    events.map((e) => [e.verdict, e.commit, e.rollout]),
    [
      ['applied', A, rollout],
      ['deferred', B, rollout],
      ['applied', A, undefined],
    ],
  );
});
