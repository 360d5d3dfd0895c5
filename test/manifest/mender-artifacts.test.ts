// Artifacts of Mender's demo by name from an artifact store, recorded in a lock file; and a component
// that, after ArtifactCommit, does not provide the version it was given.

import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { rollgate } from '../helpers/cli.js';
import { requireMenderTools } from '../helpers/devices.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';
import { buildAsReadme, DEMO, FLEET } from '../helpers/mender-demo.js';

const skip = requireMenderTools();

describe('artifacts by name from an artifact store, with a lock file', { skip: skip ?? false }, () => {
  let root: string;
  let server: Server;
  let store: string;
  const served = new Map<string, Buffer>();
  before(async () => {
    root = tempDir('rollgate-store-');
    server = createServer((req, res) => {
      const body = served.get(decodeURIComponent(req.url ?? '').replace(/^\/store\//, ''));
      res.writeHead(body ? 200 : 404).end(body);
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
    store = `http://127.0.0.1:${(server.address() as AddressInfo).port}/store/{artifact_name}.mender`;
  });
  after(() => {
    server.close();
    cleanup(root);
  });

  test(
    'validate asks for the lock; "rollgate artifacts lock" records the sha256; the plan downloads by ' + 'URL',
    async () => {
      const repo = join(root, 'fleet');
      const built = join(root, 'built');
      mkdirSync(built, { recursive: true });
      mkdirSync(join(repo, 'manifests'), { recursive: true });
      for (const v of ['gateway-v1', 'rtos-v1'])
        served.set(
          `${v}.mender`,
          readFileSync(buildAsReadme(built, v.split('-')[0]!, v, v.startsWith('gateway') ? 'rootfs-image' : 'rtos')),
        );
      copyFileSync(join(DEMO, 'premade-artifacts/manifest-v1.yaml'), join(repo, 'manifests/manifest-v1.yaml'));
      writeFileSync(join(repo, 'rollgate.yaml'), FLEET('manifests/manifest-v1.yaml', `artifact_store: ${store}\n`));

      const before = await rollgate('validate', '--repo', repo);
      assert.equal(before.code, 1);
      assert.match(
        before.err,
        new RegExp(
          String.raw`artifact "gateway-v1" is not in artifacts and has no sha256 in rollgate-artifacts\.l` +
            String.raw`ock\.yaml; run "rollgate artifacts lock"`,
        ),
      );

      served.set('missing.mender', Buffer.from(''));
      const lock = await rollgate('artifacts', 'lock', '--repo', repo);
      assert.equal(lock.code, 0, lock.err);
      assert.ok(existsSync(join(repo, 'rollgate-artifacts.lock.yaml')));
      const ok = await rollgate('validate', '--repo', repo);
      assert.equal(ok.code, 0, ok.err);
      const plan = JSON.parse((await rollgate('diff', '--repo', repo, '--id', 'gw', '--output', 'json')).out) as {
        prepare: { kind: string; artifact?: { kind: string; url: string; sha256: string } }[];
      };
      const downloads = plan.prepare.filter((s) => s.kind === 'download').map((s) => s.artifact!);
      assert.ok(
        downloads.length === 3 &&
          downloads.every(
            (a) => a.kind === 'url' && a.url.startsWith('http://127.0.0.1:') && /^[0-9a-f]{64}$/.test(a.sha256),
          ),
      );

      // The store serves other bytes under a locked name: a second lock keeps the recorded sum, --refresh sees the
      // change.
      served.set('rtos-v1.mender', readFileSync(buildAsReadme(built, 'rtos', 'rtos-v9')));
      const refresh = await rollgate('artifacts', 'lock', '--repo', repo, '--refresh');
      assert.equal(refresh.code, 1);
      assert.match(refresh.err, /rtos-v1: .*the store's file is artifact "rtos-v9", not "rtos-v1"/);
      assert.match(refresh.err, /rollgate-artifacts\.lock\.yaml was not changed/);
    },
  );
});

describe('after ArtifactCommit, the component must provide the version it was given', { skip: skip ?? false }, () => {
  test(
    'an interface that commits and then provides an empty version is a failed update, rolled back, not ' + '"applied"',
    async () => {
      const root = tempDir('rollgate-provides-');
      try {
        const ifaces = join(root, 'interfaces');
        const dev = join(root, 'device');
        mkdirSync(ifaces);
        mkdirSync(dev);
        // Exits 0 everywhere, records the states it ran, and provides an empty version once "committed".
        writeFileSync(
          join(ifaces, 'blank'),
          `#!/bin/sh\necho "$1" >> ${dev}/calls\ncase "$1" in\n  SupportsRollback) echo Yes ;;\n  ` +
            `NeedsArtifactReboot) echo No ;;\n  Provides) if [ -f ${dev}/committed ]; then echo ` +
            `'rootfs-image.version='; else echo 'rootfs-image.version=old'; fi ;;\n  ArtifactCommit) ` +
            `touch ${dev}/committed ;;\n  ArtifactRollback) rm -f ${dev}/committed ;;\nesac\nexit 0\n`,
        );
        chmodSync(join(ifaces, 'blank'), 0o755);
        const repo = join(root, 'fleet');
        mkdirSync(join(repo, 'artifacts'), { recursive: true });
        buildAsReadme(join(repo, 'artifacts'), 'gateway', 'gateway-v5', 'blank');
        writeFileSync(
          join(repo, 'manifest.yaml'),
          'api_version: mender/v1\nkind: update_manifest\ncomponent_types:\n  gateway: { artifact_name: ' +
            'gateway-v5, update_interface: blank }\ncomponents:\n  - { component_type: gateway, id: G1 }\n',
        );
        writeFileSync(join(repo, 'rollgate.yaml'), FLEET('manifest.yaml'));
        const args = ['--repo', repo, '--id', 'gw', '--state-dir', join(root, 'state'), '--interfaces-dir', ifaces];
        const r = await rollgate('apply', ...args);
        assert.equal(r.code, 3, r.out + r.err);
        assert.match(
          r.err,
          /committed, but Provides then reports version "", not "gateway-v5": the update did not take/,
        );
        const calls = readFileSync(join(dev, 'calls'), 'utf8').split('\n');
        assert.ok(calls.indexOf('ArtifactRollback') > calls.indexOf('ArtifactCommit'), 'rolled back after the commit');
        const diff = await rollgate('diff', ...args, '--against', 'live');
        assert.equal(diff.code, 2, 'still to do: the gateway runs "old"');
      } finally {
        cleanup(root);
      }
    },
  );
});
