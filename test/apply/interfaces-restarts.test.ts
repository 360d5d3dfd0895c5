// The update-interface applier across restarts: gateway reboots an interface asks for, and the
// agent killed at every state and started again (A/B devices, power cycles) — the gateway ends on
// all-new or all-old, never a mix.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { rollgate } from '../helpers/cli.js';
import { DeviceLab } from '../helpers/devices.js';
import { before_, labFor, repoArtifact, skip, v } from '../helpers/interface-lab.js';

describe('update interfaces: reboots', { skip }, () => {
  const lab = labFor(() => {
    lab.seed(v(1));
    lab.writeRepo(repoArtifact(2));
  });

  test(
    'NeedsArtifactReboot: Automatic reboots the gateway once; after it, ArtifactVerifyReboot and on to the ' + 'end',
    async () => {
      lab.set('G13', 'reboot', 'Automatic');
      const first = await lab.apply();
      assert.equal(first.signal, 'SIGKILL', `the reboot command takes the process down: ${first.err}`);
      assert.equal(lab.reboots(), 1);
      assert.ok(lab.journalExists(), 'the transaction is journaled across the reboot');
      assert.deepEqual(lab.running(), { G13: 'gateway-v2', R456: 'rtos-v1', R998: 'rtos-v1' });
      const second = await lab.apply();
      assert.equal(second.code, 0, second.err);
      assert.match(second.out, /continued after the gateway rebooted, and completed/);
      assert.deepEqual(lab.running(), { G13: 'gateway-v2', R456: 'rtos-v2', R998: 'rtos-v2' });
      assert.deepEqual(lab.unsettled(), []);
      const calls = lab.calls();
      before_(calls, 'G13 ArtifactVerifyReboot', 'R456 ArtifactInstall');
      assert.equal(lab.reboots(), 1);
      assert.equal(lab.journalExists(), false);
    },
  );

  test(
    'Automatic, and the gateway comes back on the old version: rolled back with a second reboot, not ' + 'retried',
    async () => {
      lab.set('G13', 'reboot', 'Automatic');
      lab.set('G13', 'misbehave/ArtifactVerifyReboot', 'fail');
      const first = await lab.apply();
      assert.equal(first.signal, 'SIGKILL');
      const second = await lab.apply();
      assert.equal(second.signal, 'SIGKILL', `the rollback reboots the gateway back: ${second.err}`);
      assert.equal(lab.reboots(), 2);
      const third = await lab.apply();
      assert.equal(third.code, 3, third.out + third.err);
      assert.match(third.err, /ROLLED BACK: reboot component\/G13: .*ArtifactVerifyReboot/);
      assert.deepEqual(lab.running(), { G13: 'gateway-v1', R456: 'rtos-v1', R998: 'rtos-v1' });
      assert.deepEqual(lab.unsettled(), []);
      assert.equal(lab.reboots(), 2, 'the failed commit is not tried again in the same run');
      const g13 = lab.calls().filter((c) => /G13 Artifact(Rollback|VerifyRollbackReboot|Failure)|G13 Cleanup/.test(c));
      assert.deepEqual(g13, [
        'G13 ArtifactRollback',
        'G13 ArtifactVerifyRollbackReboot',
        'G13 ArtifactFailure',
        'G13 Cleanup',
      ]);
    },
  );

  test('a reboot command that does not reboot: the apply fails and rolls back', async () => {
    lab.set('G13', 'reboot', 'Automatic');
    const r = await rollgate('apply', ...lab.gatewayArgs(), '--reboot-command', 'true', '--reboot-wait', '1s');
    assert.equal(r.code, 3, r.err);
    assert.match(r.err, /ROLLED BACK: reboot component\/G13: "true" succeeded, but the gateway was still up 1 s later/);
    assert.deepEqual(lab.running(), { G13: 'gateway-v1', R456: 'rtos-v1', R998: 'rtos-v1' });
    assert.deepEqual(lab.unsettled(), []);
  });
});

describe('update interfaces: the agent killed at every state, and started again', { skip }, () => {
  let lab: DeviceLab;
  before(() => {
    lab = new DeviceLab();
  });
  after(() => lab.close());

  /**
   * Where the kill happens: a state of an interface (it SIGKILLs rollgate) or a journal record
   * (`env`, given to run `envRun`, the first by default).
   */
  const POINTS: {
    name: string;
    setup: (l: DeviceLab) => void;
    env?: Record<string, string>;
    envRun?: number;
    powerCycle?: boolean;
    reboots?: boolean;
  }[] = [
    { name: 'in G13 Download', setup: (l) => l.set('G13', 'misbehave/Download', 'kill-agent') },
    { name: 'in G13 ArtifactInstall', setup: (l) => l.set('G13', 'misbehave/ArtifactInstall', 'kill-agent') },
    {
      name: 'in R998 ArtifactInstall (second group)',
      setup: (l) => l.set('R998', 'misbehave/ArtifactInstall', 'kill-agent'),
    },
    {
      name: 'in G13 ArtifactReboot',
      setup: (l) => (l.set('G13', 'reboot', 'Yes'), l.set('G13', 'misbehave/ArtifactReboot', 'kill-agent')),
    },
    {
      name: 'in G13 ArtifactVerifyReboot',
      setup: (l) => (l.set('G13', 'reboot', 'Yes'), l.set('G13', 'misbehave/ArtifactVerifyReboot', 'kill-agent')),
    },
    { name: 'in R456 ArtifactCommit', setup: (l) => l.set('R456', 'misbehave/ArtifactCommit', 'kill-agent') },
    { name: 'in G13 Cleanup', setup: (l) => l.set('G13', 'misbehave/Cleanup', 'kill-agent') },
    {
      name: 'in R456 ArtifactRollback',
      setup: (l) => (
        l.set('R998', 'misbehave/ArtifactInstall', 'fail'),
        l.set('R456', 'misbehave/ArtifactRollback', 'kill-agent')
      ),
    },
    {
      name: 'in G13 ArtifactFailure',
      setup: (l) => (
        l.set('R998', 'misbehave/ArtifactInstall', 'fail'),
        l.set('G13', 'misbehave/ArtifactFailure', 'kill-agent')
      ),
    },
    { name: 'at the journal record of download 2', setup: () => {}, env: { ROLLGATE_CRASH_AT: 'download:2' } },
    { name: 'at the journal record of install 2', setup: () => {}, env: { ROLLGATE_CRASH_AT: 'install:2' } },
    { name: 'at the journal record of reboot 1', setup: () => {}, env: { ROLLGATE_CRASH_AT: 'reboot:1' } },
    { name: 'at the journal record of commit 2', setup: () => {}, env: { ROLLGATE_CRASH_AT: 'commit:2' } },
    { name: 'at the first finalize record', setup: () => {}, env: { ROLLGATE_CRASH_AT: 'finalize:1' } },
    {
      name: 'in the second undo',
      setup: (l) => l.set('R998', 'misbehave/ArtifactInstall', 'fail'),
      env: { ROLLGATE_CRASH_AT: 'undo:2' },
    },
    {
      name: 'in R456 ArtifactInstall, with a power cycle before the restart (A/B devices)',
      setup: (l) => (
        l.set('G13', 'reboot', 'Yes'),
        l.set('R456', 'reboot', 'Yes'),
        l.set('R456', 'misbehave/ArtifactInstall', 'kill-agent')
      ),
      powerCycle: true,
    },
    {
      name: 'in R456 ArtifactReboot, with a power cycle before the restart',
      setup: (l) => (l.set('R456', 'reboot', 'Yes'), l.set('R456', 'misbehave/ArtifactReboot', 'kill-agent')),
      powerCycle: true,
    },
    {
      name: 'in G13 ArtifactRollbackReboot',
      setup: (l) => (
        l.set('G13', 'reboot', 'Yes'),
        l.set('R998', 'misbehave/ArtifactInstall', 'fail'),
        l.set('G13', 'misbehave/ArtifactRollbackReboot', 'kill-agent')
      ),
    },
    {
      name: 'in G13 ArtifactVerifyRollbackReboot',
      setup: (l) => (
        l.set('G13', 'reboot', 'Yes'),
        l.set('R998', 'misbehave/ArtifactInstall', 'fail'),
        l.set('G13', 'misbehave/ArtifactVerifyRollbackReboot', 'kill-agent')
      ),
    },
    {
      name: 'in R456 DownloadWithFileSizes',
      setup: (l) => (l.set('R456', 'sizes', 'Yes'), l.set('R456', 'misbehave/DownloadWithFileSizes', 'kill-agent')),
    },
    // A gateway reboot (Automatic) in the middle: the reboot takes the process down too.
    {
      name: 'by the gateway reboot, then in G13 ArtifactVerifyReboot after it',
      setup: (l) => (l.set('G13', 'reboot', 'Automatic'), l.set('G13', 'misbehave/ArtifactVerifyReboot', 'kill-agent')),
      reboots: true,
    },
    {
      name: 'by the gateway reboot, then in R456 ArtifactInstall after it',
      setup: (l) => (l.set('G13', 'reboot', 'Automatic'), l.set('R456', 'misbehave/ArtifactInstall', 'kill-agent')),
      reboots: true,
    },
    {
      name: 'by the gateway reboot, then in R998 ArtifactRollback of a failed install after it',
      setup: (l) => (
        l.set('G13', 'reboot', 'Automatic'),
        l.set('R998', 'misbehave/ArtifactInstall', 'fail'),
        l.set('R998', 'misbehave/ArtifactRollback', 'kill-agent')
      ),
      reboots: true,
    },
    {
      name: 'just before the gateway reboot command',
      setup: (l) => l.set('G13', 'reboot', 'Automatic'),
      env: { ROLLGATE_CRASH_AT: 'reboot-gateway:1' },
    },
    {
      name: "just before the rollback's gateway reboot, after the install's reboot",
      setup: (l) => (l.set('G13', 'reboot', 'Automatic'), l.set('R998', 'misbehave/ArtifactInstall', 'fail')),
      env: { ROLLGATE_CRASH_AT: 'reboot-gateway:1' },
      envRun: 2,
      reboots: true,
    },
  ];

  for (const p of POINTS) {
    test(`killed ${p.name}: the restart ends on all-new or all-old, never a mix`, async () => {
      lab.seed(v(1));
      lab.writeRepo(repoArtifact(2));
      p.setup(lab);
      let runs = 0;
      const run = () => lab.apply(p.env && ++runs === (p.envRun ?? 1) ? { env: p.env } : {});
      const first = await run();
      const failing = existsSync(join(lab.device('R998'), 'misbehave/ArtifactInstall'));
      assert.equal(first.signal, 'SIGKILL', `the first run is killed: ${first.code} ${first.err}`);
      if (p.powerCycle) lab.powerCycle();
      let second = await run();
      // Each gateway reboot takes the process down as well; it is started again, a bounded number of times.
      while (second.signal === 'SIGKILL' && lab.reboots() > 0 && runs < 6) second = await run();
      assert.ok(second.signal === null, second.err);
      if (p.reboots) assert.ok(lab.reboots() > 0, 'the gateway rebooted in the middle');
      const running = Object.values(lab.running());
      const allNew = running.every((x) => x.endsWith('-v2'));
      const allOld = running.every((x) => x.endsWith('-v1'));
      assert.ok(allNew || allOld, `a mix of versions: ${JSON.stringify(lab.running())}\n${second.err}`);
      if (failing)
        assert.ok(allOld && second.code === 3, `the failing install ends rolled back: ${second.code} ${second.err}`);
      else assert.ok(allNew && second.code === 0, `ends on the new versions: ${second.code} ${second.err}`);
      assert.deepEqual(lab.unsettled(), [], 'no device is left mid-update');
      assert.equal(lab.journalExists(), false);
      const d = await rollgate('diff', ...lab.gatewayArgs(), '--against', 'live');
      assert.equal(d.code, allNew ? 0 : 2, d.out + d.err);
    });
  }
});
