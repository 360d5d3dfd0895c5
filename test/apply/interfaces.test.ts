// The update-interface applier end to end: `rollgate apply` as a separate process, real
// `.mender` artifacts, real executables (the simulated A/B devices of fleet-repo-example and
// Mender's own Update Modules), misbehaving on request.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { rollgate } from '../helpers/cli.js';
import { DeviceLab, requireMenderTools } from '../helpers/devices.js';

const skip = requireMenderTools();
const v = (n: number) => (type: string) => `${type}-v${n}`;
const repoArtifact = (n: number) => (type: string) => `artifacts/${type}-v${n}.mender`;

/** Asserts that `a` appears before `b` in the call log (first occurrences). */
function before_(calls: string[], a: string, b: string): void {
  const i = calls.indexOf(a);
  const j = calls.indexOf(b);
  assert.ok(i >= 0, `${a} was not called:\n${calls.join('\n')}`);
  assert.ok(j >= 0, `${b} was not called:\n${calls.join('\n')}`);
  assert.ok(i < j, `${a} should come before ${b}:\n${calls.join('\n')}`);
}

/** One lab per suite, closed after it; `each` runs before every test. */
function labFor(each?: () => void): DeviceLab {
  const lab = new DeviceLab();
  after(() => lab.close());
  if (each) beforeEach(each);
  return lab;
}

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

  test('Mender Update Modules (single-file) install real artifacts, and roll back', async () => {
    const target = join(lab.root, 'etc-app');
    const mk = (n: number) =>
      lab.artifact('config', `config-v${n}`, 'single-file', {
        dest_dir: target,
        filename: 'app.conf',
        permissions: '0644',
        'app.conf': `setting = ${n}\n`,
      });
    mk(1);
    mk(2);
    const lab2 = new DeviceLab([
      { id: 'G13', type: 'gateway', iface: 'gateway-rootfs', order: 10 },
      { id: 'R456', type: 'rtos', iface: 'rtos', order: 20 },
    ]);
    try {
      // The module component is in group 10 with the gateway; the RTOS in group 20.
      const manifest = (cfg: number, sys: number) => {
        lab2.writeRepo(repoArtifact(sys));
        const text = readFileSync(join(lab2.repo, 'manifest.yaml'), 'utf8').replace(
          'components:\n',
          `  config:\n    artifact_path: artifacts/config-v${cfg}.mender\n    update_interface: single-file\n   ` +
            ` update_strategy: { order: 10 }\ncomponents:\n  - { component_type: config, id: CFG1 }\n`,
        );
        writeFileSync(join(lab2.repo, 'manifest.yaml'), text);
      };
      for (const n of [1, 2])
        writeFileSync(
          join(lab2.repo, `artifacts/config-v${n}.mender`),
          readFileSync(join(lab.repo, `artifacts/config-v${n}.mender`)),
        );
      lab2.seed(v(1));
      manifest(1, 1);
      const first = await lab2.apply();
      assert.equal(first.code, 0, first.err);
      assert.equal(readFileSync(join(target, 'app.conf'), 'utf8'), 'setting = 1\n');
      // The module provides no version itself: rollgate's record of what it committed stands in.
      const d = await rollgate('diff', ...lab2.gatewayArgs(), '--against', 'live');
      assert.equal(d.code, 0, d.out + d.err);

      manifest(2, 2);
      lab2.set('R456', 'misbehave/ArtifactInstall', 'fail');
      const failed = await lab2.apply();
      assert.equal(failed.code, 3, failed.out + failed.err);
      assert.equal(readFileSync(join(target, 'app.conf'), 'utf8'), 'setting = 1\n', 'the module put the old file back');
      lab2.unset('R456', 'misbehave/ArtifactInstall');
      const ok = await lab2.apply();
      assert.equal(ok.code, 0, ok.err);
      assert.equal(readFileSync(join(target, 'app.conf'), 'utf8'), 'setting = 2\n');
      const live = await rollgate('diff', ...lab2.gatewayArgs(), '--against', 'live');
      assert.equal(live.code, 0, live.out);
    } finally {
      lab2.close();
    }
  });

  test('Mender Update Modules directory (rolls back) and script (does not) through the same transaction', async () => {
    const dest = join(lab.root, 'srv-web');
    const marker = join(lab.root, 'script-ran');
    const site = (n: number) => {
      const src = join(lab.root, `site-v${n}`);
      mkdirSync(join(src, 'css'), { recursive: true });
      writeFileSync(join(src, 'index.html'), `site ${n}\n`);
      writeFileSync(join(src, 'css', 'main.css'), `/* ${n} */\n`);
      return execFileSync('tar', ['-cf', '-', '-C', src, '.']);
    };
    for (const n of [1, 2]) {
      lab.artifact('web', `web-v${n}`, 'directory', { 'update.tar': site(n), dest_dir: `${dest}\n` });
      lab.artifact('hook', `hook-v${n}`, 'script', {
        'run.sh': `#!/bin/sh\necho hook-v${n} >> ${JSON.stringify(marker)}\n`,
      });
    }
    const lab2 = new DeviceLab([
      { id: 'G13', type: 'gateway', iface: 'gateway-rootfs', order: 10 },
      { id: 'R456', type: 'rtos', iface: 'rtos', order: 20 },
    ]);
    try {
      const manifest = (n: number) => {
        lab2.writeRepo(repoArtifact(n));
        const extra = [
          `  web:\n    artifact_path: artifacts/web-v${n}.mender\n    update_interface: directory\n    ` +
            `update_strategy: { order: 10 }`,
          `  hook:\n    artifact_path: artifacts/hook-v${n}.mender\n    update_interface: script\n    ` +
            `update_strategy: { order: 10 }`,
        ];
        const text = readFileSync(join(lab2.repo, 'manifest.yaml'), 'utf8').replace(
          'components:\n',
          `${extra.join('\n')}\ncomponents:\n  - { component_type: web, id: WEB1 }\n  - { component_type: hook, ` +
            `id: HOOK1 }\n`,
        );
        writeFileSync(join(lab2.repo, 'manifest.yaml'), text);
      };
      for (const f of ['web-v1', 'web-v2', 'hook-v1', 'hook-v2'])
        writeFileSync(join(lab2.repo, `artifacts/${f}.mender`), readFileSync(join(lab.repo, `artifacts/${f}.mender`)));
      lab2.seed(v(1));
      manifest(1);
      const first = await lab2.apply();
      assert.equal(first.code, 0, first.err);
      assert.equal(readFileSync(join(dest, 'index.html'), 'utf8'), 'site 1\n');
      assert.equal(readFileSync(marker, 'utf8'), 'hook-v1\n');

      // The RTOS fails in group 20: the directory is put back; the script cannot be, and says so.
      manifest(2);
      lab2.set('R456', 'misbehave/ArtifactInstall', 'fail');
      const failed = await lab2.apply();
      assert.equal(failed.code, 4, failed.out + failed.err);
      assert.match(
        failed.err,
        new RegExp(
          String.raw`interface "script" does not support rollback \(SupportsRollback: No\), so HOOK1 st` +
            String.raw`ays on hook-v2 instead of hook-v1`,
        ),
      );
      assert.equal(
        readFileSync(join(dest, 'index.html'), 'utf8'),
        'site 1\n',
        'the directory module restored the old tree',
      );
      assert.equal(readFileSync(join(dest, 'css', 'main.css'), 'utf8'), '/* 1 */\n');
      assert.deepEqual(lab2.running(), { G13: 'gateway-v1', R456: 'rtos-v1' });

      lab2.unset('R456', 'misbehave/ArtifactInstall');
      const ok = await lab2.apply();
      assert.equal(ok.code, 0, ok.err);
      assert.equal(readFileSync(join(dest, 'index.html'), 'utf8'), 'site 2\n');
      assert.deepEqual(lab2.running(), { G13: 'gateway-v2', R456: 'rtos-v2' });
      // The script stayed on v2 after the failed apply, so the retry did not run it again.
      assert.equal(readFileSync(marker, 'utf8'), 'hook-v1\nhook-v2\n');
      const live = await rollgate('diff', ...lab2.gatewayArgs(), '--against', 'live');
      assert.equal(live.code, 0, live.out + live.err);
    } finally {
      lab2.close();
    }
  });

  test('the current form (kind manifest + topology): no id on the command line, Identity answers it', async () => {
    rmSync(lab.stateDir, { recursive: true, force: true }); // records of the 2024-form keys would be listed too
    const types = ['gateway', 'rtos'];
    const manifest = [
      'api_version: mender/v1',
      'kind: manifest',
      'name: test-system-v2',
      'system_types_compatible: [sim-system]',
      'component_types:',
    ];
    for (const t of types)
      manifest.push(
        `  ${t}:`,
        `    artifact_path: artifacts/${t}-v2.mender`,
        `    update_strategy: { order: ${t === 'gateway' ? 10 : 20} }`,
      );
    writeFileSync(join(lab.repo, 'manifest.yaml'), manifest.join('\n') + '\n');
    const topology = ['api_version: mender/v1', 'kind: topology', 'system_type: sim-system', 'components:'];
    for (const c of lab.components)
      topology.push(
        `  - { component_type: ${c.type}, interface: ${c.iface}, interface_args: ` +
          `[${JSON.stringify(lab.device(c.id))}] }`,
      );
    writeFileSync(join(lab.repo, 'topology.yaml'), topology.join('\n') + '\n');
    writeFileSync(
      join(lab.repo, 'rollgate.yaml'),
      readFileSync(join(lab.repo, 'rollgate.yaml'), 'utf8').replace(
        '    manifest: manifest.yaml\n',
        '    manifest: manifest.yaml\n    topology: topology.yaml\n',
      ),
    );
    const r = await lab.apply();
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(lab.running(), { G13: 'gateway-v2', R456: 'rtos-v2', R998: 'rtos-v2' });
    const d = await rollgate('diff', ...lab.gatewayArgs(), '--against', 'live', '--output', 'json');
    assert.equal(d.code, 0, d.out + d.err);
    const o = await rollgate(
      'observe',
      '--state-dir',
      lab.stateDir,
      '--interfaces-dir',
      lab.interfaces,
      '--output',
      'json',
    );
    const ids = (JSON.parse(o.out) as { components: { id: string; version: string }[] }).components
      .map((c) => `${c.id}=${c.version}`)
      .sort();
    assert.deepEqual(ids, ['G13=gateway-v2', 'R456=rtos-v2', 'R998=rtos-v2']);
  });

  test(
    'ProvidePayloadFileSizes: Yes calls DownloadWithFileSizes, each stream-next line carrying the ' + 'size',
    async () => {
      lab.set('R456', 'sizes', 'Yes');
      const r = await lab.apply();
      assert.equal(r.code, 0, r.err);
      assert.ok(lab.calls().includes('R456 DownloadWithFileSizes') && !lab.calls().includes('R456 Download'));
      assert.equal(
        readFileSync(join(lab.device('R456'), 'stream-lines'), 'utf8'),
        `streams/rtos-v2.img ${'rtos-v2 image\n'.length}\n`,
      );
      assert.equal(readFileSync(join(lab.device('R998'), 'stream-lines'), 'utf8'), 'streams/rtos-v2.img\n');
      assert.deepEqual(lab.running(), { G13: 'gateway-v2', R456: 'rtos-v2', R998: 'rtos-v2' });
    },
  );

  test('NeedsUnpackedArtifact: No gets the whole artifact as files/artifact.mender', async () => {
    lab.set('R456', 'unpacked', 'No');
    lab.set('R456', 'no-streams', '');
    const r = await lab.apply();
    assert.equal(r.code, 0, r.err);
    // The simulated device installs whatever file it finds: here, the artifact itself.
    const img = readFileSync(join(lab.device('R456'), 'slot-b.img'));
    assert.equal(
      createHash('sha256').update(img).digest('hex'),
      createHash('sha256')
        .update(readFileSync(join(lab.repo, 'artifacts/rtos-v2.mender')))
        .digest('hex'),
    );
    assert.equal(readFileSync(join(lab.device('R998'), 'slot-b.img'), 'utf8'), 'rtos-v2 image\n');
  });
});

describe('update interfaces: explicit constraints', { skip }, () => {
  /** A lab of these components whose system has this constraints file. */
  const constrained = (
    components: { id: string; type: string; iface: string; order: number }[],
    constraints: string,
  ) => {
    const l = new DeviceLab(components);
    l.seed(v(1));
    l.writeRepo(repoArtifact(2));
    writeFileSync(join(l.repo, 'constraints.yaml'), constraints);
    writeFileSync(
      join(l.repo, 'rollgate.yaml'),
      readFileSync(join(l.repo, 'rollgate.yaml'), 'utf8').replace(
        '    manifest: manifest.yaml\n',
        '    manifest: manifest.yaml\n    constraints: constraints.yaml\n',
      ),
    );
    return l;
  };

  test(
    'an order rule splits a shared group: the gateway installs and verifies before the RTOS starts, and ' +
      'rolls back after it',
    async () => {
      const l = constrained(
        [
          { id: 'G13', type: 'gateway', iface: 'gateway-rootfs', order: 10 },
          { id: 'R456', type: 'rtos', iface: 'rtos', order: 10 },
        ],
        'apiVersion: rollgate/v1\nkind: Constraints\norder:\n  - { name: gateway-before-rtos, before: gateway, ' +
          'after: rtos }\n',
      );
      try {
        l.set('G13', 'reboot', 'Yes');
        const ok = await l.apply();
        assert.equal(ok.code, 0, ok.err);
        assert.deepEqual(l.running(), { G13: 'gateway-v2', R456: 'rtos-v2' });
        before_(l.calls(), 'G13 ArtifactVerifyReboot', 'R456 ArtifactInstall');

        l.seed(v(1));
        l.set('G13', 'reboot', 'Yes');
        l.set('R456', 'misbehave/ArtifactInstall', 'fail');
        const failed = await l.apply();
        assert.equal(failed.code, 3, failed.out + failed.err);
        assert.deepEqual(l.running(), { G13: 'gateway-v1', R456: 'rtos-v1' });
        before_(l.calls(), 'R456 ArtifactRollback', 'G13 ArtifactRollback');
      } finally {
        l.close();
      }
    },
  );

  test(
    'a declared order that would pass through a forbidden combination runs backwards: the interfaces are called ' +
      'in the order that avoids it',
    async () => {
      // The RTOS in a lower group than the gateway would run rtos-v2 on gateway-v1 for a while.
      const l = constrained(
        [
          { id: 'G13', type: 'gateway', iface: 'gateway-rootfs', order: 20 },
          { id: 'R456', type: 'rtos', iface: 'rtos', order: 10 },
        ],
        'apiVersion: rollgate/v1\nkind: Constraints\ntransitions:\n  forbidden:\n    - name: ' +
          'new-rtos-on-old-gateway\n      versions: { gateway: gateway-v1, rtos: rtos-v2 }\n',
      );
      try {
        const r = await l.apply();
        assert.equal(r.code, 0, r.out + r.err);
        assert.match(
          r.out + r.err,
          /order: reversed: gateway \(group 20\) → rtos \(group 10\), the declared order backwards/,
        );
        assert.deepEqual(l.running(), { G13: 'gateway-v2', R456: 'rtos-v2' });
        before_(l.calls(), 'G13 ArtifactInstall', 'R456 ArtifactInstall');
        before_(l.calls(), 'G13 ArtifactCommit', 'R456 ArtifactCommit');
      } finally {
        l.close();
      }
    },
  );

  test('when no order passes the constraints, the apply is refused before any interface is called', async () => {
    // The RTOS first would run rtos-v2 on gateway-v1 for a while; the gateway first, rtos-v1 on gateway-v2.
    const l = constrained(
      [
        { id: 'G13', type: 'gateway', iface: 'gateway-rootfs', order: 20 },
        { id: 'R456', type: 'rtos', iface: 'rtos', order: 10 },
      ],
      'apiVersion: rollgate/v1\nkind: Constraints\ntransitions:\n  forbidden:\n    - name: ' +
        'new-rtos-on-old-gateway\n      versions: { gateway: gateway-v1, rtos: rtos-v2 }\n    - name: ' +
        'old-rtos-on-new-gateway\n      versions: { gateway: gateway-v2, rtos: rtos-v1 }\n',
    );
    try {
      const r = await l.apply();
      assert.equal(r.code, 1, r.out + r.err);
      assert.match(
        r.err,
        new RegExp(
          'forbidden combination "new-rtos-on-old-gateway" \\(R456=rtos-v2, G13=gateway-v1\\); reversed, through ' +
            'the forbidden combination "old-rtos-on-new-gateway" \\(R456=rtos-v1, G13=gateway-v2\\)',
        ),
      );
      assert.ok(
        !l.calls().some((c) => !/ (Provides|Inventory|Identity)$/.test(c)),
        `only observation:\n${l.calls().join('\n')}`,
      );
      assert.deepEqual(l.running(), { G13: 'gateway-v1', R456: 'rtos-v1' });
    } finally {
      l.close();
    }
  });
});

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

describe('update interfaces: artifacts at a URL', { skip }, () => {
  let lab: DeviceLab;
  let server: Server;
  let base: string;
  const requests: { path: string; range?: string }[] = [];
  /** Paths whose first request is cut off halfway. */
  const cutOnce = new Set<string>();

  before(async () => {
    lab = new DeviceLab();
    server = createServer((req, res) => {
      const path = req.url ?? '/';
      requests.push({ path, ...(req.headers.range ? { range: req.headers.range } : {}) });
      const file = join(lab.repo, 'artifacts', path.replace(/^\/+/, ''));
      if (!existsSync(file)) {
        res.writeHead(404).end();
        return;
      }
      const body = readFileSync(file);
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      if (m) {
        const from = Number(m[1]);
        res.writeHead(206, {
          'Content-Range': `bytes ${from}-${body.length - 1}/${body.length}`,
          'Content-Length': body.length - from,
        });
        res.end(body.subarray(from));
        return;
      }
      res.writeHead(200, { 'Content-Length': body.length });
      if (cutOnce.delete(path)) {
        res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.destroy());
        return;
      }
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.close();
    lab.close();
  });

  const urlArtifact = (n: number, sha?: (type: string) => string) => (type: string) => {
    const name = `${type}-v${n}`;
    const real = createHash('sha256')
      .update(readFileSync(join(lab.repo, `artifacts/${name}.mender`)))
      .digest('hex');
    return { url: `${base}/${name}.mender`, name, sha256: sha ? sha(type) : real };
  };

  test('a checksum mismatch: nothing is installed, the error names the URL and both sums', async () => {
    lab.seed(v(1));
    const wrong = 'ab'.repeat(32);
    lab.writeRepo(
      urlArtifact(2, (t) =>
        t === 'rtos'
          ? wrong
          : createHash('sha256')
              .update(readFileSync(join(lab.repo, `artifacts/${t}-v2.mender`)))
              .digest('hex'),
      ),
    );
    const r = await lab.apply();
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(
      r.err,
      new RegExp(
        `http://127\\.0\\.0\\.1:\\d+/rtos-v2\\.mender has sha256 [0-9a-f]{64}, but the manifest says ${wrong}; ` +
          `nothing was installed`,
      ),
    );
    assert.deepEqual(lab.running(), { G13: 'gateway-v1', R456: 'rtos-v1', R998: 'rtos-v1' });
    assert.ok(!lab.calls().some((c) => c.endsWith('ArtifactInstall')));
  });

  test('an interrupted download resumes with a range request and installs', async () => {
    // 2 MB that gzip cannot shrink: the cut comes mid-body, after the client has received some of it.
    lab.artifact('gateway', 'gateway-v9', 'gateway-rootfs', { 'gateway-v9.img': randomBytes(2_000_000) });
    lab.seed(v(1));
    lab.writeRepo((type) => (type === 'gateway' ? urlArtifact(9)(type) : urlArtifact(3)(type)));
    cutOnce.add('/gateway-v9.mender');
    requests.length = 0;
    const r = await lab.apply();
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(lab.running(), { G13: 'gateway-v9', R456: 'rtos-v3', R998: 'rtos-v3' });
    assert.match(r.err, /resuming the download of http:\/\/127\.0\.0\.1:\d+\/gateway-v9\.mender at byte [1-9]\d*/);
    const g = requests.filter((q) => q.path === '/gateway-v9.mender');
    assert.equal(g.length, 2, JSON.stringify(requests));
    assert.equal(g[0]!.range, undefined);
    assert.match(g[1]!.range ?? '', /^bytes=[1-9]\d*-$/);
    // Cached: the same artifacts are not fetched again for the next apply.
    lab.seed(v(1));
    requests.length = 0;
    const again = await lab.apply();
    assert.equal(again.code, 0, again.err);
    assert.deepEqual(requests, []);
  });

  test('a URL that does not exist fails at once with the URL and status', async () => {
    lab.seed(v(1));
    lab.writeRepo((type) => ({ url: `${base}/missing-${type}.mender`, name: `${type}-v2`, sha256: 'cd'.repeat(32) }));
    const r = await lab.apply();
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /missing-(gateway|rtos)\.mender does not exist \(HTTP 404\)/);
    assert.deepEqual(lab.running(), { G13: 'gateway-v1', R456: 'rtos-v1', R998: 'rtos-v1' });
  });
});
