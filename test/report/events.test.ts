// History entries to hub events: every verdict but the quiet ones, with the bad commit's kind as
// the reason, and details cut to a bound; ids from the entries, and what lies past the outbox's mark.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyState, type AgentState, type HistoryEntry } from '../../src/model/index.js';
import { entryKey, recordedMark, reportEvents, unrecorded } from '../../src/report/index.js';

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

test("an event's id comes from its entry: the same entry, the same id; any field that differs, another", () => {
  const h: HistoryEntry = { at: '2026-11-30T12:00:00.000Z', event: 'rolled-back', commit: B, to: A, detail: 'x' };
  const after = emptyState();
  assert.equal(reportEvents([h], after)[0]!.id, reportEvents([{ ...h }], after)[0]!.id);
  assert.match(entryKey(h), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  const variants: HistoryEntry[] = [
    { ...h, at: '2026-11-30T12:00:00.001Z' },
    { ...h, event: 'applied' },
    { ...h, commit: A },
    { ...h, to: B },
    { ...h, detail: 'y' },
  ];
  for (const v of variants) assert.notEqual(entryKey(v), entryKey(h), JSON.stringify(v));
});

test('what lies past the mark: after the marked entry, all of it from an empty mark, by time once it is gone', () => {
  const at = (m: number) => `2026-11-30T12:0${m}:00.000Z`;
  const history: HistoryEntry[] = [0, 1, 2, 3].map((m) => ({ at: at(m), event: 'applied', commit: m % 2 ? A : B }));
  const events = (hs: HistoryEntry[]) => hs.map((x) => x.at);
  assert.deepEqual(events(unrecorded(history, recordedMark(history.slice(0, 2)))), [at(2), at(3)]);
  assert.deepEqual(events(unrecorded(history, recordedMark(history))), []);
  assert.deepEqual(events(unrecorded(history, recordedMark([]))), [at(0), at(1), at(2), at(3)]);
  // The marked entry has left the bounded history: what came after its time.
  const gone: HistoryEntry = { at: '2026-11-30T12:01:30.000Z', event: 'deferred', commit: A };
  assert.deepEqual(events(unrecorded(history, recordedMark([gone]))), [at(2), at(3)]);
  // The same entry twice in a row (the same millisecond): the mark is the last one.
  const twice = [...history, { ...history[3]! }];
  assert.deepEqual(events(unrecorded(twice, recordedMark(twice))), []);
});
