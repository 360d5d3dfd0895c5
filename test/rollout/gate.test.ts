// A wave's gate as a table: the wave's gate, the hub's evidence about its gateways (on the hub's
// clock) and the hub's now → advance, wait (with its causes), pause or abort. Pure.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_GATE } from '../../src/manifest/index.js';
import type { GateResult, GatewayEvidence, RolloutGate, RolloutWave, WaitCause } from '../../src/model/rollout.js';
import { evaluateGate } from '../../src/rollout/index.js';

const TARGET = 'b'.repeat(40);
const OTHER = 'c'.repeat(40);
const MIN = 60_000;
const T0 = Date.parse('2026-11-03T10:00:00Z');
const at = (minutes: number) => T0 + minutes * MIN;

// The defaults: success 95%, soak 15m, timeout 4h (pause), max failures 0, silent: wait after 15m.
const percentWave = (gate: Partial<RolloutGate> = {}): RolloutWave => ({
  name: 'early',
  select: { kind: 'percent', percent: 10 },
  gate: { ...DEFAULT_GATE, ...gate },
});
const canaryWave = (gate: Partial<RolloutGate> = {}): RolloutWave => ({
  name: 'canary',
  select: { kind: 'match', match: { labels: { ring: 'canary' } } },
  gate: { ...DEFAULT_GATE, ...gate },
});

/** Healthy on the target since `since` minutes, last report at `seen` minutes. */
const healthy = (id: string, since: number, seen: number): GatewayEvidence => ({
  id,
  target: TARGET,
  healthySince: at(since),
  lastSeen: at(seen),
});
const failed = (id: string, reason = 'health failed: api down'): GatewayEvidence => ({
  id,
  target: TARGET,
  lastSeen: at(20),
  failed: { at: at(19), reason },
});
const many = (n: number, make: (id: string) => GatewayEvidence) => Array.from({ length: n }, (_, i) => make(`gw-${i}`));

interface Row {
  name: string;
  wave?: RolloutWave;
  members: GatewayEvidence[];
  now: number;
  resumedAt?: number;
  /** Gateways of the track the hub knows; default: the members and 10 more. */
  known?: number;
  decision: GateResult['decision'];
  causes?: WaitCause['kind'][];
  counts?: Partial<GateResult['counts']>;
  message?: RegExp;
}

const ROWS: Row[] = [
  {
    name: 'every gateway healthy for the soak, confirmed by a report after it: advance',
    members: many(3, (id) => healthy(id, 5, 25)),
    now: at(26),
    decision: 'advance',
    counts: { members: 3, counted: 3, needed: 3, healthy: 3 },
  },
  {
    name: 'healthy, but no report since the soak ended: soaking, wait (nothing advances on what was not seen)',
    members: many(3, (id) => healthy(id, 5, 19)),
    now: at(21),
    decision: 'wait',
    causes: ['threshold', 'soak'],
    counts: { soaking: 3, healthy: 0 },
    message: /0 of 3 healthy for the soak, 3 needed; 3 soaking, the first done at 2026-11-03T10:20:00\.000Z/,
  },
  {
    name: 'healthy since before the wave opened: the soak counts from the opening',
    members: many(2, (id) => healthy(id, -30, 10)),
    now: at(11),
    decision: 'wait',
    causes: ['threshold', 'soak'],
    counts: { soaking: 2 },
  },
  {
    name: 'a Healthy about another commit is stale evidence: pending, not healthy',
    members: many(3, (id) => ({ ...healthy(id, 0, 30), target: OTHER })),
    now: at(31),
    decision: 'wait',
    causes: ['threshold', 'pending'],
    counts: { pending: 3, healthy: 0 },
  },
  {
    name: 'reported the target, not healthy yet: applying',
    members: [{ id: 'gw-1', target: TARGET, lastSeen: at(30) }, healthy('gw-2', 1, 30)],
    now: at(31),
    decision: 'wait',
    causes: ['threshold', 'applying'],
    counts: { applying: 1, healthy: 1, needed: 2 },
  },
  {
    name: 'one failure with max_failures 0: abort, naming the gateway and why',
    members: [...many(9, (id) => healthy(id, 0, 30)), failed('gw-bad')],
    now: at(31),
    decision: 'abort',
    counts: { failed: 1, healthy: 9 },
    message: /wave "early": 1 failed, more than the 0 it tolerates \(gw-bad: health failed: api down\)/,
  },
  {
    name: 'failures abort even when the success share was reached',
    wave: percentWave({ successPercent: 50 }),
    members: [...many(9, (id) => healthy(id, 0, 30)), failed('gw-bad')],
    now: at(31),
    decision: 'abort',
  },
  {
    name: 'max_failures 1 tolerates one failure; the rest decides',
    wave: percentWave({ maxFailures: 1, successPercent: 90 }),
    members: [...many(9, (id) => healthy(id, 0, 30)), failed('gw-bad')],
    now: at(31),
    decision: 'advance',
    counts: { failed: 1, healthy: 9, needed: 9 },
  },
  {
    name: 'a failure reported about another commit is not a failure of this target',
    members: [{ ...failed('gw-x'), target: OTHER }, ...many(2, (id) => healthy(id, 0, 30))],
    now: at(31),
    decision: 'wait',
    counts: { failed: 0, pending: 1 },
  },
  {
    name: '95% of 20 is 19, not 20: one quiet gateway does not hold the wave (silent: wait)',
    members: [...many(19, (id) => healthy(id, 0, 30)), { id: 'gw-quiet', lastSeen: at(-60) }],
    now: at(31),
    decision: 'advance',
    counts: { members: 20, counted: 20, needed: 19, healthy: 19, silent: 1 },
  },
  {
    name: 'silent: wait, two quiet of 20: 18 of 19 needed, wait, saying who is quiet',
    members: [...many(18, (id) => healthy(id, 0, 30)), ...many(2, (id) => ({ id: `${id}-q`, lastSeen: at(-60) }))],
    now: at(31),
    decision: 'wait',
    causes: ['threshold', 'silent'],
    message:
      /18 of 20 healthy for the soak, 19 needed; 2 not reporting; times out at 2026-11-03T14:00:00\.000Z, then pauses/,
  },
  {
    name: 'silent: exclude leaves them out of the count: 18 of 18',
    wave: percentWave({ silent: 'exclude' }),
    members: [...many(18, (id) => healthy(id, 0, 30)), ...many(2, (id) => ({ id: `${id}-q`, lastSeen: at(-60) }))],
    now: at(31),
    decision: 'advance',
    counts: { counted: 18, needed: 18 },
  },
  {
    name: 'silent: exclude with every gateway quiet: no evidence, never advance',
    wave: percentWave({ silent: 'exclude' }),
    members: many(5, (id) => ({ id, lastSeen: at(-60) })),
    now: at(31),
    decision: 'wait',
    causes: ['silent'],
    counts: { counted: 0, needed: 0, silent: 5 },
  },
  {
    name: 'silent: fail counts a quiet gateway as a failure',
    wave: percentWave({ silent: 'fail' }),
    members: [...many(9, (id) => healthy(id, 0, 30)), { id: 'gw-q' }],
    now: at(31),
    decision: 'abort',
    message: /gw-q: not reporting/,
  },
  {
    name: 'a gateway healthy for the soak but quiet since: silent, not healthy',
    wave: canaryWave({ successPercent: 100 }),
    members: [healthy('gw-1', 0, 20), healthy('gw-2', 0, 50)],
    now: at(50),
    decision: 'wait',
    counts: { healthy: 1, silent: 1 },
  },
  {
    name: 'the timeout passes before the gate: pause, with the cause',
    members: [...many(5, (id) => healthy(id, 0, 239)), ...many(5, (id) => ({ id: `${id}-p`, lastSeen: at(239) }))],
    now: at(240),
    decision: 'pause',
    causes: ['threshold', 'pending'],
    message: /wave "early" timed out at 2026-11-03T14:00:00\.000Z \(4h\): 5 of 10 healthy for the soak, 10 needed/,
  },
  {
    name: 'on_timeout abort: the timeout aborts',
    wave: percentWave({ onTimeout: 'abort' }),
    members: many(3, (id) => ({ id, target: TARGET, lastSeen: at(239) })),
    now: at(240),
    decision: 'abort',
  },
  {
    name: 'on_timeout abort, but no gateway ran the target: pause (nothing says the target is bad)',
    wave: percentWave({ onTimeout: 'abort' }),
    members: many(3, (id) => ({ id, target: OTHER, lastSeen: at(239) })),
    now: at(240),
    decision: 'pause',
    causes: ['threshold', 'pending'],
    message: /no gateway ran the target, so it pauses rather than aborts/,
  },
  {
    name: 'on_timeout abort with an empty canary wave: pause',
    wave: canaryWave({ onTimeout: 'abort' }),
    members: [],
    now: at(240),
    decision: 'pause',
    causes: ['empty'],
  },
  {
    name: 'resumed after a pause: the timeout counts from the resumption',
    members: many(3, (id) => ({ id, target: TARGET, lastSeen: at(299) })),
    now: at(300),
    resumedAt: at(200),
    decision: 'wait',
    causes: ['threshold', 'applying'],
    message: /times out at 2026-11-03T17:20:00\.000Z/,
  },
  {
    name: 'a canary wave whose match names no gateway the hub knows: wait, said so',
    wave: canaryWave(),
    members: [],
    now: at(10),
    decision: 'wait',
    causes: ['empty'],
    message: /no gateway the hub knows is in this wave/,
  },
  {
    name: '... and at its timeout it pauses: an empty canary wave never lets a rollout through',
    wave: canaryWave(),
    members: [],
    now: at(240),
    decision: 'pause',
    causes: ['empty'],
  },
  {
    name: 'a percent wave that a small fleet leaves empty admitted no one: advance',
    members: [],
    known: 3,
    now: at(1),
    decision: 'advance',
    message: /wave "early" has none of the 3 gateways the hub knows: nothing to wait for/,
  },
  {
    name: 'a hub that knows no gateway has no evidence: even an empty percent wave waits',
    members: [],
    known: 0,
    now: at(1),
    decision: 'wait',
    causes: ['empty'],
  },
  {
    name: 'success 100% of 3 with 2 healthy: wait for the third',
    wave: canaryWave({ successPercent: 100 }),
    members: [healthy('gw-1', 0, 20), healthy('gw-2', 0, 20), { id: 'gw-3', lastSeen: at(20), target: OTHER }],
    now: at(21),
    decision: 'wait',
    counts: { needed: 3, healthy: 2, pending: 1 },
  },
];

describe('the gate, row by row', () => {
  for (const r of ROWS)
    test(r.name, () => {
      const res = evaluateGate({
        wave: r.wave ?? percentWave(),
        target: TARGET,
        openedAt: T0,
        members: r.members,
        known: r.known ?? r.members.length + 10,
        now: r.now,
        ...(r.resumedAt !== undefined ? { resumedAt: r.resumedAt } : {}),
      });
      assert.equal(res.decision, r.decision, res.message);
      if (r.causes)
        assert.deepEqual(
          res.causes.map((c) => c.kind),
          r.causes,
          res.message,
        );
      if (r.decision !== 'wait' && r.decision !== 'pause' && r.decision !== 'abort') assert.deepEqual(res.causes, []);
      for (const [k, v] of Object.entries(r.counts ?? {}))
        assert.equal(res.counts[k as keyof GateResult['counts']], v, `${k}: ${res.message}`);
      if (r.message) assert.match(res.message, r.message);
      assert.equal(res.gateways.length, r.members.length);
    });
});

test('every member has a standing, in the order given', () => {
  const res = evaluateGate({
    wave: percentWave(),
    target: TARGET,
    openedAt: T0,
    now: at(31),
    known: 6,
    members: [
      healthy('h', 0, 30),
      healthy('s', 25, 30),
      { id: 'a', target: TARGET, lastSeen: at(30) },
      { id: 'p', target: OTHER, lastSeen: at(30) },
      { id: 'q' },
      failed('f', 'rolled back: probe failed'),
    ],
  });
  assert.deepEqual(res.gateways, [
    { id: 'h', standing: 'healthy' },
    { id: 's', standing: 'soaking' },
    { id: 'a', standing: 'applying' },
    { id: 'p', standing: 'pending' },
    { id: 'q', standing: 'silent' },
    { id: 'f', standing: 'failed', reason: 'rolled back: probe failed' },
  ]);
});
