// Per-app windows at the window gate, as a table: an app's own `x-rollgate.window` holds a commit
// only when the commit changes that app (against the applied commit), and then together with the
// target's window — the transaction starts when every window of what changes is open with its
// expected duration left. What each commit loads is given; the clock is fixed.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { windowGate } from '../../../src/lifecycle/gates/window.js';
import type { Subject } from '../../../src/lifecycle/gates/index.js';
import { DirectorySource } from '../../../src/manifest/index.js';
import type { DesiredApp, DesiredState, MaintenanceWindow } from '../../../src/model/index.js';
import { app, desired, svc } from '../../helpers/builders.js';
import { APPLIED, HEAD, ports } from '../../helpers/gate-ports.js';

const t = (iso: string) => Date.parse(iso);
const range = (from: string, to: string, days = [0, 1, 2, 3, 4, 5, 6]): MaintenanceWindow['openings'][number] => ({
  kind: 'range',
  days,
  from,
  to,
});
/** The app's: Sundays 02:00–04:00 Berlin. */
const SUNDAY: MaintenanceWindow = {
  zone: 'Europe/Berlin',
  openings: [range('02:00', '04:00', [0])],
  expectedMs: 15 * 60_000,
  rollbacks: 'at-once',
  from: "app edge's x-rollgate.window",
};
/** The target's: every night 01:00–03:00 Berlin. */
const NIGHTLY: MaintenanceWindow = { ...SUNDAY, openings: [range('01:00', '03:00')], from: 'targets[0].window' };
const SATURDAY_NOON = t('2026-12-05T12:00:00Z');
const SATURDAY_NIGHT = t('2026-12-05T00:30:00Z'); // 01:30 Berlin: the target's window is open, the app's not
const SUNDAY_2_30 = t('2026-12-06T01:30:00Z'); // 02:30 Berlin: both open

const edge = (image: string, window?: MaintenanceWindow): DesiredApp =>
  app('edge', 30, [svc('api', image)], window ? { window } : {});
const other = (image: string): DesiredApp => app('other', 40, [svc('web', image)]);
const state = (...apps: DesiredApp[]): DesiredState => desired([], apps);

interface Row {
  name: string;
  applied: DesiredState | undefined;
  head: DesiredState;
  target?: MaintenanceWindow;
  now: number;
  want: 'admit' | RegExp;
}

const rows: Row[] = [
  {
    name: 'a change to an app with its own window: waits for it, though the target has none',
    applied: state(edge('api:1', SUNDAY), other('web:1')),
    head: state(edge('api:2', SUNDAY), other('web:1')),
    now: SATURDAY_NOON,
    want: /waiting for the window that opens at 2026-12-06 02:00 Europe\/Berlin .*app edge's x-rollgate\.window/,
  },
  {
    name: "a change only to another app: the unchanged app's window does not hold it",
    applied: state(edge('api:1', SUNDAY), other('web:1')),
    head: state(edge('api:1', SUNDAY), other('web:2')),
    now: SATURDAY_NOON,
    want: 'admit',
  },
  {
    name: 'a change to the window alone changes nothing that runs: not held',
    applied: state(edge('api:1', NIGHTLY), other('web:1')),
    head: state(edge('api:1', SUNDAY), other('web:1')),
    now: SATURDAY_NOON,
    want: 'admit',
  },
  {
    name: 'an app the commit adds waits for its window',
    applied: state(other('web:1')),
    head: state(edge('api:1', SUNDAY), other('web:1')),
    now: SATURDAY_NOON,
    want: /opens at 2026-12-06 02:00 Europe\/Berlin/,
  },
  {
    name: "the target's window open, the changed app's not: it waits for both together",
    applied: state(edge('api:1', SUNDAY)),
    head: state(edge('api:2', SUNDAY)),
    target: NIGHTLY,
    now: SATURDAY_NIGHT,
    want: /opens at 2026-12-06 02:00 Europe\/Berlin .*\(targets\[0\]\.window and app edge's x-rollgate\.window;/,
  },
  {
    name: 'both open with the expected duration left: admitted',
    applied: state(edge('api:1', SUNDAY)),
    head: state(edge('api:2', SUNDAY)),
    target: NIGHTLY,
    now: SUNDAY_2_30,
    want: 'admit',
  },
  {
    name: "the changed app's window open, the target's closed at 03:00: waits for next Sunday",
    applied: state(edge('api:1', SUNDAY)),
    head: state(edge('api:2', SUNDAY)),
    target: NIGHTLY,
    now: t('2026-12-06T02:10:00Z'), // 03:10 Berlin
    want: /opens at 2026-12-13 02:00 Europe\/Berlin/,
  },
  {
    name: 'nothing applied yet: every app with a window is a change',
    applied: undefined,
    head: state(edge('api:1', SUNDAY)),
    now: SATURDAY_NOON,
    want: /opens at 2026-12-06 02:00/,
  },
];

for (const r of rows)
  test(r.name, async () => {
    const loads: Record<string, DesiredState> = { [HEAD]: r.head, ...(r.applied ? { [APPLIED]: r.applied } : {}) };
    const p = ports({
      maintenanceWindow: () => Promise.resolve(r.target),
      clock: () => Promise.resolve({ now: r.now }),
      load: (c) => {
        const d = loads[c];
        if (!d) return Promise.reject(new Error(`${c} was not to be loaded`));
        return Promise.resolve({ desired: { ...d, source: { commit: c } }, repo: new DirectorySource('/nonexistent') });
      },
    });
    const s: Subject = { head: HEAD, commit: HEAD, ...(r.applied ? { applied: APPLIED } : {}) };
    const a = await windowGate.check(s, p);
    if (r.want === 'admit') assert.equal(a.kind, 'admit', JSON.stringify(a));
    else {
      assert.ok(a.kind === 'defer', JSON.stringify(a));
      assert.match(a.why, r.want);
    }
  });
