// An update's progress on one component: the transition table, what each state owes an undo,
// and the reading of records written with one flag per milestone.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  advance,
  fromLegacyFlags,
  ProgressError,
  reached,
  rollbackDone,
  undoOwed,
  UPDATE_TRANSITIONS,
  type Progress,
  type UpdateProgress,
} from '../../src/apply/interface/update-progress.js';

const walk = (...path: UpdateProgress[]): Progress =>
  path.slice(1).reduce<Progress>((p, to) => advance(p, to), { progress: path[0]! });

describe('update progress: the transition table', () => {
  const legal: [UpdateProgress, UpdateProgress][] = Object.entries(UPDATE_TRANSITIONS).flatMap(([from, tos]) =>
    tos.map((to) => [from as UpdateProgress, to] as [UpdateProgress, UpdateProgress]),
  );
  const all = Object.keys(UPDATE_TRANSITIONS) as UpdateProgress[];
  for (const from of all)
    for (const to of all) {
      const ok = from === to || legal.some(([a, b]) => a === from && b === to);
      test(`${from} → ${to}: ${ok ? 'allowed' : 'refused'}`, () => {
        if (ok) assert.equal(advance({ progress: from }, to).progress, to);
        else assert.throws(() => advance({ progress: from }, to), ProgressError);
      });
    }
});

describe('update progress: what an undo owes, by where the update got to', () => {
  const rows: {
    path: UpdateProgress[];
    owed: boolean;
    rolledBack: boolean;
    installed: boolean;
    rebooted: boolean;
    committed: boolean;
  }[] = [
    { path: ['downloading'], owed: false, rolledBack: false, installed: false, rebooted: false, committed: false },
    {
      path: ['downloading', 'downloaded'],
      owed: false,
      rolledBack: false,
      installed: false,
      rebooted: false,
      committed: false,
    },
    {
      path: ['downloaded', 'installing'],
      owed: true,
      rolledBack: false,
      installed: false,
      rebooted: false,
      committed: false,
    },
    {
      path: ['installing', 'installed'],
      owed: true,
      rolledBack: false,
      installed: true,
      rebooted: false,
      committed: false,
    },
    {
      path: ['installed', 'rebooting'],
      owed: true,
      rolledBack: false,
      installed: true,
      rebooted: true,
      committed: false,
    },
    // Past its reboot's place: a component that reboots (the only case the rollback asks about) went through it.
    {
      path: ['installed', 'committed'],
      owed: true,
      rolledBack: false,
      installed: true,
      rebooted: true,
      committed: true,
    },
    {
      path: ['rebooting', 'committed', 'rolling-back'],
      owed: true,
      rolledBack: false,
      installed: true,
      rebooted: true,
      committed: true,
    },
    {
      path: ['installing', 'rolling-back', 'rolled-back'],
      owed: true,
      rolledBack: true,
      installed: false,
      rebooted: false,
      committed: false,
    },
    {
      path: ['rebooting', 'rolling-back', 'rolled-back', 'rollback-rebooting'],
      owed: true,
      rolledBack: true,
      installed: true,
      rebooted: true,
      committed: false,
    },
    {
      path: ['committed', 'rolling-back', 'rolled-back', 'failed'],
      owed: false,
      rolledBack: true,
      installed: true,
      rebooted: true,
      committed: true,
    },
    {
      path: ['installed', 'failed'],
      owed: false,
      rolledBack: true,
      installed: true,
      rebooted: false,
      committed: false,
    },
  ];
  for (const r of rows)
    test(r.path.join(' → '), () => {
      const p = walk(...r.path);
      assert.equal(undoOwed(p), r.owed, 'undo owed');
      assert.equal(rollbackDone(p), r.rolledBack, 'rollback done');
      assert.equal(reached(p, 'installed'), r.installed, 'installed');
      assert.equal(reached(p, 'rebooting'), r.rebooted, 'rebooted');
      assert.equal(reached(p, 'committed'), r.committed, 'committed');
    });
  test('a step repeated after a crash stays where it is', () => {
    const p = walk('downloaded', 'installing');
    assert.deepEqual(advance(p, 'installing'), p);
  });
});

describe('update progress: records from before the state existed', () => {
  const rows: [string, Parameters<typeof fromLegacyFlags>[0], Progress][] = [
    ['downloaded', {}, { progress: 'downloaded' }],
    ['install started', { installStarted: true }, { progress: 'installing' }],
    ['installed', { installStarted: true, installDone: true }, { progress: 'installed' }],
    ['rebooted', { installStarted: true, installDone: true, rebooted: true }, { progress: 'rebooting' }],
    ['committed', { installStarted: true, installDone: true, committed: true }, { progress: 'committed' }],
    [
      'rolled back, reboot asked',
      { installStarted: true, installDone: true, rebooted: true, rolledBack: true, rollbackRebootRequested: true },
      { progress: 'rollback-rebooting', forwardTo: 'rebooting' },
    ],
    ['rolled back', { installStarted: true, rolledBack: true }, { progress: 'rolled-back', forwardTo: 'installing' }],
    [
      'rollback finished',
      { installStarted: false, installDone: true, committed: true, rolledBack: true },
      { progress: 'failed', forwardTo: 'committed' },
    ],
    [
      'no rollback support, failed',
      { installStarted: false, installDone: true },
      { progress: 'failed', forwardTo: 'installed' },
    ],
  ];
  for (const [name, flags, want] of rows) test(name, () => assert.deepEqual(fromLegacyFlags(flags), want));
});
