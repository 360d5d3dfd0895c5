// The arithmetic of maintenance windows as tables: each row a window, a moment, and what must be
// true of it then — in several time zones, across both daylight-saving changes, for windows that
// cross midnight and windows shorter than a transaction. Every moment is written in UTC, so each
// row says what the zone's wall clock makes of it.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatInZone, nextStart, openMsBetween, windowAt } from '../../src/manifest/index.js';
import type { MaintenanceWindow, WindowOpening } from '../../src/model/index.js';

const MIN = 60_000;
const H = 60 * MIN;
const t = (iso: string) => Date.parse(iso);

function win(zone: string, openings: WindowOpening[], expectedMs = 15 * MIN): MaintenanceWindow {
  return { zone, openings, expectedMs, rollbacks: 'at-once', from: 'window' };
}
const range = (days: number[], from: string, to: string): WindowOpening => ({ kind: 'range', days, from, to });
const cron = (c: string, durationMs: number): WindowOpening => ({ kind: 'cron', cron: c, durationMs });

const SUNDAY_NIGHT_BERLIN = win('Europe/Berlin', [range([0], '02:00', '04:00')]);
const LATE_SHIFT_UTC = win('UTC', [range([1, 2, 3, 4, 5], '22:00', '02:00')]);
const SUN_1_TO_4_BERLIN = win('Europe/Berlin', [range([0], '01:00', '04:00')]);
const FRIDAY_NIGHT_NY = win('America/New_York', [cron('0 22 * * 5', 6 * H)]);
const TEN_MINUTES = win('Asia/Tokyo', [range([0, 1, 2, 3, 4, 5, 6], '02:00', '02:10')], 15 * MIN);

describe('is the window open, and until when', () => {
  const rows: [string, MaintenanceWindow, string, { open: boolean; edge: string }][] = [
    [
      'Berlin, Saturday noon: closed, opens Sunday 02:00 CET',
      SUNDAY_NIGHT_BERLIN,
      '2026-12-05T12:00:00Z',
      { open: false, edge: '2026-12-06T01:00:00Z' },
    ],
    [
      'Berlin, Sunday 02:30 CET: open until 04:00 CET',
      SUNDAY_NIGHT_BERLIN,
      '2026-12-06T01:30:00Z',
      { open: true, edge: '2026-12-06T03:00:00Z' },
    ],
    [
      'Berlin in summer: the same wall clock is an hour earlier in UTC',
      SUNDAY_NIGHT_BERLIN,
      '2026-07-04T12:00:00Z',
      { open: false, edge: '2026-07-05T00:00:00Z' },
    ],
    [
      'Berlin, 04:00 CET exactly: closed, next Sunday',
      SUNDAY_NIGHT_BERLIN,
      '2026-12-06T03:00:00Z',
      { open: false, edge: '2026-12-13T01:00:00Z' },
    ],
    [
      "across midnight: Tuesday 01:00 is in Monday night's window",
      LATE_SHIFT_UTC,
      '2026-12-08T01:00:00Z',
      { open: true, edge: '2026-12-08T02:00:00Z' },
    ],
    [
      "across midnight: Saturday 01:00 is in Friday night's window",
      LATE_SHIFT_UTC,
      '2026-12-05T01:00:00Z',
      { open: true, edge: '2026-12-05T02:00:00Z' },
    ],
    [
      'across midnight: Sunday 01:00 is not (no window on Saturday night)',
      LATE_SHIFT_UTC,
      '2026-12-06T01:00:00Z',
      { open: false, edge: '2026-12-07T22:00:00Z' },
    ],
    [
      'spring forward (Berlin, 29 March 2026): 01:00 CET to 04:00 CEST is two hours',
      SUN_1_TO_4_BERLIN,
      '2026-03-29T00:30:00Z',
      { open: true, edge: '2026-03-29T02:00:00Z' },
    ],
    [
      'fall back (Berlin, 25 October 2026): 01:00 CEST to 04:00 CET is four hours',
      SUN_1_TO_4_BERLIN,
      '2026-10-25T02:30:00Z',
      { open: true, edge: '2026-10-25T03:00:00Z' },
    ],
    [
      'fall back: opened at 01:00 CEST, Saturday 23:00 UTC',
      SUN_1_TO_4_BERLIN,
      '2026-10-24T22:59:00Z',
      { open: false, edge: '2026-10-24T23:00:00Z' },
    ],
    [
      'cron in New York, Friday 23:00 EST: open for 5 more hours',
      FRIDAY_NIGHT_NY,
      '2026-12-05T04:00:00Z',
      { open: true, edge: '2026-12-05T09:00:00Z' },
    ],
    [
      'cron in New York, in summer (EDT)',
      FRIDAY_NIGHT_NY,
      '2026-07-03T12:00:00Z',
      { open: false, edge: '2026-07-04T02:00:00Z' },
    ],
  ];
  for (const [name, w, at, want] of rows)
    test(name, () => {
      const now = windowAt(w, t(at));
      assert.equal(now.open, want.open);
      const edge = now.open ? now.closesAt : now.opensAt;
      assert.equal(new Date(edge!).toISOString(), new Date(t(want.edge)).toISOString());
      if (now.open) assert.equal(now.leftMs, t(want.edge) - t(at));
    });
});

describe('when may a transaction start (the window open with its expected duration left)', () => {
  const rows: [string, MaintenanceWindow, string, string | undefined][] = [
    ['open with two hours left: now', SUNDAY_NIGHT_BERLIN, '2026-12-06T01:00:00Z', '2026-12-06T01:00:00Z'],
    [
      'open with ten minutes left, 15 expected: next Sunday',
      SUNDAY_NIGHT_BERLIN,
      '2026-12-06T02:50:00Z',
      '2026-12-13T01:00:00Z',
    ],
    ['open with exactly 15 minutes left: now', SUNDAY_NIGHT_BERLIN, '2026-12-06T02:45:00Z', '2026-12-06T02:45:00Z'],
    ['closed: when it opens', LATE_SHIFT_UTC, '2026-12-07T12:00:00Z', '2026-12-07T22:00:00Z'],
    ['a ten-minute window, 15 expected: never', TEN_MINUTES, '2026-12-07T12:00:00Z', undefined],
    [
      'a ten-minute window, 5 expected, 7 minutes in: tomorrow (3 minutes left)',
      { ...TEN_MINUTES, expectedMs: 5 * MIN },
      '2026-12-07T17:07:00Z',
      '2026-12-08T17:00:00Z',
    ],
  ];
  for (const [name, w, at, want] of rows)
    test(name, () => {
      const s = nextStart(w, t(at));
      assert.equal(s === undefined ? undefined : new Date(s).toISOString(), want && new Date(t(want)).toISOString());
    });
});

describe('how long the windows were open between two moments (a wave timeout counts only that)', () => {
  const rows: [string, MaintenanceWindow[], string, string, number][] = [
    ['no windows: all of it', [], '2026-12-04T18:00:00Z', '2026-12-07T08:00:00Z', 62 * H],
    [
      'a weekend with one Sunday window: two hours',
      [SUNDAY_NIGHT_BERLIN],
      '2026-12-04T18:00:00Z',
      '2026-12-07T08:00:00Z',
      2 * H,
    ],
    [
      'starting inside the window: what is left of it',
      [SUNDAY_NIGHT_BERLIN],
      '2026-12-06T02:00:00Z',
      '2026-12-06T12:00:00Z',
      1 * H,
    ],
    [
      'two windows overlapping count once',
      [SUNDAY_NIGHT_BERLIN, win('UTC', [range([0], '02:00', '05:00')])],
      '2026-12-05T00:00:00Z',
      '2026-12-07T00:00:00Z',
      4 * H,
    ],
    [
      'the spring-forward night is an hour shorter',
      [SUN_1_TO_4_BERLIN],
      '2026-03-28T00:00:00Z',
      '2026-03-30T00:00:00Z',
      2 * H,
    ],
    [
      'the fall-back night is an hour longer',
      [SUN_1_TO_4_BERLIN],
      '2026-10-24T00:00:00Z',
      '2026-10-26T00:00:00Z',
      4 * H,
    ],
  ];
  for (const [name, ws, from, to, want] of rows)
    test(name, () => assert.equal(openMsBetween(ws, t(from), t(to)), want));
});

test('a moment is shown as the zone reads it, and in UTC', () => {
  assert.equal(
    formatInZone(t('2026-12-06T01:00:00Z'), 'Europe/Berlin'),
    '2026-12-06 02:00 Europe/Berlin (2026-12-06T01:00:00Z)',
  );
});
