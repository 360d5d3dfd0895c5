// The rollout gate as a table: the rollout file at the head, the policy of its target, where the
// named commits sit in the branch, their signatures, the gateway's identity → which commit the
// gateway runs now, deferred or refused, and the standing it keeps.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_GATE, FleetRepoError } from '../../../src/manifest/index.js';
import type { AdmissionCode, FleetRollout } from '../../../src/model/rollout.js';
import type { GatePorts } from '../../../src/lifecycle/gates/index.js';
import { rolloutGate } from '../../../src/lifecycle/gates/rollout.js';
import { TrustError } from '../../../src/trust/index.js';
import { BASE, HEAD, ports, rolloutFile, subject, TARGET } from '../../helpers/gate-ports.js';

const POLICY: FleetRollout = {
  fleet: {
    waves: [
      { name: 'canary', select: { kind: 'match', match: { labels: { ring: 'canary' } } }, gate: DEFAULT_GATE },
      { name: 'everyone', select: { kind: 'percent', percent: 100 }, gate: DEFAULT_GATE },
    ],
  },
  targets: { lab: 'none' },
};
const CANARY = { id: 'gw-1', labels: { ring: 'canary' } };
const OTHER = { id: 'gw-2', labels: {} };

interface Row {
  name: string;
  ports: Partial<GatePorts>;
  expect:
    | { kind: 'admit'; runs?: string; code?: AdmissionCode }
    | { kind: 'defer'; instead: string; code: AdmissionCode; until: string; why: RegExp }
    | { kind: 'refuse'; commit: string; bad: string; reason: RegExp };
}

const state =
  (o: Parameters<typeof rolloutFile>[0] = {}) =>
  () =>
    Promise.resolve(rolloutFile(o));
const policy = (target?: string) => () => Promise.resolve({ rollout: POLICY, ...(target ? { target } : {}) });
const inHistory =
  (...missing: string[]) =>
  (_c: string, a: string) =>
    Promise.resolve(!missing.includes(a));
const untrusted =
  (...bad: string[]) =>
  (c: string) =>
    bad.includes(c)
      ? Promise.reject(new TrustError('untrusted', `commit ${c.slice(0, 12)} is not signed`))
      : Promise.resolve(undefined);

const rows: Row[] = [
  {
    name: 'no rollgate-rollout.yaml at the head: the head, as without rollouts',
    ports: {},
    expect: { kind: 'admit' },
  },
  {
    name: 'a canary with the canary wave open: admitted, runs the target',
    ports: { gateway: CANARY, rolloutState: state(), rolloutPolicy: policy() },
    expect: { kind: 'admit', runs: TARGET, code: 'admitted' },
  },
  {
    name: 'a gateway of a wave not open yet: the target deferred, the base meanwhile',
    ports: { gateway: OTHER, rolloutState: state(), rolloutPolicy: policy() },
    expect: {
      kind: 'defer',
      instead: BASE,
      code: 'not-yet',
      until: 'wave 2 of 2 "everyone" opens',
      why: /^not yet: wave 2 of 2 "everyone"/,
    },
  },
  {
    name: 'paused before its wave: deferred until the rollout resumes, the base meanwhile',
    ports: { gateway: OTHER, rolloutState: state({ state: 'paused' }), rolloutPolicy: policy() },
    expect: {
      kind: 'defer',
      instead: BASE,
      code: 'paused',
      until: 'the rollout resumes and wave 2 of 2 "everyone" opens',
      why: /is paused before wave 2/,
    },
  },
  {
    name: 'its wave open: admitted',
    ports: { gateway: OTHER, rolloutState: state({ fleetWaves: 2 }), rolloutPolicy: policy() },
    expect: { kind: 'admit', runs: TARGET, code: 'admitted' },
  },
  {
    name: 'aborted: the base, for every gateway, admitted canaries too (no verdict of its own here)',
    ports: { gateway: CANARY, rolloutState: state({ state: 'aborted', bad: [TARGET] }), rolloutPolicy: policy() },
    expect: { kind: 'admit', runs: BASE, code: 'aborted' },
  },
  {
    name: 'complete: the target, everywhere',
    ports: { gateway: OTHER, rolloutState: state({ state: 'complete', fleetWaves: 2 }), rolloutPolicy: policy() },
    expect: { kind: 'admit', runs: TARGET, code: 'complete' },
  },
  {
    name: 'a fleet target whose policy is rollout: none takes the target at once',
    ports: { gateway: OTHER, rolloutState: state(), rolloutPolicy: policy('lab') },
    expect: { kind: 'admit', runs: TARGET, code: 'all-at-once' },
  },
  {
    name: 'the file does not hold: the head is refused as invalid, with the file:line',
    ports: {
      rolloutState: () =>
        Promise.reject(
          new FleetRepoError([{ file: 'rollgate-rollout.yaml', line: 6, message: 'state: expected one of' }]),
        ),
    },
    expect: { kind: 'refuse', commit: HEAD, bad: 'invalid', reason: /rollgate-rollout\.yaml:6:1: state: expected/ },
  },
  {
    name: "a target that is not in the branch's history: the head is refused",
    ports: { rolloutState: state(), rolloutPolicy: policy(), descends: inHistory(TARGET) },
    expect: {
      kind: 'refuse',
      commit: HEAD,
      bad: 'invalid',
      reason: /names b{12} as the rollout's target, which is not/,
    },
  },
  {
    name: "a base that is not in the branch's history: the head is refused",
    ports: { rolloutState: state(), rolloutPolicy: policy(), descends: inHistory(BASE) },
    expect: { kind: 'refuse', commit: HEAD, bad: 'invalid', reason: /names a{12} as the rollout's base/ },
  },
  {
    name: "the target's rollgate.yaml does not load: the head is refused (no policy to place the gateway by)",
    ports: {
      rolloutState: state(),
      rolloutPolicy: () => Promise.reject(new FleetRepoError([{ file: 'rollgate.yaml', line: 2, message: 'bad' }])),
    },
    expect: {
      kind: 'refuse',
      commit: HEAD,
      bad: 'invalid',
      reason: /policy of rollout edge-v2.*rollgate\.yaml:2:1: bad/s,
    },
  },
  {
    name: "the file opens more waves than the target's policy has: the head is refused",
    ports: { rolloutState: state({ fleetWaves: 3 }), rolloutPolicy: policy() },
    expect: { kind: 'refuse', commit: HEAD, bad: 'invalid', reason: /opens 3 waves of the fleet, whose policy has 2/ },
  },
  {
    name: 'the target the wave admits is not signed by a trusted key: the target is refused, not the head',
    ports: { gateway: CANARY, rolloutState: state(), rolloutPolicy: policy(), verify: untrusted(TARGET) },
    expect: { kind: 'refuse', commit: TARGET, bad: 'untrusted', reason: /b{12} is not signed/ },
  },
  {
    name: 'the base a waiting gateway would run is not signed by a trusted key: the base is refused',
    ports: { gateway: OTHER, rolloutState: state(), rolloutPolicy: policy(), verify: untrusted(BASE) },
    expect: { kind: 'refuse', commit: BASE, bad: 'untrusted', reason: /a{12} is not signed/ },
  },
];

describe('the rollout gate, as a table', () => {
  for (const row of rows)
    test(row.name, async () => {
      const a = await rolloutGate.check(subject(), ports(row.ports));
      const e = row.expect;
      assert.equal(a.kind, e.kind, JSON.stringify(a));
      if (a.kind === 'admit' && e.kind === 'admit') {
        assert.equal(a.runs, e.runs);
        assert.equal(a.rollout?.code, e.code);
        if (a.rollout) {
          assert.equal(a.rollout.id, 'edge-v2');
          assert.equal(a.rollout.target, TARGET);
          assert.equal(a.rollout.runs, a.runs === BASE ? 'base' : 'target');
        }
      } else if (a.kind === 'defer' && e.kind === 'defer') {
        assert.equal(a.instead, e.instead);
        assert.equal(a.commit, TARGET, 'the target waits, not the head that carries the file');
        assert.equal(a.rollout?.code, e.code);
        assert.equal(a.rollout?.runs, 'base');
        assert.deepEqual(a.rollout?.wave, { number: 2, of: 2, name: 'everyone', open: false });
        assert.equal(a.until, e.until);
        assert.match(a.why, e.why);
        assert.match(a.cause, new RegExp(`^rollout edge-v2 target ${TARGET} ${e.code} at wave 2`));
      } else if (a.kind === 'refuse' && e.kind === 'refuse') {
        assert.equal(a.commit, e.commit);
        assert.equal(a.bad, e.bad);
        assert.match(a.reason, e.reason);
      }
    });

  test('the state is read from the head; the policy from the target, once its place in history is known', async () => {
    const p = ports({
      gateway: OTHER,
      rolloutState: (c) => (p.calls.push(`rolloutState ${c[0]}`), Promise.resolve(rolloutFile())),
      rolloutPolicy: (c) => (p.calls.push(`rolloutPolicy ${c[0]}`), Promise.resolve({ rollout: POLICY })),
    });
    await rolloutGate.check(subject(), p);
    assert.deepEqual(p.calls, ['rolloutState f', 'descends f b', 'descends f a', 'rolloutPolicy b', 'verify a']);
  });

  test('the same cause for every poll of one wave, another once the rollout pauses', async () => {
    const cause = async (o: Parameters<typeof rolloutFile>[0]) => {
      const a = await rolloutGate.check(
        subject(),
        ports({ gateway: OTHER, rolloutState: state(o), rolloutPolicy: policy() }),
      );
      return a.kind === 'defer' ? a.cause : a.kind;
    };
    assert.equal(await cause({}), await cause({}));
    assert.notEqual(await cause({}), await cause({ state: 'paused' }));
  });
});
