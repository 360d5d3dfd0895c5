// The maintenance window gate with a window, as a table: for what the ports say (the commit's
// window, the clock, the commit's date), whether the commit goes on now or waits — and that a
// return to the last good commit or to an aborted rollout's base is never held by default.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { windowGate } from '../../../src/lifecycle/gates/window.js';
import type { GateAnswer, Subject } from '../../../src/lifecycle/gates/index.js';
import type { ClockReading } from '../../../src/lifecycle/gates/gate.js';
import type { MaintenanceWindow } from '../../../src/model/index.js';
import type { RolloutStanding } from '../../../src/model/rollout.js';
import { FleetRepoError } from '../../../src/manifest/index.js';
import { APPLIED, BASE, HEAD, ports, subject, TARGET } from '../../helpers/gate-ports.js';

const t = (iso: string) => Date.parse(iso);
const SUNDAY_NIGHT: MaintenanceWindow = {
  zone: 'Europe/Berlin',
  openings: [{ kind: 'range', days: [0], from: '02:00', to: '04:00' }],
  expectedMs: 15 * 60_000,
  rollbacks: 'at-once',
  from: 'targets[0].window',
};
const SATURDAY = t('2026-12-05T12:00:00Z');
const IN_WINDOW = t('2026-12-06T01:30:00Z');
const COMMITTED = t('2026-12-01T09:00:00Z');
const aborted: RolloutStanding = {
  id: 'edge-v2',
  target: TARGET,
  base: BASE,
  state: 'aborted',
  runs: 'base',
  code: 'aborted',
  message: 'aborted',
};

interface Row {
  name: string;
  s?: Partial<Subject>;
  window?: MaintenanceWindow | 'invalid';
  clock?: ClockReading;
  committed?: number;
  want: 'admit' | RegExp;
}

const rows: Row[] = [
  { name: 'no window for this gateway: admitted', want: 'admit' },
  {
    name: 'inside the window with time left: admitted',
    window: SUNDAY_NIGHT,
    clock: { now: IN_WINDOW },
    want: 'admit',
  },
  {
    name: 'outside the window: waits for the opening, named in the zone and in UTC',
    window: SUNDAY_NIGHT,
    clock: { now: SATURDAY },
    want: /waiting for the window that opens at 2026-12-06 02:00 Europe\/Berlin \(2026-12-06T01:00:00Z\)/,
  },
  {
    name: 'ten minutes before it closes, fifteen expected: waits for next Sunday',
    window: SUNDAY_NIGHT,
    clock: { now: t('2026-12-06T02:50:00Z') },
    want: /opens at 2026-12-13 02:00 Europe\/Berlin/,
  },
  {
    name: 'the last good commit again (a revert): not held',
    s: { commit: BASE, lastGood: BASE },
    window: SUNDAY_NIGHT,
    clock: { now: SATURDAY },
    want: 'admit',
  },
  {
    name: "an aborted rollout's base: not held",
    s: { commit: BASE, rollout: aborted },
    window: SUNDAY_NIGHT,
    clock: { now: SATURDAY },
    want: 'admit',
  },
  {
    name: 'a return with rollbacks: in-window waits like any other',
    s: { commit: BASE, lastGood: BASE },
    window: { ...SUNDAY_NIGHT, rollbacks: 'in-window' },
    clock: { now: SATURDAY },
    want: /waiting for the window that opens at 2026-12-06 02:00/,
  },
  {
    name: 'a clock the system says is not synchronised opens no window',
    window: SUNDAY_NIGHT,
    clock: { now: IN_WINDOW, synchronised: false, source: 'timedatectl: NTPSynchronized=no' },
    want: /clock is not synchronised \(timedatectl: NTPSynchronized=no\)/,
  },
  {
    name: "a clock before the commit's date opens no window",
    window: SUNDAY_NIGHT,
    clock: { now: t('2026-11-29T01:30:00Z') },
    committed: COMMITTED,
    want: /clock \(2026-11-29T01:30:00.000Z\) is before the date of commit/,
  },
  {
    name: "a clock a few minutes behind the commit's date is not wrong",
    window: SUNDAY_NIGHT,
    clock: { now: IN_WINDOW },
    committed: IN_WINDOW + 5 * 60_000,
    want: 'admit',
  },
  {
    name: "a fleet file that does not hold is left to the policy gate's refusal",
    window: 'invalid',
    clock: { now: SATURDAY },
    want: 'admit',
  },
];

describe('the window gate with a window', () => {
  for (const r of rows)
    test(r.name, async () => {
      const p = ports({
        maintenanceWindow: (c) => {
          assert.equal(c, r.s?.commit ?? HEAD, 'the window of the commit that would run is read');
          if (r.window === 'invalid')
            return Promise.reject(new FleetRepoError([{ file: 'rollgate.yaml', message: 'x' }]));
          return Promise.resolve(r.window);
        },
        clock: () => Promise.resolve(r.clock ?? { now: SATURDAY }),
        commitTime: () => Promise.resolve(r.committed ?? COMMITTED),
      });
      const a: GateAnswer = await windowGate.check(subject({ applied: APPLIED, ...r.s }), p);
      if (r.want === 'admit') assert.equal(a.kind, 'admit', JSON.stringify(a));
      else {
        assert.equal(a.kind, 'defer', 'outside the window the commit is deferred, never refused');
        assert.ok(a.kind === 'defer');
        assert.match(a.why, r.want);
        assert.equal(a.instead, undefined, 'the gateway keeps what it runs');
        assert.ok(a.until, 'it says until when');
      }
    });

  test('the same wait is the same cause (recorded once); the next opening is another', async () => {
    const at = (now: number) =>
      windowGate.check(
        subject(),
        ports({ maintenanceWindow: () => Promise.resolve(SUNDAY_NIGHT), clock: () => Promise.resolve({ now }) }),
      );
    const [a, b, c] = await Promise.all([at(SATURDAY), at(SATURDAY + 3_600_000), at(t('2026-12-06T03:30:00Z'))]);
    assert.ok(a.kind === 'defer' && b.kind === 'defer' && c.kind === 'defer');
    assert.equal(a.cause, b.cause);
    assert.notEqual(a.cause, c.cause);
  });
});
