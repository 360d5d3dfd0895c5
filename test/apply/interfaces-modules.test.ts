// The update-interface applier end to end with Mender's own Update Modules, the current manifest
// form (Identity answers the id), and NeedsUnpackedArtifact: `rollgate apply` as a separate
// process, real `.mender` artifacts, real executables.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { rollgate } from '../helpers/cli.js';
import { DeviceLab } from '../helpers/devices.js';
import { labFor, repoArtifact, skip, v } from '../helpers/interface-lab.js';

describe('update interfaces: the protocol through rollgate apply', { skip }, () => {
  const lab = labFor(() => {
    lab.seed(v(1));
    lab.writeRepo(repoArtifact(2));
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
