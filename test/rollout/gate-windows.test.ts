// A wave's timeout counted only while its gateways' maintenance windows are open, as a table: a
// weekend with one Sunday window does not time a wave out; the windows' open hours do. Pure.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_GATE, readFleet, DirectorySource } from '../../src/manifest/index.js';
import type { MaintenanceWindow } from '../../src/model/index.js';
import type { GatewayEvidence, RolloutWave } from '../../src/model/rollout.js';
import { evaluateGate } from '../../src/rollout/index.js';
import { windowsOf } from '../../src/rollout/tracks.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/fixtures.js';

const TARGET = 'b'.repeat(40);
const t = (iso: string) => Date.parse(iso);
const FRIDAY_EVENING = t('2026-12-04T18:00:00Z');

// Default gate: timeout 4h, then pause.
const wave: RolloutWave = { name: 'early', select: { kind: 'percent', percent: 10 }, gate: { ...DEFAULT_GATE } };
const win = (days: number[], from: string, to: string): MaintenanceWindow => ({
  zone: 'UTC',
  openings: [{ kind: 'range', days, from, to }],
  expectedMs: 15 * 60_000,
  rollbacks: 'at-once',
  from: 'window',
});
const SUNDAY_2H = win([0], '02:00', '04:00');
const SAT_AND_SUN_2H = win([0, 6], '02:00', '04:00');
// A gateway on the target, not healthy yet, reporting: the wave waits on it.
const applying: GatewayEvidence = { id: 'gw-1', target: TARGET, lastSeen: 0 };

const rows: [string, MaintenanceWindow[], string, 'wait' | 'pause', string][] = [
  ['no windows: 4h after opening it times out', [], '2026-12-04T22:00:00Z', 'pause', '2026-12-04T22:00:00Z'],
  [
    'one Sunday window of 2h: Monday morning it still waits',
    [SUNDAY_2H],
    '2026-12-07T08:00:00Z',
    'wait',
    '2026-12-13T04:00:00Z',
  ],
  [
    "Saturday and Sunday, 2h each: times out at the end of Sunday's",
    [SAT_AND_SUN_2H],
    '2026-12-06T04:00:00Z',
    'pause',
    '2026-12-06T04:00:00Z',
  ],
  ['... and a minute before, it waits', [SAT_AND_SUN_2H], '2026-12-06T03:59:00Z', 'wait', '2026-12-06T04:00:00Z'],
];

describe("a wave's timeout counts only while its gateways' windows are open", () => {
  for (const [name, windows, now, decision, timeoutAt] of rows)
    test(name, () => {
      const r = evaluateGate({
        wave,
        target: TARGET,
        openedAt: FRIDAY_EVENING,
        members: [{ ...applying, lastSeen: t(now) }],
        known: 5,
        now: t(now),
        windows,
      });
      assert.equal(r.decision, decision, r.message);
      assert.equal(new Date(r.timeoutAt).toISOString(), new Date(t(timeoutAt)).toISOString());
      if (windows.length) assert.match(r.message, /counted while its gateways' maintenance windows are open/);
    });
});

test("the wave's windows are its gateways' targets'; one gateway without a window counts all the time", async () => {
  const dir = tempDir('rollgate-wave-windows-');
  writeFileSync(
    join(dir, 'rollgate.yaml'),
    'apiVersion: rollgate/v1\nkind: Fleet\nsystems:\n  s: {}\n' +
      'window:\n  time_zone: UTC\n  open: [{ days: [sun], from: "02:00", to: "04:00" }]\n' +
      'targets:\n  - { name: line, match: { labels: { site: plant } }, system: s }\n' +
      '  - { name: office, match: { any: true }, system: s, window: none }\n',
  );
  const { fleet } = await readFleet(new DirectorySource(dir));
  const plant = { id: 'gw-p', labels: { site: 'plant' } };
  const office = { id: 'gw-o', labels: {} };
  assert.deepEqual(
    windowsOf(fleet, [plant, { ...plant, id: 'gw-q' }]).map((w) => w.from),
    ['window'],
    'two gateways of one target: its window once',
  );
  assert.deepEqual(windowsOf(fleet, [plant, office]), []);
});
