// The update-interface applier end to end: `rollgate apply` as a separate process, real
// `.mender` artifacts, real executables (the simulated A/B devices of fleet-repo-example),
// misbehaving on request — the protocol's order, failures, timeouts and malformed answers.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { rollgate } from '../helpers/cli.js';
import { before_, labFor, repoArtifact, skip, v } from '../helpers/interface-lab.js';

describe('update interfaces: the protocol through rollgate apply', { skip }, () => {
  const lab = labFor(() => {
    lab.seed(v(1));
    lab.writeRepo(repoArtifact(2));
  });

  test('three components in two order groups: downloads first, group 10 before group 20, commits last', async () => {
    const r = await lab.apply();
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(lab.running(), { G13: 'gateway-v2', R456: 'rtos-v2', R998: 'rtos-v2' });
    assert.deepEqual(lab.unsettled(), []);
    const calls = lab.calls();
    const lastDownload = Math.max(...['G13', 'R456', 'R998'].map((id) => calls.lastIndexOf(`${id} Download`)));
    const firstInstall = Math.min(...['G13', 'R456', 'R998'].map((id) => calls.indexOf(`${id} ArtifactInstall`)));
    assert.ok(lastDownload < firstInstall, `every Download before any install:\n${calls.join('\n')}`);
    before_(calls, 'G13 ArtifactInstall', 'R456 ArtifactInstall');
    before_(calls, 'G13 ArtifactInstall', 'R998 ArtifactInstall');
    const lastInstall = Math.max(...['G13', 'R456', 'R998'].map((id) => calls.indexOf(`${id} ArtifactInstall`)));
    const firstCommit = Math.min(...['G13', 'R456', 'R998'].map((id) => calls.indexOf(`${id} ArtifactCommit`)));
    assert.ok(lastInstall < firstCommit, `commit only after every group installed:\n${calls.join('\n')}`);
    before_(calls, 'G13 ArtifactCommit', 'R456 ArtifactCommit');
    for (const id of ['G13', 'R456', 'R998']) before_(calls, `${id} ArtifactCommit`, `${id} Cleanup`);
    assert.equal(lab.journalExists(), false);

    // diff --against live reads each component's version through Provides: nothing left to do.
    const d = await rollgate('diff', ...lab.gatewayArgs(), '--against', 'live');
    assert.equal(d.code, 0, d.out + d.err);
    assert.match(d.out, /No changes/);
    const o = await rollgate(
      'observe',
      '--state-dir',
      lab.stateDir,
      '--interfaces-dir',
      lab.interfaces,
      '--output',
      'json',
    );
    assert.equal(o.code, 0, o.err);
    const observed = JSON.parse(o.out) as {
      components: { key: string; version: string; inventory: Record<string, string[]> }[];
    };
    assert.deepEqual(
      observed.components.map((c) => `${c.key}=${c.version}`),
      ['G13=gateway-v2', 'R456=rtos-v2', 'R998=rtos-v2'],
    );
    assert.deepEqual(observed.components[0]!.inventory['device'], ['G13']);
  });

  test('diff --against live shows each component version before the apply', async () => {
    const d = await rollgate('diff', ...lab.gatewayArgs(), '--against', 'live');
    assert.equal(d.code, 2, d.err);
    assert.match(d.out, /~ component G13 \(gateway\) {2}gateway-v1 → gateway-v2/);
    assert.match(d.out, /~ component R998 \(rtos\) {2}rtos-v1 → rtos-v2/);
  });

  test('a component already on the desired version is not touched', async () => {
    lab.seed((t) => (t === 'gateway' ? 'gateway-v2' : 'rtos-v1'));
    const r = await lab.apply();
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(lab.running(), { G13: 'gateway-v2', R456: 'rtos-v2', R998: 'rtos-v2' });
    const g13 = lab.calls().filter((c) => c.startsWith('G13 '));
    assert.deepEqual(
      [...new Set(g13)].sort(),
      ['G13 Inventory', 'G13 Provides'],
      `G13 got only queries:\n${g13.join('\n')}`,
    );
  });

  test('Download fails: only Cleanup follows, nothing installed (exit 1)', async () => {
    lab.set('R998', 'misbehave/Download', 'fail');
    const r = await lab.apply();
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(
      r.err,
      new RegExp(
        String.raw`interface "rtos" \(component R998\), state Download: exited with code 3; it printed ` +
          String.raw`stderr: simulated failure of R998 in Download`,
      ),
    );
    assert.deepEqual(lab.running(), { G13: 'gateway-v1', R456: 'rtos-v1', R998: 'rtos-v1' });
    const calls = lab.calls();
    assert.ok(!calls.some((c) => /ArtifactInstall|ArtifactRollback|ArtifactCommit/.test(c)), calls.join('\n'));
    for (const id of ['G13', 'R456', 'R998'])
      if (calls.includes(`${id} Download`)) before_(calls, `${id} Download`, `${id} Cleanup`);
    assert.equal(lab.journalExists(), false);
  });

  test('ArtifactInstall fails in the second group: both groups roll back, the second first', async () => {
    lab.set('R998', 'misbehave/ArtifactInstall', 'fail');
    const r = await lab.apply();
    assert.equal(r.code, 3, r.out + r.err);
    assert.match(
      r.err,
      new RegExp(
        String.raw`ROLLED BACK: install component\/R998: interface "rtos" \(component R998\), state Art` +
          String.raw`ifactInstall: exited with code 3`,
      ),
    );
    assert.deepEqual(lab.running(), { G13: 'gateway-v1', R456: 'rtos-v1', R998: 'rtos-v1' });
    assert.deepEqual(lab.unsettled(), []);
    const calls = lab.calls();
    before_(calls, 'R456 ArtifactRollback', 'G13 ArtifactRollback');
    before_(calls, 'R998 ArtifactRollback', 'G13 ArtifactRollback');
    for (const id of ['G13', 'R456', 'R998']) {
      before_(calls, `${id} ArtifactRollback`, `${id} ArtifactFailure`);
      before_(calls, `${id} ArtifactFailure`, `${id} Cleanup`);
    }
    assert.ok(!calls.some((c) => c.endsWith('ArtifactCommit')), calls.join('\n'));
  });

  test('ArtifactVerifyReboot fails: the interface rolls back and reboots back', async () => {
    lab.set('G13', 'reboot', 'Yes');
    lab.set('G13', 'misbehave/ArtifactVerifyReboot', 'fail');
    const r = await lab.apply();
    assert.equal(r.code, 3, r.out + r.err);
    assert.match(r.err, /state ArtifactVerifyReboot: exited with code 3/);
    assert.deepEqual(lab.running(), { G13: 'gateway-v1', R456: 'rtos-v1', R998: 'rtos-v1' });
    const g13 = lab
      .calls()
      .filter((c) => c.startsWith('G13 ') && !/Provides|ProvidePayloadFileSizes|Inventory|Supports|Needs/.test(c));
    assert.deepEqual(g13, [
      'G13 Download',
      'G13 ArtifactInstall',
      'G13 ArtifactReboot',
      'G13 ArtifactVerifyReboot',
      'G13 ArtifactRollback',
      'G13 ArtifactRollbackReboot',
      'G13 ArtifactVerifyRollbackReboot',
      'G13 ArtifactFailure',
      'G13 Cleanup',
    ]);
  });

  test(
    'ArtifactCommit fails in the second group: every component rolls back, the one already committed ' + 'too',
    async () => {
      lab.set('R456', 'misbehave/ArtifactCommit', 'fail');
      const r = await lab.apply();
      assert.equal(r.code, 3, r.out + r.err);
      assert.match(
        r.err,
        new RegExp(
          String.raw`ROLLED BACK: commit component\/R456: interface "rtos" \(component R456\), state Arti` +
            String.raw`factCommit: exited with code 3`,
        ),
      );
      assert.deepEqual(lab.running(), { G13: 'gateway-v1', R456: 'rtos-v1', R998: 'rtos-v1' });
      assert.deepEqual(lab.unsettled(), []);
      const calls = lab.calls();
      // G13 committed first (group 10), so its rollback comes after its commit, and last.
      before_(calls, 'G13 ArtifactCommit', 'R456 ArtifactCommit');
      before_(calls, 'G13 ArtifactCommit', 'G13 ArtifactRollback');
      before_(calls, 'R456 ArtifactRollback', 'G13 ArtifactRollback');
      for (const id of ['G13', 'R456', 'R998']) before_(calls, `${id} ArtifactFailure`, `${id} Cleanup`);
      const d = await rollgate('diff', ...lab.gatewayArgs(), '--against', 'live');
      assert.equal(d.code, 2, 'the rolled-back components still need the update');
      assert.match(d.out, /~ component G13 \(gateway\) {2}gateway-v1 → gateway-v2/);
    },
  );

  test(
    'an interface without rollback: the others roll back, it is reported as left on the new version (exit ' + '4)',
    async () => {
      lab.set('R998', 'rollback', 'No');
      lab.set('R456', 'misbehave/ArtifactInstall', 'fail');
      const r = await lab.apply();
      assert.equal(r.code, 4, r.out + r.err);
      assert.match(
        r.err,
        new RegExp(
          String.raw`interface "rtos" does not support rollback \(SupportsRollback: No\), so R998 stays o` +
            String.raw`n rtos-v2 instead of rtos-v1`,
        ),
      );
      const running = lab.running();
      assert.equal(running['G13'], 'gateway-v1');
      assert.equal(running['R456'], 'rtos-v1');
      assert.ok(lab.calls().includes('R998 ArtifactFailure'));
      assert.ok(!lab.calls().includes('R998 ArtifactRollback'));
      // Nothing is stuck: once the fault is gone, the next apply finishes the job.
      lab.unset('R456', 'misbehave/ArtifactInstall');
      const again = await lab.apply();
      assert.equal(again.code, 0, again.err);
      assert.deepEqual(lab.running(), { G13: 'gateway-v2', R456: 'rtos-v2', R998: 'rtos-v2' });
    },
  );

  test(
    'an interface without rollback whose own install fails: reported as part-way, and installed again next ' + 'time',
    async () => {
      lab.set('R998', 'rollback', 'No');
      lab.set('R998', 'misbehave/ArtifactInstall', 'fail');
      const r = await lab.apply();
      assert.equal(r.code, 4, r.out + r.err);
      assert.match(
        r.err,
        new RegExp(
          String.raw`interface "rtos" does not support rollback \(SupportsRollback: No\), and its Artifac` +
            (String.raw`tInstall did not finish, so R998 may be part-way between rtos-v1 and rtos-v2; ` +
              String.raw`the next apply installs rtos-v2 again`),
        ),
      );
      assert.equal(lab.running()['G13'], 'gateway-v1');
      lab.unset('R998', 'misbehave/ArtifactInstall');
      lab.clearCalls();
      const again = await lab.apply();
      assert.equal(again.code, 0, again.err);
      assert.ok(lab.calls().includes('R998 ArtifactInstall'));
      assert.deepEqual(lab.running(), { G13: 'gateway-v2', R456: 'rtos-v2', R998: 'rtos-v2' });
    },
  );

  test('a hanging ArtifactInstall: SIGTERM at its own timeout, then rollback', async () => {
    lab.set('R456', 'misbehave/ArtifactInstall', 'hang');
    // The state's own timeout, not the general one, ends it.
    const r = await lab.apply({
      args: [
        '--interface-timeout',
        '1h',
        '--interface-state-timeout',
        'ArtifactInstall=2s',
        '--interface-kill-grace',
        '1s',
      ],
    });
    assert.equal(r.code, 3, r.out + r.err);
    assert.match(
      r.err,
      new RegExp(
        String.raw`interface "rtos" \(component R456\), state ArtifactInstall: no answer within 2000 ms` +
          String.raw`; stopped with SIGTERM; it printed stderr: R456 hangs in ArtifactInstall`,
      ),
    );
    assert.deepEqual(lab.running(), { G13: 'gateway-v1', R456: 'rtos-v1', R998: 'rtos-v1' });
  });

  test('a timeout for a state the protocol does not have is refused before anything runs', async () => {
    const r = await lab.apply({ args: ['--interface-state-timeout', 'Install=2s'] });
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(
      r.err,
      /--interface-state-timeout: "Install" is not a state or query of the update-interface protocol/,
    );
    assert.deepEqual(lab.calls(), []);
    assert.deepEqual(lab.running(), { G13: 'gateway-v1', R456: 'rtos-v1', R998: 'rtos-v1' });
  });

  test('a Download that ignores SIGTERM gets SIGKILL; nothing installed', async () => {
    lab.set('G13', 'misbehave/Download', 'hang-hard');
    const r = await lab.apply({ args: ['--interface-timeout', '1s', '--interface-kill-grace', '1s'] });
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(r.err, /state Download: no answer within 1000 ms; stopped with SIGTERM and then SIGKILL/);
    assert.deepEqual(lab.running(), { G13: 'gateway-v1', R456: 'rtos-v1', R998: 'rtos-v1' });
  });

  test('malformed query answers are protocol errors naming interface, state and output', async () => {
    lab.set('R456', 'misbehave/NeedsUnpackedArtifact', 'garbage');
    const r = await lab.apply();
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(
      r.err,
      new RegExp(
        String.raw`interface "rtos" \(component R456\), state NeedsUnpackedArtifact: protocol error: Ne` +
          String.raw`edsUnpackedArtifact must answer one line, got 2: "Maybe\\nperhaps\\n"`,
      ),
    );
    assert.deepEqual(lab.running(), { G13: 'gateway-v1', R456: 'rtos-v1', R998: 'rtos-v1' });
    lab.unset('R456', 'misbehave/NeedsUnpackedArtifact');
    lab.set('G13', 'misbehave/Provides', 'garbage');
    const d = await rollgate('diff', ...lab.gatewayArgs(), '--against', 'live');
    assert.equal(d.code, 1, d.out + d.err);
    assert.match(
      d.err,
      new RegExp(
        String.raw`interface "gateway-rootfs" \(component G13\), state Provides: protocol error: Provid` +
          String.raw`es answers "key=value" lines; line 1 is "Maybe"`,
      ),
    );
  });
});
