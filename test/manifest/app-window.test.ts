// An app's own maintenance window, `x-rollgate.window` in its Compose file: read into the desired
// state as the fleet file's windows are (same schema definition, same rules), and every rule it
// breaks a problem at its key in the Compose file. Then the pure part that decides with it:
// nextStartAll, the first moment every window of what a commit changes lets a transaction start.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  DirectorySource,
  FleetRepoError,
  formatProblem,
  loadDesiredState,
  nextStartAll,
} from '../../src/manifest/index.js';
import type { MaintenanceWindow } from '../../src/model/index.js';
import { tempDir } from '../helpers/fixtures.js';

async function load(xRollgate: string) {
  const dir = tempDir('rollgate-app-window-');
  writeFileSync(
    join(dir, 'rollgate.yaml'),
    'apiVersion: rollgate/v1\nkind: Fleet\nsystems:\n  s:\n    apps: { edge: apps/edge/compose.yaml }\n' +
      'targets:\n  - { name: all, match: { any: true }, system: s }\n',
  );
  mkdirSync(join(dir, 'apps/edge'), { recursive: true });
  writeFileSync(
    join(dir, 'apps/edge/compose.yaml'),
    `name: edge\nx-rollgate:\n  order: 30\n${xRollgate}services:\n  api:\n    image: registry.example.com/api:1\n`,
  );
  return loadDesiredState(new DirectorySource(dir), { id: 'gw', labels: {} });
}

describe("an app's x-rollgate.window", () => {
  test('is read into the app, as the fleet file reads a window', async () => {
    const d = await load(
      '  window:\n    time_zone: Europe/Berlin\n    expected_duration: 10m\n    open:\n' +
        '      - { days: [sun], from: "02:00", to: "04:00" }\n',
    );
    assert.deepEqual(d.apps[0]?.window, {
      zone: 'Europe/Berlin',
      openings: [{ kind: 'range', days: [0], from: '02:00', to: '04:00' }],
      expectedMs: 10 * 60_000,
      rollbacks: 'at-once',
      from: "app edge's x-rollgate.window",
    });
  });

  test('absent: the app has none', async () => {
    assert.equal((await load('')).apps[0]?.window, undefined);
  });

  const rows: [string, string, RegExp][] = [
    [
      'an unknown time zone',
      '  window:\n    time_zone: Mars/Olympus\n    open: [{ cron: "0 2 * * 0", duration: 2h }]\n',
      /apps\/edge\/compose\.yaml:5:16: .*time_zone "Mars\/Olympus" is not an IANA time zone/,
    ],
    [
      'an opening shorter than the transaction',
      '  window:\n    time_zone: UTC\n    expected_duration: 1h\n    open: [{ cron: "0 2 * * 0", duration: 30m }]\n',
      /apps\/edge\/compose\.yaml:7:\d+: .*duration 30m is shorter than the window's expected_duration 1h/,
    ],
    [
      'a time that is not HH:MM (the schema)',
      '  window:\n    time_zone: UTC\n    open: [{ from: "2am", to: "04:00" }]\n',
      /apps\/edge\/compose\.yaml:6:\d+: expected a time of day as HH:MM/,
    ],
    [
      'an unknown key (the schema)',
      '  window:\n    time_zone: UTC\n    open: [{ cron: "0 2 * * 0", duration: 2h }]\n    grace: 5m\n',
      /apps\/edge\/compose\.yaml:7:5: .*grace/,
    ],
  ];
  for (const [name, text, want] of rows)
    test(`breaks a rule: ${name} — the commit is refused, naming the file, line and key`, async () => {
      const err = await load(text).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof FleetRepoError, 'the commit does not load');
      assert.match(err.problems.map(formatProblem).join('\n'), want);
    });
});

const t = (iso: string) => Date.parse(iso);
const w = (o: MaintenanceWindow['openings'], expectedMin = 15, zone = 'Europe/Berlin'): MaintenanceWindow => ({
  zone,
  openings: o,
  expectedMs: expectedMin * 60_000,
  rollbacks: 'at-once',
  from: 'w',
});
const days = (d: number[], from: string, to: string) => ({ kind: 'range' as const, days: d, from, to });
const EVERY = [0, 1, 2, 3, 4, 5, 6];

describe('nextStartAll: every window of what changes, together', () => {
  const rows: { name: string; ws: MaintenanceWindow[]; now: string; want: string | undefined }[] = [
    { name: 'no window: now', ws: [], now: '2026-12-05T12:00:00Z', want: '2026-12-05T12:00:00Z' },
    {
      name: 'one window: its own next start',
      ws: [w([days([0], '02:00', '04:00')])],
      now: '2026-12-05T12:00:00Z',
      want: '2026-12-06T01:00:00Z',
    },
    {
      name: 'nightly 01–03 and Sundays 02–04 (Berlin): Sunday 02:00, where they meet',
      ws: [w([days(EVERY, '01:00', '03:00')]), w([days([0], '02:00', '04:00')])],
      now: '2026-12-05T12:00:00Z',
      want: '2026-12-06T01:00:00Z',
    },
    {
      name: 'both open now with time left: now',
      ws: [w([days(EVERY, '01:00', '03:00')]), w([days([0], '02:00', '04:00')])],
      now: '2026-12-06T01:30:00Z',
      want: '2026-12-06T01:30:00Z',
    },
    {
      name: 'they overlap ten minutes, one expects fifteen: never within a year',
      ws: [w([days(EVERY, '01:00', '02:10')]), w([days(EVERY, '02:00', '04:00')], 15)],
      now: '2026-12-05T12:00:00Z',
      want: undefined,
    },
    {
      name: 'each with its own expected duration: the later start where both have theirs left',
      ws: [w([days(EVERY, '01:00', '03:00')], 15), w([days(EVERY, '02:00', '04:00')], 45)],
      now: '2026-12-05T02:20:00Z', // 03:20 Berlin: the first has closed
      want: '2026-12-06T01:00:00Z',
    },
    {
      name: 'in two zones: 02:00–04:00 Berlin and 09:00–12:00 Tokyo meet 02:00–04:00 Berlin',
      ws: [w([days(EVERY, '02:00', '04:00')]), w([days(EVERY, '09:00', '12:00')], 15, 'Asia/Tokyo')],
      now: '2026-12-05T12:00:00Z',
      want: '2026-12-06T01:00:00Z',
    },
    {
      name: 'across the spring change in Berlin: 02:00 does not exist on 2027-03-28, 03:00 does',
      ws: [w([days([0], '01:00', '05:00')]), w([days(EVERY, '03:00', '04:00')])],
      now: '2027-03-27T12:00:00Z',
      want: '2027-03-28T01:00:00Z', // 03:00 CEST
    },
  ];
  for (const r of rows)
    test(r.name, () => {
      const got = nextStartAll(r.ws, t(r.now));
      assert.equal(got === undefined ? undefined : new Date(got).toISOString().replace('.000Z', 'Z'), r.want);
    });
});
