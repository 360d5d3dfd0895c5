// One step of the promoter as a table: the rollout state, the target's fleet (two policies: the
// fleet's, and target "plants" with its own), the hub's evidence on its clock → the step written
// (the new state) or why nothing is. Pure: no git, no hub. Then the file as written reads back to the
// same state and holds against its policy, as a gateway checks it.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_GATE, type FleetDoc } from '../../src/manifest/index.js';
import type {
  EvidenceGateway,
  FleetRollout,
  RolloutEvidence,
  RolloutOutcome,
  RolloutState,
} from '../../src/model/rollout.js';
import {
  bucketOf,
  decidePromotion,
  parseRolloutState,
  renderRolloutState,
  stateAgainstPolicy,
} from '../../src/rollout/index.js';

const BASE = 'a'.repeat(40);
const TARGET = 'b'.repeat(40);
const T0 = Date.parse('2026-11-03T10:00:00Z');
const MIN = 60_000;
const at = (m: number) => T0 + m * MIN;
const iso = (m: number) => new Date(at(m)).toISOString();
const gate = { ...DEFAULT_GATE, successPercent: 100, soakMs: 10 * MIN, timeoutMs: 60 * MIN };

const ROLLOUT: FleetRollout = {
  fleet: {
    waves: [
      { name: 'canary', select: { kind: 'match', match: { labels: { ring: 'canary' } } }, gate },
      { name: 'half', select: { kind: 'percent', percent: 50 }, gate },
      { name: 'everyone', select: { kind: 'percent', percent: 100 }, gate },
    ],
  },
  targets: {
    plants: {
      waves: [{ name: 'all-plants', select: { kind: 'percent', percent: 100 }, gate: { ...gate, onTimeout: 'abort' } }],
    },
    lab: 'none',
  },
};

const FLEET: FleetDoc = {
  apiVersion: 'rollgate/v1',
  kind: 'Fleet',
  systems: { s: {} },
  targets: [
    { name: 'plants', match: { labels: { site: 'plant' } }, system: 's' },
    { name: 'lab', match: { labels: { site: 'lab' } }, system: 's' },
    { name: 'gateways', match: { labels: { role: 'gateway' } }, system: 's' },
  ],
};

const state = ({
  fleet,
  plants,
  ...o
}: Partial<RolloutState> & { fleet?: number; plants?: number } = {}): RolloutState => ({
  id: 'edge-v2',
  salt: '5b0f3c9a',
  base: BASE,
  target: TARGET,
  state: 'rolling',
  waves: {
    fleet: Array.from({ length: fleet ?? 1 }, (_, i) => ({ opened: iso(i * 20) })),
    targets: { plants: Array.from({ length: plants ?? 1 }, () => ({ opened: iso(0) })) },
  },
  bad: [],
  steps: [{ at: iso(0), by: 'alice@example.com', action: 'start', why: 'release v2', wave: 0 }],
  ...o,
});

const gw = (id: string, labels: Record<string, string>, e: Partial<EvidenceGateway> = {}): EvidenceGateway => ({
  id,
  labels,
  lastSeen: at(58),
  ...e,
});
const ok = (since: number): Partial<EvidenceGateway> => ({ target: TARGET, healthySince: at(since) });
const canary = (id: string, e: Partial<EvidenceGateway> = {}) => gw(id, { role: 'gateway', ring: 'canary' }, e);
const plant = (id: string, e: Partial<EvidenceGateway> = {}) => gw(id, { site: 'plant' }, e);
const others = (n: number, e: Partial<EvidenceGateway> = {}) =>
  Array.from({ length: n }, (_, i) => gw(`gw-${i}`, { role: 'gateway' }, e));

interface Row {
  name: string;
  state: RolloutState;
  gateways: EvidenceGateway[];
  now?: number;
  force?: string;
  expect:
    | { kind: 'write'; action: string; state: string; exit: string; title: RegExp }
    | { kind: 'none'; exit: string; message: RegExp };
}

const ROWS: Row[] = [
  {
    name: 'canaries and plants healthy for the soak: the fleet opens its next wave first (one step per run)',
    state: state(),
    gateways: [canary('c1', ok(5)), canary('c2', ok(5)), plant('p1', ok(5)), ...others(4)],
    expect: { kind: 'write', action: 'open', state: 'rolling', exit: 'ok', title: /wave 2 of 3 "half" of fleet opens/ },
  },
  {
    name: 'a canary still soaking: the rollout waits and says on what; plants waits on nothing but the fleet',
    state: state(),
    gateways: [canary('c1', ok(5)), canary('c2', ok(50)), plant('p1', ok(5))],
    expect: {
      kind: 'none',
      exit: 'waits',
      message: /fleet: wave "canary" waits: 1 of 2 healthy.*1 soaking.*target:plants: its last wave passed/,
    },
  },
  {
    name: 'one failure on a canary aborts the whole rollout, whatever the other policies say',
    state: state(),
    gateways: [
      canary('c1', ok(5)),
      canary('c2', { target: TARGET, failed: { at: at(30), reason: 'health-failed' } }),
      plant('p1', ok(5)),
    ],
    expect: { kind: 'write', action: 'abort', state: 'aborted', exit: 'attention', title: /aborted; b{12} is bad/ },
  },
  {
    name: 'a wave past its timeout with on_timeout pause: paused, with the cause',
    state: state(),
    now: at(61),
    gateways: [canary('c1', ok(5)), canary('c2', { target: BASE, lastSeen: at(60) }), plant('p1', ok(5))],
    expect: { kind: 'write', action: 'pause', state: 'paused', exit: 'attention', title: /paused at wave 1 of fleet/ },
  },
  {
    name: 'plants past its timeout with on_timeout abort, but nobody ran the target: it pauses rather than aborts',
    state: state({ fleet: 3 }),
    now: at(61),
    gateways: [canary('c1', ok(5)), plant('p1', { target: BASE, lastSeen: at(60) })],
    expect: {
      kind: 'write',
      action: 'pause',
      state: 'paused',
      exit: 'attention',
      title: /paused at wave 1 of target:plants/,
    },
  },
  {
    name: "every policy's last wave passed: complete",
    state: state({ fleet: 3 }),
    gateways: [canary('c1', ok(5)), plant('p1', ok(5)), ...others(6, ok(45))],
    expect: { kind: 'write', action: 'complete', state: 'complete', exit: 'ok', title: /complete, every gateway runs/ },
  },
  {
    name: 'a gateway no fleet target matches is in no policy: it holds nothing',
    state: state(),
    gateways: [canary('c1', ok(5)), gw('stray', { nothing: 'x' }), plant('p1', ok(5)), ...others(2)],
    expect: { kind: 'write', action: 'open', state: 'rolling', exit: 'ok', title: /"half" of fleet opens/ },
  },
  {
    name: 'paused: nothing opens (exit 3), and the pause is named',
    state: state({
      state: 'paused',
      steps: [...state().steps, { at: iso(5), by: 'bob@example.com', action: 'pause', why: 'tickets rising' }],
    }),
    gateways: [canary('c1', ok(5))],
    expect: { kind: 'none', exit: 'attention', message: /paused by bob@example.com at .*: tickets rising/ },
  },
  {
    name: 'complete: nothing to do',
    state: state({ state: 'complete' }),
    gateways: [],
    expect: { kind: 'none', exit: 'ok', message: /complete: nothing to do/ },
  },
  {
    name: 'forced: the fleet opens its next wave even though the canaries wait',
    state: state(),
    force: 'checked by hand',
    gateways: [canary('c1', { target: BASE })],
    expect: { kind: 'write', action: 'open', state: 'rolling', exit: 'ok', title: /"half" of fleet opens/ },
  },
  {
    name: 'forced with every last wave open: complete',
    state: state({ fleet: 3 }),
    force: 'done by hand',
    gateways: [],
    expect: { kind: 'write', action: 'complete', state: 'complete', exit: 'ok', title: /complete/ },
  },
];

function decide(r: Row): RolloutOutcome {
  const evidence: RolloutEvidence = { now: r.now ?? at(59), gateways: r.gateways };
  return decidePromotion({
    state: r.state,
    fleet: FLEET,
    rollout: ROLLOUT,
    evidence,
    by: 'promoter@hub-1',
    now: 0,
    ...(r.force ? { force: { why: r.force } } : {}),
  });
}

describe('one promotion step, row by row', () => {
  for (const r of ROWS)
    test(r.name, () => {
      const out = decide(r);
      assert.equal(out.kind, r.expect.kind, JSON.stringify(out, null, 1));
      assert.equal(out.exit, r.expect.exit);
      if (out.kind === 'none' && r.expect.kind === 'none') assert.match(out.message, r.expect.message);
      if (out.kind !== 'write' || r.expect.kind !== 'write') return;
      assert.match(out.title, r.expect.title);
      assert.equal(out.step.action, r.expect.action);
      assert.equal(out.state.state, r.expect.state);
      assert.equal(out.state.steps.length, r.state.steps.length + 1, 'one step appended');
      assert.deepEqual(out.state.steps.at(-1), out.step);
      assert.equal(r.state.steps.length, (r.state.steps as unknown[]).length, 'the input is not changed');
      // What is written reads back to the same state and holds against the target's policy.
      const parsed = parseRolloutState(new TextEncoder().encode(renderRolloutState(out.state)));
      assert.deepEqual(parsed.state, out.state);
      assert.deepEqual(stateAgainstPolicy(parsed, ROLLOUT), []);
    });
});

describe('what the steps carry', () => {
  test('opening a percent wave publishes the threshold that admits exactly its share of the gateways known', () => {
    const r = ROWS[0]!;
    const gateways = [...r.gateways, ...others(10)];
    const out = decide({ ...r, gateways });
    assert.equal(out.kind, 'write');
    if (out.kind !== 'write') return;
    const t = out.state.waves.fleet[1]!.threshold!;
    const plain = gateways.filter((g) => !g.labels['ring'] && g.labels['role'] === 'gateway');
    assert.equal(plain.filter((g) => bucketOf('5b0f3c9a', g.id) < t).length, Math.ceil(plain.length / 2));
    assert.equal(out.step.evidence?.healthy, 2, 'the canary wave: 2 healthy');
    assert.equal(out.step.track, 'fleet');
    assert.equal(out.step.wave, 1);
    assert.equal(out.step.at, iso(59), "timed by the hub's clock");
  });

  test('an abort puts the target on the fleet bad list, with the failure and the evidence', () => {
    const out = decide(ROWS[2]!);
    assert.equal(out.kind, 'write');
    if (out.kind !== 'write') return;
    assert.deepEqual(
      out.state.bad.map((b) => [b.commit, b.rollout]),
      [[TARGET, 'edge-v2']],
    );
    assert.match(out.state.bad[0]!.reason, /c2: health-failed/);
    assert.deepEqual(out.step.evidence?.failures, [{ gateway: 'c2', reason: 'health-failed' }]);
  });

  test('a step is never timed before the file it follows (a clock behind the one that wrote it)', () => {
    const out = decide({ ...ROWS[0]!, now: at(-600) });
    assert.equal(out.kind, 'write');
    if (out.kind === 'write') assert.equal(out.step.at, iso(0));
  });

  test('a forced step records who forced it, why, and what the gate said', () => {
    const out = decide(ROWS[9]!);
    assert.equal(out.kind, 'write');
    if (out.kind !== 'write') return;
    assert.match(out.step.why, /^forced by promoter@hub-1: checked by hand \(the gate: wave "canary" waits/);
    assert.equal(out.step.evidence?.decision, 'wait');
  });

  test('a promotion that is not forced needs evidence', () => {
    assert.throws(
      () => decidePromotion({ state: state(), fleet: FLEET, rollout: ROLLOUT, by: 'p', now: 0 }),
      /needs the hub's evidence/,
    );
  });
});
