// What a gateway may run now, as a table: the rollout state, the gateway's policy and identity →
// admitted or not, the commit it runs, the reason's code. Pure: no clock, no repo, no hub.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_GATE } from '../../src/manifest/index.js';
import type { DeviceIdentity } from '../../src/model/index.js';
import type {
  AdmissionCode,
  OpenedWave,
  RolloutPolicy,
  RolloutState,
  RolloutWave,
  TrackKey,
  TrackPolicy,
} from '../../src/model/rollout.js';
import { admit, bucketOf } from '../../src/rollout/index.js';

const HEAD = 'f'.repeat(40);
const BASE = 'a'.repeat(40);
const TARGET = 'b'.repeat(40);
const SALT = 'rollout-salt-1';

const wave = (name: string, select: RolloutWave['select']): RolloutWave => ({ name, select, gate: DEFAULT_GATE });
const POLICY: RolloutPolicy = {
  waves: [
    wave('canary', { kind: 'match', match: { labels: { ring: 'canary' } } }),
    wave('early', { kind: 'percent', percent: 10 }),
    wave('half', { kind: 'percent', percent: 50 }),
    wave('everyone', { kind: 'percent', percent: 100 }),
  ],
};

/** The first id `<prefix><n>` whose bucket is in [lo, hi). */
function idIn(lo: number, hi: number, prefix = 'gw-'): string {
  for (let n = 0; ; n++) {
    const b = bucketOf(SALT, `${prefix}${n}`);
    if (b >= lo && b < hi) return `${prefix}${n}`;
  }
}
const CANARY: DeviceIdentity = { id: idIn(0.9, 1), labels: { ring: 'canary' } };
const EARLY: DeviceIdentity = { id: idIn(0, 0.1), labels: {} };
const HALF: DeviceIdentity = { id: idIn(0.12, 0.5), labels: {} };
const LAST: DeviceIdentity = { id: idIn(0.5, 1), labels: {} };
/** A bucket over 10% but under a threshold of 12% the promoter published. */
const BORDER: DeviceIdentity = { id: idIn(0.1, 0.12), labels: {} };

const open = (n: number, threshold?: number): OpenedWave[] =>
  Array.from({ length: n }, (_, i) => ({
    opened: `2026-11-03T1${i}:00:00Z`,
    ...(i === 1 && threshold !== undefined ? { threshold } : {}),
  }));

function state(over: Partial<RolloutState> = {}): RolloutState {
  return {
    id: 'edge-v2',
    salt: SALT,
    base: BASE,
    target: TARGET,
    state: 'rolling',
    waves: { fleet: open(1), targets: {} },
    bad: [],
    steps: [],
    ...over,
  };
}

interface Row {
  name: string;
  gateway: DeviceIdentity;
  state?: RolloutState;
  policy?: TrackPolicy;
  track?: TrackKey;
  admitted: boolean;
  runs: 'head' | 'base' | 'target';
  code: AdmissionCode;
  wave?: string | null;
  open?: boolean;
}

const FLEET: TrackKey = { kind: 'fleet' };
const ROWS: Row[] = [
  {
    name: 'no policy, no rollout: the head, as today',
    gateway: HALF,
    policy: undefined,
    admitted: true,
    runs: 'head',
    code: 'no-policy',
    wave: null,
  },
  {
    name: 'a policy but no rollout started: the head, as without one',
    gateway: HALF,
    admitted: true,
    runs: 'head',
    code: 'no-rollout',
    wave: null,
  },
  {
    name: 'rolling, canary wave open: the canary runs the target',
    gateway: CANARY,
    state: state(),
    admitted: true,
    runs: 'target',
    code: 'admitted',
    wave: 'canary',
    open: true,
  },
  {
    name: 'rolling, canary wave open: a gateway of a later wave runs the base, not yet',
    gateway: EARLY,
    state: state(),
    admitted: false,
    runs: 'base',
    code: 'not-yet',
    wave: 'early',
    open: false,
  },
  {
    name: 'rolling, two waves open: early is admitted',
    gateway: EARLY,
    state: state({ waves: { fleet: open(2), targets: {} } }),
    admitted: true,
    runs: 'target',
    code: 'admitted',
    wave: 'early',
    open: true,
  },
  {
    name: 'rolling, two waves open: half still waits',
    gateway: HALF,
    state: state({ waves: { fleet: open(2), targets: {} } }),
    admitted: false,
    runs: 'base',
    code: 'not-yet',
    wave: 'half',
  },
  {
    name: 'an exact threshold published with the open wave admits a gateway over the nominal 10%',
    gateway: BORDER,
    state: state({ waves: { fleet: open(2, 0.12), targets: {} } }),
    admitted: true,
    runs: 'target',
    code: 'admitted',
    wave: 'early',
  },
  {
    name: 'without it, the same gateway is in half and waits',
    gateway: BORDER,
    state: state({ waves: { fleet: open(2), targets: {} } }),
    admitted: false,
    runs: 'base',
    code: 'not-yet',
    wave: 'half',
  },
  {
    name: 'nothing opened yet: even the canary runs the base',
    gateway: CANARY,
    state: state({ waves: { fleet: [], targets: {} } }),
    admitted: false,
    runs: 'base',
    code: 'not-yet',
    wave: 'canary',
  },
  {
    name: 'paused: an admitted gateway keeps the target',
    gateway: CANARY,
    state: state({ state: 'paused' }),
    admitted: true,
    runs: 'target',
    code: 'admitted',
    wave: 'canary',
  },
  {
    name: 'paused: a gateway whose wave is not open runs the base',
    gateway: LAST,
    state: state({ state: 'paused' }),
    admitted: false,
    runs: 'base',
    code: 'paused',
    wave: 'everyone',
  },
  {
    name: 'aborted: the canary that ran the target goes back to the base',
    gateway: CANARY,
    state: state({ state: 'aborted', bad: [{ commit: TARGET, reason: 'health failed' }] }),
    admitted: false,
    runs: 'base',
    code: 'aborted',
    wave: 'canary',
  },
  {
    name: 'aborted: every other gateway runs the base, and never the target',
    gateway: LAST,
    state: state({ state: 'aborted', waves: { fleet: open(4), targets: {} }, bad: [{ commit: TARGET, reason: 'x' }] }),
    admitted: false,
    runs: 'base',
    code: 'aborted',
  },
  {
    name: 'a target listed as bad is never run, whatever the state says',
    gateway: CANARY,
    state: state({ bad: [{ commit: TARGET, reason: 'x' }] }),
    admitted: false,
    runs: 'base',
    code: 'aborted',
  },
  {
    name: 'complete: every gateway runs the target, opened or not',
    gateway: LAST,
    state: state({ state: 'complete' }),
    admitted: true,
    runs: 'target',
    code: 'complete',
    wave: 'everyone',
  },
  {
    name: "a target's rollout none: its gateways take the target at once",
    gateway: LAST,
    state: state(),
    policy: 'none',
    track: { kind: 'target', name: 'lab' },
    admitted: true,
    runs: 'target',
    code: 'all-at-once',
    wave: null,
  },
  {
    name: "a target's rollout none, aborted: the base",
    gateway: LAST,
    state: state({ state: 'aborted', bad: [{ commit: TARGET, reason: 'x' }] }),
    policy: 'none',
    track: { kind: 'target', name: 'lab' },
    admitted: false,
    runs: 'base',
    code: 'aborted',
    wave: null,
  },
  {
    name: 'a rollout runs but the target commit has no policy: all at once',
    gateway: LAST,
    state: state({ waves: { fleet: [], targets: {} } }),
    policy: undefined,
    admitted: true,
    runs: 'target',
    code: 'all-at-once',
  },
  {
    name: "a target with its own waves follows its own track's opened waves, not the fleet's",
    gateway: HALF,
    state: state({ waves: { fleet: open(4), targets: { plants: open(1) } } }),
    track: { kind: 'target', name: 'plants' },
    admitted: false,
    runs: 'base',
    code: 'not-yet',
    wave: 'half',
  },
  {
    name: 'a gateway that joined the fleet mid-rollout, in an open wave: admitted at once',
    gateway: { id: idIn(0, 0.1, 'joined-'), labels: { site: 'new' } },
    state: state({ waves: { fleet: open(2), targets: {} } }),
    admitted: true,
    runs: 'target',
    code: 'admitted',
    wave: 'early',
  },
];

describe('admission, row by row', () => {
  for (const r of ROWS)
    test(r.name, () => {
      const a = admit({
        gateway: r.gateway,
        head: HEAD,
        policy: 'policy' in r ? r.policy : POLICY,
        track: r.track ?? FLEET,
        ...(r.state ? { state: r.state } : {}),
      });
      assert.equal(a.admitted, r.admitted, a.reason.message);
      assert.equal(a.reason.code, r.code, a.reason.message);
      const commit = { head: HEAD, base: BASE, target: TARGET }[r.runs];
      assert.deepEqual(a.runs, { commit, as: r.runs });
      if (r.wave === null) assert.equal(a.wave, undefined);
      else if (r.wave !== undefined) assert.equal(a.wave?.name, r.wave);
      if (r.open !== undefined) assert.equal(a.wave?.open, r.open);
      // Not admitted is never the target; admitted is never the base.
      assert.equal(a.runs.as === 'base', !a.admitted);
    });
});

describe('the reason says why, in words', () => {
  test('not yet names the wave and says the base is no verdict on the target', () => {
    const a = admit({ gateway: HALF, head: HEAD, state: state(), policy: POLICY, track: FLEET });
    assert.equal(
      a.reason.message,
      'not yet: wave 3 of 4 "half" opens once the waves before it pass their gates (1 of 4 waves open); until ' +
        'then the gateway runs the base, which says nothing against the target',
    );
  });

  test('aborted names the bad target and the base everyone runs', () => {
    const a = admit({
      gateway: CANARY,
      head: HEAD,
      state: state({ state: 'aborted', bad: [{ commit: TARGET, reason: 'x' }] }),
      policy: POLICY,
      track: FLEET,
    });
    assert.match(a.reason.message, /aborted: its target b{12} is bad and is never tried again.*base a{12}/);
  });
});
