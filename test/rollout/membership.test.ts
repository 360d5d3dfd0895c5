// Wave membership as tables: which wave each gateway is in, from the policy, its id and labels and
// the rollout's salt alone; exact thresholds a promoter publishes; and a fleet that grows in the
// middle of a rollout. Pure: no process, no repo.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_GATE } from '../../src/manifest/index.js';
import type { DeviceIdentity } from '../../src/model/index.js';
import type { RolloutPolicy, RolloutWave, WaveMatch } from '../../src/model/rollout.js';
import { bucketOf, exactThreshold, waveOf } from '../../src/rollout/index.js';

const SALT = 's4lt-2026';
const gw = (id: string, labels: Record<string, string> = {}): DeviceIdentity => ({ id, labels });
const pct = (name: string, percent: number): RolloutWave => ({
  name,
  select: { kind: 'percent', percent },
  gate: DEFAULT_GATE,
});
const sel = (name: string, match: WaveMatch): RolloutWave => ({
  name,
  select: { kind: 'match', match },
  gate: DEFAULT_GATE,
});

const POLICY: RolloutPolicy = {
  waves: [
    sel('canary', { labels: { ring: 'canary' } }),
    pct('early', 10),
    pct('half', 50),
    sel('plants', { labels: { site: ['plant-a', 'plant-b'] }, ids: ['gw-plant-1', 'gw-plant-2'] }),
    pct('everyone', 100),
  ],
};

/** The first id `gw-<n>` whose bucket is in [lo, hi): gateways for a row, found once. */
function idIn(lo: number, hi: number, salt = SALT): string {
  for (let n = 0; ; n++) {
    const id = `gw-${n}`;
    const b = bucketOf(salt, id);
    if (b >= lo && b < hi) return id;
  }
}

describe('bucketOf: the contract between gateways, promoters and people', () => {
  test('the first 52 bits of sha256("<salt>\\n<id>"): pinned, so every version agrees on every wave', () => {
    // printf 's4lt-2026\ngw-0001' | sha256sum → d0c7a84f0a870…
    assert.equal(bucketOf(SALT, 'gw-0001'), parseInt('d0c7a84f0a870', 16) / 2 ** 52);
    assert.equal(bucketOf(SALT, 'gw-0001'), 0.8155465310069552);
  });

  test('another salt shares the fleet out anew', () => {
    const ids = Array.from({ length: 200 }, (_, i) => `gw-${i}`);
    const early = (salt: string) => ids.filter((id) => waveOf(POLICY, gw(id), salt).name === 'early');
    assert.notDeepEqual(early(SALT), early('other-salt'));
  });

  test('percent waves take about their share of 10,000 gateways', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) {
      const w = waveOf(POLICY, gw(`gateway-${i}`), SALT).name;
      counts.set(w, (counts.get(w) ?? 0) + 1);
    }
    // Cumulative 10%, 50%, 100%: 10%, 40% and 50% of them.
    assert.ok(Math.abs(counts.get('early')! - 1000) < 150, `early: ${counts.get('early')}`);
    assert.ok(Math.abs(counts.get('half')! - 4000) < 250, `half: ${counts.get('half')}`);
    assert.ok(Math.abs(counts.get('everyone')! - 5000) < 250, `everyone: ${counts.get('everyone')}`);
  });
});

describe('waveOf, row by row', () => {
  const low = idIn(0, 0.1); // under early's 10%
  const mid = idIn(0.1, 0.5); // half
  const high = idIn(0.5, 1); // everyone
  const between = idIn(0.1, 0.12); // over 10%, under a published 12%
  const rows: {
    name: string;
    gateway: DeviceIdentity;
    published?: (number | undefined)[];
    wave: string;
    by: 'match' | 'percent';
    exact?: boolean;
  }[] = [
    { name: 'a bucket under 10% is in early', gateway: gw(low), wave: 'early', by: 'percent', exact: false },
    { name: 'between 10% and 50%: half, never early too', gateway: gw(mid), wave: 'half', by: 'percent' },
    { name: 'over 50%: everyone', gateway: gw(high), wave: 'everyone', by: 'percent' },
    {
      name: 'a canary label wins over a low bucket: waves that name gateways take theirs first',
      gateway: gw(low, { ring: 'canary' }),
      wave: 'canary',
      by: 'match',
    },
    {
      name: 'a wave that names gateways after the percent waves still takes them (plants go late)',
      gateway: gw('gw-plant-1', { site: 'plant-b' }),
      wave: 'plants',
      by: 'match',
    },
    {
      name: 'match means every criterion: a plant label with an id it does not list is shared out by percent',
      gateway: gw(low, { site: 'plant-a' }),
      wave: 'early',
      by: 'percent',
    },
    {
      name: 'a label value not listed is no match',
      gateway: gw(high, { ring: 'canary-2' }),
      wave: 'everyone',
      by: 'percent',
    },
    {
      name: 'a published threshold makes the wave exact: 12% takes a bucket of 11%',
      gateway: gw(between),
      published: [undefined, 0.12],
      wave: 'early',
      by: 'percent',
      exact: true,
    },
    {
      name: 'without it the same gateway is in half',
      gateway: gw(between),
      wave: 'half',
      by: 'percent',
    },
    {
      name: 'a threshold published for the 100% wave changes nothing: it takes every gateway left',
      gateway: gw(high),
      published: [undefined, undefined, undefined, undefined, 0.2],
      wave: 'everyone',
      by: 'percent',
      exact: false,
    },
  ];
  for (const r of rows)
    test(r.name, () => {
      const m = waveOf(POLICY, r.gateway, SALT, r.published);
      assert.equal(m.name, r.wave);
      assert.equal(m.by, r.by);
      assert.equal(m.of, 5);
      assert.equal(POLICY.waves[m.index]!.name, r.wave);
      if (r.by === 'percent') {
        assert.equal(m.bucket, bucketOf(SALT, r.gateway.id));
        assert.ok(m.bucket! < m.threshold!);
        if (r.exact !== undefined) assert.equal(m.exact, r.exact);
      } else assert.equal(m.bucket, undefined);
    });
});

describe('exactThreshold: a percent made exact for the gateways the promoter knows', () => {
  const fleet = Array.from({ length: 37 }, (_, i) => gw(`site-${i}`, i < 3 ? { ring: 'canary' } : {}));
  const rest = fleet.slice(3);

  test('early takes ceil(10% of 34) = 4 of the gateways no match names, canaries not counted', () => {
    const t = exactThreshold(POLICY, 1, fleet, SALT);
    assert.equal(rest.filter((g) => bucketOf(SALT, g.id) < t).length, 4);
    const inEarly = fleet.filter((g) => waveOf(POLICY, g, SALT, [undefined, t]).name === 'early');
    assert.equal(inEarly.length, 4);
  });

  test('half then takes ceil(50% of 34) = 17 cumulatively, never less than early', () => {
    const early = exactThreshold(POLICY, 1, fleet, SALT);
    const half = exactThreshold(POLICY, 2, fleet, SALT, [undefined, early]);
    assert.ok(half >= early);
    const published = [undefined, early, half];
    const waves = fleet.map((g) => waveOf(POLICY, g, SALT, published).name);
    assert.equal(waves.filter((w) => w === 'early' || w === 'half').length, 17);
    assert.equal(waves.filter((w) => w === 'canary').length, 3);
  });

  test('a published threshold above the next percent keeps the next wave from taking less', () => {
    const high = exactThreshold(POLICY, 2, fleet, SALT, [undefined, 0.7]);
    assert.ok(high >= 0.7);
  });

  test('with no gateway known it is the percent; the 100% wave is 1', () => {
    assert.equal(exactThreshold(POLICY, 1, [], SALT), 0.1);
    assert.equal(exactThreshold(POLICY, 4, fleet, SALT), 1);
  });

  test('a wave that names gateways has no threshold', () => {
    assert.throws(() => exactThreshold(POLICY, 0, fleet, SALT), /not a percent wave/);
  });
});

describe('the fleet grows in the middle of a rollout', () => {
  const first = Array.from({ length: 500 }, (_, i) => gw(`gw-a${i}`));
  const added = Array.from({ length: 500 }, (_, i) => gw(`gw-b${i}`, i % 50 === 0 ? { ring: 'canary' } : {}));

  test('nominal percents: adding 500 gateways moves none of the first 500', () => {
    const before = first.map((g) => waveOf(POLICY, g, SALT).name);
    const after = [...first, ...added].map((g) => waveOf(POLICY, g, SALT).name).slice(0, first.length);
    assert.deepEqual(after, before);
  });

  test('published thresholds: the first 500 stay where they were; a newcomer joins the wave its bucket is in', () => {
    const early = exactThreshold(POLICY, 1, first, SALT);
    const published = [undefined, early];
    const before = first.map((g) => waveOf(POLICY, g, SALT, published).name);
    assert.equal(before.filter((w) => w === 'early').length, 50);
    const grown = [...first, ...added];
    const after = grown.map((g) => waveOf(POLICY, g, SALT, published));
    assert.deepEqual(
      after.slice(0, first.length).map((m) => m.name),
      before,
    );
    for (const [i, m] of after.entries()) {
      const g = grown[i]!;
      if (g.labels['ring'] === 'canary') assert.equal(m.name, 'canary');
      else assert.equal(m.name === 'early', bucketOf(SALT, g.id) < early, g.id);
    }
    // About 10% of the newcomers are under the threshold the promoter published for the first 500.
    const newEarly = after.slice(first.length).filter((m) => m.name === 'early').length;
    assert.ok(newEarly > 25 && newEarly < 80, `newcomers in early: ${newEarly}`);
  });
});
