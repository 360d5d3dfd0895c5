// A return is not held by a maintenance window, found by content: a commit that gives this gateway
// what a commit it ran good gave it (a `git revert`) goes at once, though its id is new. As a
// table over what the ports load for each commit; the real agent's case is
// test/agent/docker-window.test.ts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { windowGate } from '../../../src/lifecycle/gates/window.js';
import type { Subject } from '../../../src/lifecycle/gates/index.js';
import { FleetRepoError, DirectorySource } from '../../../src/manifest/index.js';
import type { DesiredState, MaintenanceWindow } from '../../../src/model/index.js';
import { desired } from '../../helpers/builders.js';
import { APPLIED, HEAD, ports, subject } from '../../helpers/gate-ports.js';

const SUNDAY_NIGHT: MaintenanceWindow = {
  zone: 'Europe/Berlin',
  openings: [{ kind: 'range', days: [0], from: '02:00', to: '04:00' }],
  expectedMs: 15 * 60_000,
  rollbacks: 'at-once',
  from: 'targets[0].window',
};
const SATURDAY = Date.parse('2026-12-05T12:00:00Z');
const GOOD = '1'.repeat(40);
const EARLIER = '2'.repeat(40);
const V1 = { ...desired([], []), system: 'v1' } as DesiredState;
const V2 = { ...desired([], []), system: 'v2' } as DesiredState;
const V3 = { ...desired([], []), system: 'v3' } as DesiredState;

interface Row {
  name: string;
  s: Partial<Subject>;
  /** What each commit gives this gateway; 'invalid' does not load. */
  loads: Record<string, DesiredState | 'invalid'>;
  rollbacks?: MaintenanceWindow['rollbacks'];
  want: 'admit' | 'defer';
  note?: RegExp;
}

const rows: Row[] = [
  {
    name: 'a revert of the last change (the head gives what the earlier good commit gave): at once',
    s: { applied: GOOD, lastGood: GOOD, earlierGood: [EARLIER] },
    loads: { [HEAD]: V1, [GOOD]: V2, [EARLIER]: V1 },
    want: 'admit',
    note: /is what the earlier good commit 222222222222 gave this gateway: a return is not held/,
  },
  {
    name: 'a commit that changes nothing for this gateway (what the last good commit gave): at once',
    s: { applied: GOOD, lastGood: GOOD },
    loads: { [HEAD]: V2, [GOOD]: V2 },
    want: 'admit',
    note: /what the last good commit 111111111111 gave/,
  },
  {
    name: 'a change to something no good commit gave: it waits',
    s: { applied: GOOD, lastGood: GOOD, earlierGood: [EARLIER] },
    loads: { [HEAD]: V3, [GOOD]: V2, [EARLIER]: V1 },
    want: 'defer',
  },
  {
    name: 'rollbacks: in-window: a revert waits too',
    s: { applied: GOOD, lastGood: GOOD, earlierGood: [EARLIER] },
    loads: { [HEAD]: V1, [GOOD]: V2, [EARLIER]: V1 },
    rollbacks: 'in-window',
    want: 'defer',
  },
  {
    name: 'a head that does not load is no return: it waits (the policy gate judges it in the window)',
    s: { applied: GOOD, lastGood: GOOD, earlierGood: [EARLIER] },
    loads: { [HEAD]: 'invalid', [GOOD]: V2, [EARLIER]: V1 },
    want: 'defer',
  },
  {
    name: 'an earlier good commit that no longer loads is passed over, the next one compared',
    s: { applied: APPLIED, lastGood: GOOD, earlierGood: [EARLIER] },
    loads: { [HEAD]: V1, [GOOD]: 'invalid', [EARLIER]: V1 },
    want: 'admit',
  },
  {
    name: 'no good commit yet: nothing to return to, it waits',
    s: { applied: APPLIED },
    loads: { [HEAD]: V1 },
    want: 'defer',
  },
];

for (const r of rows)
  test(r.name, async () => {
    const p = ports({
      maintenanceWindow: () => Promise.resolve({ ...SUNDAY_NIGHT, rollbacks: r.rollbacks ?? 'at-once' }),
      clock: () => Promise.resolve({ now: SATURDAY }),
      load: (c) => {
        const d = r.loads[c];
        if (d === undefined) throw new Error(`${c} was not to be loaded`);
        if (d === 'invalid') return Promise.reject(new FleetRepoError([{ file: 'rollgate.yaml', message: 'x' }]));
        return Promise.resolve({ desired: { ...d, source: { commit: c } }, repo: new DirectorySource('/nonexistent') });
      },
    });
    const a = await windowGate.check(subject(r.s), p);
    assert.equal(a.kind, r.want, JSON.stringify(a));
    if (r.note) assert.ok(a.kind === 'admit' && a.note && r.note.test(a.note), JSON.stringify(a));
  });
