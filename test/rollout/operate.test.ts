// The operator's steps as pure functions of the state at the head: start (its defaults and what it
// refuses), pause, resume, abort — each the state with one step appended, or nothing to write, or an
// error that says what to do instead. What each writes reads back and holds against the policy.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_GATE } from '../../src/manifest/index.js';
import type { FleetRollout, RolloutOutcome, RolloutState } from '../../src/model/rollout.js';
import {
  abortRollout,
  parseRolloutState,
  pauseRollout,
  renderRolloutState,
  resumeRollout,
  RolloutActionError,
  startRollout,
  stateAgainstPolicy,
} from '../../src/rollout/index.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const NOW = Date.parse('2026-11-03T10:00:00Z');
const ROLLOUT: FleetRollout = {
  fleet: {
    waves: [
      { name: 'canary', select: { kind: 'match', match: { ids: ['gw-1'] } }, gate: DEFAULT_GATE },
      { name: 'everyone', select: { kind: 'percent', percent: 100 }, gate: DEFAULT_GATE },
    ],
  },
  targets: { plants: { waves: [{ name: 'all', select: { kind: 'percent', percent: 100 }, gate: DEFAULT_GATE }] } },
};
const who = { by: 'alice@example.com', why: 'because', now: NOW };

function written(o: RolloutOutcome): RolloutState {
  assert.equal(o.kind, 'write', JSON.stringify(o));
  if (o.kind !== 'write') throw new Error('unreachable');
  const parsed = parseRolloutState(new TextEncoder().encode(renderRolloutState(o.state)));
  assert.deepEqual(parsed.state, o.state, 'reads back the same');
  assert.deepEqual(stateAgainstPolicy(parsed, ROLLOUT), [], 'holds against the policy');
  return o.state;
}

const start = (o: Partial<Parameters<typeof startRollout>[0]> = {}) =>
  startRollout({ target: B, base: A, salt: '5b0f3c9a', rollout: ROLLOUT, ...who, ...o });

describe('start', () => {
  test("opens the first wave of every policy that has waves, at the operator's time", () => {
    const s = written(start());
    assert.deepEqual([s.id, s.base, s.target, s.state], [`rollout-${B.slice(0, 12)}`, A, B, 'rolling']);
    assert.deepEqual(s.waves, {
      fleet: [{ opened: '2026-11-03T10:00:00.000Z' }],
      targets: { plants: [{ opened: '2026-11-03T10:00:00.000Z' }] },
    });
    assert.deepEqual(s.steps, [
      { at: '2026-11-03T10:00:00.000Z', by: 'alice@example.com', action: 'start', why: 'because', wave: 0 },
    ]);
  });

  test("the base defaults to a complete rollout's target, an aborted one's base; bad commits carry over", () => {
    const done = { ...written(start()), state: 'complete' as const };
    assert.equal(written(start({ previous: done, target: C, base: undefined as never })).base, B);
    const aborted = written(abortRollout(written(start()), who));
    const next = written(start({ previous: aborted, target: C, base: undefined as never, id: 'edge-v3' }));
    assert.equal(next.base, A);
    assert.deepEqual(
      next.bad.map((b) => b.commit),
      [B],
    );
  });

  for (const [name, o, message] of [
    ['no base on a first rollout', { base: undefined as never }, /give --base/],
    ['the base as target', { target: A }, /is the base: there is nothing to roll out/],
    ['a rollout still rolling', { previous: { ...written(start()), id: 'other' } }, /is rolling .*abort it/],
    [
      'the same id as the previous rollout',
      { previous: { ...written(start()), state: 'complete' as const }, target: C, id: `rollout-${B.slice(0, 12)}` },
      /called rollout-b{12} too/,
    ],
  ] as const)
    test(`refuses ${name}`, () =>
      assert.throws(
        () => start(o),
        (e: Error) => e instanceof RolloutActionError && message.test(e.message),
      ));

  test('refuses a target on the bad list, and a base on it', () => {
    const aborted = written(abortRollout(written(start()), who));
    assert.throws(
      () => start({ previous: aborted, target: B, base: A, id: 'x' }),
      /listed as bad .*never rolled out again/,
    );
    assert.throws(() => start({ previous: aborted, target: C, base: B, id: 'x' }), /base b{12} is listed as bad/);
  });
});

describe('pause, resume, abort', () => {
  test('pause: paused, one step; again: nothing to write', () => {
    const p = written(pauseRollout(written(start()), { ...who, why: 'tickets' }));
    assert.equal(p.state, 'paused');
    assert.deepEqual(p.steps.at(-1)?.action, 'pause');
    const again = pauseRollout(p, who);
    assert.deepEqual([again.kind, again.exit], ['none', 'ok']);
  });

  test('resume: rolling; every open wave times out from the resumption', () => {
    const p = written(pauseRollout(written(start()), who));
    const r = written(resumeRollout(p, { ...who, now: NOW + 3600_000 }));
    assert.equal(r.state, 'rolling');
    assert.equal(r.waves.fleet[0]!.resumed, '2026-11-03T11:00:00.000Z');
    assert.equal(r.waves.targets['plants']![0]!.resumed, '2026-11-03T11:00:00.000Z');
    assert.deepEqual(resumeRollout(r, who).kind, 'none');
  });

  test('abort: the target on the bad list with the reason given, from rolling, paused or complete', () => {
    for (const s of [
      written(start()),
      written(pauseRollout(written(start()), who)),
      { ...written(start()), state: 'complete' as const },
    ]) {
      const a = written(abortRollout(s, { ...who, why: 'api down' }));
      assert.equal(a.state, 'aborted');
      assert.deepEqual(a.bad, [{ commit: B, rollout: s.id, reason: 'api down' }]);
    }
  });

  test('refused: resuming an aborted or complete rollout, pausing one that is not rolling', () => {
    const aborted = written(abortRollout(written(start()), who));
    assert.throws(() => resumeRollout(aborted, who), /never resumed; start a rollout of a fix/);
    assert.throws(() => pauseRollout(aborted, who), /is aborted: there is nothing to pause/);
    assert.throws(() => resumeRollout({ ...aborted, state: 'complete' }, who), /complete: there is nothing to resume/);
    assert.deepEqual(abortRollout(aborted, who).kind, 'none');
  });
});
